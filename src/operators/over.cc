#include "operators/over.h"

#include <absl/container/flat_hash_map.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "common/hash.h"
#include "common/serde.h"
#include "operators/change_set.h"
#include "operators/group_table.h"
#include "types/batch_serde.h"

namespace sluice {

std::string OverFrame::describe() const {
  if (unit == Unit::kRows) {
    return unbounded ? "ROWS UNBOUNDED PRECEDING" : fmt::format("ROWS BETWEEN {} PRECEDING AND CURRENT ROW", rows);
  }
  return unbounded ? "RANGE UNBOUNDED PRECEDING"
                   : fmt::format("RANGE BETWEEN INTERVAL '{}' PRECEDING AND CURRENT ROW", format_duration(range));
}

bool over_aggregate_supported(const AggregateSpec& spec, std::string* why) {
  auto refuse = [&](std::string text) {
    if (why) *why = std::move(text);
    return false;
  };
  const char* supported = "OVER supports COUNT(*), COUNT, SUM, AVG, MIN, MAX and COUNT/SUM/AVG(DISTINCT x)";
  switch (spec.kind) {
    case AggKind::kCountStar:
    case AggKind::kCount:
    case AggKind::kMin:
    case AggKind::kMax: return true;
    case AggKind::kSum:
    case AggKind::kAvg:
      if (spec.input_type == TypeId::kInt64 || spec.input_type == TypeId::kFloat64 ||
          (spec.kind == AggKind::kSum && spec.input_type == TypeId::kInterval)) {
        return true;
      }
      return refuse(fmt::format("{} over {} is not supported ({})", agg_kind_name(spec.kind),
                                type_name(spec.input_type), supported));
    default: return refuse(fmt::format("{} is not supported as an OVER aggregate ({})", agg_kind_name(spec.kind), supported));
  }
}

std::string OverOperatorSpec::describe() const {
  std::string s = "partition by [";
  for (size_t i = 0; i < config_.partition_columns.size(); ++i) {
    s += fmt::format("{}${}", i ? ", " : "", config_.partition_columns[i]);
  }
  s += fmt::format("] order by ${} {}:", config_.time_column, config_.frame.describe());
  for (size_t i = 0; i < config_.aggregates.size(); ++i) s += (i ? ", " : " ") + config_.aggregates[i].describe();
  return s;
}


namespace {

Status data_loss(std::string message) { return Status(StatusCode::kDataLoss, std::move(message)); }

constexpr uint32_t kChunkRows = 1024;
constexpr uint32_t kNoChunk = std::numeric_limits<uint32_t>::max();

Micros saturating_add(Micros a, Micros b) {
  Micros out;
  return __builtin_add_overflow(a, b, &out) ? (b > 0 ? kMaxWatermark : kMinWatermark) : out;
}

// A row waiting for the watermark: its event time, arrival number (ties), partition and
// where its columns are (a chunk row).
struct Pending {
  Micros ts;
  uint64_t seq;
  uint32_t partition;
  uint32_t chunk;
  uint32_t row;
};
inline bool before(const Pending& a, const Pending& b) { return a.ts != b.ts ? a.ts < b.ts : a.seq < b.seq; }
struct LaterFirst {  // heap order: the earliest row on top
  bool operator()(const Pending& a, const Pending& b) const { return before(b, a); }
};

// Ring buffer with absolute positions: push_back gets position end(), pop_front drops
// position begin(). Capacity is a power of two and only grows; `width` values per element.
template <typename T>
class Ring {
 public:
  explicit Ring(size_t width = 1) : width_(width) {}
  uint64_t begin() const { return first_; }
  uint64_t end() const { return first_ + size_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T* at(uint64_t pos) { return &data_[((head_ + (pos - first_)) & mask_) * width_]; }
  const T* at(uint64_t pos) const { return &data_[((head_ + (pos - first_)) & mask_) * width_]; }
  T* push_back() {
    if (size_ == capacity_) grow();
    ++size_;
    return at(end() - 1);
  }
  void pop_front() {
    head_ = (head_ + 1) & mask_;
    ++first_;
    --size_;
  }
  void pop_back() { --size_; }
  T* back() { return at(end() - 1); }
  void clear() {
    first_ += size_;
    size_ = 0;
    head_ = 0;
  }
  // Forgets the contents and restarts positions at `first`.
  void reset(uint64_t first) {
    size_ = 0;
    head_ = 0;
    first_ = first;
  }
  size_t capacity_bytes() const { return data_.capacity() * sizeof(T); }

 private:
  void grow() {
    const size_t cap = capacity_ ? capacity_ * 2 : 4;
    std::vector<T> next(cap * width_);
    for (size_t i = 0; i < size_; ++i) {
      std::memcpy(&next[i * width_], &data_[((head_ + i) & mask_) * width_], width_ * sizeof(T));
    }
    data_ = std::move(next);
    capacity_ = cap;
    mask_ = cap - 1;
    head_ = 0;
  }
  size_t width_;
  std::vector<T> data_;
  size_t capacity_ = 0, mask_ = 0, head_ = 0, size_ = 0;
  uint64_t first_ = 0;
};

// TEXT values of MIN/MAX/DISTINCT arguments, interned: the frame keeps 64-bit ids, each
// holding a reference (a value in several rows is stored once).
class StringPool {
 public:
  uint32_t intern(std::string_view s) {
    auto it = index_.find(absl::string_view(s.data(), s.size()));
    if (it != index_.end()) {
      entries_[it->second].refs++;
      return it->second;
    }
    uint32_t id;
    if (!free_.empty()) {
      id = free_.back();
      free_.pop_back();
    } else {
      id = static_cast<uint32_t>(entries_.size());
      entries_.emplace_back();
    }
    entries_[id].text.assign(s.data(), s.size());
    entries_[id].refs = 1;
    index_.emplace(entries_[id].text, id);
    return id;
  }
  void ref(uint32_t id) { entries_[id].refs++; }
  void unref(uint32_t id) {
    Entry& e = entries_[id];
    if (--e.refs > 0) return;
    index_.erase(e.text);
    e.text.clear();
    e.text.shrink_to_fit();
    free_.push_back(id);
  }
  std::string_view get(uint32_t id) const { return entries_[id].text; }

