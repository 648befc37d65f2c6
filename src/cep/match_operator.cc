#include "cep/match_operator.h"

#include <absl/container/flat_hash_map.h>

#include <algorithm>
#include <deque>
#include <numeric>
#include <queue>

#include <fmt/format.h>

#include "common/hash.h"
#include "common/serde.h"
#include "operators/change_set.h"
#include "operators/process_operator.h"  // encode_ordered_key
#include "types/batch_serde.h"

namespace sluice {

SchemaPtr match_output_schema(const Schema& input, const std::vector<int>& partition_columns,
                              const std::vector<cep::MeasureAggregate>& aggregates, bool emit_time) {
  std::vector<Field> fields;
  for (int k : partition_columns) fields.push_back(input.field(static_cast<size_t>(k)));
  fields.push_back({"match_number", TypeId::kInt64, false});
  fields.push_back({"classifier", TypeId::kString, false});
  fields.push_back({"match_start", TypeId::kTimestamp, false});
  fields.push_back({"match_end", TypeId::kTimestamp, false});
  for (size_t i = 0; i < aggregates.size(); ++i) {
    fields.push_back({fmt::format("__agg{}", i), aggregates[i].result_type(), true});
  }
  if (emit_time) fields.push_back({"__emit_time", TypeId::kTimestamp, true});
  return make_schema(fields);
}

namespace {

const char* skip_name(cep::SkipKind k) {
  switch (k) {
    case cep::SkipKind::kPastLastRow: return "past last row";
    case cep::SkipKind::kToNextRow: return "to next row";
    case cep::SkipKind::kToFirst: return "to first";
    case cep::SkipKind::kToLast: return "to last";
  }
  return "?";
}

class MatchRecognizeOperator : public Operator, private cep::MatchSink {
 public:
  explicit MatchRecognizeOperator(const MatchRecognizeConfig& c) : c_(c), matcher_(c.matcher) {
    std::vector<Field> key_fields;
    for (int k : c.partition_columns) key_fields.push_back(c.input_schema->field(static_cast<size_t>(k)));
    keys_ = RecordBatch(make_schema(key_fields));
    pending_ = RecordBatch(c.input_schema);
    ready_ = RecordBatch(c.input_schema);
    rest_ = RecordBatch(c.input_schema);
    if (c.partition_columns.size() == 1) {
      const TypeId t = c.input_schema->field(static_cast<size_t>(c.partition_columns[0])).type;
      int_key_ = t == TypeId::kInt64 || t == TypeId::kTimestamp;
    }
  }

  int64_t state_entries() const override { return static_cast<int64_t>(partitions_.size() + pending_.num_rows); }

  Status open(const OperatorContext& ctx) override {
    ctx_ = ctx;
    track_ = ctx.checkpoint.incremental;
    return Status::ok();
  }

  Status process(int, const BatchPtr& batch, Output&) override {
    const RecordBatch& in = *batch;
    const Column& time = in.column(static_cast<size_t>(c_.time_column));
    accepted_.clear();
    uint64_t late = 0;
    for (size_t r = 0; r < in.num_rows; ++r) {
      // Behind the watermark: the rows before it were matched already (the source-side
      // late filter normally took it out; this is the guard for inputs without one).
      if (time.is_null(r) || time.int_at(r) < watermark_) {
        ++late;
        continue;
      }
      const uint32_t pid = int_key_ ? int_partition_id(in, r) : partition_id_of_row(in, r);
      if (track_) changed_.mark(pid);
      accepted_.push_back(static_cast<uint32_t>(r));
      pending_partition_.push_back(pid);
      pending_arrival_.push_back(arrivals_++);
    }
    if (late > 0 && ctx_.metrics != nullptr) ctx_.metrics->add_late(late);
    for (size_t c = 0; c < pending_.columns.size(); ++c) {
      pending_.columns[c].append_gather(in.columns[c], accepted_.data(), accepted_.size());
    }
    pending_.num_rows += accepted_.size();
    return Status::ok();
  }

