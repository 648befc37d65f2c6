#include "operators/join.h"

#include <algorithm>
#include <limits>

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>

#include <fmt/format.h>

#include "common/hash.h"
#include "common/serde.h"
#include "operators/group_table.h"
#include "operators/join_output.h"
#include "types/batch_serde.h"

namespace sluice {

const char* join_type_name(JoinType type) {
  switch (type) {
    case JoinType::kInner: return "INNER";
    case JoinType::kLeft: return "LEFT";
    case JoinType::kRight: return "RIGHT";
    case JoinType::kFull: return "FULL";
  }
  return "?";
}

namespace {

Status data_loss(std::string message) { return Status(StatusCode::kDataLoss, std::move(message)); }

uint64_t row_hash(const RecordBatch& batch, const std::vector<int>& columns, size_t row) {
  uint64_t hash = 0;
  for (int c : columns) hash = hash_combine(hash, batch.column(static_cast<size_t>(c)).hash_row(row));
  return hash;
}

bool rows_equal(const RecordBatch& a, size_t ra, const RecordBatch& b, size_t rb) {
  for (size_t c = 0; c < a.columns.size(); ++c) {
    const Column& x = a.column(c);
    const Column& y = b.column(c);
    if (x.is_null(ra) != y.is_null(rb)) return false;
    if (!x.is_null(ra) && x.compare(ra, y, rb) != 0) return false;
  }
  return true;
}

bool is_accumulate(RowKind k) { return k == RowKind::kInsert || k == RowKind::kUpdateAfter; }

// The live rows of one input, columnar (no per-row allocation), grouped by an encoded key.
// Removed rows leave holes that maybe_compact() squeezes out once they dominate. Each row
// has a counter (the number of partners of an outer join's row). Key and row ids are stable
// between compactions only. `hash_columns`: the row columns the hash exchange routed by,
// whose hash gives a key's key group.
class KeyedRowStore {
 public:
  KeyedRowStore(const SchemaPtr& schema, std::vector<int> hash_columns)
      : rows_(schema), hash_columns_(std::move(hash_columns)) {}

  bool find(std::string_view key, uint32_t* id) const {
    auto it = index_.find(absl::string_view(key.data(), key.size()));
    if (it == index_.end()) return false;
    *id = it->second;
    return true;
  }
  // The key of row `row` of `batch` (encoded as `key`), created when new.
  uint32_t find_or_add_key(std::string_view key, const RecordBatch& batch, size_t row) {
    auto it = index_.find(absl::string_view(key.data(), key.size()));
    if (it != index_.end()) return it->second;
    const uint32_t id = static_cast<uint32_t>(keys_.size());
    keys_.push_back(Key{std::string(key), row_hash(batch, hash_columns_, row), {}});
    index_.emplace(keys_.back().bytes, id);
    return id;
  }
  // `written`: when the row was stored (wall clock, for the state TTL).
  uint32_t add_row(uint32_t key, const RecordBatch& batch, size_t row, uint32_t counter, Micros written) {
    for (size_t c = 0; c < rows_.columns.size(); ++c) rows_.columns[c].append_from(batch.column(c), row);
    return link_row(key, counter, written);
  }
  // Removes every row stored at or before `cutoff`; `removed(key)` is called once per key
  // that lost rows. Returns the number of rows removed.
  template <typename Fn>
  uint64_t expire(Micros cutoff, Fn&& removed) {
    uint64_t n = 0;
    for (uint32_t k = 0; k < keys_.size(); ++k) {
      auto& list = keys_[k].rows;
      const size_t before = list.size();
      list.erase(std::remove_if(list.begin(), list.end(), [&](uint32_t id) { return written_[id] <= cutoff; }),
                 list.end());
      if (list.size() == before) continue;
      n += before - list.size();
      removed(k);
    }
    live_rows_ -= n;
    return n;
  }
  // Removes row `id` (live) from its key.
  void remove_row(uint32_t id) {
    auto& list = keys_[key_of_[id]].rows;
    for (size_t i = 0; i < list.size(); ++i) {
      if (list[i] == id) {
        list.erase(list.begin() + static_cast<long>(i));
        break;
      }
    }
    --live_rows_;
  }
  // The first live row of `key` stored after `cutoff` and equal to row `row` of `batch` in
  // every column, or -1.
  int64_t find_equal(uint32_t key, const RecordBatch& batch, size_t row, Micros cutoff) const {
    for (uint32_t id : keys_[key].rows) {
      if (written_[id] > cutoff && rows_equal(rows_, id, batch, row)) return id;
    }
    return -1;
  }
  Micros written(uint32_t id) const { return written_[id]; }