 private:
  struct Entry {
    std::string text;
    uint32_t refs = 0;
  };
  absl::flat_hash_map<std::string, uint32_t> index_;
  std::vector<Entry> entries_;
  std::vector<uint32_t> free_;
};

// DISTINCT: value -> rows of the frame holding it. Frames usually hold few distinct values:
// up to kSmall they live in one small array scanned linearly (a cache line or two, no
// hashing), beyond that in a hash map.
class DistinctCounts {
 public:
  // The count of `word`, created at 0 when absent.
  int64_t& operator[](int64_t word) {
    if (map_.empty()) {
      for (auto& e : small_) {
        if (e.first == word) return e.second;
      }
      if (small_.size() < kSmall) return small_.emplace_back(word, 0).second;
      for (const auto& e : small_) map_.emplace(e.first, e.second);
      small_.clear();
    }
    return map_[word];
  }
  // Decrements the count of `word` (present); true when it reached 0 (then removed).
  bool remove(int64_t word) {
    if (map_.empty()) {
      for (size_t i = 0; i < small_.size(); ++i) {
        if (small_[i].first != word) continue;
        if (--small_[i].second > 0) return false;
        small_[i] = small_.back();
        small_.pop_back();
        return true;
      }
      return false;
    }
    auto it = map_.find(word);
    if (it == map_.end() || --it->second > 0) return false;
    map_.erase(it);
    if (map_.size() <= kSmall / 2) {  // few values again: back to the array
      for (const auto& e : map_) small_.emplace_back(e.first, e.second);
      map_.clear();
    }
    return true;
  }
  void clear() {
    small_.clear();
    if (!map_.empty()) map_.clear();
  }
  // Where the small array's entries are (to prefetch them).
  const void* data() const { return small_.data(); }
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (const auto& e : small_) fn(e.first, e.second);
    for (const auto& e : map_) fn(e.first, e.second);
  }

 private:
  static constexpr size_t kSmall = 16;
  std::vector<std::pair<int64_t, int64_t>> small_;
  absl::flat_hash_map<int64_t, int64_t> map_;
};

// The running state of one aggregate over one partition's frame.
struct Acc {
  int64_t count = 0;  // rows (COUNT(*)), values present (COUNT, SUM, AVG) or distinct values
  __int128 isum = 0;  // integer SUM/AVG: exact, retractable
  double dsum = 0;    // DOUBLE SUM/AVG over finite values
  int64_t nan = 0, pos_inf = 0, neg_inf = 0;  // non-finite values, kept apart so they retract
  bool has = false;  // unbounded MIN/MAX: `value` holds the extreme
  int64_t value = 0;
  Ring<uint64_t> deque;  // bounded MIN/MAX: frame positions of the candidate extremes
  DistinctCounts distinct;  // DISTINCT: value -> rows in the frame
  void reset() {
    count = 0;
    isum = 0;
    dsum = 0;
    nan = pos_inf = neg_inf = 0;
    has = false;
    value = 0;
    deque.clear();
    distinct.clear();
  }
};

struct Partition {
  std::string key;  // encoded partition key (the index's key)
  uint64_t hash = 0;
  uint32_t generation = 0;  // bumped when the slot is freed (stale cleanup timers)
  bool live = false;
  bool timer_queued = false;
  Micros last_ts = kMinWatermark;  // event time of the last row added to the frame
  uint32_t pending = 0;
  Ring<int64_t> frame;  // bounded frames: [ts, word per aggregate..., present mask]
  std::vector<Acc> accs;
};

struct Timer {
  Micros at;
  uint32_t partition;
  uint32_t generation;
  bool operator>(const Timer& o) const { return at > o.at; }
};

// Rows waiting for the watermark, copied from the input batches into chunks of kChunkRows
// (independent of the batch size); a chunk is reused once none of its rows is pending.
class ChunkStore {
 public:
  explicit ChunkStore(SchemaPtr schema) : schema_(std::move(schema)) {}
  // Appends rows[0..n) of `in`; calls at(chunk, row) for each, in order.
  template <typename Fn>
  void append(const RecordBatch& in, const uint32_t* rows, size_t n, Fn&& at) {
    while (n > 0) {
      if (fill_ == kNoChunk || chunks_[fill_]->rows.num_rows == kChunkRows) next_fill();
      Chunk& c = *chunks_[fill_];
      const size_t k = std::min<size_t>(n, kChunkRows - c.rows.num_rows);
      for (size_t col = 0; col < c.rows.columns.size(); ++col) c.rows.columns[col].append_gather(in.columns[col], rows, k);
      const uint32_t first = static_cast<uint32_t>(c.rows.num_rows);
      c.rows.num_rows += k;
      c.live += static_cast<uint32_t>(k);
      for (size_t i = 0; i < k; ++i) at(fill_, first + static_cast<uint32_t>(i));
      rows += k;
      n -= k;
    }
  }
  // Makes room for one row the caller appends to columns() itself (restore).
  std::pair<uint32_t, RecordBatch*> append_one() {
    if (fill_ == kNoChunk || chunks_[fill_]->rows.num_rows == kChunkRows) next_fill();
    Chunk& c = *chunks_[fill_];
    c.live++;
    return {fill_, &c.rows};
  }
  const RecordBatch& rows(uint32_t chunk) const { return chunks_[chunk]->rows; }
  void release(uint32_t chunk) {
    Chunk& c = *chunks_[chunk];
    if (--c.live == 0 && chunk != fill_) recycle(chunk);
  }
  size_t memory_bytes() const {
    size_t n = 0;
    for (const auto& c : chunks_) n += c->rows.memory_bytes();
    return n;
  }

