#include "operators/timed_row_store.h"

#include <algorithm>

#include "common/hash.h"
#include "common/serde.h"
#include "types/batch_serde.h"

namespace sluice {

TimedRowStore::TimedRowStore(const SchemaPtr& schema, std::vector<int> key_columns, uint8_t tag)
    : rows_(schema), key_columns_(std::move(key_columns)), tag_(tag) {}

bool TimedRowStore::find(std::string_view key, uint32_t* id) const {
  auto it = index_.find(absl::string_view(key.data(), key.size()));
  if (it == index_.end()) return false;
  *id = it->second;
  return true;
}

uint32_t TimedRowStore::key_for(std::string_view key, const RecordBatch& batch, size_t row) {
  auto it = index_.find(absl::string_view(key.data(), key.size()));
  if (it != index_.end()) return it->second;
  uint64_t hash = 0;
  for (int c : key_columns_) hash = hash_combine(hash, batch.column(static_cast<size_t>(c)).hash_row(row));
  const uint32_t id = static_cast<uint32_t>(keys_.size());
  keys_.push_back(Key{std::string(key), hash, 0, {}});
  index_.emplace(keys_.back().bytes, id);
  return id;
}

uint32_t TimedRowStore::add(std::string_view key, const RecordBatch& batch, size_t row, Micros expires,
                            uint32_t counter) {
  const uint32_t k = key_for(key, batch, row);
  for (size_t c = 0; c < rows_.columns.size(); ++c) rows_.columns[c].append_from(batch.column(c), row);
  return link_row(k, expires, counter, next_seq_++);
}

uint32_t TimedRowStore::link_row(uint32_t key, Micros expires, uint32_t counter, uint64_t seq) {
  const uint32_t id = static_cast<uint32_t>(rows_.num_rows);
  rows_.num_rows++;
  key_of_.push_back(key);
  counter_.push_back(counter);
  expires_.push_back(expires);
  seq_.push_back(seq);
  alive_.push_back(1);
  keys_[key].rows.push_back(id);
  keys_[key].live++;
  ++live_rows_;
  heap_.push_back(Expiry{expires, seq, id});
  std::push_heap(heap_.begin(), heap_.end());
  mark_dirty(key);
  return id;
}

void TimedRowStore::mark_dirty(uint32_t key) {
  if (!track_) return;
  dirty_.emplace(keys_[key].bytes, key_group_of(keys_[key].hash));
}

void TimedRowStore::pop_expired(Micros watermark, std::vector<uint32_t>& out) {
  const bool end = watermark == kMaxWatermark;
  while (!heap_.empty() && (end || heap_.front().at < watermark)) {
    std::pop_heap(heap_.begin(), heap_.end());
    const uint32_t row = heap_.back().row;
    heap_.pop_back();
    if (alive_[row]) out.push_back(row);
  }
}

void TimedRowStore::remove(uint32_t row) {
  if (!alive_[row]) return;
  alive_[row] = 0;
  --live_rows_;
  Key& k = keys_[key_of_[row]];
  k.live--;
  mark_dirty(key_of_[row]);
  // Keep each key's list mostly live, so lookups do not wade through removed rows.
  if (k.rows.size() >= 8 && k.live < k.rows.size() / 2) {
    k.rows.erase(std::remove_if(k.rows.begin(), k.rows.end(), [&](uint32_t id) { return alive_[id] == 0; }),
                 k.rows.end());
  }
}

void TimedRowStore::compact() {
  const size_t dead = rows_.num_rows - live_rows_;
  if (dead < 1024 || dead < live_rows_) return;
  std::vector<uint32_t> keep;
  keep.reserve(live_rows_);
  std::vector<uint32_t> new_id(rows_.num_rows, UINT32_MAX);
  std::vector<Key> keys;
  std::vector<uint32_t> key_of, counter;
  std::vector<Micros> expires;
  std::vector<uint64_t> seq;
  index_.clear();
  for (Key& k : keys_) {
    if (k.live == 0) continue;
    const uint32_t nk = static_cast<uint32_t>(keys.size());
    std::vector<uint32_t> live;
    live.reserve(k.live);
    for (uint32_t id : k.rows) {
      if (!alive_[id]) continue;
      new_id[id] = static_cast<uint32_t>(keep.size());
      live.push_back(new_id[id]);
      keep.push_back(id);
      key_of.push_back(nk);
      counter.push_back(counter_[id]);
      expires.push_back(expires_[id]);
      seq.push_back(seq_[id]);
    }
    k.rows = std::move(live);
    keys.push_back(std::move(k));
    index_.emplace(keys.back().bytes, nk);
  }
  RecordBatch fresh(rows_.schema);
  for (size_t c = 0; c < rows_.columns.size(); ++c) {
    fresh.columns[c].append_gather(rows_.columns[c], keep.data(), keep.size());
  }
  fresh.num_rows = keep.size();
  rows_ = std::move(fresh);
  keys_ = std::move(keys);
  key_of_ = std::move(key_of);
  counter_ = std::move(counter);
  expires_ = std::move(expires);
  seq_ = std::move(seq);
  alive_.assign(keep.size(), 1);
  std::vector<Expiry> heap;
  heap.reserve(keep.size());
  for (const Expiry& e : heap_) {
    if (new_id[e.row] != UINT32_MAX) heap.push_back(Expiry{e.at, e.seq, new_id[e.row]});
  }
  std::make_heap(heap.begin(), heap.end());
  heap_ = std::move(heap);
}

// Entry value: varint row count, then per row: varint counter, i64 expiry, varint arrival
// sequence, every column's value (write_column_value).
void TimedRowStore::write_entry(uint32_t key, std::string& out) const {
  out.clear();
  ByteWriter w(&out);
  const Key& k = keys_[key];
  w.varint(k.live);
  for (uint32_t id : k.rows) {
    if (!alive_[id]) continue;
    w.varint(counter_[id]);
    w.i64(expires_[id]);
    w.varint(seq_[id]);
    for (const Column& c : rows_.columns) write_column_value(w, c, id);
  }
}

void TimedRowStore::snapshot(StateWriter& writer) {
  auto entry_key = [&](std::string_view bytes) -> std::string_view {
    entry_key_.assign(1, static_cast<char>(tag_));
    entry_key_.append(bytes.data(), bytes.size());
    return entry_key_;
  };
  if (writer.incremental()) {
    for (const auto& [bytes, key_group] : dirty_) {
      uint32_t id = 0;
      if (find(bytes, &id) && keys_[id].live > 0) {
        write_entry(id, entry_value_);
        writer.put(key_group, entry_key(bytes), entry_value_);
      } else {
        writer.remove(key_group, entry_key(bytes));
      }
    }
  } else {
    for (uint32_t id = 0; id < keys_.size(); ++id) {
      if (keys_[id].live == 0) continue;
      write_entry(id, entry_value_);
      writer.put(key_group_of(keys_[id].hash), entry_key(keys_[id].bytes), entry_value_);
    }
  }
  dirty_.clear();
}

Status TimedRowStore::restore_entry(std::string_view key, std::string_view value) {
  auto bad = [&](const char* what) {
    return Status(StatusCode::kDataLoss, std::string("time-bounded join state: ") + what);
  };
  ByteReader r(value);
  const uint64_t n = r.varint();
  if (!r.ok() || n == 0 || n > value.size()) return bad("bad row count");
  const size_t first = rows_.num_rows;
  struct Meta {
    uint32_t counter;
    Micros expires;
    uint64_t seq;
  };
  std::vector<Meta> meta;
  meta.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    const uint64_t counter = r.varint();
    const Micros expires = r.i64();
    const uint64_t seq = r.varint();
    for (Column& c : rows_.columns) RETURN_IF_ERROR(read_column_value(r, c));
    if (!r.ok() || counter > UINT32_MAX) return bad("bad row");
    meta.push_back(Meta{static_cast<uint32_t>(counter), expires, seq});
    rows_.num_rows++;
  }
  rows_.num_rows = first;
  const uint32_t k = key_for(key, rows_, first);
  for (const Meta& m : meta) {
    link_row(k, m.expires, m.counter, m.seq);
    next_seq_ = std::max(next_seq_, m.seq + 1);
  }
  return Status::ok();
}

}  // namespace sluice