  const std::vector<uint32_t>& rows_of(uint32_t key) const { return keys_[key].rows; }
  const std::string& key_bytes(uint32_t key) const { return keys_[key].bytes; }
  int key_group(uint32_t key) const { return key_group_of(keys_[key].hash); }
  size_t num_keys() const { return keys_.size(); }
  const RecordBatch& rows() const { return rows_; }
  uint32_t& counter(uint32_t id) { return counter_[id]; }
  uint32_t key_of(uint32_t id) const { return key_of_[id]; }
  size_t live_rows() const { return live_rows_; }

  // Drops removed rows, and keys without rows, once removed rows outnumber live ones.
  void maybe_compact() {
    const size_t dead = rows_.num_rows - live_rows_;
    if (dead < 1024 || dead < live_rows_) return;
    RecordBatch fresh(rows_.schema);
    std::vector<uint32_t> keep;
    keep.reserve(live_rows_);
    std::vector<Key> keys;
    std::vector<uint32_t> key_of, counter;
    std::vector<Micros> written;
    index_.clear();
    for (Key& k : keys_) {
      if (k.rows.empty()) continue;
      const uint32_t nk = static_cast<uint32_t>(keys.size());
      for (uint32_t& id : k.rows) {
        keep.push_back(id);
        key_of.push_back(nk);
        counter.push_back(counter_[id]);
        written.push_back(written_[id]);
        id = static_cast<uint32_t>(keep.size() - 1);
      }
      keys.push_back(std::move(k));
      index_.emplace(keys.back().bytes, nk);
    }
    for (size_t c = 0; c < rows_.columns.size(); ++c) {
      fresh.columns[c].append_gather(rows_.columns[c], keep.data(), keep.size());
    }
    fresh.num_rows = keep.size();
    rows_ = std::move(fresh);
    keys_ = std::move(keys);
    key_of_ = std::move(key_of);
    counter_ = std::move(counter);
    written_ = std::move(written);
  }

  // Checkpoint entry of one key: varint row count, then per row varint counter and every
  // column's value (write_column_value). With `times` (a state TTL is set): a 0 and a 1
  // first (a row count is never 0, so entries without times still read), and each row's
  // write time after its counter.
  void write_key(uint32_t key, std::string& out, bool times) const {
    out.clear();
    ByteWriter w(&out);
    const auto& list = keys_[key].rows;
    if (times) {
      w.varint(0);
      w.varint(1);
    }
    w.varint(list.size());
    for (uint32_t id : list) {
      w.varint(counter_[id]);
      if (times) w.varint(static_cast<uint64_t>(written_[id]));
      for (const Column& c : rows_.columns) write_column_value(w, c, id);
    }
  }
  // `now`: the write time of rows restored from an entry without times.
  Status read_key(std::string_view key, std::string_view value, Micros now) {
    ByteReader r(value);
    uint64_t n = r.varint();
    bool times = false;
    if (r.ok() && n == 0) {
      if (r.varint() != 1) return data_loss("join state: unknown entry version");
      times = true;
      n = r.varint();
    }
    if (!r.ok() || n == 0 || n > value.size()) return data_loss("join state: bad row count");
    const size_t first = rows_.num_rows;
    std::vector<uint32_t> counters;
    std::vector<Micros> written;
    for (uint64_t i = 0; i < n; ++i) {
      const uint64_t counter = r.varint();
      const uint64_t at = times ? r.varint() : static_cast<uint64_t>(now);
      for (Column& c : rows_.columns) RETURN_IF_ERROR(read_column_value(r, c));
      if (!r.ok() || counter > UINT32_MAX || at > static_cast<uint64_t>(kMaxWatermark)) {
        return data_loss("join state: bad row");
      }
      counters.push_back(static_cast<uint32_t>(counter));
      written.push_back(static_cast<Micros>(at));
      rows_.num_rows++;
    }
    rows_.num_rows = first;
    const uint32_t k = find_or_add_key(key, rows_, first);
    for (size_t i = 0; i < counters.size(); ++i) link_row(k, counters[i], written[i]);
    return Status::ok();
  }

