// The pieces of the clickstream benchmark job (bench/clickstream.sql) measured alone, on
// one core, on exactly the events that job reads (same generator options):
//   BM_GenerateClickstream  the generator's raw JSON lines
//   BM_DecodeClickstream    JSON decoding alone (simdjson into columnar batches); generation
//                           is excluded from the measured time
// bench/run_clickstream.py compares them with the whole `sluice run`.
//
//   build/bench/pipeline_benchmark --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include <chrono>
#include <map>
#include <memory>

#include "connectors/source.h"
#include "formats/format.h"

namespace sluice {
namespace {

constexpr int64_t kEvents = 10'000'000;

SourceSpec clickstream_spec(int64_t events) {
  SourceSpec spec;
  spec.table = "clicks";
  spec.connector = "generator";
  spec.schema = make_schema({{"user_id", TypeId::kInt64, true}, {"page", TypeId::kString, true}, {"ts", TypeId::kTimestamp, true}});
  spec.options = ConnectorOptions({{"seed", "42"}, {"events", std::to_string(events)}, {"users", "100000"},
                                   {"pages", "1000"}, {"out_of_order", "0.05"}, {"max_out_of_orderness", "5 seconds"}},
                                  "table clicks");
  return spec;
}

void BM_GenerateClickstream(benchmark::State& state) {
  int64_t total = 0, bytes = 0;
  for (auto _ : state) {
    auto factory = make_source_factory(clickstream_spec(kEvents));
    auto reader = factory.value()->create_reader(0);
    (void)reader.value()->open();
    RawRecords raw;
    while (true) {
      raw.clear();
      auto st = reader.value()->poll(raw, kDefaultBatchRows);
      if (!st.is_ok() || st.value() == PollStatus::kEnd) break;
      total += static_cast<int64_t>(raw.size());
      bytes += static_cast<int64_t>(raw.data.size());
    }
  }
  state.SetItemsProcessed(total);
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_GenerateClickstream)->Unit(benchmark::kMillisecond)->Iterations(1);

void BM_DecodeClickstream(benchmark::State& state) {
  int64_t total = 0, bytes = 0;
  for (auto _ : state) {
    auto spec = clickstream_spec(kEvents);
    auto factory = make_source_factory(spec);
    auto reader = factory.value()->create_reader(0);
    (void)reader.value()->open();
    auto decoder = make_decoder(factory.value()->format(), spec.schema);
    std::vector<DecodeFailure> failures;
    RawRecords raw;
    double seconds = 0;
    while (true) {
      raw.clear();
      auto st = reader.value()->poll(raw, kDefaultBatchRows);
      if (!st.is_ok() || st.value() == PollStatus::kEnd) break;
      raw.finish();
      RecordBatch batch(spec.schema);
      failures.clear();
      auto start = std::chrono::steady_clock::now();
      (void)decoder.value()->decode(raw, batch, failures);
      seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      benchmark::DoNotOptimize(batch.num_rows);
      total += static_cast<int64_t>(raw.size());
      bytes += static_cast<int64_t>(raw.data.size());
    }
    state.SetIterationTime(seconds);
  }
  state.SetItemsProcessed(total);
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_DecodeClickstream)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
}  // namespace sluice

BENCHMARK_MAIN();