 private:
  struct Chunk {
    explicit Chunk(SchemaPtr s) : rows(std::move(s)) {}
    RecordBatch rows;
    uint32_t live = 0;
  };
  void recycle(uint32_t chunk) {
    chunks_[chunk]->rows.clear();
    free_.push_back(chunk);
  }
  void next_fill() {
    if (fill_ != kNoChunk && chunks_[fill_]->live == 0) {
      chunks_[fill_]->rows.clear();  // every row of the full chunk was emitted: reuse it
      return;
    }
    if (!free_.empty()) {
      fill_ = free_.back();
      free_.pop_back();
      return;
    }
    fill_ = static_cast<uint32_t>(chunks_.size());
    chunks_.push_back(std::make_unique<Chunk>(schema_));
  }
  SchemaPtr schema_;
  std::vector<std::unique_ptr<Chunk>> chunks_;
  std::vector<uint32_t> free_;
  uint32_t fill_ = kNoChunk;
};

uint64_t double_bits(double d) { return std::bit_cast<uint64_t>(d); }
double bits_double(int64_t w) { return std::bit_cast<double>(w); }

class OverOperator : public Operator {
 public:
  explicit OverOperator(const OverConfig& c)
      : c_(c),
        naggs_(c.aggregates.size()),
        width_(2 + c.aggregates.size()),
        bounded_(!c.frame.unbounded),
        range_frame_(c.frame.unit == OverFrame::Unit::kRange),
        chunks_(c.input_schema) {
    for (const AggregateSpec& a : c_.aggregates) {
      const bool extreme = a.kind == AggKind::kMin || a.kind == AggKind::kMax;
      const bool distinct = a.distinct && !extreme && a.kind != AggKind::kCountStar;
      distinct_.push_back(distinct);
      has_distinct_ = has_distinct_ || distinct;
      has_extreme_ = has_extreme_ || extreme;
      extreme_.push_back(extreme);
      // Which aggregates keep the argument's value (not only whether it is present).
      const bool valued = extreme || distinct || a.kind == AggKind::kSum || a.kind == AggKind::kAvg;
      valued_.push_back(valued);
      text_.push_back(valued && a.input_type == TypeId::kString);
      double_.push_back(a.input_type == TypeId::kFloat64);
    }
  }

  Status open(const OperatorContext& ctx) override {
    ctx_ = ctx;
    track_ = ctx.checkpoint.completed != nullptr && ctx.checkpoint.incremental;
    return Status::ok();
  }

  Status process(int, const BatchPtr& batch, Output&) override {
    const RecordBatch& in = *batch;
    const Column& ts = in.column(static_cast<size_t>(c_.time_column));
    accepted_.clear();
    parts_.clear();
    uint64_t late = 0;
    for (size_t r = 0; r < in.num_rows; ++r) {
      // Rows behind the watermark cannot join frames already emitted. The planner's late
      // filter sends them to the late-data output before the exchange; any that still get
      // here are counted.
      if (ts.is_null(r) || ts.int_at(r) < watermark_) {
        ++late;
        continue;
      }
      accepted_.push_back(static_cast<uint32_t>(r));
      parts_.push_back(partition_of(in, r));
    }
    if (late > 0 && ctx_.metrics) ctx_.metrics->add_late(late);
    size_t i = 0;
    chunks_.append(in, accepted_.data(), accepted_.size(), [&](uint32_t chunk, uint32_t row) {
      const uint32_t r = accepted_[i];
      const uint32_t p = parts_[i++];
      push_pending(Pending{ts.int_at(r), seq_++, p, chunk, row});
    });
    return Status::ok();
  }

  Status on_watermark(Micros wm, Output& out) override {
    if (wm > watermark_) {
      watermark_ = wm;
      RETURN_IF_ERROR(emit_ready(wm, out));
      if (bounded_ && range_frame_) run_cleanup(wm);
    }
    return out.emit_watermark(wm);
  }

  Status finish(Output& out) override {
    // Normally the final watermark already emitted everything; a row still pending here
    // (no final watermark) is emitted rather than lost.
    return emit_ready(kMaxWatermark, out);
  }

  int64_t state_entries() const override { return static_cast<int64_t>(pending_rows_ + frame_rows_); }

  Status snapshot(uint64_t, StateWriter& w) override;
  Status restore(uint64_t, StateRestore* state) override;

 private:
  // ---- partitions

  uint32_t partition_of(const RecordBatch& in, size_t r) {
    encode_key(in, c_.partition_columns, r, key_buffer_);
    auto it = index_.find(absl::string_view(key_buffer_.data(), key_buffer_.size()));
    if (it != index_.end()) return it->second;
    uint64_t hash = 0;
    for (int k : c_.partition_columns) hash = hash_combine(hash, in.column(static_cast<size_t>(k)).hash_row(r));
    return new_partition(key_buffer_, hash);
  }