 private:
  struct Key {
    std::string bytes;
    uint64_t hash = 0;
    std::vector<uint32_t> rows;  // live rows, in arrival order
  };
  // Registers the row just appended to the columns.
  uint32_t link_row(uint32_t key, uint32_t counter, Micros written) {
    const uint32_t id = static_cast<uint32_t>(rows_.num_rows);
    rows_.num_rows++;
    key_of_.push_back(key);
    counter_.push_back(counter);
    written_.push_back(written);
    keys_[key].rows.push_back(id);
    ++live_rows_;
    return id;
  }

  RecordBatch rows_;
  std::vector<int> hash_columns_;
  std::vector<uint32_t> key_of_;
  std::vector<uint32_t> counter_;
  std::vector<Micros> written_;  // per row: when it was stored (wall clock)
  size_t live_rows_ = 0;
  std::vector<Key> keys_;
  absl::flat_hash_map<std::string, uint32_t> index_;
};

// Keys changed since the last snapshot (incremental snapshots only): "<side byte><key>" ->
// its key group (kept, since an emptied key may be compacted away before the snapshot).
class DirtyKeys {
 public:
  void mark(uint8_t side, const KeyedRowStore& store, uint32_t key) {
    if (!track) return;
    buffer_.assign(1, static_cast<char>(side));
    buffer_ += store.key_bytes(key);
    keys_.emplace(buffer_, store.key_group(key));
  }
  bool track = false;
  absl::flat_hash_map<std::string, int> keys_;

 private:
  std::string buffer_;
};

// Writes the snapshot of `stores` (indexed by side byte): every key with rows (full), or the
// changed keys (incremental; emptied keys removed). `times`: with each row's write time.
void snapshot_stores(const std::vector<const KeyedRowStore*>& stores, DirtyKeys& dirty, StateWriter& writer,
                     bool times) {
  std::string key, value;
  if (writer.incremental()) {
    for (const auto& [k, key_group] : dirty.keys_) {
      const KeyedRowStore& s = *stores[static_cast<uint8_t>(k[0])];
      uint32_t id = 0;
      if (s.find(std::string_view(k).substr(1), &id) && !s.rows_of(id).empty()) {
        s.write_key(id, value, times);
        writer.put(key_group, k, value);
      } else {
        writer.remove(key_group, k);
      }
    }
  } else {
    for (size_t side = 0; side < stores.size(); ++side) {
      const KeyedRowStore& s = *stores[side];
      for (uint32_t id = 0; id < s.num_keys(); ++id) {
        if (s.rows_of(id).empty()) continue;
        key.assign(1, static_cast<char>(side));
        key += s.key_bytes(id);
        s.write_key(id, value, times);
        writer.put(s.key_group(id), key, value);
      }
    }
  }
  dirty.keys_.clear();
}

// Restores `stores` (indexed by side byte) from the entries of this instance's key groups;
// `now` is the write time of rows checkpointed without one.
Status restore_stores(const OperatorContext& ctx, StateRestore* state, const std::vector<KeyedRowStore*>& stores,
                      Micros now) {
  if (state == nullptr) return Status::ok();
  auto [begin, end] = key_group_range(ctx.instance, ctx.parallelism);
  return state->scan(begin, end, [&](int, std::string_view key, std::string_view value) -> Status {
    if (key.empty() || static_cast<uint8_t>(key[0]) >= stores.size()) return data_loss("join state: bad key");
    return stores[static_cast<uint8_t>(key[0])]->read_key(key.substr(1), value, now);
  });
}

class Join : public Operator {
 public:
  int64_t state_entries() const override { return static_cast<int64_t>(stores_[0].num_keys() + stores_[1].num_keys()); }
  explicit Join(const JoinConfig& c)
      : c_(c),
        stores_{KeyedRowStore(c.left_schema, c.left_keys), KeyedRowStore(c.right_schema, c.right_keys)},
        out_(c.output_schema, c.batch_size) {}

  Status open(const OperatorContext& ctx) override {
    ctx_ = ctx;
    dirty_.track = ctx.checkpoint.incremental;
    return Status::ok();
  }

  Status process(int input, const BatchPtr& batch, Output& out) override {
    if (input != 0 && input != 1) return internal_error("join: unknown input {}", input);
    expire_state();
    const RecordBatch& in = *batch;
    // Rows in chunks whose candidate pairs stay bounded (a hot key joins many rows).
    size_t begin = 0;
    while (begin < in.num_rows) {
      size_t end = collect_candidates(input, in, begin);
      RETURN_IF_ERROR(apply(input, in, begin, end, out));
      begin = end;
    }
    stores_[input].maybe_compact();
    return out_.flush(out);
  }