  Status on_watermark(Micros wm, Output& out) override {
    watermark_ = wm;
    RETURN_IF_ERROR(run_ready(wm));
    // Attempts whose WITHIN bound ended by now are decided (rows after them have event
    // time >= wm, outside the bound).
    while (!deadlines_.empty() && deadlines_.top().first <= wm) {
      auto [deadline, pid] = deadlines_.top();
      deadlines_.pop();
      if (scheduled_[pid] != deadline) continue;  // superseded
      scheduled_[pid] = kMaxWatermark;
      current_ = pid;
      matcher_.advance(partitions_[pid], wm, *this);
      if (track_) changed_.mark(pid);
      schedule(pid);
    }
    if (wm == kMaxWatermark) {
      // The end of the input ends every attempt.
      for (uint32_t pid = 0; pid < partitions_.size(); ++pid) {
        if (partitions_[pid].empty()) continue;
        current_ = pid;
        matcher_.finish(partitions_[pid], *this);
        if (track_) changed_.mark(pid);
      }
    }
    RETURN_IF_ERROR(flush(out));
    return out.emit_watermark(wm);
  }

  Status finish(Output& out) override {
    if (watermark_ != kMaxWatermark) return on_watermark(kMaxWatermark, out);
    return flush(out);
  }

  Status snapshot(uint64_t, StateWriter& w) override {
    const bool incremental = w.incremental();
    std::vector<std::vector<uint32_t>> rows_of(partitions_.size());
    for (size_t r = 0; r < pending_.num_rows; ++r) rows_of[pending_partition_[r]].push_back(static_cast<uint32_t>(r));
    std::string value;
    changed_.for_snapshot(incremental, partitions_.size(), [&](uint32_t pid) {
      const cep::PartitionState& p = partitions_[pid];
      const int key_group = key_group_of(key_hash(pid));
      if (p.empty() && p.matches == 0 && rows_of[pid].empty()) {
        // Nothing a restore needs (row numbers are relative): a fresh partition is the same.
        if (incremental) w.remove(key_group, encoded_keys_[pid]);
        return;
      }
      value.clear();
      ByteWriter vw(&value);
      for (const Column& col : keys_.columns) write_column_value(vw, col, pid);
      matcher_.write(p, vw);
      vw.varint(rows_of[pid].size());
      for (uint32_t r : rows_of[pid]) {
        for (const Column& col : pending_.columns) write_column_value(vw, col, r);
      }
      w.put(key_group, encoded_keys_[pid], value);
    });
    std::string blob;
    ByteWriter(&blob).i64(watermark_);
    w.put_instance_state(blob);
    return Status::ok();
  }

  Status restore(uint64_t, StateRestore* state) override {
    if (!state) return Status::ok();
    auto [begin, end] = key_group_range(ctx_.instance, ctx_.parallelism);
    RecordBatch scratch(keys_.schema);
    std::vector<int> columns(keys_.columns.size());
    std::iota(columns.begin(), columns.end(), 0);
    RETURN_IF_ERROR(state->scan(begin, end, [&](int, std::string_view key, std::string_view value) -> Status {
      ByteReader vr(value);
      for (Column& col : scratch.columns) {
        col.clear();
        RETURN_IF_ERROR(read_column_value(vr, col));
      }
      scratch.num_rows = 1;
      encode_ordered_key(scratch, columns, 0, key_buffer_);
      if (key_buffer_ != key) return Status(StatusCode::kDataLoss, "MATCH_RECOGNIZE state: a key does not match its values");
      if (key_ids_.contains(key_buffer_)) return Status(StatusCode::kDataLoss, "MATCH_RECOGNIZE state holds a key twice");
      const uint32_t pid = partition_id(scratch, 0, columns);
      RETURN_IF_ERROR(matcher_.read(vr, partitions_[pid]));
      const uint64_t rows = vr.count(pending_.columns.size());
      for (uint64_t r = 0; r < rows && vr.ok(); ++r) {
        for (Column& col : pending_.columns) RETURN_IF_ERROR(read_column_value(vr, col));
        pending_.num_rows++;
        pending_partition_.push_back(pid);
        pending_arrival_.push_back(arrivals_++);
      }
      if (vr.ok() && !vr.at_end()) vr.fail();
      RETURN_IF_ERROR(vr.status("MATCH_RECOGNIZE state"));
      schedule(pid);
      return Status::ok();
    }));
    bool any = false;
    Micros watermark = kMaxWatermark;
    for (const auto& blob : state->instance_states()) {
      if (blob.empty()) continue;
      ByteReader r(blob);
      watermark = std::min(watermark, r.i64());
      RETURN_IF_ERROR(r.status("MATCH_RECOGNIZE instance state"));
      any = true;
    }
    if (any) watermark_ = watermark;
    return Status::ok();
  }