  uint32_t new_partition(const std::string& key, uint64_t hash) {
    uint32_t p;
    if (!free_partitions_.empty()) {
      p = free_partitions_.back();
      free_partitions_.pop_back();
    } else {
      p = static_cast<uint32_t>(partitions_.size());
      partitions_.emplace_back();
      Partition& np = partitions_.back();
      np.frame = Ring<int64_t>(width_);
      np.accs.resize(naggs_);
      for (size_t a = 0; a < naggs_; ++a) {
      }
    }
    Partition& part = partitions_[p];
    part.key = key;
    part.hash = hash;
    part.live = true;
    part.timer_queued = false;
    part.last_ts = kMinWatermark;
    part.pending = 0;
    index_.emplace(part.key, p);
    ++live_partitions_;
    return p;
  }

  // Frees a partition whose frame is empty and which has nothing pending (its state is
  // then indistinguishable from a new partition's).
  void free_partition(uint32_t p) {
    Partition& part = partitions_[p];
    if (track_) removed_.emplace_back(key_group_of(part.hash), part.key);
    index_.erase(part.key);
    part.live = false;
    part.generation++;
    for (Acc& acc : part.accs) acc.reset();  // only bounded frames are freed: no references held
    part.frame.reset(0);
    free_partitions_.push_back(p);
    --live_partitions_;
  }

  void mark(uint32_t p) {
    if (track_) changed_.mark(p);
  }

  void push_pending(const Pending& e) {
    Partition& part = partitions_[e.partition];
    part.pending++;
    pending_rows_++;
    mark(e.partition);
    // Most rows arrive in event-time order: they queue in a sorted run; the others go to
    // the heap. Emission merges the two.
    if (run_head_ == run_.size() || e.ts >= run_.back().ts) {
      run_.push_back(e);
    } else {
      heap_.push_back(e);
      std::push_heap(heap_.begin(), heap_.end(), LaterFirst());
    }
  }

  // ---- the values of one row

  // The word aggregate `a` keeps for row `r` of `rows` and whether the row counts for it
  // (argument not NULL, FILTER true). TEXT values are interned (one reference).
  bool row_word(size_t a, const RecordBatch& rows, size_t r, int64_t* word) {
    const AggregateSpec& spec = c_.aggregates[a];
    if (spec.filter >= 0) {
      const Column& f = rows.column(static_cast<size_t>(spec.filter));
      if (f.is_null(r) || f.int_at(r) == 0) return false;
    }
    if (spec.input < 0) return true;  // COUNT(*)
    const Column& col = rows.column(static_cast<size_t>(spec.input));
    if (col.is_null(r)) return false;
    if (!valued_[a]) return true;
    if (text_[a]) {
      *word = pool_.intern(col.string_at(r));
    } else if (double_[a]) {
      double d = col.double_at(r);
      if (distinct_[a]) {
        if (d == 0) d = 0;                                             // -0.0 is 0.0
        if (std::isnan(d)) d = std::numeric_limits<double>::quiet_NaN();  // one NaN
      }
      *word = static_cast<int64_t>(double_bits(d));
    } else {
      *word = col.int_at(r);
    }
    return true;
  }

  // a < b in the aggregate's value order.
  bool less(size_t a, int64_t x, int64_t y) const {
    if (text_[a]) return pool_.get(static_cast<uint32_t>(x)) < pool_.get(static_cast<uint32_t>(y));
    if (double_[a]) return bits_double(x) < bits_double(y);
    return x < y;
  }
  // Whether `x` replaces `y` as the aggregate's extreme (strictly better).
  bool better(size_t a, int64_t x, int64_t y) const {
    return c_.aggregates[a].kind == AggKind::kMin ? less(a, x, y) : less(a, y, x);
  }

  static void add_double(Acc& acc, double d, int sign) {
    if (std::isnan(d)) {
      acc.nan += sign;
    } else if (std::isinf(d)) {
      (d > 0 ? acc.pos_inf : acc.neg_inf) += sign;
    } else {
      acc.dsum += sign * d;
    }
  }

  // Adds (sign 1) or retracts (sign -1) a value to a SUM/AVG's sums.
  void sum_value(size_t a, Acc& acc, int64_t word, int sign) const {
    if (double_[a]) {
      add_double(acc, bits_double(word), sign);
    } else {
      acc.isum += sign * static_cast<__int128>(word);
    }
  }

  void add_value(size_t a, Partition& part, int64_t word, uint64_t pos) {
    Acc& acc = part.accs[a];
    const AggregateSpec& spec = c_.aggregates[a];
    if (distinct_[a]) {
      int64_t& n = acc.distinct[word];
      if (n++ == 0) {
        acc.count++;
        if (spec.kind != AggKind::kCount) sum_value(a, acc, word, 1);
        if (!bounded_ && text_[a]) pool_.ref(static_cast<uint32_t>(word));  // the set holds it
      }
      return;
    }
    switch (spec.kind) {
      case AggKind::kCountStar:
      case AggKind::kCount: acc.count++; return;
      case AggKind::kSum:
      case AggKind::kAvg:
        acc.count++;
        sum_value(a, acc, word, 1);
        return;
      case AggKind::kMin:
      case AggKind::kMax:
        if (bounded_) {
          // Monotonic deque: a candidate is dropped once a later value is at least as good.
          while (!acc.deque.empty() && !better(a, part.frame.at(*acc.deque.back())[1 + a], word)) acc.deque.pop_back();
          *acc.deque.push_back() = pos;
        } else if (!acc.has || better(a, word, acc.value)) {
          if (text_[a]) {
            pool_.ref(static_cast<uint32_t>(word));
            if (acc.has) pool_.unref(static_cast<uint32_t>(acc.value));
          }
          acc.value = word;
          acc.has = true;
        }
        return;
      default: return;
    }
  }