  // A regular join's output has no event time: a row may pair a new row with one stored
  // long ago, behind any watermark. Forwarding the inputs' watermarks would make windows
  // downstream drop such rows, so only the end of the input is passed on.
  Status on_watermark(Micros watermark, Output& out) override {
    expire_state();
    if (watermark == kMaxWatermark) return out.emit_watermark(watermark);
    return Status::ok();
  }

  Status on_idle_tick(Output&) override {
    expire_state();
    return Status::ok();
  }

  Status snapshot(uint64_t, StateWriter& writer) override {
    snapshot_stores({&stores_[0], &stores_[1]}, dirty_, writer, c_.state_ttl > 0);
    return Status::ok();
  }
  Status restore(uint64_t, StateRestore* state) override {
    return restore_stores(ctx_, state, {&stores_[0], &stores_[1]}, now());
  }

 private:
  Micros now() const { return ctx_.clock->unix_micros(); }
  Micros written_at() const { return c_.state_ttl > 0 ? now() : 0; }

  // The state TTL. A row stored state_ttl ago or earlier is invisible at once (lookups skip
  // rows written at or before cutoff_, as Flink never returns expired state), and dropped
  // from memory by a scan of the state at most every state_ttl / 4 (at least 1 ms, at most
  // 1 minute apart).
  void expire_state() {
    if (c_.state_ttl <= 0) return;
    const Micros t = now();
    cutoff_ = t - c_.state_ttl;
    if (t < next_expiry_) return;
    next_expiry_ = t + std::clamp<Micros>(c_.state_ttl / 4, kMicrosPerMilli, 60 * kMicrosPerSecond);
    uint64_t expired = 0;
    for (uint8_t side = 0; side < 2; ++side) {
      KeyedRowStore& s = stores_[side];
      expired += s.expire(t - c_.state_ttl, [&](uint32_t key) { dirty_.mark(side, s, key); });
      s.maybe_compact();
    }
    if (expired > 0) ctx_.metrics->state_expired->add(expired);
  }
  static constexpr size_t kMaxPairs = 1 << 16;

  const std::vector<int>& keys_of(int side) const { return side == 0 ? c_.left_keys : c_.right_keys; }
  bool outer(int side) const {
    return c_.type == JoinType::kFull || (side == 0 ? c_.type == JoinType::kLeft : c_.type == JoinType::kRight);
  }
  // A key with a NULL in a plain `=` column matches nothing.
  bool null_key(const RecordBatch& in, const std::vector<int>& keys, size_t row) const {
    for (size_t k = 0; k < keys.size(); ++k) {
      if (!c_.null_safe[k] && in.column(static_cast<size_t>(keys[k])).is_null(row)) return true;
    }
    return false;
  }

  // Phase 1 for rows [begin, end): the stored rows of the other side with an equal key
  // (the other side does not change while this side's rows are applied), then the residual
  // over all of those pairs at once. Returns `end`.
  size_t collect_candidates(int side, const RecordBatch& in, size_t begin) {
    const KeyedRowStore& other = stores_[1 - side];
    const std::vector<int>& keys = keys_of(side);
    pair_row_.clear();
    pair_other_.clear();
    pair_end_.clear();
    row_keys_.clear();
    row_key_end_.clear();
    size_t r = begin;
    for (; r < in.num_rows; ++r) {
      if (r > begin && pair_row_.size() >= kMaxPairs) break;
      encode_key(in, keys, r, key_buffer_);
      row_keys_ += key_buffer_;
      row_key_end_.push_back(row_keys_.size());
      uint32_t k = 0;
      if (!null_key(in, keys, r) && other.find(key_buffer_, &k)) {
        for (uint32_t id : other.rows_of(k)) {
          if (other.written(id) <= cutoff_) continue;  // expired (state TTL), not yet dropped
          pair_row_.push_back(static_cast<uint32_t>(r));
          pair_other_.push_back(id);
        }
      }
      pair_end_.push_back(pair_row_.size());
    }
    matched_.assign(pair_row_.size(), 1);
    if (!pair_row_.empty()) {
      RecordBatch& pairs = pairs_;
      if (!pairs.schema) pairs = RecordBatch(c_.output_schema);
      pairs.clear();
      const RecordBatch& left = side == 0 ? in : other.rows();
      const RecordBatch& right = side == 0 ? other.rows() : in;
      const auto& lidx = side == 0 ? pair_row_ : pair_other_;
      const auto& ridx = side == 0 ? pair_other_ : pair_row_;
      const size_t nl = left.columns.size();
      for (size_t col = 0; col < nl; ++col) pairs.columns[col].append_gather(left.column(col), lidx.data(), lidx.size());
      for (size_t col = 0; col < right.columns.size(); ++col) {
        pairs.columns[nl + col].append_gather(right.column(col), ridx.data(), ridx.size());
      }
      pairs.num_rows = pair_row_.size();
      if (c_.residual) {
        scratch_.reset();
        const Column& ok = c_.residual->eval(pairs, scratch_);
        for (size_t p = 0; p < pairs.num_rows; ++p) matched_[p] = ok.is_valid(p) && ok.int_at(p) != 0;
      }
    }
    return r;
  }

