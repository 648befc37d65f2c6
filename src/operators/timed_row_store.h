// TimedRowStore: the rows one input of a time-bounded join (interval join, window join)
// keeps, each until the watermark passes the row's expiry time.
//
// Rows are stored columnar (one growing RecordBatch, no allocation per row once it has
// grown) and indexed by their encoded join key (operators/group_table.h encode_key: equal
// keys of both inputs encode equally). Each row has an expiry time and a counter (the
// number of partners of an outer join's row). A min-heap on (expiry, row) hands out the
// rows the watermark has passed, in expiry order; the operator emits what it must for them
// (NULL-padded outer rows, a window's pairs) and removes them. Removed rows leave holes
// that compact() squeezes out once they outnumber the live rows, so memory follows the
// rows still inside their interval, not the history.
//
// Checkpoints: one keyed entry per (store tag, join key): its live rows with counter and
// expiry. The entry's key group is that of the join key's hash (the hash exchange's), so a
// restored instance reads exactly the keys it owns at any parallelism. With incremental
// snapshots the keys changed since the last snapshot are tracked (put or removed).
//
// Lifecycle: one per input per operator instance; used by the instance's task thread only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "common/status.h"
#include "common/time_util.h"
#include "state/state_backend.h"
#include "types/record_batch.h"

namespace sluice {

class TimedRowStore {
 public:
  // `key_columns`: the columns of a stored row that the hash exchange routed by (the join
  // keys), whose hash gives an entry's key group. `tag`: the first byte of this store's
  // checkpoint entries (two stores of one operator write one snapshot).
  TimedRowStore(const SchemaPtr& schema, std::vector<int> key_columns, uint8_t tag);

  // The key encoded as `key`, or false.
  bool find(std::string_view key, uint32_t* id) const;
  // Stores row `row` of `batch`, whose encoded key is `key`; returns its row id.
  uint32_t add(std::string_view key, const RecordBatch& batch, size_t row, Micros expires, uint32_t counter);

  // Rows of key `id`, live and removed (check alive()), in arrival order.
  const std::vector<uint32_t>& rows_of(uint32_t id) const { return keys_[id].rows; }
  const std::string& key_bytes(uint32_t id) const { return keys_[id].bytes; }
  uint32_t key_of(uint32_t row) const { return key_of_[row]; }
  bool alive(uint32_t row) const { return alive_[row] != 0; }
  uint32_t& counter(uint32_t row) { return counter_[row]; }
  Micros expires(uint32_t row) const { return expires_[row]; }
  const RecordBatch& rows() const { return rows_; }
  size_t live_rows() const { return live_rows_; }
  // The counter changed: the key's checkpoint entry is dirty.
  void touched(uint32_t row) { mark_dirty(key_of_[row]); }

  // Appends to `out` the live rows whose expiry is before `watermark` (all of them at
  // kMaxWatermark, the end of the input), in (expiry, arrival) order. They stay stored
  // until remove().
  void pop_expired(Micros watermark, std::vector<uint32_t>& out);
  void remove(uint32_t row);
  // Drops removed rows and empty keys once removed rows outnumber live ones (row ids change).
  void compact();

  // Checkpoints (see the top comment): entries of every key (full) or of the keys changed
  // since the last snapshot (`writer.incremental()`).
  void snapshot(StateWriter& writer);
  // One entry written by snapshot() (its key without the tag byte).
  Status restore_entry(std::string_view key, std::string_view value);
  void track_changes(bool on) { track_ = on; }

 private:
  struct Key {
    std::string bytes;
    uint64_t hash = 0;
    uint32_t live = 0;
    std::vector<uint32_t> rows;
  };
  // Rows expire in (expiry, arrival sequence) order: the sequence is checkpointed, so a
  // restored instance emits in the order the uninterrupted one would.
  struct Expiry {
    Micros at;
    uint64_t seq;
    uint32_t row;
    // std::push_heap keeps the largest first: the earliest expiry must compare largest.
    bool operator<(const Expiry& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };
  uint32_t key_for(std::string_view key, const RecordBatch& batch, size_t row);
  uint32_t link_row(uint32_t key, Micros expires, uint32_t counter, uint64_t seq);
  void mark_dirty(uint32_t key);
  void write_entry(uint32_t key, std::string& out) const;

  RecordBatch rows_;
  std::vector<int> key_columns_;
  uint8_t tag_;
  std::vector<uint32_t> key_of_;
  std::vector<uint32_t> counter_;
  std::vector<Micros> expires_;
  std::vector<uint64_t> seq_;
  uint64_t next_seq_ = 0;
  std::vector<uint8_t> alive_;
  size_t live_rows_ = 0;
  std::vector<Key> keys_;
  absl::flat_hash_map<std::string, uint32_t> index_;
  std::vector<Expiry> heap_;
  // Incremental snapshots: keys changed since the last one -> their key group.
  bool track_ = false;
  absl::flat_hash_map<std::string, int> dirty_;
  std::string entry_key_, entry_value_;
};

// Saturating a + b for times and bounds (kMinWatermark / kMaxWatermark stand for -inf / +inf).
inline Micros saturating_add(Micros a, Micros b) {
  if (a == kMaxWatermark || b == kMaxWatermark) return kMaxWatermark;
  if (a == kMinWatermark || b == kMinWatermark) return kMinWatermark;
  Micros r;
  if (__builtin_add_overflow(a, b, &r)) return b > 0 ? kMaxWatermark : kMinWatermark;
  return r;
}

}  // namespace sluice
