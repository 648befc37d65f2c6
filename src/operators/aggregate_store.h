// Aggregate state for grouped aggregation: one "slot" per (window, group), holding the
// running state of every aggregate of the query: COUNT, COUNT DISTINCT, SUM, MIN, MAX, AVG
// (SUM/AVG also DISTINCT), APPROX_COUNT_DISTINCT (HyperLogLog), APPROX_PERCENTILE
// (DDSketch), PERCENTILE (exact), FIRST_VALUE/LAST_VALUE and ARRAY_AGG/STRING_AGG (ordered
// by event time, ties by arrival), each optionally with FILTER (WHERE ...).
//
// Updates are batch-at-a-time: the caller resolves every input row to a slot first, then
// update() runs one tight, type-specialised loop per aggregate over (row, slot) pairs — no
// per-record virtual call. An aggregate with a FILTER first compacts the pairs to the rows
// whose filter column is TRUE. Allocation happens only when a slot's state grows (a new
// distinct value, a new extreme string, a sketch bucket, a list element). Slots of fired
// windows are released and reused; release frees every per-slot allocation, so state is
// bounded by the open windows.
//
// Arrival order: every (row, slot) pair gets a sequence number (a running row counter), so
// "ties by arrival" holds across batches and across merge() of session windows.
//
// Checkpoints: serialize_slot() writes the complete state of one slot (every aggregate,
// sequence numbers and event times included) and deserialize_slot() rebuilds it, so a
// restored store continues exactly as the original would have: same results, same ties.
// The arrival counter is per store, not per slot: an operator snapshots it with
// arrival_counter() and restores it with set_arrival_counter(). UDAFs are checkpointable
// only when their definition has serialize/deserialize (see checkpointable()).
// Owned by one operator instance (one thread).
#pragma once

#include <absl/container/flat_hash_set.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/serde.h"
#include "common/status.h"
#include "expr/aggregate_functions.h"
#include "operators/sketches.h"
#include "types/record_batch.h"

namespace sluice {

enum class AggKind {
  kCountStar,
  kCount,
  kSum,
  kMin,
  kMax,
  kAvg,
  kApproxCountDistinct,  // HyperLogLog, BIGINT result
  kApproxPercentile,     // DDSketch (1% relative error), DOUBLE result
  kPercentile,           // exact, interpolated (keeps every value), DOUBLE result
  kFirstValue,           // value of the row with the smallest event time
  kLastValue,            // value of the row with the largest event time
  kArrayAgg,             // TEXT: a JSON array of the values, in event-time order
  kStringAgg,            // TEXT: the non-NULL values joined by `separator`, in event-time order
  kUser,                 // a C++ user-defined aggregate (AggregateSpec::user)
};
const char* agg_kind_name(AggKind kind);
// Whether the aggregate orders its rows by event time (uses AggregateSpec::time_input).
bool agg_kind_is_ordered(AggKind kind);

struct AggregateSpec {
  AggKind kind = AggKind::kCountStar;
  bool distinct = false;   // COUNT/SUM/AVG(DISTINCT x)
  int input = -1;          // input column index (-1 for COUNT(*))
  TypeId input_type = TypeId::kNull;
  TypeId result_type = TypeId::kInt64;
  // FIRST_VALUE/LAST_VALUE/ARRAY_AGG/STRING_AGG: the TIMESTAMP input column that orders the
  // rows (the event time); -1 orders by arrival only. Ties are broken by arrival.
  int time_input = -1;
  // FILTER (WHERE ...): a BOOLEAN input column; only rows where it is TRUE are aggregated.
  int filter = -1;
  double fraction = 0;    // APPROX_PERCENTILE/PERCENTILE: p in [0, 1]
  std::string separator = "";  // STRING_AGG
  const AggregateFunctionDef* user = nullptr;  // kUser (owned by the global registry)
  std::string describe() const;
};

// Result type of an aggregate over an input type (BIGINT for counts, DOUBLE for AVG and the
// percentiles, the input type for MIN/MAX/FIRST_VALUE/LAST_VALUE, BIGINT or DOUBLE for
// SUM, TEXT for ARRAY_AGG/STRING_AGG).
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
  // Heap bytes held by per-slot state that grows with the input (distinct sets, sketches,
  // value lists, strings); for tests and state accounting. O(slots).
  size_t state_bytes() const;