  // Phase 2: applies rows [begin, end) in order, emitting the changelog.
  Status apply(int side, const RecordBatch& in, size_t begin, size_t end, Output& out) {
    KeyedRowStore& mine = stores_[side];
    KeyedRowStore& other = stores_[1 - side];
    const bool my_outer = outer(side);
    const bool other_outer = outer(1 - side);
    const std::vector<int>& keys = keys_of(side);
    size_t p = 0;
    for (size_t r = begin; r < end; ++r) {
      const size_t i = r - begin;
      const size_t pend = pair_end_[i];
      const std::string_view key = row_key(i);
      const bool add = is_accumulate(in.row_kind(r));
      const bool unmatched_key = null_key(in, keys, r);
      int64_t stored = -1;
      if (!add) {
        uint32_t k = 0;
        if (mine.find(key, &k)) stored = mine.find_equal(k, in, r, cutoff_);
        if (stored < 0) {  // a retraction of a row never stored here: nothing was emitted for it
          p = pend;
          continue;
        }
      }
      uint32_t matches = 0;
      for (; p < pend; ++p) {
        if (!matched_[p]) continue;
        ++matches;
        const uint32_t o = pair_other_[p];
        if (add) {
          if (other_outer && other.counter(o)++ == 0) RETURN_IF_ERROR(emit_padded(1 - side, other.rows(), o, RowKind::kDelete, out));
          RETURN_IF_ERROR(emit_pair(p, RowKind::kInsert, out));
        } else {
          RETURN_IF_ERROR(emit_pair(p, RowKind::kDelete, out));
          if (other_outer && --other.counter(o) == 0) RETURN_IF_ERROR(emit_padded(1 - side, other.rows(), o, RowKind::kInsert, out));
        }
        if (other_outer) dirty_.mark(static_cast<uint8_t>(1 - side), other, other.key_of(o));
      }
      if (my_outer && matches == 0) RETURN_IF_ERROR(emit_padded(side, in, r, add ? RowKind::kInsert : RowKind::kDelete, out));
      if (add) {
        if (unmatched_key && !my_outer) continue;  // can never join nor be emitted: not stored
        const uint32_t k = mine.find_or_add_key(key, in, r);
        mine.add_row(k, in, r, matches, written_at());
        dirty_.mark(static_cast<uint8_t>(side), mine, k);
      } else {
        const uint32_t k = mine.key_of(static_cast<uint32_t>(stored));
        mine.remove_row(static_cast<uint32_t>(stored));
        dirty_.mark(static_cast<uint8_t>(side), mine, k);
      }
    }
    return Status::ok();
  }

  std::string_view row_key(size_t i) const {
    const size_t b = i == 0 ? 0 : row_key_end_[i - 1];
    return std::string_view(row_keys_).substr(b, row_key_end_[i] - b);
  }

  Status emit_pair(size_t p, RowKind kind, Output& out) {
    RecordBatch& b = out_.batch();
    for (size_t col = 0; col < b.columns.size(); ++col) b.columns[col].append_from(pairs_.column(col), p);
    return out_.row_done(kind, out);
  }
  // Row `row` of `rows` (a row of `side`) with NULLs for the other side's columns.
  Status emit_padded(int side, const RecordBatch& rows, size_t row, RowKind kind, Output& out) {
    return out_.padded_row(rows, row, side == 0 ? 0 : c_.left_schema->size(), kind, out);
  }

