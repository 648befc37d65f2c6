// ProcessOperator: runs a user KeyedProcessFunction (include/sluice/process_function.h) over
// a keyed stream, with keyed value state and event-time timers.
//
// Placement: its own stage with `parallelism` instances fed by a hash exchange on the key
// columns, so each key lives in exactly one instance (like a keyed aggregation).
//
// Per instance: a clone of the function; a key index (the key columns encoded into
// order-preserving bytes -> key id, with the key's values kept columnar for ctx.key()); a
// KeyedStateBackend (in memory, InMemoryKeyedStateBackend below); and the timers, a set of
// (time, key) ordered by time, then by the encoded key — i.e. by the keys' SQL values with
// NULLs first — so timers fire in an order that depends only on the data.
//
// Rows are processed in arrival order. on_watermark(W) fires every timer with time <= W,
// in order (timers set while firing, clamped to after the firing time, fire in the same
// pass when still <= W), then forwards W. finish() fires the rest (the final watermark).
//
// Emit time: with `emit_time`, each output row carries a hidden trailing TIMESTAMP column,
// the row's emit time (see process_function.h): max(row event time, row watermark + 1) for
// rows emitted by process_element, the timer's time for on_timer. It is always greater
// than any watermark the instance forwarded before emitting the row, which is what the
// sink's ordered release needs to write rows in a canonical order (SinkOperator).
//
// Checkpoints: one keyed entry per key that holds state values or timers (its key group
// is that of the key columns, as the hash exchange computes it), with the key's values,
// its state values by state name (StateSerializer bytes, api/keyed_state.h) and its timers;
// see process_operator.cc. A restored value stays bytes (SerializedStateValue) until the
// function first reads that state, because only then is its C++ type known.
//
// Threads: one instance per task thread; the spec (and the function prototype) is shared
// read-only.
#pragma once

#include <absl/container/node_hash_map.h>

#include <any>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runtime/operator.h"
#include "sluice/keyed_state.h"
#include "sluice/process_function.h"

namespace sluice {

struct ProcessConfig {
  std::shared_ptr<const api::KeyedProcessFunction> function;  // prototype, cloned per instance
  std::vector<int> key_columns;                               // input columns
  SchemaPtr input_schema;
  SchemaPtr output_schema;  // the function's columns, plus __emit_time when emit_time
  int time_column = -1;     // the input's event-time column, -1 when none
  bool emit_time = false;
  size_t batch_size = kDefaultBatchRows;
};

class ProcessOperatorSpec : public OperatorSpec {
 public:
  explicit ProcessOperatorSpec(ProcessConfig config) : config_(std::move(config)) {}
  std::string kind() const override { return "process"; }
  std::string describe() const override;
  std::unique_ptr<Operator> create() const override;
  bool stateful() const override { return true; }
  const ProcessConfig& config() const { return config_; }

 private:
  ProcessConfig config_;
};

// Encodes the key columns of `row` into `out` so that comparing encodings as unsigned bytes
// orders keys like comparing their values column by column (NULL first).
void encode_ordered_key(const RecordBatch& batch, const std::vector<int>& key_columns, size_t row, std::string& out);

// A state value restored from a checkpoint and not yet read: the StateSerializer bytes and
// the type name they were written for.
struct SerializedStateValue {
  std::string type_name;
  std::string bytes;
};

// The in-memory KeyedStateBackend: encoded key -> one std::any per state id.
class InMemoryKeyedStateBackend : public api::KeyedStateBackend {
 public:
  // Turns a SerializedStateValue of `state_id` into the state's C++ value in place; returns
  // false when it cannot (the value is then dropped; the decoder records why).
  using Decoder = std::function<bool(int state_id, std::any& value)>;
  void set_decoder(Decoder decoder) { decoder_ = std::move(decoder); }

  void set_current_key(std::string_view encoded_key) override {
    if (current_ != nullptr && current_key_ == encoded_key) return;
    current_key_ = encoded_key;
    current_ = nullptr;
  }
  std::any* find(int state_id) override {
    std::vector<std::any>* values = lookup(false);
    if (values == nullptr || static_cast<size_t>(state_id) >= values->size()) return nullptr;
    std::any& a = (*values)[static_cast<size_t>(state_id)];
    decode_if_serialized(state_id, a);
    return a.has_value() ? &a : nullptr;
  }
  std::any& get_or_create(int state_id) override {
    std::vector<std::any>& values = *lookup(true);
    if (values.size() <= static_cast<size_t>(state_id)) values.resize(static_cast<size_t>(state_id) + 1);
    std::any& a = values[static_cast<size_t>(state_id)];
    decode_if_serialized(state_id, a);
    if (!a.has_value()) ++num_values_;  // counted as held from now on (the caller sets it)
    return a;
  }
  void erase(int state_id) override {
    std::vector<std::any>* values = lookup(false);
    if (values == nullptr || static_cast<size_t>(state_id) >= values->size()) return;
    std::any& a = (*values)[static_cast<size_t>(state_id)];
    if (a.has_value()) --num_values_;
    if (serialized_values_ > 0 && a.type() == typeid(SerializedStateValue)) --serialized_values_;
    a.reset();
  }
  size_t num_values() const override { return num_values_; }

  // For checkpoints: the values of `encoded_key` by state id (empty slots have no value),
  // or nullptr when the key has none.
  const std::vector<std::any>* values_of(std::string_view encoded_key) const {
    auto it = map_.find(absl::string_view(encoded_key.data(), encoded_key.size()));
    return it == map_.end() ? nullptr : &it->second;
  }
  // For restore: stores a serialized value of (`encoded_key`, `state_id`).
  void put_serialized(std::string_view encoded_key, int state_id, SerializedStateValue value) {
    auto it = map_.find(absl::string_view(encoded_key.data(), encoded_key.size()));
    if (it == map_.end()) it = map_.emplace(std::string(encoded_key), std::vector<std::any>()).first;
    std::vector<std::any>& values = it->second;
    if (values.size() <= static_cast<size_t>(state_id)) values.resize(static_cast<size_t>(state_id) + 1);
    std::any& a = values[static_cast<size_t>(state_id)];
    if (!a.has_value()) ++num_values_;
    if (a.has_value() && a.type() == typeid(SerializedStateValue)) --serialized_values_;
    a = std::move(value);
    ++serialized_values_;
    current_ = nullptr;
  }

 private:
  void decode_if_serialized(int state_id, std::any& a) {
    if (serialized_values_ == 0 || !a.has_value() || a.type() != typeid(SerializedStateValue)) return;
    --serialized_values_;
    if (!decoder_ || !decoder_(state_id, a)) {
      a.reset();
      --num_values_;
    }
  }

  std::vector<std::any>* lookup(bool create) {
    if (current_ != nullptr) return current_;
    auto it = map_.find(absl::string_view(current_key_.data(), current_key_.size()));
    if (it == map_.end()) {
      if (!create) return nullptr;
      it = map_.emplace(std::string(current_key_), std::vector<std::any>()).first;
    }
    current_ = &it->second;  // node_hash_map: stable across inserts
    return current_;
  }

  absl::node_hash_map<std::string, std::vector<std::any>> map_;
  std::string_view current_key_;
  std::vector<std::any>* current_ = nullptr;
  size_t num_values_ = 0;
  size_t serialized_values_ = 0;  // SerializedStateValues not decoded yet (0: skip the check)
  Decoder decoder_;
};

}  // namespace sluice
