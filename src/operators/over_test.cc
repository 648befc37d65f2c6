// OVER aggregates against a brute-force reference: random streams with NULL keys and
// values, ties and disorder within the watermark delay, every frame kind and every
// function, run through OverOperator at parallelism 1 and 4 (rows routed like the hash
// exchange) and batch sizes 1, 7 and 4096; the reference recomputes each row's frame from
// scratch. Also: emission order, late rows, state freed by the watermark.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/hash.h"
#include "operators/checkpoint_test_util.h"
#include "operators/over.h"

namespace sluice {
namespace {

using testing_checkpoint::Step;
using testing_checkpoint::StageRunner;

constexpr Micros kMs = 1000;

// Input: [k BIGINT, v BIGINT, d DOUBLE, s TEXT, f BOOLEAN, ts TIMESTAMP].
SchemaPtr input_schema() {
  return make_schema({{"k", TypeId::kInt64, true},
                      {"v", TypeId::kInt64, true},
                      {"d", TypeId::kFloat64, true},
                      {"s", TypeId::kString, true},
                      {"f", TypeId::kBool, true},
                      {"ts", TypeId::kTimestamp, false}});
}
constexpr int kK = 0, kV = 1, kD = 2, kS = 3, kF = 4, kTs = 5;

struct Row {
  int64_t k;  // -1: NULL
  int64_t v;  // -1000: NULL
  double d;   // NaN: NULL
  std::string s;  // "": NULL
  int f;          // -1: NULL
  Micros ts;
};

struct Rng {
  uint64_t s;
  uint64_t next() { return hash_int(++s); }
  int64_t uniform(int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(next() % static_cast<uint64_t>(hi - lo + 1)); }
};

// Times advance 0..40 ms per row and go back up to `disorder` (< the watermark delay), so no
// row is late; many rows share a timestamp (peers).
std::vector<Row> generate(uint64_t seed, int n, Micros disorder) {
  Rng rng{seed};
  std::vector<Row> rows;
  Micros t = 1'700'000'000'000'000;
  for (int i = 0; i < n; ++i) {
    t += rng.uniform(0, 4) * 10 * kMs;
    Row r;
    r.k = rng.uniform(0, 20) == 0 ? -1 : rng.uniform(0, 6);
    r.v = rng.uniform(0, 12) == 0 ? -1000 : rng.uniform(-50, 100);
    r.d = rng.uniform(0, 12) == 0 ? std::nan("") : static_cast<double>(rng.uniform(-40, 80)) / 4;  // exact sums
    static const char* kWords[] = {"", "amber", "birch", "cedar", "delta", "ember", "fjord"};
    r.s = kWords[rng.uniform(0, 6)];
    r.f = static_cast<int>(rng.uniform(-1, 1));
    r.ts = t - rng.uniform(0, disorder / (10 * kMs)) * 10 * kMs;
    rows.push_back(r);
  }
  return rows;
}

void append_row(RecordBatch& b, const Row& r) {
  r.k < 0 ? b.columns[kK].append_null() : b.columns[kK].append_int(r.k);
  r.v == -1000 ? b.columns[kV].append_null() : b.columns[kV].append_int(r.v);
  std::isnan(r.d) ? b.columns[kD].append_null() : b.columns[kD].append_double(r.d);
  r.s.empty() ? b.columns[kS].append_null() : b.columns[kS].append_string(r.s);
  r.f < 0 ? b.columns[kF].append_null() : b.columns[kF].append_bool(r.f == 1);
  b.columns[kTs].append_int(r.ts);
  b.num_rows++;
}

// Batches of `batch` rows, each followed by the watermark a source would send after it
// (max event time so far - delay), then the final watermark.
std::vector<Step> steps_of(const std::vector<Row>& rows, size_t batch, Micros delay) {
  std::vector<Step> steps;
  Micros max_ts = kMinWatermark;
  for (size_t i = 0; i < rows.size(); i += batch) {
    auto b = make_batch(input_schema());
    for (size_t j = i; j < std::min(rows.size(), i + batch); ++j) {
      append_row(*b, rows[j]);
      max_ts = std::max(max_ts, rows[j].ts);
    }
    steps.push_back(Step{b, std::nullopt});
    steps.push_back(Step{nullptr, max_ts - delay});
  }
  steps.push_back(Step{nullptr, kMaxWatermark});
  return steps;
}

AggregateSpec agg(AggKind kind, int input, TypeId type, bool distinct = false, int filter = -1) {
  AggregateSpec a;
  a.kind = kind;
  a.input = input;
  a.input_type = input < 0 ? TypeId::kNull : type;
  a.result_type = aggregate_result_type(kind, type);
  a.distinct = distinct;
  a.filter = filter;
  return a;
}

// Every function, on every argument type it takes.
std::vector<AggregateSpec> all_aggregates() {
  return {agg(AggKind::kCountStar, -1, TypeId::kNull),
          agg(AggKind::kCount, kV, TypeId::kInt64),
          agg(AggKind::kSum, kV, TypeId::kInt64),
          agg(AggKind::kAvg, kV, TypeId::kInt64),
          agg(AggKind::kMin, kV, TypeId::kInt64),
          agg(AggKind::kMax, kV, TypeId::kInt64),
          agg(AggKind::kSum, kD, TypeId::kFloat64),
          agg(AggKind::kAvg, kD, TypeId::kFloat64),
          agg(AggKind::kMin, kD, TypeId::kFloat64),
          agg(AggKind::kMax, kD, TypeId::kFloat64),
          agg(AggKind::kMin, kS, TypeId::kString),
          agg(AggKind::kMax, kS, TypeId::kString),
          agg(AggKind::kCount, kS, TypeId::kString, true),
          agg(AggKind::kCount, kV, TypeId::kInt64, true),
          agg(AggKind::kSum, kV, TypeId::kInt64, true),
          agg(AggKind::kAvg, kD, TypeId::kFloat64, true),
          agg(AggKind::kCountStar, -1, TypeId::kNull, false, kF),
          agg(AggKind::kSum, kV, TypeId::kInt64, false, kF),
          agg(AggKind::kMax, kTs, TypeId::kTimestamp)};
}

std::shared_ptr<OverOperatorSpec> make_spec(OverFrame frame, std::vector<int> partition, size_t batch) {
  OverConfig c;
  c.partition_columns = std::move(partition);
  c.time_column = kTs;
  c.frame = frame;
  c.aggregates = all_aggregates();
  c.input_schema = input_schema();
  std::vector<Field> fields = input_schema()->fields();
  for (size_t i = 0; i < c.aggregates.size(); ++i) {
    fields.push_back({fmt::format("a{}", i), c.aggregates[i].result_type, true});
  }
  c.output_schema = make_schema(fields);
  c.batch_size = batch;
  auto spec = std::make_shared<OverOperatorSpec>(c);
  spec->id = "over-1";
  return spec;
}

// ---- the reference: each row's frame recomputed from scratch

bool counts(const AggregateSpec& a, const Row& r) {
  if (a.filter >= 0 && r.f != 1) return false;
  switch (a.input) {
    case -1: return true;
    case kV: return r.v != -1000;
    case kD: return !std::isnan(r.d);
    case kS: return !r.s.empty();
    default: return true;
  }
}

void append_aggregate(const AggregateSpec& a, const std::vector<const Row*>& frame, Column& out) {
  std::vector<const Row*> rows;
  for (const Row* r : frame) {
    if (counts(a, *r)) rows.push_back(r);
  }
  if (a.distinct) {
    // Distinct values, in a fixed order.
    std::vector<const Row*> uniq;
    for (const Row* r : rows) {
      bool seen = false;
      for (const Row* u : uniq) {
        seen = seen || (a.input == kV ? u->v == r->v : a.input == kD ? u->d == r->d : u->s == r->s);
      }
      if (!seen) uniq.push_back(r);
    }
    rows = uniq;
  }
  switch (a.kind) {
    case AggKind::kCountStar:
    case AggKind::kCount: return out.append_int(static_cast<int64_t>(rows.size()));
    case AggKind::kSum:
    case AggKind::kAvg: {
      if (rows.empty()) return out.append_null();
      if (a.input == kD) {
        double sum = 0;
        for (const Row* r : rows) sum += r->d;
        return out.append_double(a.kind == AggKind::kSum ? sum : sum / static_cast<double>(rows.size()));
      }
      int64_t sum = 0;
      for (const Row* r : rows) sum += r->v;
      if (a.kind == AggKind::kAvg) return out.append_double(static_cast<double>(sum) / static_cast<double>(rows.size()));
      return out.append_int(sum);
    }
    case AggKind::kMin:
    case AggKind::kMax: {
      if (rows.empty()) return out.append_null();
      const bool min = a.kind == AggKind::kMin;
      const Row* best = rows[0];
      for (const Row* r : rows) {
        bool better = false;
        if (a.input == kV) better = min ? r->v < best->v : r->v > best->v;
        if (a.input == kD) better = min ? r->d < best->d : r->d > best->d;
        if (a.input == kS) better = min ? r->s < best->s : r->s > best->s;
        if (a.input == kTs) better = min ? r->ts < best->ts : r->ts > best->ts;
        if (better) best = r;
      }
      if (a.input == kV) return out.append_int(best->v);
      if (a.input == kD) return out.append_double(best->d);
      if (a.input == kTs) return out.append_int(best->ts);
      return out.append_string(best->s);
    }
    default: FAIL() << "no reference for " << agg_kind_name(a.kind);
  }
}

std::vector<std::string> reference(const std::vector<Row>& rows, const OverConfig& c, bool partitioned) {
  auto out = make_batch(c.output_schema);
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& cur = rows[i];
    // The partition's rows in (ts, arrival) order.
    std::vector<size_t> part;
    for (size_t j = 0; j < rows.size(); ++j) {
      if (!partitioned || rows[j].k == cur.k) part.push_back(j);
    }
    std::stable_sort(part.begin(), part.end(), [&](size_t a, size_t b) { return rows[a].ts < rows[b].ts; });
    const size_t at = static_cast<size_t>(std::find(part.begin(), part.end(), i) - part.begin());
    std::vector<const Row*> frame;
    for (size_t x = 0; x < part.size(); ++x) {
      const Row& r = rows[part[x]];
      bool in = false;
      if (c.frame.unit == OverFrame::Unit::kRange) {
        in = r.ts <= cur.ts && (c.frame.unbounded || r.ts >= cur.ts - c.frame.range);
      } else {
        in = x <= at && (c.frame.unbounded || at - x <= static_cast<size_t>(c.frame.rows));
      }
      if (in) frame.push_back(&r);
    }
    append_row(*out, cur);
    out->num_rows--;
    for (size_t a = 0; a < c.aggregates.size(); ++a) {
      append_aggregate(c.aggregates[a], frame, out->columns[input_schema()->size() + a]);
    }
    out->num_rows++;
  }
  std::vector<std::string> lines;
  for (size_t r = 0; r < out->num_rows; ++r) lines.push_back("+I " + out->row_to_string(r));
  std::sort(lines.begin(), lines.end());
  return lines;
}

struct FrameCase {
  const char* name;
  OverFrame frame;
};

std::vector<FrameCase> frames() {
  OverFrame range_bounded{OverFrame::Unit::kRange, false, 200 * kMs, 0};
  OverFrame range_zero{OverFrame::Unit::kRange, false, 0, 0};
  // About 14 rows of a partition: DISTINCT counts move between their array and hash forms.
  OverFrame range_long{OverFrame::Unit::kRange, false, 2000 * kMs, 0};
  OverFrame range_unbounded{OverFrame::Unit::kRange, true, 0, 0};
  OverFrame rows_bounded{OverFrame::Unit::kRows, false, 0, 3};
  OverFrame rows_zero{OverFrame::Unit::kRows, false, 0, 0};
  OverFrame rows_unbounded{OverFrame::Unit::kRows, true, 0, 0};
  return {{"range 200ms", range_bounded}, {"range 2s", range_long}, {"range 0", range_zero},       {"range unbounded", range_unbounded},
          {"rows 3", rows_bounded},       {"rows 0", rows_zero},         {"rows unbounded", rows_unbounded}};
}

// Timestamp column of a "+I k, v, d, s, f, ts, ..." line.
std::string ts_of(const std::string& line) {
  size_t pos = 0;
  for (int i = 0; i < kTs; ++i) pos = line.find(", ", pos) + 2;
  return line.substr(pos, line.find(", ", pos) - pos);
}

TEST(OverOperatorTest, EveryFrameAndFunctionMatchesBruteForceAtAnyParallelismAndBatchSize) {
  const Micros delay = 300 * kMs;
  const auto rows = generate(7, 700, 250 * kMs);
  for (const auto& fc : frames()) {
    for (bool partitioned : {true, false}) {
      std::vector<int> keys = partitioned ? std::vector<int>{kK} : std::vector<int>{};
      const auto want = reference(rows, make_spec(fc.frame, keys, 7)->config(), partitioned);
      for (int parallelism : {1, 4}) {
        if (!partitioned && parallelism > 1) continue;  // one partition: one instance
        for (size_t batch : {size_t{1}, size_t{7}, size_t{4096}}) {
          SCOPED_TRACE(::testing::Message() << fc.name << (partitioned ? " partitioned" : " global") << " parallelism "
                                            << parallelism << " batch " << batch);
          auto spec = make_spec(fc.frame, keys, batch);
          StageRunner runner(spec, parallelism, keys, keys);
          const auto steps = steps_of(rows, batch, delay);
          ASSERT_TRUE(runner.feed(steps, 0, steps.size()).is_ok());
          ASSERT_TRUE(runner.finish().is_ok());
          std::vector<std::string> got = runner.all_rows(false);
          if (parallelism == 1) {
            // One instance emits in event-time order.
            for (size_t i = 1; i < got.size(); ++i) ASSERT_LE(ts_of(got[i - 1]), ts_of(got[i])) << got[i];
          }
          for (int i = 0; i < parallelism; ++i) testing_checkpoint::expect_only_own_keys(runner, i);
          std::sort(got.begin(), got.end());
          ASSERT_EQ(got, want);
        }
      }
    }
  }
}

// A row is emitted only once the watermark passes its event time, and before the
// watermark is forwarded; rows at the watermark's time wait (a peer may still come).
TEST(OverOperatorTest, RowsWaitForTheWatermarkAndPrecedeIt) {
  OverFrame frame{OverFrame::Unit::kRange, false, 10 * kMs, 0};
  auto spec = make_spec(frame, {kK}, 16);
  StageRunner runner(spec, 1, {kK}, {kK});
  auto b = make_batch(input_schema());
  append_row(*b, Row{1, 5, 1.0, "a", 1, 100 * kMs});
  append_row(*b, Row{1, 7, 1.0, "b", 1, 105 * kMs});
  ASSERT_TRUE(runner.feed(Step{b, std::nullopt}).is_ok());
  ASSERT_TRUE(runner.feed(Step{nullptr, 100 * kMs}).is_ok());  // 100 ms itself may still get peers
  EXPECT_EQ(runner.output(0).rows.size(), 1u);
  ASSERT_TRUE(runner.feed(Step{nullptr, 100 * kMs + 1}).is_ok());
  ASSERT_EQ(runner.output(0).rows.size(), 3u);
  EXPECT_EQ(runner.output(0).rows[1].substr(0, 9), "+I 1, 5, ");
  EXPECT_EQ(runner.output(0).rows[2], "watermark " + std::to_string(100 * kMs + 1));
  ASSERT_TRUE(runner.feed(Step{nullptr, kMaxWatermark}).is_ok());
  ASSERT_EQ(runner.output(0).rows.size(), 5u);
  EXPECT_EQ(runner.output(0).rows[3].substr(0, 9), "+I 1, 7, ");
}

// Rows behind the operator's watermark cannot join frames already emitted: counted late.
TEST(OverOperatorTest, RowsBehindTheWatermarkAreCountedLate) {
  OverFrame frame{OverFrame::Unit::kRows, true, 0, 0};
  auto spec = make_spec(frame, {kK}, 16);
  auto op = spec->create();
  OperatorMetrics metrics;
  OperatorContext ctx;
  ctx.metrics = &metrics;
  ASSERT_TRUE(op->open(ctx).is_ok());
  testing_checkpoint::CollectingOutput out({});
  ASSERT_TRUE(op->on_watermark(50 * kMs, out).is_ok());
  auto b = make_batch(input_schema());
  append_row(*b, Row{1, 5, 1.0, "a", 1, 40 * kMs});
  append_row(*b, Row{1, 6, 1.0, "a", 1, 60 * kMs});
  ASSERT_TRUE(op->process(0, b, out).is_ok());
  EXPECT_EQ(metrics.late->value(), 1u);
  ASSERT_TRUE(op->finish(out).is_ok());
  ASSERT_EQ(out.rows.size(), 2u);  // the watermark and the row on time
  EXPECT_EQ(out.rows[1].substr(0, 9), "+I 1, 6, ");
}

// RANGE frames keep only rows within the interval behind the watermark; a partition with
// nothing left is freed. ROWS frames keep the last n rows of each partition.
TEST(OverOperatorTest, StateIsFreedBehindTheWatermark) {
  const auto rows = generate(11, 400, 0);
  for (const auto& [frame, left] : std::vector<std::pair<OverFrame, int64_t>>{
           {OverFrame{OverFrame::Unit::kRange, false, 50 * kMs, 0}, 0},
           {OverFrame{OverFrame::Unit::kRows, false, 0, 2}, -1}}) {
    auto spec = make_spec(frame, {kK}, 64);
    auto op = spec->create();
    OperatorContext ctx;
    OperatorMetrics metrics;
    ctx.metrics = &metrics;
    ASSERT_TRUE(op->open(ctx).is_ok());
    testing_checkpoint::CollectingOutput out({});
    for (const Step& s : steps_of(rows, 64, 0)) {
      if (s.watermark && *s.watermark == kMaxWatermark) break;
      ASSERT_TRUE(s.batch ? op->process(0, s.batch, out).is_ok() : op->on_watermark(*s.watermark, out).is_ok());
    }
    EXPECT_GT(op->state_entries(), 0);
    ASSERT_TRUE(op->on_watermark(rows.back().ts + 51 * kMs + 1, out).is_ok());
    if (left == 0) {
      EXPECT_EQ(op->state_entries(), 0) << "RANGE: every row is older than the interval";
    } else {
      // Keys 0..6 and NULL: at most 2 rows each.
      EXPECT_LE(op->state_entries(), 16);
      EXPECT_GT(op->state_entries(), 0);
    }
  }
}

// Checkpoints mid-stream (pending rows, frames, accumulators, interned strings, cleanup
// timers) restore to exactly the uninterrupted output, rescale 1 -> 2 -> 1 keeping every
// partition, and survive incremental RocksDB snapshots (freed partitions stay removed).
TEST(OverCheckpointTest, RestoreRescaleAndIncrementalSnapshotsEqualAnUninterruptedRun) {
  const auto rows = generate(23, 500, 250 * kMs);
  for (const auto& fc : frames()) {
    SCOPED_TRACE(fc.name);
    testing_checkpoint::Scenario s;
    s.spec = make_spec(fc.frame, {kK}, 5);
    s.in_key_columns = {kK};
    s.out_key_columns = {kK};
    s.steps = steps_of(rows, 9, 300 * kMs);
    testing_checkpoint::expect_restore_continues_exactly(s, "memory");
    testing_checkpoint::expect_restore_continues_exactly(s, "rocksdb");
    testing_checkpoint::expect_rescale_keeps_every_key(s, "memory");
    testing_checkpoint::expect_incremental_checkpoints_restore_exactly(s, 7);
  }
}

}  // namespace
}  // namespace sluice