  const JoinConfig& c_;
  Micros next_expiry_ = 0;
  Micros cutoff_ = std::numeric_limits<Micros>::min();  // rows written at or before it are expired
  KeyedRowStore stores_[2];
  JoinOutputBuilder out_;
  DirtyKeys dirty_;
  std::string key_buffer_;
  // Candidates of the current chunk: pair p joins input row pair_row_[p] with stored row
  // pair_other_[p]; the pairs of chunk row i end at pair_end_[i].
  std::vector<uint32_t> pair_row_, pair_other_;
  std::vector<size_t> pair_end_;
  // The encoded key of chunk row i: row_keys_[row_key_end_[i-1], row_key_end_[i]).
  std::string row_keys_;
  std::vector<size_t> row_key_end_;
  std::vector<uint8_t> matched_;
  RecordBatch pairs_;
  EvalScratch scratch_;
};

class ChangelogNormalize : public Operator {
 public:
  int64_t state_entries() const override { return static_cast<int64_t>(store_.num_keys()); }
  ChangelogNormalize(const SchemaPtr& schema, const std::vector<int>& keys, size_t partition_columns, size_t batch_size)
      : keys_(keys),
        store_(schema, std::vector<int>(keys.begin(), keys.begin() + static_cast<long>(partition_columns))),
        out_(schema, batch_size) {}

  Status open(const OperatorContext& ctx) override {
    ctx_ = ctx;
    dirty_.track = ctx.checkpoint.incremental;
    return Status::ok();
  }

  Status process(int, const BatchPtr& batch, Output& out) override {
    const RecordBatch& in = *batch;
    for (size_t r = 0; r < in.num_rows; ++r) {
      const RowKind kind = in.row_kind(r);
      if (kind == RowKind::kUpdateBefore) continue;  // the +U or -D that follows decides
      encode_key(in, keys_, r, key_buffer_);
      uint32_t k = 0;
      const bool known = store_.find(key_buffer_, &k) && !store_.rows_of(k).empty();
      if (kind == RowKind::kDelete) {
        if (!known) continue;
        const uint32_t old = store_.rows_of(k).front();
        RETURN_IF_ERROR(emit(store_.rows(), old, RowKind::kDelete, out));
        store_.remove_row(old);
        dirty_.mark(0, store_, k);
        continue;
      }
      if (known) {
        const uint32_t old = store_.rows_of(k).front();
        if (rows_equal(store_.rows(), old, in, r)) continue;  // no change
        RETURN_IF_ERROR(emit(store_.rows(), old, RowKind::kUpdateBefore, out));
        store_.remove_row(old);
      }
      RETURN_IF_ERROR(emit(in, r, known ? RowKind::kUpdateAfter : RowKind::kInsert, out));
      k = store_.find_or_add_key(key_buffer_, in, r);
      store_.add_row(k, in, r, 0, 0);
      dirty_.mark(0, store_, k);
    }
    store_.maybe_compact();
    return out_.flush(out);
  }

  Status snapshot(uint64_t, StateWriter& writer) override {
    snapshot_stores({&store_}, dirty_, writer, false);
    return Status::ok();
  }
  Status restore(uint64_t, StateRestore* state) override { return restore_stores(ctx_, state, {&store_}, 0); }

 private:
  Status emit(const RecordBatch& rows, size_t row, RowKind kind, Output& out) {
    RecordBatch& b = out_.batch();
    for (size_t col = 0; col < b.columns.size(); ++col) b.columns[col].append_from(rows.column(col), row);
    return out_.row_done(kind, out);
  }

  const std::vector<int>& keys_;
  KeyedRowStore store_;
  JoinOutputBuilder out_;
  DirtyKeys dirty_;
  std::string key_buffer_;
};

}  // namespace

std::string JoinOperatorSpec::describe() const {
  std::string keys;
  for (size_t k = 0; k < config_.left_keys.size(); ++k) {
    keys += fmt::format("{}L${} {} R${}", k ? ", " : "", config_.left_keys[k],
                        config_.null_safe[k] ? "IS NOT DISTINCT FROM" : "=", config_.right_keys[k]);
  }
  return fmt::format("{} JOIN on [{}]{}{}", join_type_name(config_.type), keys,
                     config_.residual ? " and " + config_.residual->to_string() : "",
                     config_.state_ttl > 0 ? ", state TTL " + format_duration(config_.state_ttl) : "");
}

std::unique_ptr<Operator> JoinOperatorSpec::create() const { return std::make_unique<Join>(config_); }

std::string ChangelogNormalizeOperatorSpec::describe() const {
  std::string keys;
  for (int k : key_columns_) keys += fmt::format("{}${}", keys.empty() ? "" : ", ", k);
  return fmt::format("upserts by [{}] -> retractions", keys);
}

std::unique_ptr<Operator> ChangelogNormalizeOperatorSpec::create() const {
  return std::make_unique<ChangelogNormalize>(schema_, key_columns_, partition_columns_, batch_size_);
}

}  // namespace sluice
