// GroupTable: the groups of one window (or of a whole non-windowed aggregation): the key
// values of each group (columnar, in insertion order), the aggregate slot of each group and
// a hash index from the encoded key to the group.
//
// Keys are encoded into a reusable byte buffer (type tag + null flag + fixed 8 bytes or
// length-prefixed bytes per column), so lookups of existing groups allocate nothing.
//
// Checkpoints: key_hash() gives a group's key the hash the hash exchange routes its rows
// by (so its key group), and insert_key() re-creates groups from restored key values.
// Group ids are dense, 0..size()-1, in insertion order; row g of keys() is group g's key.
// Owned by one operator instance.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <string>
#include <vector>

#include "operators/aggregate_store.h"
#include "types/record_batch.h"

namespace sluice {

void encode_key(const RecordBatch& batch, const std::vector<int>& key_columns, size_t row, std::string& out);

class GroupTable {
 public:
  explicit GroupTable(SchemaPtr key_schema) : keys_(std::move(key_schema)) {}

  // Returns the group of `row`, creating it (and its aggregate slot) when new.
  uint32_t find_or_insert(const RecordBatch& batch, const std::vector<int>& key_columns, size_t row,
                          std::string& key_buffer, AggregateStore& store) {
    encode_key(batch, key_columns, row, key_buffer);
    auto it = index_.find(absl::string_view(key_buffer.data(), key_buffer.size()));
    if (it != index_.end()) return it->second;
    uint32_t group = static_cast<uint32_t>(slots_.size());
    index_.emplace(key_buffer, group);
    slots_.push_back(store.allocate());
    for (size_t k = 0; k < key_columns.size(); ++k) {
      keys_.columns[k].append_from(batch.column(static_cast<size_t>(key_columns[k])), row);
    }
    keys_.num_rows++;
    return group;
  }

  // Looks up the group of `row` without creating it; false when the key is not present.
  bool find(const RecordBatch& batch, const std::vector<int>& key_columns, size_t row, std::string& key_buffer,
            uint32_t* group) const {
    encode_key(batch, key_columns, row, key_buffer);
    auto it = index_.find(absl::string_view(key_buffer.data(), key_buffer.size()));
    if (it == index_.end()) return false;
    *group = it->second;
    return true;
  }

  // Like find_or_insert, for restoring: the columns of `keys` ARE the key columns (same
  // count and types as the key schema). Returns the existing group when the key is present
  // (compare size() before and after to tell).
  uint32_t insert_key(const RecordBatch& keys, size_t row, std::string& key_buffer, AggregateStore& store);

  // The hash of group `group`'s key: hash_combine over the key columns in order, from 0, of
  // Column::hash_row — equal to the hash the hash exchange (runtime/job.cc) computes for a
  // row with these key values, so key_group_of(key_hash(g)) is the key group of the group.
  uint64_t key_hash(uint32_t group) const;

  size_t size() const { return slots_.size(); }
  uint32_t slot(uint32_t group) const { return slots_[group]; }
  const RecordBatch& keys() const { return keys_; }
  // Groups ordered by their key values (deterministic output order).
  std::vector<uint32_t> sorted_groups() const;
  void release_all(AggregateStore& store) {
    for (uint32_t s : slots_) store.release(s);
    slots_.clear();
  }

 private:
  RecordBatch keys_;
  std::vector<uint32_t> slots_;
  absl::flat_hash_map<std::string, uint32_t> index_;
};

}  // namespace sluice