  void remove_value(size_t a, Acc& acc, int64_t word, uint64_t pos) {
    const AggregateSpec& spec = c_.aggregates[a];
    if (distinct_[a]) {
      if (acc.distinct.remove(word)) {
        acc.count--;
        if (spec.kind != AggKind::kCount) sum_value(a, acc, word, -1);
      }
      return;
    }
    switch (spec.kind) {
      case AggKind::kCountStar:
      case AggKind::kCount: acc.count--; return;
      case AggKind::kSum:
      case AggKind::kAvg:
        acc.count--;
        sum_value(a, acc, word, -1);
        return;
      case AggKind::kMin:
      case AggKind::kMax:
        if (!acc.deque.empty() && *acc.deque.at(acc.deque.begin()) == pos) acc.deque.pop_front();
        return;
      default: return;
    }
  }

  // Adds row `r` of `rows` (event time ts) to partition `p`'s frame.
  void add_row(uint32_t p, const RecordBatch& rows, size_t r, Micros ts) {
    Partition& part = partitions_[p];
    uint64_t mask = 0;
    int64_t* rec = nullptr;
    uint64_t pos = 0;
    if (bounded_) {
      pos = part.frame.end();
      rec = part.frame.push_back();
      rec[0] = ts;
      frame_rows_++;
    }
    for (size_t a = 0; a < naggs_; ++a) {
      int64_t word = 0;
      if (!row_word(a, rows, r, &word)) {
        if (rec) rec[1 + a] = 0;
        continue;
      }
      mask |= uint64_t{1} << a;
      if (rec) rec[1 + a] = word;
      add_value(a, part, word, pos);
      if (!rec && text_[a]) pool_.unref(static_cast<uint32_t>(word));  // kept only if add_value took a reference
    }
    if (rec) rec[1 + naggs_] = static_cast<int64_t>(mask);
    part.last_ts = ts;
  }

  // Retracts the oldest row of a bounded frame.
  void retract_front(Partition& part) {
    const uint64_t pos = part.frame.begin();
    const int64_t* rec = part.frame.at(pos);
    const uint64_t mask = static_cast<uint64_t>(rec[1 + naggs_]);
    for (size_t a = 0; a < naggs_; ++a) {
      if (!(mask >> a & 1)) continue;
      remove_value(a, part.accs[a], rec[1 + a], pos);
      if (text_[a]) pool_.unref(static_cast<uint32_t>(rec[1 + a]));
    }
    part.frame.pop_front();
    frame_rows_--;
    // An empty frame has exactly the state of a new one (a double sum back to 0, not to
    // the rounding left by its retractions).
    if (part.frame.empty()) {
      for (Acc& acc : part.accs) acc.reset();
    }
  }

  // RANGE frames: retracts the rows with ts < bound.
  void evict_before(Partition& part, Micros bound) {
    while (!part.frame.empty() && part.frame.at(part.frame.begin())[0] < bound) retract_front(part);
  }

  void append_result(size_t a, const Partition& part, Column& out) const {
    const AggregateSpec& spec = c_.aggregates[a];
    const Acc& acc = part.accs[a];
    switch (spec.kind) {
      case AggKind::kCountStar:
      case AggKind::kCount: return out.append_int(acc.count);
      case AggKind::kSum:
      case AggKind::kAvg: {
        if (acc.count == 0) return out.append_null();
        if (double_[a]) {
          double sum = acc.dsum;
          if (acc.nan > 0 || (acc.pos_inf > 0 && acc.neg_inf > 0)) {
            sum = std::numeric_limits<double>::quiet_NaN();
          } else if (acc.pos_inf > 0) {
            sum = std::numeric_limits<double>::infinity();
          } else if (acc.neg_inf > 0) {
            sum = -std::numeric_limits<double>::infinity();
          }
          return out.append_double(spec.kind == AggKind::kSum ? sum : sum / static_cast<double>(acc.count));
        }
        if (spec.kind == AggKind::kAvg) {
          return out.append_double(static_cast<double>(acc.isum) / static_cast<double>(acc.count));
        }
        // The integer sum does not fit BIGINT: NULL rather than a wrong number, as GROUP BY.
        if (acc.isum > std::numeric_limits<int64_t>::max() || acc.isum < std::numeric_limits<int64_t>::min()) {
          return out.append_null();
        }
        return out.append_int(static_cast<int64_t>(acc.isum));
      }
      case AggKind::kMin:
      case AggKind::kMax: {
        int64_t word;
        if (bounded_) {
          if (acc.deque.empty()) return out.append_null();
          word = part.frame.at(*acc.deque.at(acc.deque.begin()))[1 + a];
        } else {
          if (!acc.has) return out.append_null();
          word = acc.value;
        }
        if (text_[a]) return out.append_string(pool_.get(static_cast<uint32_t>(word)));
        if (double_[a]) return out.append_double(bits_double(word));
        return out.append_int(word);
      }
      default: return out.append_null();
    }
  }

  // ---- emission

