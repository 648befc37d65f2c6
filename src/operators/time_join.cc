#include "operators/time_join.h"

#include <algorithm>

#include <fmt/format.h>

#include "operators/group_table.h"
#include "operators/join_output.h"
#include "operators/timed_row_store.h"

namespace sluice {
namespace {

// Shared by both joins: the two row stores, candidate pairs and their residual, output,
// watermark forwarding and checkpoints.
class TimeJoinBase : public Operator {
 public:
  explicit TimeJoinBase(const TimeJoinOperatorSpec& spec)
      : spec_(spec),
        c_(spec.config()),
        stores_{TimedRowStore(c_.left_schema, c_.left_keys, 0), TimedRowStore(c_.right_schema, c_.right_keys, 1)},
        out_(c_.output_schema, c_.batch_size) {}

  int64_t state_entries() const override {
    return static_cast<int64_t>(stores_[0].live_rows() + stores_[1].live_rows());
  }

  Status open(const OperatorContext& ctx) override {
    ctx_ = ctx;
    stores_[0].track_changes(ctx.checkpoint.incremental);
    stores_[1].track_changes(ctx.checkpoint.incremental);
    return Status::ok();
  }

  Status finish(Output& out) override {
    if (watermark_ == kMaxWatermark) return Status::ok();
    return on_watermark(kMaxWatermark, out);
  }

  Status snapshot(uint64_t, StateWriter& writer) override {
    stores_[0].snapshot(writer);
    stores_[1].snapshot(writer);
    return Status::ok();
  }

  Status restore(uint64_t, StateRestore* state) override {
    if (!state) return Status::ok();
    auto [begin, end] = key_group_range(ctx_.instance, ctx_.parallelism);
    return state->scan(begin, end, [&](int, std::string_view key, std::string_view value) -> Status {
      if (key.empty() || static_cast<uint8_t>(key[0]) > 1) {
        return Status(StatusCode::kDataLoss, "time-bounded join state: bad key");
      }
      return stores_[static_cast<uint8_t>(key[0])].restore_entry(key.substr(1), value);
    });
  }

 protected:
  static constexpr size_t kMaxPairs = 1 << 16;

  bool outer(int side) const {
    return c_.type == JoinType::kFull || (side == 0 ? c_.type == JoinType::kLeft : c_.type == JoinType::kRight);
  }
  const std::vector<int>& keys_of(int side) const { return side == 0 ? c_.left_keys : c_.right_keys; }
  // A key with a NULL in a plain `=` column matches nothing.
  bool null_key(const RecordBatch& in, int side, size_t row) const {
    const std::vector<int>& keys = keys_of(side);
    for (size_t k = 0; k < keys.size(); ++k) {
      if (!c_.null_safe[k] && in.column(static_cast<size_t>(keys[k])).is_null(row)) return true;
    }
    return false;
  }

  // Candidate pairs (left row pair_left_[p] of `left`, right row pair_right_[p] of `right`)
  // -> matched_[p]: the residual holds. Gathers the pairs into pairs_.
  void evaluate_pairs(const RecordBatch& left, const RecordBatch& right) {
    matched_.assign(pair_left_.size(), 1);
    if (pair_left_.empty()) return;
    if (!pairs_.schema) pairs_ = RecordBatch(c_.output_schema);
    pairs_.clear();
    const size_t nl = left.columns.size();
    for (size_t col = 0; col < nl; ++col) {
      pairs_.columns[col].append_gather(left.column(col), pair_left_.data(), pair_left_.size());
    }
    for (size_t col = 0; col < right.columns.size(); ++col) {
      pairs_.columns[nl + col].append_gather(right.column(col), pair_right_.data(), pair_right_.size());
    }
    pairs_.num_rows = pair_left_.size();
    if (!c_.residual) return;
    scratch_.reset();
    const Column& ok = c_.residual->eval(pairs_, scratch_);
    for (size_t p = 0; p < pairs_.num_rows; ++p) matched_[p] = ok.is_valid(p) && ok.int_at(p) != 0;
  }

