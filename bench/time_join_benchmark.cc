// The interval join and the window join operators (operators/time_join.h) alone, on one
// core: two generated streams (key, value, event time; times advancing 1 ms per event per
// side with up to 50 ms of disorder, 100,000 keys) in batches of 4096 rows, both sides'
// batches alternating, a watermark (largest time - 100 ms) after each pair, so state is
// freed as it would be in a job. items/s counts input events of both sides.
//
//   build/bench/time_join_benchmark --benchmark_min_time=2
// bench/time_join.sh measures whole `sluice run` jobs with the same joins.
#include <benchmark/benchmark.h>

#include <memory>
#include <vector>

#include "operators/time_join.h"
#include "operators/time_join_testing.h"

namespace sluice {
namespace {

constexpr size_t kBatch = 4096;
constexpr int kBatchesPerSide = 256;  // 1 M events per side
constexpr int64_t kKeys = 100'000;

using time_join_testing::output_schema;
using time_join_testing::side_schema;

struct Input {
  std::vector<BatchPtr> batches[2];
  std::vector<Micros> watermarks;  // after each pair of batches
  int64_t events = 0;
};

// Window of 1 s (TUMBLE) for the window join.
Input generate(bool windowed) {
  Input in;
  uint64_t state = 0x9e3779b97f4a7c15ULL;
  auto next = [&](uint64_t n) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<int64_t>((state >> 33) % n);
  };
  Micros t[2] = {1'700'000'000'000'000, 1'700'000'000'000'000};
  for (int b = 0; b < kBatchesPerSide; ++b) {
    Micros max_ts = 0;
    for (int side = 0; side < 2; ++side) {
      auto batch = make_batch(side_schema(windowed));
      for (size_t r = 0; r < kBatch; ++r) {
        t[side] += kMicrosPerMilli;
        const Micros ts = t[side] - next(50) * kMicrosPerMilli;
        batch->mutable_column(0).append_int(next(kKeys));
        batch->mutable_column(1).append_int(next(1000));
        batch->mutable_column(2).append_int(ts);
        if (windowed) {
          const Micros start = ts - ts % kMicrosPerSecond;
          batch->mutable_column(3).append_int(start);
          batch->mutable_column(4).append_int(start + kMicrosPerSecond);
        }
      }
      batch->num_rows = kBatch;
      max_ts = std::max(max_ts, t[side]);
      in.batches[side].push_back(batch);
      in.events += static_cast<int64_t>(kBatch);
    }
    in.watermarks.push_back(std::min(t[0], t[1]) - 100 * kMicrosPerMilli);
  }
  return in;
}

class CountingOutput : public Output {
 public:
  Status emit(BatchPtr batch) override {
    rows += static_cast<int64_t>(batch->num_rows);
    return Status::ok();
  }
  Status emit_watermark(Micros) override { return Status::ok(); }
  int64_t rows = 0;
};

void run(benchmark::State& state, const TimeJoinOperatorSpec& spec, const Input& in) {
  int64_t events = 0, out_rows = 0;
  for (auto _ : state) {
    OperatorMetrics metrics;
    OperatorContext ctx;
    ctx.metrics = &metrics;
    auto op = spec.create();
    (void)op->open(ctx);
    CountingOutput out;
    for (size_t b = 0; b < in.watermarks.size(); ++b) {
      (void)op->process(0, in.batches[0][b], out);
      (void)op->process(1, in.batches[1][b], out);
      (void)op->on_watermark(in.watermarks[b], out);
    }
    (void)op->finish(out);
    events += in.events;
    out_rows += out.rows;
  }
  state.SetItemsProcessed(events);
  state.counters["output_rows_per_event"] = static_cast<double>(out_rows) / static_cast<double>(events);
}

TimeJoinConfig base_config(bool windowed, JoinType type) {
  TimeJoinConfig c;
  c.type = type;
  c.left_schema = c.right_schema = side_schema(windowed);
  c.output_schema = output_schema(windowed);
  c.batch_size = kBatch;
  return c;
}

// k = k AND r.ts BETWEEN l.ts - 1 s AND l.ts + 1 s (about 2,000 rows of each side in
// every row's interval; 0.02 partners per row with 100,000 keys).
void BM_IntervalJoin(benchmark::State& state) {
  static const Input in = generate(false);
  TimeJoinConfig c = base_config(false, state.range(0) ? JoinType::kFull : JoinType::kInner);
  c.left_keys = c.right_keys = {0};
  c.null_safe = {false};
  c.left_time = c.right_time = 2;
  c.lower = -kMicrosPerSecond;
  c.upper = kMicrosPerSecond;
  TimeJoinOperatorSpec spec(TimeJoinOperatorSpec::Kind::kInterval, c);
  run(state, spec, in);
}
BENCHMARK(BM_IntervalJoin)->Arg(0)->Arg(1)->ArgName("full_outer")->Unit(benchmark::kMillisecond);

// TUMBLE(1 s) windows joined on (k, window_start, window_end).
void BM_WindowJoin(benchmark::State& state) {
  static const Input in = generate(true);
  TimeJoinConfig c = base_config(true, state.range(0) ? JoinType::kFull : JoinType::kInner);
  c.left_keys = c.right_keys = {0, 3, 4};
  c.null_safe = {false, false, false};
  c.window.size = c.window.slide = kMicrosPerSecond;
  c.left_window_end = c.right_window_end = 4;
  TimeJoinOperatorSpec spec(TimeJoinOperatorSpec::Kind::kWindow, c);
  run(state, spec, in);
}
BENCHMARK(BM_WindowJoin)->Arg(0)->Arg(1)->ArgName("full_outer")->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace sluice

BENCHMARK_MAIN();