 private:
  uint32_t partition_id_of_row(const RecordBatch& in, size_t r) {
    encode_ordered_key(in, c_.partition_columns, r, key_buffer_);
    return partition_id(in, r);
  }
  // One BIGINT/TIMESTAMP partition column (the common case): found by its value, without
  // encoding the key.
  uint32_t int_partition_id(const RecordBatch& in, size_t r) {
    const Column& k = in.column(static_cast<size_t>(c_.partition_columns[0]));
    if (k.is_null(r)) return partition_id_of_row(in, r);
    auto it = int_ids_.find(k.int_at(r));
    if (it != int_ids_.end()) return it->second;
    const uint32_t pid = partition_id_of_row(in, r);
    int_ids_.emplace(k.int_at(r), pid);
    return pid;
  }
  // The id of the partition whose encoded key is in key_buffer_ (row `row` of `in`),
  // created when new.
  uint32_t partition_id(const RecordBatch& in, size_t row) { return partition_id(in, row, c_.partition_columns); }
  uint32_t partition_id(const RecordBatch& in, size_t row, const std::vector<int>& key_columns) {
    auto it = key_ids_.find(key_buffer_);
    if (it != key_ids_.end()) return it->second;
    const uint32_t id = static_cast<uint32_t>(encoded_keys_.size());
    key_ids_.emplace(key_buffer_, id);
    encoded_keys_.push_back(key_buffer_);
    for (size_t k = 0; k < key_columns.size(); ++k) {
      keys_.columns[k].append_from(in.column(static_cast<size_t>(key_columns[k])), row);
    }
    keys_.num_rows++;
    partitions_.emplace_back();
    scheduled_.push_back(kMaxWatermark);
    return id;
  }

  uint64_t key_hash(uint32_t pid) const {
    uint64_t hash = 0;
    for (const Column& col : keys_.columns) hash = hash_combine(hash, col.hash_row(pid));
    return hash;
  }

  std::string describe_partition(uint32_t pid) const {
    std::string out;
    for (size_t k = 0; k < keys_.columns.size(); ++k) {
      out += fmt::format("{}{} = {}", k ? ", " : "", keys_.schema->field(k).name, keys_.columns[k].value_to_string(pid));
    }
    return out.empty() ? "the only partition" : "partition (" + out + ")";
  }

  void schedule(uint32_t pid) { schedule(pid, partitions_[pid]); }
  void schedule(uint32_t pid, const cep::PartitionState& p) {
    const Micros d = matcher_.next_deadline(p);
    if (d == scheduled_[pid]) return;
    scheduled_[pid] = d;
    if (d != kMaxWatermark) deadlines_.push({d, pid});
  }