  Status emit_pair(size_t p, Output& out) {
    RecordBatch& b = out_.batch();
    for (size_t col = 0; col < b.columns.size(); ++col) b.columns[col].append_from(pairs_.column(col), p);
    return out_.row_done(RowKind::kInsert, out);
  }
  Status emit_padded(int side, const RecordBatch& rows, size_t row, Output& out) {
    return out_.padded_row(rows, row, side == 0 ? 0 : c_.left_schema->size(), RowKind::kInsert, out);
  }

  // Rows the watermark has passed: NULL-padded when outer and without partner, then freed.
  Status release(int side, const std::vector<uint32_t>& rows, Output& out) {
    TimedRowStore& s = stores_[side];
    for (uint32_t row : rows) {
      if (outer(side) && s.counter(row) == 0) RETURN_IF_ERROR(emit_padded(side, s.rows(), row, out));
      s.remove(row);
    }
    return Status::ok();
  }

  // After the operator's watermark moved to `watermark` and everything it closed was emitted.
  Status forward_watermark(Output& out) {
    stores_[0].compact();
    stores_[1].compact();
    RETURN_IF_ERROR(out_.flush(out));
    Micros wm = kMinWatermark;
    if (watermark_ == kMaxWatermark) {
      wm = kMaxWatermark;
    } else if (spec_.forwards_watermarks()) {
      wm = saturating_add(watermark_, -spec_.output_delay());
    }
    if (wm <= forwarded_) return Status::ok();
    forwarded_ = wm;
    return out.emit_watermark(wm);
  }

  const TimeJoinOperatorSpec& spec_;
  const TimeJoinConfig& c_;
  TimedRowStore stores_[2];
  JoinOutputBuilder out_;
  Micros watermark_ = kMinWatermark;
  Micros forwarded_ = kMinWatermark;
  std::string key_buffer_;
  std::vector<uint32_t> pair_left_, pair_right_;
  std::vector<uint8_t> matched_;
  RecordBatch pairs_;
  EvalScratch scratch_;
  std::vector<uint32_t> expired_[2];
};

class IntervalJoin final : public TimeJoinBase {
 public:
  using TimeJoinBase::TimeJoinBase;

  Status process(int side, const BatchPtr& batch, Output& out) override {
    if (side != 0 && side != 1) return internal_error("interval join: unknown input {}", side);
    const RecordBatch& in = *batch;
    size_t begin = 0;
    while (begin < in.num_rows) {
      const size_t end = collect(side, in, begin);
      RETURN_IF_ERROR(apply(side, in, begin, end, out));
      begin = end;
    }
    return out_.flush(out);
  }

  Status on_watermark(Micros watermark, Output& out) override {
    watermark_ = watermark;
    for (int side = 0; side < 2; ++side) {
      expired_[side].clear();
      stores_[side].pop_expired(watermark, expired_[side]);
      RETURN_IF_ERROR(release(side, expired_[side], out));
    }
    return forward_watermark(out);
  }

 private:
  int time_column(int side) const { return side == 0 ? c_.left_time : c_.right_time; }
  // Until when a row of `side` at `t` may get a partner (plus the lateness): right - left
  // <= upper bounds a left row's partners, right - left >= lower a right row's.
  Micros expiry(int side, Micros t) const {
    const Micros bound = side == 0 ? c_.upper : (c_.lower == kMinWatermark ? kMaxWatermark : -c_.lower);
    if (bound == kMaxWatermark) return kMaxWatermark;
    return saturating_add(saturating_add(t, bound), c_.allowed_lateness);
  }