  // Emits every pending row with ts < wm, in (ts, arrival) order.
  Status emit_ready(Micros wm, Output& out) {
    ready_.clear();
    for (;;) {
      const bool has_run = run_head_ < run_.size();
      const bool has_heap = !heap_.empty();
      if (!has_run && !has_heap) break;
      const bool take_run = has_run && (!has_heap || before(run_[run_head_], heap_.front()));
      const Pending& e = take_run ? run_[run_head_] : heap_.front();
      if (e.ts >= wm) break;
      ready_.push_back(e);
      if (take_run) {
        ++run_head_;
      } else {
        std::pop_heap(heap_.begin(), heap_.end(), LaterFirst());
        heap_.pop_back();
      }
    }
    if (run_head_ == run_.size()) {
      run_.clear();
      run_head_ = 0;
    } else if (run_head_ > 4096 && run_head_ * 2 > run_.size()) {
      run_.erase(run_.begin(), run_.begin() + static_cast<std::ptrdiff_t>(run_head_));
      run_head_ = 0;
    }
    if (ready_.empty()) return Status::ok();
    const size_t n = ready_.size();
    size_t i = 0;
    while (i < n) {
      // A group of rows with one event time: in RANGE frames peers see each other, so all
      // of them are added before any is emitted.
      size_t j = i + 1;
      if (range_frame_) {
        while (j < n && ready_[j].ts == ready_[i].ts) ++j;
      }
      for (size_t k = i; k < j; ++k) {
        prefetch(k, n);
        const Pending& e = ready_[k];
        Partition& part = partitions_[e.partition];
        if (bounded_ && range_frame_ && part.last_ts != e.ts) {
          evict_before(part, saturating_add(e.ts, -c_.frame.range));
        }
        add_row(e.partition, chunks_.rows(e.chunk), e.row, e.ts);
        if (!range_frame_) {
          RETURN_IF_ERROR(emit_row(e, out));
          if (bounded_) {
            while (part.frame.size() > static_cast<size_t>(c_.frame.rows)) retract_front(part);
          }
        }
      }
      if (range_frame_) {
        for (size_t k = i; k < j; ++k) RETURN_IF_ERROR(emit_row(ready_[k], out));
      }
      for (size_t k = i; k < j; ++k) {
        const Pending& e = ready_[k];
        Partition& part = partitions_[e.partition];
        part.pending--;
        pending_rows_--;
        mark(e.partition);
        if (bounded_ && range_frame_ && !part.timer_queued) schedule_cleanup(e.partition);
        if (bounded_ && part.pending == 0 && part.frame.empty() && part.live) free_partition(e.partition);
      }
      i = j;
    }
    return flush(out);
  }

  // Partitions are visited in event-time order, i.e. at random: their state is fetched
  // ahead (the struct 16 rows ahead, then what it points to 8 rows ahead), which hides most
  // of the cache misses.
  void prefetch(size_t k, size_t n) const {
    if (k + 16 < n) {
      const char* p = reinterpret_cast<const char*>(&partitions_[ready_[k + 16].partition]);
      __builtin_prefetch(p);
      __builtin_prefetch(p + 64);
      __builtin_prefetch(p + 128);
    }
    if (k + 8 < n) {
      const Partition& part = partitions_[ready_[k + 8].partition];
      const char* accs = reinterpret_cast<const char*>(part.accs.data());
      for (size_t off = 0; off < naggs_ * sizeof(Acc); off += 64) __builtin_prefetch(accs + off);
      if (!part.frame.empty()) {
        __builtin_prefetch(part.frame.at(part.frame.begin()));
        __builtin_prefetch(part.frame.at(part.frame.end() - 1));
      }
    }
    if (k + 4 < n && (has_distinct_ || (bounded_ && has_extreme_))) {
      const Partition& part = partitions_[ready_[k + 4].partition];
      for (size_t a = 0; a < naggs_; ++a) {
        if (distinct_[a] && part.accs[a].distinct.data()) __builtin_prefetch(part.accs[a].distinct.data());
        if (extreme_[a] && !part.accs[a].deque.empty()) __builtin_prefetch(part.accs[a].deque.at(part.accs[a].deque.begin()));
      }
    }
  }

  Status emit_row(const Pending& e, Output& out) {
    if (!out_batch_) out_batch_ = make_batch(c_.output_schema);
    const Partition& part = partitions_[e.partition];
    const size_t first = c_.input_schema->size();
    for (size_t a = 0; a < naggs_; ++a) append_result(a, part, out_batch_->columns[first + a]);
    out_refs_.push_back({e.chunk, e.row});
    if (out_refs_.size() >= c_.batch_size) return flush(out);
    return Status::ok();
  }

  // Completes the output batch: the input columns of its rows, gathered from the chunks
  // in runs, then the chunk rows are released.
  Status flush(Output& out) {
    if (out_refs_.empty()) return Status::ok();
    RecordBatch& b = *out_batch_;
    const size_t ncols = c_.input_schema->size();
    size_t i = 0;
    while (i < out_refs_.size()) {
      size_t j = i;
      gather_.clear();
      while (j < out_refs_.size() && out_refs_[j].first == out_refs_[i].first) gather_.push_back(out_refs_[j++].second);
      const RecordBatch& src = chunks_.rows(out_refs_[i].first);
      for (size_t col = 0; col < ncols; ++col) b.columns[col].append_gather(src.columns[col], gather_.data(), gather_.size());
      i = j;
    }
    b.num_rows = out_refs_.size();
    for (const auto& [chunk, row] : out_refs_) chunks_.release(chunk);
    out_refs_.clear();
    BatchPtr done = std::move(out_batch_);
    out_batch_.reset();
    return out.emit(std::move(done));
  }

  // ---- cleanup of RANGE frames

  void schedule_cleanup(uint32_t p) {
    Partition& part = partitions_[p];
    if (part.frame.empty()) return;
    // Every row of the frame is useless once the watermark passes last_ts + range.
    const Micros at = saturating_add(saturating_add(part.last_ts, c_.frame.range), 1);
    part.timer_queued = true;
    timers_.push_back(Timer{at, p, part.generation});
    std::push_heap(timers_.begin(), timers_.end(), std::greater<Timer>());
  }

