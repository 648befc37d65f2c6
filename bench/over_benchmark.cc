// The OVER aggregate operator alone, on one core: velocity features per event
//
//   COUNT(*), SUM(amount), MAX(amount), COUNT(DISTINCT merchant) OVER (PARTITION BY user_id
//   ORDER BY ts RANGE BETWEEN INTERVAL '5' MINUTE PRECEDING AND CURRENT ROW)
//
// over 2 M events of 10,000 users, 2 ms apart on average (a user's 5-minute frame holds
// about 15 rows; the stream covers about an hour), 5% of them up to 5 s out of order, in
// batches of 4096 rows, each followed by the source's watermark (max time - 5 s). Items/s
// is events/s per core (the operator's whole work: buffering, ordering, frames, output
// batches; no decoding). Also the ROWS and UNBOUNDED frames for comparison.
//
//   build/bench/over_benchmark --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <vector>

#include <fmt/format.h>

#include "common/hash.h"
#include "operators/over.h"

namespace sluice {
namespace {

constexpr int64_t kEvents = 2'000'000;
constexpr int64_t kUsers = 10'000;
constexpr Micros kDelay = 5'000'000;

SchemaPtr input_schema() {
  return make_schema({{"user_id", TypeId::kInt64, true},
                      {"amount", TypeId::kFloat64, true},
                      {"merchant", TypeId::kInt64, true},
                      {"ts", TypeId::kTimestamp, false}});
}

struct Input {
  std::vector<BatchPtr> batches;
  std::vector<Micros> watermarks;  // after each batch
};

const Input& input() {
  static const Input in = [] {
    Input out;
    Micros t = 1'700'000'000'000'000;
    Micros max_ts = 0;
    uint64_t seed = 42;
    for (int64_t i = 0; i < kEvents;) {
      auto b = make_batch(input_schema());
      for (size_t r = 0; r < kDefaultBatchRows && i < kEvents; ++r, ++i) {
        const uint64_t h = hash_int(++seed);
        t += static_cast<Micros>(h % 4000);
        const Micros ts = (h >> 20) % 20 == 0 ? t - static_cast<Micros>((h >> 32) % kDelay) : t;
        b->columns[0].append_int(static_cast<int64_t>((h >> 8) % kUsers));
        b->columns[1].append_double(static_cast<double>((h >> 40) % 50000) / 100);
        b->columns[2].append_int(static_cast<int64_t>((h >> 24) % 500));
        b->columns[3].append_int(ts);
        b->num_rows++;
        max_ts = std::max(max_ts, ts);
      }
      out.batches.push_back(b);
      out.watermarks.push_back(max_ts - kDelay);
    }
    return out;
  }();
  return in;
}

AggregateSpec agg(AggKind kind, int input, TypeId type, bool distinct = false) {
  AggregateSpec a;
  a.kind = kind;
  a.input = input;
  a.input_type = type;
  a.distinct = distinct;
  a.result_type = aggregate_result_type(kind, type);
  return a;
}

class NullOutput : public Output {
 public:
  Status emit(BatchPtr batch) override {
    rows += batch->num_rows;
    return Status::ok();
  }
  Status emit_watermark(Micros) override { return Status::ok(); }
  int64_t rows = 0;
};

void run(benchmark::State& state, OverFrame frame, bool distinct = true) {
  OverConfig c;
  c.partition_columns = {0};
  c.time_column = 3;
  c.frame = frame;
  c.aggregates = {agg(AggKind::kCountStar, -1, TypeId::kNull), agg(AggKind::kSum, 1, TypeId::kFloat64),
                  agg(AggKind::kMax, 1, TypeId::kFloat64)};
  if (distinct) c.aggregates.push_back(agg(AggKind::kCount, 2, TypeId::kInt64, true));
  c.input_schema = input_schema();
  std::vector<Field> fields = input_schema()->fields();
  for (size_t i = 0; i < c.aggregates.size(); ++i) fields.push_back({fmt::format("a{}", i), c.aggregates[i].result_type, true});
  c.output_schema = make_schema(fields);
  const OverOperatorSpec spec(c);
  const Input& in = input();
  int64_t rows = 0;
  for (auto _ : state) {
    auto op = spec.create();
    OperatorMetrics metrics;
    OperatorContext ctx;
    ctx.metrics = &metrics;
    (void)op->open(ctx);
    NullOutput out;
    for (size_t b = 0; b < in.batches.size(); ++b) {
      (void)op->process(0, in.batches[b], out);
      (void)op->on_watermark(in.watermarks[b], out);
    }
    (void)op->on_watermark(kMaxWatermark, out);
    if (out.rows != kEvents) state.SkipWithError("not every event was emitted");
    rows += out.rows;
  }
  state.SetItemsProcessed(rows);
}

void BM_OverRange5Minutes(benchmark::State& state) { run(state, {OverFrame::Unit::kRange, false, 300'000'000, 0}); }
void BM_OverRange5MinutesNoDistinct(benchmark::State& state) {
  run(state, {OverFrame::Unit::kRange, false, 300'000'000, 0}, false);
}
void BM_OverRows10(benchmark::State& state) { run(state, {OverFrame::Unit::kRows, false, 0, 10}); }
void BM_OverRangeUnbounded(benchmark::State& state) { run(state, {OverFrame::Unit::kRange, true, 0, 0}); }
BENCHMARK(BM_OverRange5Minutes)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_OverRange5MinutesNoDistinct)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_OverRows10)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_OverRangeUnbounded)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
}  // namespace sluice

BENCHMARK_MAIN();