  // Phase 1 for rows [begin, end): the stored rows of the other side with an equal key and a
  // time inside the row's interval, then the residual over all those pairs at once (the
  // other side does not change while this side's rows are applied). Returns `end`.
  size_t collect(int side, const RecordBatch& in, size_t begin) {
    const TimedRowStore& other = stores_[1 - side];
    const Column& ts = in.column(static_cast<size_t>(time_column(side)));
    const Column& other_ts = other.rows().column(static_cast<size_t>(time_column(1 - side)));
    // Partner times: [t + lower, t + upper] for a left row, [t - upper, t - lower] for a right one.
    const Micros from_offset = side == 0 ? c_.lower : (c_.upper == kMaxWatermark ? kMinWatermark : -c_.upper);
    const Micros to_offset = side == 0 ? c_.upper : (c_.lower == kMinWatermark ? kMaxWatermark : -c_.lower);
    pair_left_.clear();
    pair_right_.clear();
    pair_end_.clear();
    row_keys_.clear();
    row_key_end_.clear();
    std::vector<uint32_t>& mine = side == 0 ? pair_left_ : pair_right_;
    std::vector<uint32_t>& theirs = side == 0 ? pair_right_ : pair_left_;
    size_t r = begin;
    for (; r < in.num_rows; ++r) {
      if (r > begin && mine.size() >= kMaxPairs) break;
      encode_key(in, keys_of(side), r, key_buffer_);
      row_keys_ += key_buffer_;
      row_key_end_.push_back(row_keys_.size());
      uint32_t k = 0;
      if (!ts.is_null(r) && !null_key(in, side, r) && other.find(key_buffer_, &k)) {
        const Micros t = ts.int_at(r);
        const Micros from = saturating_add(t, from_offset);
        const Micros to = saturating_add(t, to_offset);
        for (uint32_t o : other.rows_of(k)) {
          if (!other.alive(o)) continue;
          const Micros ot = other_ts.int_at(o);
          if (ot < from || ot > to) continue;
          mine.push_back(static_cast<uint32_t>(r));
          theirs.push_back(o);
        }
      }
      pair_end_.push_back(mine.size());
    }
    if (side == 0) {
      evaluate_pairs(in, other.rows());
    } else {
      evaluate_pairs(other.rows(), in);
    }
    return r;
  }

  // Phase 2: emits the pairs of rows [begin, end) and stores the rows that may still get a
  // partner or wait to be emitted padded.
  Status apply(int side, const RecordBatch& in, size_t begin, size_t end, Output& out) {
    TimedRowStore& mine = stores_[side];
    TimedRowStore& other = stores_[1 - side];
    const std::vector<uint32_t>& theirs = side == 0 ? pair_right_ : pair_left_;
    const Column& ts = in.column(static_cast<size_t>(time_column(side)));
    size_t p = 0;
    for (size_t r = begin; r < end; ++r) {
      const size_t i = r - begin;
      uint32_t matches = 0;
      for (; p < pair_end_[i]; ++p) {
        if (!matched_[p]) continue;
        ++matches;
        RETURN_IF_ERROR(emit_pair(p, out));
        if (outer(1 - side) && other.counter(theirs[p])++ == 0) other.touched(theirs[p]);
      }
      // A row without time or with a NULL key never gets a partner; one whose interval the
      // watermark already passed gets no later partner (it came too late, see the header).
      const bool never = ts.is_null(r) || null_key(in, side, r);
      const Micros expires = never ? kMinWatermark : expiry(side, ts.int_at(r));
      if (never || (expires < watermark_ && watermark_ != kMaxWatermark) || watermark_ == kMaxWatermark) {
        if (outer(side) && matches == 0) RETURN_IF_ERROR(emit_padded(side, in, r, out));
        continue;
      }
      const size_t kb = i == 0 ? 0 : row_key_end_[i - 1];
      mine.add(std::string_view(row_keys_).substr(kb, row_key_end_[i] - kb), in, r, expires, matches);
    }
    return Status::ok();
  }

  std::vector<size_t> pair_end_;  // pairs of chunk row i end at pair_end_[i]
  std::string row_keys_;          // encoded key of chunk row i: [row_key_end_[i-1], row_key_end_[i])
  std::vector<size_t> row_key_end_;
};

class WindowJoin final : public TimeJoinBase {
 public:
  using TimeJoinBase::TimeJoinBase;

  Status process(int side, const BatchPtr& batch, Output&) override {
    if (side != 0 && side != 1) return internal_error("window join: unknown input {}", side);
    const RecordBatch& in = *batch;
    const Column& end = in.column(static_cast<size_t>(side == 0 ? c_.left_window_end : c_.right_window_end));
    uint64_t late = 0;
    for (size_t r = 0; r < in.num_rows; ++r) {
      if (end.is_null(r)) {
        ++late;
        continue;
      }
      // The window closes when the watermark reaches end + lateness.
      const Micros expires = saturating_add(end.int_at(r) - 1, c_.allowed_lateness);
      if (expires < watermark_ || watermark_ == kMaxWatermark) {
        ++late;  // its window was joined and freed already
        continue;
      }
      if (!outer(side) && null_key(in, side, r)) continue;  // joins nothing, emitted never
      encode_key(in, keys_of(side), r, key_buffer_);
      stores_[side].add(key_buffer_, in, r, expires, 0);
    }
    if (late) ctx_.metrics->add_late(late);
    return Status::ok();
  }