  // After the rows before wm were emitted: a later row has ts >= wm, so frame rows with
  // ts < wm - range will never be in a frame again.
  void run_cleanup(Micros wm) {
    const Micros bound = saturating_add(wm, -c_.frame.range);
    while (!timers_.empty() && timers_.front().at <= wm) {
      const Timer t = timers_.front();
      std::pop_heap(timers_.begin(), timers_.end(), std::greater<Timer>());
      timers_.pop_back();
      Partition& part = partitions_[t.partition];
      if (!part.live || part.generation != t.generation) continue;
      part.timer_queued = false;
      evict_before(part, bound);
      mark(t.partition);
      if (part.frame.empty()) {
        if (part.pending == 0) free_partition(t.partition);
      } else {
        schedule_cleanup(t.partition);
      }
    }
  }

  // ---- checkpoints (see the format above snapshot())

  void write_word(ByteWriter& w, size_t a, int64_t word) const {
    if (text_[a]) {
      w.str(pool_.get(static_cast<uint32_t>(word)));
    } else {
      w.i64(word);
    }
  }
  int64_t read_word(ByteReader& r, size_t a) {
    if (text_[a]) return pool_.intern(r.str());
    return r.i64();
  }

  const OverConfig& c_;
  const size_t naggs_;
  const size_t width_;  // frame record: ts, one word per aggregate, present mask
  const bool bounded_;
  const bool range_frame_;
  std::vector<bool> distinct_, extreme_, valued_, text_, double_;
  bool has_distinct_ = false, has_extreme_ = false;

  ChunkStore chunks_;
  StringPool pool_;
  absl::flat_hash_map<std::string, uint32_t> index_;
  std::vector<Partition> partitions_;
  std::vector<uint32_t> free_partitions_;
  size_t live_partitions_ = 0;
  std::vector<Pending> run_;  // sorted by (ts, seq) from run_head_ on
  size_t run_head_ = 0;
  std::vector<Pending> heap_;  // min-heap (LaterFirst)
  std::vector<Timer> timers_;  // min-heap by time
  Micros watermark_ = kMinWatermark;
  uint64_t seq_ = 0;
  uint64_t pending_rows_ = 0, frame_rows_ = 0;

  // Scratch, reused.
  std::string key_buffer_;
  std::vector<uint32_t> accepted_, parts_, gather_;
  std::vector<Pending> ready_;
  MutableBatchPtr out_batch_;
  std::vector<std::pair<uint32_t, uint32_t>> out_refs_;

