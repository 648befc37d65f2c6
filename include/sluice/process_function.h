// Process functions: user code that sees every row of a keyed stream, keeps per-key state
// and sets event-time timers (Flink's KeyedProcessFunction).
//
//   class Alert : public ProcessFunction<Alert> {       // ProcessFunction adds clone()
//    public:
//     Result<std::vector<Field>> output_columns(const Schema& input) const override {
//       return std::vector<Field>{field("user_id", TypeId::kInt64), field("views", TypeId::kInt64)};
//     }
//     Status process_element(const RowView& row, ProcessContext& ctx) override {
//       int64_t& n = ctx.state<int64_t>("views").get_or_create();
//       if (++n == 1) ctx.register_event_time_timer(*ctx.timestamp() + 60'000'000);
//       return Status::ok();
//     }
//     Status on_timer(Micros ts, ProcessContext& ctx) override {
//       auto views = ctx.state<int64_t>("views");
//       Status s = ctx.emit(ctx.key().get<int64_t>(0), *views.get());
//       views.clear();
//       return s;
//     }
//   };
//   clicks.key_by("user_id").process(std::make_unique<Alert>());
//
// Lifecycle: the object handed to KeyedStream::process is a prototype. Pipeline::build()
// calls output_columns() on it once; each parallel instance of the operator gets its own
// clone() and calls open() on it once, then process_element() for every row (of the keys
// that instance owns, in arrival order) and on_timer() for every timer that fires, all on
// that instance's thread. Members of the function are therefore per instance, not per key:
// everything per key must live in ctx.state<T>().
//
// Time: ctx.timestamp() is the row's event time (its event-time column), or the timer's
// time in on_timer. ctx.current_watermark() is the watermark the row carries (the source
// split's watermark when it was read), so it does not depend on batching or thread timing.
// A timer registered for time t fires once the operator's watermark reaches t (every row
// with event time < t has been processed); one timer per (key, time) — registering it twice
// is a no-op. Timers fire in (time, key) order, keys ordered by their SQL values. A timer
// for a time at or before ctx.current_watermark() (or, inside on_timer, at or before the
// timer's own time) fires at the next watermark, at current_watermark() + 1 microsecond.
// At the end of a bounded input every pending timer fires; timers that on_timer registers
// during that final watermark are dropped (nothing can follow the end).
//
// Output: ctx.emit(values...) appends one row matching output_columns(), values in column
// order (see EmittableValue in sluice/row.h; NULL via std::nullopt). With a sink after the
// process function, rows are written in (emit time, row values) order, where emit time is
// the row's event time (at least current_watermark() + 1) or the timer's time — the same
// output whatever the parallelism or batch size.
//
// Errors: a non-ok Status returned by a callback (or by emit on a type mismatch) stops the
// job with that Status.
//
// Checkpoints: a checkpoint saves every key's state values and timers; a job resumed from
// it continues as if uninterrupted, at any parallelism (keys move with their key group).
// State values are saved through StateSerializer<T> (sluice/keyed_state.h): built in for
// numbers, strings, Timestamp/Interval and standard containers of them; specialize it for
// your own types. Members of the function object are not saved (keep them configuration).
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <typeindex>
#include <vector>

#include "common/status.h"
#include "common/time_util.h"
#include "sluice/keyed_state.h"
#include "sluice/row.h"
#include "types/schema.h"

namespace sluice::api {

class ProcessContext {
 public:
  virtual ~ProcessContext() = default;

  // The row's event time, or the timer's time in on_timer. nullopt when the input has no
  // event-time column or the row's is NULL.
  virtual std::optional<Micros> timestamp() const = 0;
  // See "Time" above. kMinWatermark before any watermark.
  virtual Micros current_watermark() const = 0;
  // The key columns (in key_by order) of the current key.
  virtual const RowView& key() const = 0;

  // Timers of the current key (see "Time" above). delete removes the timer registered for
  // exactly `timestamp` (a timer moved past the watermark is found under its new time).
  virtual void register_event_time_timer(Micros timestamp) = 0;
  virtual void delete_event_time_timer(Micros timestamp) = 0;

  // The current key's value of state `name`. Caller must use the same T for a name
  // throughout (a different T aborts: a programming error).
  template <typename T>
  ValueState<T> state(std::string_view name = "value") {
    static_assert(StateValue<T>,
                  "ProcessContext::state<T>: T must be a copyable, non-const value type (not a pointer or reference)");
    return ValueState<T>(&state_backend(), &state_descriptor(name, typeid(T), state_codec<T>()));
  }

  // Emits one output row; values in output column order. A wrong number of values or a
  // value that does not fit its column's type returns an error naming the column.
  template <typename... Values>
  Status emit(const Values&... values) {
    static_assert((EmittableValue<Values> && ...),
                  "ProcessContext::emit: every value must be an integer, floating point, bool, string, "
                  "sluice::Timestamp, sluice::Interval, std::nullopt, or a std::optional of those");
    std::array<Cell, sizeof...(Values)> cells{to_cell(values)...};
    return emit_cells(cells.data(), cells.size());
  }
  // Emits a row from cells (for generic code).
  virtual Status emit_cells(const Cell* cells, size_t count) = 0;

 protected:
  virtual KeyedStateBackend& state_backend() = 0;
  // `codec`: how to checkpoint values of `type` (null when it has no StateSerializer).
  virtual const StateDescriptor& state_descriptor(std::string_view name, std::type_index type,
                                                  const StateCodec* codec) = 0;
};

class KeyedProcessFunction {
 public:
  virtual ~KeyedProcessFunction() = default;

  // Name shown by EXPLAIN.
  virtual std::string name() const { return "process"; }
  // The output columns, given the input's. Called once, when the pipeline is built; an
  // error (e.g. a required input column is missing) is reported by Pipeline::build().
  virtual Result<std::vector<Field>> output_columns(const Schema& input) const = 0;
  // A fresh copy for one parallel instance (ProcessFunction<Derived> implements it).
  virtual std::unique_ptr<KeyedProcessFunction> clone() const = 0;

  // Called once per instance before any row, with the input schema (resolve columns here).
  virtual Status open(const Schema& input) { return Status::ok(); }
  virtual Status process_element(const RowView& row, ProcessContext& ctx) = 0;
  virtual Status on_timer(Micros timestamp, ProcessContext& ctx) { return Status::ok(); }
};

// Implements clone() with Derived's copy constructor.
template <typename Derived>
class ProcessFunction : public KeyedProcessFunction {
 public:
  std::unique_ptr<KeyedProcessFunction> clone() const override {
    static_assert(std::is_base_of_v<ProcessFunction<Derived>, Derived>,
                  "ProcessFunction<Derived>: Derived must derive from ProcessFunction<Derived>");
    static_assert(std::is_copy_constructible_v<Derived>,
                  "ProcessFunction<Derived>: Derived must be copy constructible (one copy per parallel instance)");
    return std::make_unique<Derived>(static_cast<const Derived&>(*this));
  }
};

}  // namespace sluice::api