  // Joins the rows of every window the watermark closed, then frees them.
  Status on_watermark(Micros watermark, Output& out) override {
    watermark_ = watermark;
    for (int side = 0; side < 2; ++side) {
      expired_[side].clear();
      stores_[side].pop_expired(watermark, expired_[side]);
    }
    const std::vector<uint32_t>& left = expired_[0];
    TimedRowStore& ls = stores_[0];
    TimedRowStore& rs = stores_[1];
    size_t i = 0;
    while (i < left.size()) {
      pair_left_.clear();
      pair_right_.clear();
      for (; i < left.size() && pair_left_.size() < kMaxPairs; ++i) {
        const uint32_t l = left[i];
        uint32_t k = 0;
        if (null_key(ls.rows(), 0, l) || !rs.find(ls.key_bytes(ls.key_of(l)), &k)) continue;
        // Equal keys include window_start and window_end: these right rows are the window's.
        for (uint32_t r : rs.rows_of(k)) {
          if (!rs.alive(r)) continue;
          pair_left_.push_back(l);
          pair_right_.push_back(r);
        }
      }
      evaluate_pairs(ls.rows(), rs.rows());
      for (size_t p = 0; p < pair_left_.size(); ++p) {
        if (!matched_[p]) continue;
        RETURN_IF_ERROR(emit_pair(p, out));
        ls.counter(pair_left_[p])++;
        rs.counter(pair_right_[p])++;
      }
    }
    RETURN_IF_ERROR(release(0, expired_[0], out));
    RETURN_IF_ERROR(release(1, expired_[1], out));
    return forward_watermark(out);
  }
};

std::string bound_text(Micros v) {
  if (v == kMinWatermark) return "-inf";
  if (v == kMaxWatermark) return "+inf";
  return v < 0 ? fmt::format("-{}", format_duration(-v)) : format_duration(v);
}

}  // namespace

Micros TimeJoinOperatorSpec::output_delay() const {
  if (kind_ == Kind::kWindow) return saturating_add(config_.window.size, config_.allowed_lateness);
  if (config_.lower == kMinWatermark || config_.upper == kMaxWatermark) return kMaxWatermark;
  return saturating_add(std::max<Micros>({config_.upper, -config_.lower, 0}), config_.allowed_lateness);
}

std::string TimeJoinOperatorSpec::describe() const {
  const TimeJoinConfig& c = config_;
  std::string keys;
  for (size_t k = 0; k < c.left_keys.size(); ++k) {
    keys += fmt::format("{}L${} {} R${}", k ? ", " : "", c.left_keys[k], c.null_safe[k] ? "IS NOT DISTINCT FROM" : "=",
                        c.right_keys[k]);
  }
  std::string what;
  if (kind_ == Kind::kInterval) {
    what = fmt::format("IntervalJoin {} on [{}], R${} - L${} in [{}, {}]", join_type_name(c.type), keys, c.right_time,
                       c.left_time, bound_text(c.lower), bound_text(c.upper));
  } else {
    what = fmt::format("WindowJoin {} on [{}], windows {} ending at L${} / R${}", join_type_name(c.type), keys,
                       c.window.describe(), c.left_window_end, c.right_window_end);
  }
  return fmt::format("{}{}{}{}", what, c.residual ? fmt::format(" and {}", c.residual->to_string()) : "",
                     c.allowed_lateness > 0 ? fmt::format(", allowed lateness {}", format_duration(c.allowed_lateness)) : "",
                     forwards_watermarks() ? fmt::format(", watermark delayed {}", format_duration(output_delay()))
                                           : std::string(", watermark: end of input only"));
}

std::unique_ptr<Operator> TimeJoinOperatorSpec::create() const {
  if (kind_ == Kind::kInterval) return std::make_unique<IntervalJoin>(*this);
  return std::make_unique<WindowJoin>(*this);
}

}  // namespace sluice
