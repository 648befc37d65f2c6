// Decoder throughput on clickstream-like records, one core. Also counts heap allocations
// inside the timed loop: the decoders promise none per record in steady state.
//
//   ninja -C build json_decode_benchmark && build/bench/json_decode_benchmark
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "fmt/format.h"
#include "formats/format.h"

namespace {
std::atomic<uint64_t> g_allocations{0};
}  // namespace

// Counting every allocation of the process is crude but enough to prove "zero per record".
// GCC flags free() in a replaced operator delete as a mismatch; here it is the point.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace sluice {
namespace {

constexpr size_t kRecords = 4096;
const char* kPages[] = {"/", "/search?q=shoes", "/product/42", "/product/1337", "/cart", "/checkout"};
const char* kEvents[] = {"view", "click", "add_to_cart", "purchase"};
const char* kDevices[] = {"mobile", "desktop", "tablet"};

RawRecords clickstream_json() {
  RawRecords in;
  int64_t offset = 0;
  for (size_t i = 0; i < kRecords; ++i) {
    std::string line = fmt::format(
        R"({{"user_id":{},"page":"{}","ts":"2024-01-01T00:{:02}:{:02}.{:03}Z","event_type":"{}","device":"{}"}})",
        100000 + (i * 7919) % 50000, kPages[i % 6], (i / 60) % 60, i % 60, (i * 37) % 1000, kEvents[i % 4],
        kDevices[i % 3]);
    in.append_record(line, offset, static_cast<int64_t>(i + 1));
    offset += static_cast<int64_t>(line.size()) + 1;
  }
  in.finish();
  return in;
}

RawRecords clickstream_csv() {
  RawRecords in;
  int64_t offset = 0;
  for (size_t i = 0; i < kRecords; ++i) {
    std::string line = fmt::format("{},{},2024-01-01T00:{:02}:{:02}.{:03}Z,{},{}\n", 100000 + (i * 7919) % 50000,
                                   kPages[i % 6], (i / 60) % 60, i % 60, (i * 37) % 1000, kEvents[i % 4],
                                   kDevices[i % 3]);
    in.append_record(line, offset, static_cast<int64_t>(i + 1));
    offset += static_cast<int64_t>(line.size());
  }
  in.finish();
  return in;
}

void run(benchmark::State& state, const char* format, SchemaPtr schema, const RawRecords& in) {
  FormatOptions options;
  options.format = format;
  auto decoder = make_decoder(options, schema);
  if (!decoder.is_ok()) {
    state.SkipWithError(decoder.status().to_string().c_str());
    return;
  }
  RecordBatch batch(schema);
  std::vector<DecodeFailure> failures;
  // Warm-up: grows the parser and column buffers to their steady-state size.
  (void)(*decoder)->decode(in, batch, failures);
  uint64_t allocations_before = g_allocations.load();
  for (auto _ : state) {
    batch.clear();
    failures.clear();
    (void)(*decoder)->decode(in, batch, failures);
    benchmark::DoNotOptimize(batch.num_rows);
  }
  uint64_t allocations = g_allocations.load() - allocations_before;
  if (batch.num_rows != in.size() || !failures.empty()) state.SkipWithError("records failed to decode");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * in.size()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * in.data.size()));
  state.counters["allocs_per_record"] =
      static_cast<double>(allocations) / static_cast<double>(state.iterations() * in.size());
  state.counters["bytes_per_record"] = static_cast<double>(in.data.size()) / static_cast<double>(in.size());
}

void BM_JsonDecodeClickstream3Columns(benchmark::State& state) {
  static const RawRecords in = clickstream_json();
  run(state, "json",
      make_schema({{"user_id", TypeId::kInt64}, {"page", TypeId::kString}, {"ts", TypeId::kTimestamp}}), in);
}
BENCHMARK(BM_JsonDecodeClickstream3Columns);

void BM_JsonDecodeClickstream5Columns(benchmark::State& state) {
  static const RawRecords in = clickstream_json();
  run(state, "json",
      make_schema({{"user_id", TypeId::kInt64}, {"page", TypeId::kString}, {"ts", TypeId::kTimestamp},
                   {"event_type", TypeId::kString}, {"device", TypeId::kString}}),
      in);
}
BENCHMARK(BM_JsonDecodeClickstream5Columns);

void BM_CsvDecodeClickstream5Columns(benchmark::State& state) {
  static const RawRecords in = clickstream_csv();
  run(state, "csv",
      make_schema({{"user_id", TypeId::kInt64}, {"page", TypeId::kString}, {"ts", TypeId::kTimestamp},
                   {"event_type", TypeId::kString}, {"device", TypeId::kString}}),
      in);
}
BENCHMARK(BM_CsvDecodeClickstream5Columns);

}  // namespace
}  // namespace sluice

BENCHMARK_MAIN();