  // Runs the buffered rows with event time < wm through their partitions' matchers, in
  // (partition, event time, arrival) order.
  Status run_ready(Micros wm) {
    const Column& time = pending_.column(static_cast<size_t>(c_.time_column));
    order_.clear();
    keep_.clear();
    for (size_t r = 0; r < pending_.num_rows; ++r) {
      (time.int_at(r) < wm ? order_ : keep_).push_back(static_cast<uint32_t>(r));
    }
    if (order_.empty()) return Status::ok();
    std::sort(order_.begin(), order_.end(), [&](uint32_t a, uint32_t b) {
      if (pending_partition_[a] != pending_partition_[b]) return pending_partition_[a] < pending_partition_[b];
      if (time.int_at(a) != time.int_at(b)) return time.int_at(a) < time.int_at(b);
      return pending_arrival_[a] < pending_arrival_[b];
    });
    ready_.clear();
    for (size_t c = 0; c < ready_.columns.size(); ++c) {
      ready_.columns[c].append_gather(pending_.columns[c], order_.data(), order_.size());
    }
    ready_.num_rows = order_.size();
    const size_t n = order_.size();
    scratch_.reset();
    masks_.assign(n, 0);
    for (size_t v = 0; v < c_.defines.size(); ++v) {
      const uint64_t bit = uint64_t{1} << v;
      if (!c_.defines[v]) {
        for (size_t r = 0; r < n; ++r) masks_[r] |= bit;  // a variable without DEFINE matches every row
        continue;
      }
      const Column& cond = c_.defines[v]->eval(ready_, scratch_);
      const int64_t* values = cond.ints();
      const uint8_t* valid = cond.validity();
      for (size_t r = 0; r < n; ++r) masks_[r] |= (valid[r] != 0 && values[r] != 0) ? bit : 0;
    }
    args_.clear();
    for (const ExprPtr& a : c_.arguments) args_.push_back(&a->eval(ready_, scratch_));
    const Column& ready_time = ready_.column(static_cast<size_t>(c_.time_column));
    // Consecutive rows are mostly of different partitions, each a cache miss: the partition
    // two rows ahead is requested, and the attempts of the next one (whose partition was
    // requested a row ago). ahead[r % 3]: the partition of row r.
    cep::PartitionState* ahead[3] = {};
    auto partition_of = [&](size_t r) { return &partitions_[pending_partition_[order_[r]]]; };
    ahead[0] = partition_of(0);
    if (n > 1) ahead[1] = partition_of(1);
    for (size_t r = 0; r < n; ++r) {
      const uint32_t pid = pending_partition_[order_[r]];
      if (r + 2 < n) {
        cep::PartitionState* p2 = partition_of(r + 2);
        ahead[(r + 2) % 3] = p2;
        __builtin_prefetch(p2);
        __builtin_prefetch(reinterpret_cast<const char*>(p2) + 64);
      }
      if (r + 1 < n) matcher_.prefetch(*ahead[(r + 1) % 3]);
      cep::PartitionState& partition = *ahead[r % 3];
      if (track_ && (r == 0 || pid != current_)) changed_.mark(pid);
      current_ = pid;
      cep::RowRef row{masks_[r], ready_time.int_at(r), args_.data(), r};
      Status s = matcher_.on_row(partition, row, *this);
      if (!s.is_ok()) return Status(s.code(), fmt::format("{}: {}", describe_partition(pid), s.message()));
      if (r + 1 == n || pending_partition_[order_[r + 1]] != pid) schedule(pid, partition);
    }
    // Keep the rows at or after wm, in arrival order.
    rest_.clear();
    for (size_t c = 0; c < rest_.columns.size(); ++c) {
      rest_.columns[c].append_gather(pending_.columns[c], keep_.data(), keep_.size());
    }
    rest_.num_rows = keep_.size();
    std::swap(pending_, rest_);
    size_t k = 0;
    for (uint32_t r : keep_) {
      pending_partition_[k] = pending_partition_[r];
      pending_arrival_[k] = pending_arrival_[r];
      ++k;
    }
    pending_partition_.resize(k);
    pending_arrival_.resize(k);
    return Status::ok();
  }

  void on_match(const cep::PartitionState&, const cep::MatchView& m) override {
    if (!out_) out_ = make_batch(c_.output_schema);
    RecordBatch& o = *out_;
    size_t c = 0;
    for (; c < keys_.columns.size(); ++c) o.columns[c].append_from(keys_.columns[c], current_);
    o.columns[c++].append_int(m.number);
    o.columns[c++].append_string(c_.matcher.pattern.variables[static_cast<size_t>(m.slots[cep::slot::kClassifier])]);
    o.columns[c++].append_int(m.start_time);
    o.columns[c++].append_int(m.slots[cep::slot::kEndTime]);
    for (size_t i = 0; i < c_.matcher.aggregates.size(); ++i) matcher_.append_aggregate(m.slots, *m.arena, i, o.columns[c++]);
    if (c_.emit_time) o.columns[c++].append_int(m.emit_time);
    o.num_rows++;
    out_partition_.push_back(current_);
  }

