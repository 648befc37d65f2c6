// MATCH_RECOGNIZE operator throughput on one core (no source, no sink): batches of 4,096
// login/purchase events of 10,000 users, time-ordered within each batch, a watermark after
// each batch, through the "5 failed logins, then a purchase over 1,000 from a new device,
// within 10 minutes" pattern (strict, and relaxed with a reluctant loop). Reports events/s.
// MATCH_BENCH_BATCHES=n runs n batches instead of 256 (short runs under callgrind).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <random>

#include "cep/match_operator.h"

namespace sluice {
namespace {

class CountingOutput : public Output {
 public:
  Status emit(BatchPtr batch) override {
    rows += batch->num_rows;
    return Status::ok();
  }
  Status emit_watermark(Micros) override { return Status::ok(); }
  size_t rows = 0;
};

SchemaPtr schema() {
  return make_schema({{"user_id", TypeId::kInt64, false},
                      {"ts", TypeId::kTimestamp, false},
                      {"kind", TypeId::kString, false},
                      {"amount", TypeId::kFloat64, true},
                      {"new_device", TypeId::kBool, false}});
}

std::shared_ptr<MatchRecognizeOperatorSpec> make_spec(const char* pattern, cep::Contiguity contiguity) {
  MatchRecognizeConfig c;
  c.matcher.pattern = cep::compile_pattern(pattern).value();
  c.matcher.contiguity = contiguity;
  c.matcher.within = 10 * 60 * kMicrosPerSecond;
  c.input_schema = schema();
  c.partition_columns = {0};
  c.time_column = 1;
  auto kind = make_column_ref(2, TypeId::kString, "kind");
  auto amount = make_column_ref(3, TypeId::kFloat64, "amount");
  auto failed = make_call("=", {kind, make_literal(Value::string("login_failed"))}).value();
  auto purchase = make_and({make_call("=", {kind, make_literal(Value::string("purchase"))}).value(),
                            make_call(">", {amount, make_literal(Value::float64(1000))}).value(),
                            make_column_ref(4, TypeId::kBool, "new_device")})
                      .value();
  for (const auto& v : c.matcher.pattern.variables) c.defines.push_back(v == "F" ? failed : purchase);
  c.arguments = {make_column_ref(1, TypeId::kTimestamp, "ts"), amount};
  c.matcher.aggregates = {{cep::MeasureKind::kFirst, 0, 0, TypeId::kTimestamp},
                          {cep::MeasureKind::kLast, 1, 1, TypeId::kFloat64},
                          {cep::MeasureKind::kCount, 0, -1, TypeId::kNull}};
  c.output_schema = match_output_schema(*c.input_schema, c.partition_columns, c.matcher.aggregates, true);
  c.emit_time = true;
  return std::make_shared<MatchRecognizeOperatorSpec>(c);
}

std::vector<BatchPtr> make_batches(size_t batches) {
  std::mt19937_64 rng(1);
  std::vector<BatchPtr> out;
  Micros t = 0;
  for (size_t b = 0; b < batches; ++b) {
    auto batch = make_batch(schema());
    for (size_t r = 0; r < 4096; ++r) {
      t += 1000;
      batch->columns[0].append_int(static_cast<int64_t>(rng() % 10000));
      batch->columns[1].append_int(t);
      const uint64_t k = rng() % 10;
      batch->columns[2].append_string(k < 6 ? "login_failed" : (k < 9 ? "login_ok" : "purchase"));
      batch->columns[3].append_double(static_cast<double>(rng() % 2000));
      batch->columns[4].append_bool(rng() % 2 == 0);
      batch->num_rows++;
    }
    out.push_back(batch);
  }
  return out;
}

void run(benchmark::State& state, const char* pattern, cep::Contiguity contiguity) {
  const char* env = std::getenv("MATCH_BENCH_BATCHES");
  const auto batches = make_batches(env != nullptr ? static_cast<size_t>(std::atoi(env)) : 256);
  auto spec = make_spec(pattern, contiguity);
  size_t events = 0, matches = 0;
  for (auto _ : state) {
    auto op = spec->create();
    OperatorContext ctx;
    (void)op->open(ctx);
    CountingOutput out;
    for (const auto& b : batches) {
      (void)op->process(0, b, out);
      (void)op->on_watermark(b->column(1).int_at(b->num_rows - 1) + 1, out);
      events += b->num_rows;
    }
    (void)op->finish(out);
    matches += out.rows;
  }
  state.counters["events_per_s"] = benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
  state.counters["matches"] = benchmark::Counter(static_cast<double>(matches) / static_cast<double>(state.iterations()));
}

void BM_FailedLoginsStrict(benchmark::State& state) { run(state, "F{5} P", cep::Contiguity::kStrict); }
void BM_FailedLoginsRelaxed(benchmark::State& state) { run(state, "F{5} P", cep::Contiguity::kRelaxed); }
void BM_LoopReluctantStrict(benchmark::State& state) { run(state, "F{3,}? P", cep::Contiguity::kStrict); }

BENCHMARK(BM_FailedLoginsStrict)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FailedLoginsRelaxed)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LoopReluctantStrict)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace sluice

BENCHMARK_MAIN();
