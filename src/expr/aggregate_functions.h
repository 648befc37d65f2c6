// User-defined aggregate functions (UDAFs): C++ aggregates callable from SQL like the
// built-ins (SELECT k, my_agg(x) FROM t GROUP BY k, in windows, with FILTER).
//
// A UDAF keeps one state object per group (per window). Its accumulate callback receives a
// whole batch at a time: the argument column, the rows to add and, for each row, the state
// of its group — one call per batch, no per-row virtual dispatch in the engine. merge folds
// one state into another (session windows merging); finish appends the result of a state
// to the output column (exactly one value, possibly NULL).
//
// Checkpoints: serialize appends the bytes of a state to `out`; deserialize rebuilds a
// state (fresh from create()) from exactly those bytes, returning a non-ok Status for
// bytes it cannot read (they come from a file: never trust them). Both are optional but go
// together; a query using a UDAF without them cannot be checkpointed
// (AggregateStore::checkpointable()).
//
// Threads: caller must register every UDAF before compiling a job that uses it, and not
// while a job is being planned (lookups are lock-free reads). The callbacks are shared by
// all operator instances and may be called from several threads at once with different
// states: they must not touch shared mutable data.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "types/column.h"

namespace sluice {

class AggregateState {
 public:
  virtual ~AggregateState() = default;
};

struct AggregateFunctionDef {
  std::string name;        // lower-case SQL identifier
  TypeId arg_type = TypeId::kNull;
  TypeId return_type = TypeId::kNull;
  std::function<std::unique_ptr<AggregateState>()> create;
  // For i < n: adds row rows[i] of `arg` (cast to arg_type; may be NULL) to *states[i].
  std::function<void(AggregateState* const* states, const Column& arg, const uint32_t* rows, size_t n)> accumulate;
  std::function<void(AggregateState& into, const AggregateState& from)> merge;
  std::function<void(const AggregateState& state, Column& out)> finish;
  // Optional, both or neither (see the top of this file).
  std::function<void(const AggregateState& state, std::string& out)> serialize;
  std::function<Status(std::string_view in, AggregateState& into)> deserialize;
};

class AggregateFunctionRegistry {
 public:
  static AggregateFunctionRegistry& global();
  // Fails for an invalid or taken name (a built-in aggregate or an existing UDAF).
  Status add(AggregateFunctionDef def);
  // nullptr when no UDAF has this (lower-case) name.
  const AggregateFunctionDef* find(const std::string& name) const;

 private:
  std::vector<std::unique_ptr<AggregateFunctionDef>> functions_;
};

// Built-in aggregate names (count, sum, ..., string_agg): reserved for UDAFs and UDFs.
bool is_builtin_aggregate_name(const std::string& lower_name);

}  // namespace sluice