  // Emits the rows of this watermark's matches ordered by partition key (a partition's in
  // match order), so the output does not depend on the order partitions were first seen
  // (which a restore or rescale changes), in batches of at most batch_size rows.
  Status flush(Output& out) {
    if (!out_ || out_->num_rows == 0) return Status::ok();
    MutableBatchPtr all = std::move(out_);
    out_.reset();
    const size_t n = all->num_rows;
    order_.resize(n);
    std::iota(order_.begin(), order_.end(), 0u);
    std::stable_sort(order_.begin(), order_.end(), [&](uint32_t a, uint32_t b) {
      const uint32_t pa = out_partition_[a], pb = out_partition_[b];
      return pa != pb && encoded_keys_[pa] < encoded_keys_[pb];
    });
    out_partition_.clear();
    for (size_t begin = 0; begin < n; begin += c_.batch_size) {
      const size_t count = std::min(c_.batch_size, n - begin);
      auto b = make_batch(c_.output_schema);
      b->append_gather(*all, order_.data() + begin, count);
      RETURN_IF_ERROR(out.emit(std::move(b)));
    }
    return Status::ok();
  }

  const MatchRecognizeConfig& c_;
  cep::Matcher matcher_;
  absl::flat_hash_map<std::string, uint32_t> key_ids_;
  absl::flat_hash_map<int64_t, uint32_t> int_ids_;  // with int_key_: key value -> partition id
  bool int_key_ = false;
  std::vector<std::string> encoded_keys_;
  RecordBatch keys_;                             // partition id -> its key values
  std::deque<cep::PartitionState> partitions_;  // by partition id
  std::vector<Micros> scheduled_;                // per partition: its queued deadline
  std::priority_queue<std::pair<Micros, uint32_t>, std::vector<std::pair<Micros, uint32_t>>, std::greater<>> deadlines_;
  // Rows waiting for the watermark, in arrival order.
  RecordBatch pending_;
  std::vector<uint32_t> pending_partition_;
  std::vector<uint64_t> pending_arrival_;
  uint64_t arrivals_ = 0;
  Micros watermark_ = kMinWatermark;
  // Scratch.
  std::string key_buffer_;
  std::vector<uint32_t> accepted_, order_, keep_;
  RecordBatch ready_;
  RecordBatch rest_;  // the rows kept by run_ready (swapped with pending_)
  EvalScratch scratch_;
  std::vector<uint64_t> masks_;
  std::vector<const Column*> args_;
  uint32_t current_ = 0;
  MutableBatchPtr out_;                  // this watermark's match rows
  std::vector<uint32_t> out_partition_;  // their partitions
  bool track_ = false;
  ChangeSet changed_;
};

}  // namespace

std::string MatchRecognizeOperatorSpec::describe() const {
  const auto& m = config_.matcher;
  std::string keys;
  for (int k : config_.partition_columns) keys += fmt::format("{}${}", keys.empty() ? "" : ", ", k);
  std::string skip = skip_name(m.skip);
  if (m.skip_variable >= 0 && (m.skip == cep::SkipKind::kToFirst || m.skip == cep::SkipKind::kToLast)) {
    skip += " " + m.pattern.variables[static_cast<size_t>(m.skip_variable)];
  }
  return fmt::format("pattern '{}' partition by [{}] order by ${}{}, {} contiguity, skip {} -> {}", m.pattern.text, keys,
                     config_.time_column, m.within > 0 ? " within " + format_duration(m.within) : std::string(),
                     m.contiguity == cep::Contiguity::kStrict ? "strict" : "relaxed", skip,
                     config_.output_schema->to_string());
}

std::unique_ptr<Operator> MatchRecognizeOperatorSpec::create() const {
  return std::make_unique<MatchRecognizeOperator>(config_);
}

}  // namespace sluice
