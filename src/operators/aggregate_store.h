// Aggregate state for grouped aggregation: one "slot" per (window, group), holding the
// running state of every aggregate of the query (COUNT, COUNT DISTINCT, SUM, MIN, MAX, AVG).
//
// Updates are batch-at-a-time: the caller resolves every input row to a slot first, then
// update() runs one tight, type-specialised loop per aggregate over (row, slot) pairs — no
// per-record virtual call or allocation (COUNT DISTINCT sets and string MIN/MAX allocate
// only when a new distinct value or a new extreme string is stored). Slots of fired windows
// are released and reused, so state is bounded by the open windows.
// Owned by one operator instance (one thread).
#pragma once

#include <absl/container/flat_hash_set.h>

#include <memory>
#include <string>
#include <vector>

#include "types/record_batch.h"

namespace sluice {

enum class AggKind { kCountStar, kCount, kSum, kMin, kMax, kAvg };
const char* agg_kind_name(AggKind kind);

struct AggregateSpec {
  AggKind kind = AggKind::kCountStar;
  bool distinct = false;   // COUNT(DISTINCT x)
  int input = -1;          // input column index (-1 for COUNT(*))
  TypeId input_type = TypeId::kNull;
  TypeId result_type = TypeId::kInt64;
  std::string describe() const;
};

// Result type of an aggregate over an input type (BIGINT for counts, DOUBLE for AVG, the
// input type for MIN/MAX, BIGINT or DOUBLE for SUM).
TypeId aggregate_result_type(AggKind kind, TypeId input);

class AggregateStore {
 public:
  explicit AggregateStore(std::vector<AggregateSpec> specs);
  ~AggregateStore();

  uint32_t allocate();
  void release(uint32_t slot);
  size_t live_slots() const { return capacity_ - free_.size(); }

  // For each i < n: aggregates row rows[i] of `input` into slot slots[i].
  void update(const RecordBatch& input, const uint32_t* rows, const uint32_t* slots, size_t n);
  // Folds the state of slot `src` into slot `dst` (session windows merging); `src` is left
  // unchanged (release it afterwards).
  void merge(uint32_t dst, uint32_t src);
  // Appends the current result of aggregate `agg` for `slot` to `out`.
  void append_result(size_t agg, uint32_t slot, Column& out) const;
  const std::vector<AggregateSpec>& specs() const { return specs_; }

 private:
  struct DistinctSet {
    absl::flat_hash_set<int64_t> ints;  // ints, timestamps, bools, and doubles' bit patterns
    absl::flat_hash_set<std::string> strings;
  };
  struct State {
    std::vector<int64_t> i;
    std::vector<double> d;
    std::vector<uint8_t> has;
    std::vector<std::string> s;
    std::vector<std::unique_ptr<DistinctSet>> sets;
  };
  void reset_slot(uint32_t slot);

  std::vector<AggregateSpec> specs_;
  std::vector<State> states_;
  std::vector<uint32_t> free_;
  size_t capacity_ = 0;
};

}  // namespace sluice
