// The event-time temporal join operator (operators/temporal_join.h) alone, on one core:
// a stream of orders (k, amount, ts) joined AS OF its time with a versioned table of rates
// (k, rate, ts) over `keys` keys, one new version per 10 orders, events in time order with
// a watermark after each batch of 4,096 (the task's rhythm). Counts every event of both
// inputs; the output batches are dropped. The join's own cost per event is what the issue's
// "1 M events/s per core" goal is about (sources and sinks are measured elsewhere).
//
//   build/bench/temporal_join_benchmark --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include "operators/temporal_join.h"

namespace sluice {
namespace {

class DropOutput : public Output {
 public:
  Status emit(BatchPtr batch) override {
    rows += batch->num_rows;
    return Status::ok();
  }
  Status emit_watermark(Micros) override { return Status::ok(); }
  size_t rows = 0;
};

SchemaPtr side(const char* value) {
  return make_schema({{"k", TypeId::kInt64, true}, {value, TypeId::kInt64, true}, {"ts", TypeId::kTimestamp, true}});
}

void BM_TemporalJoin(benchmark::State& state) {
  const int64_t keys = state.range(0);
  constexpr size_t kBatch = 4096;
  constexpr int kBatches = 256;  // 1 M orders
  TemporalJoinConfig c;
  c.type = JoinType::kInner;
  c.probe_keys = {0};
  c.table_keys = {0};
  c.null_safe = {false};
  c.probe_time = 2;
  c.version_time = 2;
  c.probe_schema = side("amount");
  c.table_schema = side("rate");
  std::vector<Field> out = c.probe_schema->fields();
  for (const auto& f : c.table_schema->fields()) out.push_back({f.name, f.type, true});
  c.output_schema = make_schema(out);
  c.batch_size = kBatch;
  TemporalJoinOperatorSpec spec(c);
  // Inputs prepared once: orders 1 µs apart, a version every 10 orders.
  std::vector<BatchPtr> orders, rates;
  uint64_t x = 88172645463325252ULL;
  auto next = [&] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  int64_t t = 0;
  for (int b = 0; b < kBatches; ++b) {
    auto o = make_batch(c.probe_schema);
    auto r = make_batch(c.table_schema);
    for (size_t i = 0; i < kBatch; ++i, ++t) {
      o->mutable_column(0).append_int(static_cast<int64_t>(next() % static_cast<uint64_t>(keys)));
      o->mutable_column(1).append_int(static_cast<int64_t>(next() % 1000));
      o->mutable_column(2).append_int(t);
      o->num_rows++;
      if (i % 10 == 0) {
        r->mutable_column(0).append_int(static_cast<int64_t>(next() % static_cast<uint64_t>(keys)));
        r->mutable_column(1).append_int(static_cast<int64_t>(next() % 1000));
        r->mutable_column(2).append_int(t);
        r->num_rows++;
      }
    }
    orders.push_back(o);
    rates.push_back(r);
  }
  size_t events = 0, joined = 0;
  for (auto _ : state) {
    auto op = spec.create();
    OperatorContext ctx;
    OperatorMetrics metrics;
    ctx.metrics = &metrics;
    (void)op->open(ctx);
    DropOutput sink;
    for (int b = 0; b < kBatches; ++b) {
      (void)op->process(1, rates[static_cast<size_t>(b)], sink);
      (void)op->process(0, orders[static_cast<size_t>(b)], sink);
      (void)op->on_watermark(orders[static_cast<size_t>(b)]->column(2).int_at(kBatch - 1), sink);
      events += rates[static_cast<size_t>(b)]->num_rows + kBatch;
    }
    (void)op->finish(sink);
    joined += sink.rows;
  }
  state.counters["events/s"] = benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
  state.counters["joined"] = static_cast<double>(joined) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_TemporalJoin)->Arg(1000)->Arg(100000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace sluice

BENCHMARK_MAIN();