  // Incremental snapshots.
  bool track_ = false;
  ChangeSet changed_;
  std::vector<std::pair<int, std::string>> removed_;
};

// --- Checkpointed state
//
// One keyed entry per live partition: key = the encoded partition key (encode_key), key
// group = that of the partition key's hash (the exchange's), so a restored instance gets
// exactly its partitions at any parallelism. Value:
//   u64 key hash, i64 last_ts
//   varint frame rows; per row: i64 ts, u64 present mask, the word of each present
//     aggregate (TEXT: the string)
//   per aggregate: i64 count, i64 high and u64 low half of the integer sum, f64 double sum,
//     i64 NaN / +inf / -inf counts; unbounded MIN/MAX: u8 has [+ word]; unbounded DISTINCT:
//     varint values, each word + i64 rows
//   varint pending rows; per row: u64 arrival number, each column (write_column_value)
// Bounded frames' MIN/MAX deques and DISTINCT counts are rebuilt from the frame rows.
// Instance state: u64 next arrival number, i64 watermark (restore: the largest number, the
// smallest watermark over the old instances).
Status OverOperator::snapshot(uint64_t, StateWriter& w) {
  const bool incremental = w.incremental();
  if (incremental) {
    for (const auto& [kg, k] : removed_) w.remove(kg, k);
  }
  removed_.clear();
  // The pending rows by partition.
  std::vector<Pending> pending(run_.begin() + static_cast<std::ptrdiff_t>(run_head_), run_.end());
  pending.insert(pending.end(), heap_.begin(), heap_.end());
  std::sort(pending.begin(), pending.end(), [](const Pending& a, const Pending& b) {
    return a.partition != b.partition ? a.partition < b.partition : before(a, b);
  });
  std::string value;
  auto write = [&](uint32_t p) {
    const Partition& part = partitions_[p];
    if (!part.live) return;
    value.clear();
    ByteWriter vw(&value);
    vw.u64(part.hash);
    vw.i64(part.last_ts);
    vw.varint(part.frame.size());
    for (uint64_t pos = part.frame.begin(); pos < part.frame.end(); ++pos) {
      const int64_t* rec = part.frame.at(pos);
      const uint64_t mask = static_cast<uint64_t>(rec[1 + naggs_]);
      vw.i64(rec[0]);
      vw.u64(mask);
      for (size_t a = 0; a < naggs_; ++a) {
        if (mask >> a & 1) write_word(vw, a, rec[1 + a]);
      }
    }
    for (size_t a = 0; a < naggs_; ++a) {
      const Acc& acc = part.accs[a];
      vw.i64(acc.count);
      vw.i64(static_cast<int64_t>(acc.isum >> 64));
      vw.u64(static_cast<uint64_t>(acc.isum));
      vw.f64(acc.dsum);
      vw.i64(acc.nan);
      vw.i64(acc.pos_inf);
      vw.i64(acc.neg_inf);
      if (bounded_) continue;
      if (extreme_[a]) {
        vw.u8(acc.has ? 1 : 0);
        if (acc.has) write_word(vw, a, acc.value);
      }
      if (distinct_[a]) {
        // Sorted, so equal states give equal bytes.
        std::vector<std::pair<int64_t, int64_t>> values;
        acc.distinct.for_each([&](int64_t word, int64_t rows) { values.emplace_back(word, rows); });
        std::sort(values.begin(), values.end());
        vw.varint(values.size());
        for (const auto& [word, rows] : values) {
          write_word(vw, a, word);
          vw.i64(rows);
        }
      }
    }
    auto first = std::lower_bound(pending.begin(), pending.end(), p,
                                  [](const Pending& e, uint32_t q) { return e.partition < q; });
    auto last = first;
    while (last != pending.end() && last->partition == p) ++last;
    vw.varint(static_cast<uint64_t>(last - first));
    for (auto it = first; it != last; ++it) {
      vw.u64(it->seq);
      const RecordBatch& rows = chunks_.rows(it->chunk);
      for (const Column& col : rows.columns) write_column_value(vw, col, it->row);
    }
    w.put(key_group_of(part.hash), part.key, value);
  };
  changed_.for_snapshot(incremental, partitions_.size(), write);
  std::string blob;
  ByteWriter bw(&blob);
  bw.u64(seq_);
  bw.i64(watermark_);
  w.put_instance_state(blob);
  return Status::ok();
}

Status OverOperator::restore(uint64_t, StateRestore* state) {
  if (!state) return Status::ok();
  bool any = false;
  Micros wm = kMaxWatermark;
  for (const auto& blob : state->instance_states()) {
    if (blob.empty()) continue;
    ByteReader r(blob);
    seq_ = std::max(seq_, r.u64());
    wm = std::min(wm, r.i64());
    if (r.ok() && !r.at_end()) r.fail();
    RETURN_IF_ERROR(r.status("OVER instance state"));
    any = true;
  }
  if (any) watermark_ = wm;
  auto [begin, end] = key_group_range(ctx_.instance, ctx_.parallelism);
  const size_t ncols = c_.input_schema->size();
  RETURN_IF_ERROR(state->scan(begin, end, [&](int, std::string_view key, std::string_view data) -> Status {
    ByteReader r(data);
    const uint64_t hash = r.u64();
    if (!r.ok()) return r.status("OVER partition");
    if (index_.contains(absl::string_view(key.data(), key.size()))) {
      return data_loss("OVER state: a partition appears twice in the checkpoint");
    }
    const uint32_t p = new_partition(std::string(key), hash);
    Partition& part = partitions_[p];
    part.last_ts = r.i64();
    const uint64_t frame_rows = r.count(16);
    if (!bounded_ && frame_rows > 0) r.fail();
    for (uint64_t i = 0; i < frame_rows && r.ok(); ++i) {
      int64_t* rec = part.frame.push_back();
      frame_rows_++;
      rec[0] = r.i64();
      const uint64_t mask = r.u64();
      rec[1 + naggs_] = static_cast<int64_t>(mask);
      for (size_t a = 0; a < naggs_; ++a) rec[1 + a] = (mask >> a & 1) ? read_word(r, a) : 0;
    }
    for (size_t a = 0; a < naggs_ && r.ok(); ++a) {
      Acc& acc = part.accs[a];
      acc.count = r.i64();
      const int64_t high = r.i64();
      const uint64_t low = r.u64();
      acc.isum = (static_cast<__int128>(high) << 64) | low;
      acc.dsum = r.f64();
      acc.nan = r.i64();
      acc.pos_inf = r.i64();
      acc.neg_inf = r.i64();
      if (bounded_) continue;
      if (extreme_[a]) {
        acc.has = r.u8() != 0;
        if (acc.has) acc.value = read_word(r, a);
      }
      if (distinct_[a]) {
        const uint64_t n = r.count(9);
        for (uint64_t i = 0; i < n && r.ok(); ++i) {
          const int64_t word = read_word(r, a);
          acc.distinct[word] = r.i64();
        }
      }
    }
    // Bounded frames: the MIN/MAX candidates and DISTINCT counts follow from the rows.
    for (uint64_t pos = part.frame.begin(); bounded_ && pos < part.frame.end(); ++pos) {
      const int64_t* rec = part.frame.at(pos);
      const uint64_t mask = static_cast<uint64_t>(rec[1 + naggs_]);
      for (size_t a = 0; a < naggs_; ++a) {
        if (!(mask >> a & 1)) continue;
        Acc& acc = part.accs[a];
        if (distinct_[a]) acc.distinct[rec[1 + a]]++;
        if (extreme_[a]) {
          while (!acc.deque.empty() && !better(a, part.frame.at(*acc.deque.back())[1 + a], rec[1 + a])) {
            acc.deque.pop_back();
          }
          *acc.deque.push_back() = pos;
        }
      }
    }
    const uint64_t pending = r.count(8 + ncols);
    for (uint64_t i = 0; i < pending && r.ok(); ++i) {
      const uint64_t seq = r.u64();
      auto [chunk, rows] = chunks_.append_one();
      const uint32_t row = static_cast<uint32_t>(rows->num_rows);
      for (size_t col = 0; col < ncols; ++col) RETURN_IF_ERROR(read_column_value(r, rows->columns[col]));
      rows->num_rows++;
      const Column& ts = rows->column(static_cast<size_t>(c_.time_column));
      if (ts.is_null(row)) return data_loss("OVER state: a pending row without event time");
      push_pending(Pending{ts.int_at(row), seq, p, chunk, row});
      seq_ = std::max(seq_, seq + 1);
    }
    if (r.ok() && !r.at_end()) r.fail();
    RETURN_IF_ERROR(r.status("OVER partition"));
    if (bounded_ && range_frame_) schedule_cleanup(p);
    return Status::ok();
  }));
  // What was restored is in the backend already (a full snapshot follows a restore anyway).
  changed_.clear();
  return Status::ok();
}

}  // namespace

std::unique_ptr<Operator> OverOperatorSpec::create() const { return std::make_unique<OverOperator>(config_); }

}  // namespace sluice