  // ---- checkpoints
  // False, with the reason in *why (when why is not null), when some aggregate cannot be
  // serialized: a UDAF registered without serialize/deserialize.
  bool checkpointable(std::string* why = nullptr) const;
  // Appends the state of `slot` (allocated) to `writer`: every aggregate in order, each
  // with a header (kind, DISTINCT, input type) checked on restore. Caller must check
  // checkpointable() first (a UDAF without serialize is an invariant violation here).
  // Equal states give equal bytes: PERCENTILE values and ARRAY_AGG/STRING_AGG lists are
  // written in sorted order (sorting them in place, the same cache of the order that
  // append_result fills). The format is documented above the implementation.
  void serialize_slot(uint32_t slot, ByteWriter& writer) const;
  // Reads a slot written by serialize_slot() of a store with the same specs into `slot`
  // (allocated; its previous contents are discarded). Raises the arrival counter past every
  // sequence number restored. On failure (kDataLoss: truncated, corrupt, or written for
  // other aggregates) the slot is left reset and the reader failed.
  Status deserialize_slot(ByteReader& reader, uint32_t slot);
  // The arrival number the next update() gives its row 0. A restored store must continue
  // from the snapshot's counter (the largest, when merging snapshots of several stores) so
  // that ties by arrival break exactly as in an uninterrupted run.
  uint64_t arrival_counter() const { return seq_base_; }
  void set_arrival_counter(uint64_t counter) { seq_base_ = counter; }

  struct DistinctSet {
    absl::flat_hash_set<int64_t> ints;  // ints, timestamps, bools, and doubles' bit patterns
    absl::flat_hash_set<std::string> strings;
  };
  // Values of one slot in (time, arrival) order, for ARRAY_AGG/STRING_AGG: each value is
  // stored as the text it contributes (a JSON literal for ARRAY_AGG) in one byte buffer.
  // Sorted lazily when a result is read (in-order input, the common case, stays sorted).
  struct OrderedList {
    struct Entry {
      int64_t time;
      uint64_t seq;
      size_t offset, length;
    };
    std::vector<Entry> entries;
    std::string bytes;
    bool sorted = true;
    void add(int64_t time, uint64_t seq, std::string_view text);
    // Ends an entry whose text the caller appended to `bytes` from offset `start` on.
    void end_entry(int64_t time, uint64_t seq, size_t start);
    void merge(const OrderedList& other);
    void sort();
  };
  // Every value of one slot, for exact PERCENTILE (sorted lazily).
  struct ValueBag {
    std::vector<double> values;
    bool sorted = true;
  };

 private:
  struct State {
    std::vector<int64_t> i;
    std::vector<double> d;
    std::vector<uint8_t> has;  // FIRST/LAST_VALUE: 0 no row, 1 a value, 2 a NULL value
    std::vector<std::string> s;
    std::vector<int64_t> t;    // FIRST/LAST_VALUE: event time of the value kept
    std::vector<uint64_t> seq; // FIRST/LAST_VALUE: arrival number of the value kept
    std::vector<std::unique_ptr<DistinctSet>> sets;
    std::vector<std::unique_ptr<HyperLogLog>> hll;
    std::vector<std::unique_ptr<DDSketch>> sketch;
    std::vector<std::unique_ptr<ValueBag>> bags;
    std::vector<std::unique_ptr<OrderedList>> lists;
    std::vector<std::unique_ptr<AggregateState>> user;  // kUser: created on first row
  };
  std::vector<AggregateState*> user_scratch_;  // kUser: states of one batch's rows
  void reset_slot(uint32_t slot);
  void serialize_aggregate(size_t a, uint32_t slot, ByteWriter& w) const;
  // `next_seq` is raised past every sequence number read.
  Status deserialize_aggregate(size_t a, uint32_t slot, ByteReader& r, uint64_t& next_seq);
  // The (row, slot) pairs of aggregate `spec` that pass its FILTER (all when it has none).
  size_t select_rows(const AggregateSpec& spec, const RecordBatch& input, const uint32_t*& rows,
                     const uint32_t*& slots, size_t n);
  void update_one(size_t a, const RecordBatch& input, const uint32_t* rows, const uint32_t* slots, size_t n);

  std::vector<AggregateSpec> specs_;
  std::vector<State> states_;
  std::vector<uint32_t> free_;
  size_t capacity_ = 0;
  uint64_t seq_base_ = 0;  // arrival number of row 0 of the next update()
  // FILTER scratch (reused across batches): the compacted pairs and the filter they are for.
  std::vector<uint32_t> filtered_rows_, filtered_slots_;
  int filtered_for_ = -1;
  size_t filtered_count_ = 0;
};

}  // namespace sluice
