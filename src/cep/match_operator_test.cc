// MatchRecognizeOperator end to end at the operator level: random partitioned streams
// with disorder (within the watermark delay) against the brute-force reference at
// parallelism 1 and 4 and several batch sizes; emit times against the watermarks; and
// checkpoint/restore mid-stream (same and other parallelism, incremental RocksDB).
#include "cep/match_operator.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include <fmt/format.h>

#include "cep/reference_matcher.h"
#include "operators/checkpoint_test_util.h"

namespace sluice {
namespace {

using cep::MeasureAggregate;
using cep::MeasureKind;

// Input: user BIGINT, ts TIMESTAMP, kind TEXT, amount BIGINT (nullable), note TEXT.
SchemaPtr input_schema() {
  return make_schema({{"user", TypeId::kInt64, false},
                      {"ts", TypeId::kTimestamp, false},
                      {"kind", TypeId::kString, false},
                      {"amount", TypeId::kInt64, true},
                      {"note", TypeId::kString, true}});
}

struct Event {
  int64_t user;
  Micros ts;
  std::string kind;
  std::optional<int64_t> amount;
  std::string note;
};

// The DEFINEs: A: kind = 'A'; B: kind = 'B'; C: amount > 30 (NULL: not satisfied).
uint64_t variables_of(const Event& e) {
  return (e.kind == "A" ? 1u : 0u) | (e.kind == "B" ? 2u : 0u) | (e.amount && *e.amount > 30 ? 4u : 0u);
}

std::vector<ExprPtr> defines() {
  auto kind = make_column_ref(2, TypeId::kString, "kind");
  auto amount = make_column_ref(3, TypeId::kInt64, "amount");
  return {make_call("=", {kind, make_literal(Value::string("A"))}).value(),
          make_call("=", {kind, make_literal(Value::string("B"))}).value(),
          make_call(">", {amount, make_literal(Value::int64(30))}).value()};
}

// Arguments: amount, note, amount * 1.5 (DOUBLE).
std::vector<ExprPtr> arguments() {
  auto amount = make_column_ref(3, TypeId::kInt64, "amount");
  return {amount, make_column_ref(4, TypeId::kString, "note"),
          make_call("*", {amount, make_literal(Value::float64(1.5))}).value()};
}

std::vector<MeasureAggregate> aggregates(size_t variables) {
  const int last = static_cast<int>(variables) - 1;
  return {{MeasureKind::kCount, -1, -1, TypeId::kNull},   {MeasureKind::kFirst, 0, 0, TypeId::kInt64},
          {MeasureKind::kLast, -1, 1, TypeId::kString},   {MeasureKind::kSum, -1, 0, TypeId::kInt64},
          {MeasureKind::kAvg, last, 2, TypeId::kFloat64}, {MeasureKind::kMin, -1, 1, TypeId::kString},
          {MeasureKind::kMax, last, 0, TypeId::kInt64},   {MeasureKind::kCount, 0, 1, TypeId::kString},
          {MeasureKind::kSum, 0, 2, TypeId::kFloat64}};
}

std::shared_ptr<MatchRecognizeOperatorSpec> make_spec(const std::string& pattern, cep::Contiguity contiguity,
                                                      cep::SkipKind skip, Micros within, size_t batch_size) {
  MatchRecognizeConfig c;
  c.matcher.pattern = cep::compile_pattern(pattern).value();
  c.matcher.contiguity = contiguity;
  c.matcher.skip = skip;
  if (skip == cep::SkipKind::kToFirst || skip == cep::SkipKind::kToLast) c.matcher.skip_variable = 0;
  c.matcher.within = within;
  c.matcher.max_partial_matches = 1000000;
  c.input_schema = input_schema();
  c.partition_columns = {0};
  c.time_column = 1;
  // Pattern variables are numbered by first appearance: map each to its DEFINE.
  auto all = defines();
  for (const auto& v : c.matcher.pattern.variables) c.defines.push_back(all[static_cast<size_t>(v[0] - 'A')]);
  c.arguments = arguments();
  c.matcher.aggregates = aggregates(c.matcher.pattern.variables.size());
  EXPECT_TRUE(cep::validate(c.matcher).is_ok());
  c.emit_time = true;
  c.batch_size = batch_size;
  c.output_schema = match_output_schema(*c.input_schema, c.partition_columns, c.matcher.aggregates, true);
  auto spec = std::make_shared<MatchRecognizeOperatorSpec>(c);
  spec->id = "match-1";
  return spec;
}

struct Stream {
  std::vector<Event> events;  // in arrival order
  std::vector<testing_checkpoint::Step> steps;
};

// Events of `users` users in arrival order: event times shuffled within `delay`; after
// every `batch` events a batch and the watermark max(ts) - delay.
Stream make_stream(std::mt19937_64& rng, size_t n, int users, Micros delay, size_t batch) {
  std::vector<std::pair<Micros, Event>> keyed;
  Micros t = 1000;
  for (size_t i = 0; i < n; ++i) {
    t += static_cast<Micros>(rng() % 4);
    Event e;
    e.user = static_cast<int64_t>(rng() % static_cast<uint64_t>(users));
    e.ts = t;
    e.kind = std::string(1, static_cast<char>('A' + rng() % 3));
    if (rng() % 6 != 0) e.amount = static_cast<int64_t>(rng() % 60);
    e.note = std::string(1 + rng() % 2, static_cast<char>('p' + rng() % 4));
    keyed.push_back({t + static_cast<Micros>(rng() % static_cast<uint64_t>(delay)), e});
  }
  std::stable_sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  Stream s;
  Micros max_ts = kMinWatermark, last_wm = kMinWatermark;
  MutableBatchPtr b;
  for (size_t i = 0; i < keyed.size(); ++i) {
    const Event& e = keyed[i].second;
    s.events.push_back(e);
    if (!b) b = make_batch(input_schema());
    b->columns[0].append_int(e.user);
    b->columns[1].append_int(e.ts);
    b->columns[2].append_string(e.kind);
    if (e.amount) {
      b->columns[3].append_int(*e.amount);
    } else {
      b->columns[3].append_null();
    }
    b->columns[4].append_string(e.note);
    b->num_rows++;
    max_ts = std::max(max_ts, e.ts);
    if (b->num_rows == batch || i + 1 == keyed.size()) {
      s.steps.push_back({b, std::nullopt});
      b.reset();
      if (max_ts - delay > last_wm) {
        last_wm = max_ts - delay;
        s.steps.push_back({nullptr, last_wm});
      }
    }
  }
  return s;
}

// The reference's output rows ("user, number, classifier, start, end, aggregates...").
std::vector<std::string> expected_rows(const MatchRecognizeOperatorSpec& spec, const std::vector<Event>& events) {
  const auto& c = spec.config();
  std::map<int64_t, std::vector<Event>> by_user;  // stable: arrival order within equal times
  for (const auto& e : events) by_user[e.user].push_back(e);
  std::vector<std::string> out;
  for (auto& [user, rows] : by_user) {
    std::stable_sort(rows.begin(), rows.end(), [](const Event& a, const Event& b) { return a.ts < b.ts; });
    std::vector<cep::reference::Row> ref_rows;
    RecordBatch in(input_schema());
    for (const auto& e : rows) {
      uint64_t mask = 0;
      const uint64_t all = variables_of(e);
      for (size_t v = 0; v < c.matcher.pattern.variables.size(); ++v) {
        mask |= ((all >> (c.matcher.pattern.variables[v][0] - 'A')) & 1) << v;
      }
      ref_rows.push_back({e.ts, mask});
      in.columns[0].append_int(e.user);
      in.columns[1].append_int(e.ts);
      in.columns[2].append_string(e.kind);
      if (e.amount) {
        in.columns[3].append_int(*e.amount);
      } else {
        in.columns[3].append_null();
      }
      in.columns[4].append_string(e.note);
      in.num_rows++;
    }
    RecordBatch args;
    EvalScratch scratch;
    for (const auto& a : c.arguments) args.columns.push_back(a->eval(in, scratch));
    cep::reference::ReferenceMatcher ref(c.matcher);
    int64_t number = 0;
    for (const auto& m : ref.run(ref_rows)) {
      RecordBatch row(match_output_schema(*c.input_schema, c.partition_columns, c.matcher.aggregates, false));
      row.columns[0].append_int(user);
      row.columns[1].append_int(++number);
      row.columns[2].append_string(c.matcher.pattern.variables[static_cast<size_t>(m.rows.back().second)]);
      row.columns[3].append_int(rows[m.start].ts);
      row.columns[4].append_int(rows[m.rows.back().first].ts);
      for (size_t i = 0; i < c.matcher.aggregates.size(); ++i) {
        cep::reference::reference_aggregate(c.matcher.aggregates[i], m, args, row.columns[5 + i]);
      }
      row.num_rows = 1;
      out.push_back(row.row_to_string(0));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Runs the instances like a hash exchange would feed them and checks each output row's
// emit time against the watermarks around it.
class Checked : public Output {
 public:
  Status emit(BatchPtr batch) override {
    const size_t emit_col = batch->columns.size() - 1;
    for (size_t r = 0; r < batch->num_rows; ++r) {
      const Micros t = batch->column(emit_col).int_at(r);
      EXPECT_GT(t, last_watermark) << "a match row at or below a watermark already forwarded";
      pending.push_back(t);
      RecordBatch visible(make_schema(std::vector<Field>(batch->schema->fields().begin(), batch->schema->fields().end() - 1)));
      for (size_t c = 0; c < emit_col; ++c) visible.columns[c].append_from(batch->column(c), r);
      visible.num_rows = 1;
      rows.push_back(visible.row_to_string(0));
    }
    return Status::ok();
  }
  Status emit_watermark(Micros wm) override {
    for (Micros t : pending) EXPECT_LE(t, wm) << "a match row above the watermark that follows it";
    pending.clear();
    last_watermark = wm;
    return Status::ok();
  }
  std::vector<std::string> rows;
  std::vector<Micros> pending;
  Micros last_watermark = kMinWatermark;
};

std::vector<std::string> run(const MatchRecognizeOperatorSpec& spec, const Stream& s, int parallelism) {
  std::vector<std::unique_ptr<Operator>> ops;
  std::vector<OperatorMetrics> metrics(static_cast<size_t>(parallelism));
  std::vector<Checked> outs(static_cast<size_t>(parallelism));
  for (int i = 0; i < parallelism; ++i) {
    ops.push_back(spec.create());
    OperatorContext ctx;
    ctx.instance = i;
    ctx.parallelism = parallelism;
    ctx.metrics = &metrics[static_cast<size_t>(i)];
    EXPECT_TRUE(ops.back()->open(ctx).is_ok());
  }
  for (const auto& step : s.steps) {
    if (step.watermark) {
      for (int i = 0; i < parallelism; ++i) EXPECT_TRUE(ops[i]->on_watermark(*step.watermark, outs[i]).is_ok());
      continue;
    }
    std::vector<std::vector<uint32_t>> parts(static_cast<size_t>(parallelism));
    for (size_t r = 0; r < step.batch->num_rows; ++r) {
      uint64_t hash = hash_combine(0, step.batch->column(0).hash_row(r));
      parts[static_cast<size_t>(instance_of_key_group(key_group_of(hash), parallelism))].push_back(static_cast<uint32_t>(r));
    }
    for (int i = 0; i < parallelism; ++i) {
      if (parts[i].empty()) continue;
      auto part = make_batch(step.batch->schema);
      part->append_gather(*step.batch, parts[i].data(), parts[i].size());
      Status st = ops[i]->process(0, part, outs[i]);
      EXPECT_TRUE(st.is_ok()) << st.to_string();
    }
  }
  std::vector<std::string> all;
  for (int i = 0; i < parallelism; ++i) {
    EXPECT_TRUE(ops[i]->finish(outs[i]).is_ok());
    EXPECT_EQ(metrics[static_cast<size_t>(i)].late->value(), 0u);
    all.insert(all.end(), outs[i].rows.begin(), outs[i].rows.end());
  }
  std::sort(all.begin(), all.end());
  return all;
}

TEST(MatchRecognizeOperator, MatchesTheReferenceOverDisorderedPartitionedStreams) {
  std::mt19937_64 rng(7);
  size_t total = 0;
  int configs = 0;
  for (int iteration = 0; iteration < 120; ++iteration) {
    std::string pattern = cep::reference::random_sequence(rng, 0);
    if (!cep::compile_pattern(pattern).is_ok()) continue;
    const auto contiguity = rng() % 2 ? cep::Contiguity::kRelaxed : cep::Contiguity::kStrict;
    const auto skip = static_cast<cep::SkipKind>(rng() % 4);
    const Micros within = rng() % 4 == 0 ? 0 : static_cast<Micros>(5 + rng() % 25);
    const size_t n = 150 + rng() % 150;
    const int users = 1 + static_cast<int>(rng() % 9);
    const Micros delay = 1 + static_cast<Micros>(rng() % 12);
    std::vector<std::string> expected;
    bool first = true;
    for (size_t batch : {size_t{1}, size_t{7}, size_t{64}, size_t{1000}}) {
      std::mt19937_64 stream_rng(static_cast<uint64_t>(iteration));
      Stream s = make_stream(stream_rng, n, users, delay, batch);
      auto spec = make_spec(pattern, contiguity, skip, within, batch);
      if (first) {
        expected = expected_rows(*spec, s.events);
        first = false;
      }
      for (int parallelism : {1, 4}) {
        ASSERT_EQ(run(*spec, s, parallelism), expected)
            << "pattern '" << pattern << "' batch " << batch << " parallelism " << parallelism << " within " << within
            << " skip " << static_cast<int>(skip) << (contiguity == cep::Contiguity::kRelaxed ? " relaxed" : " strict");
      }
    }
    total += expected.size();
    ++configs;
  }
  EXPECT_GT(configs, 70);
  EXPECT_GT(total, 2000u);
}

TEST(MatchRecognizeOperator, RowsBehindTheWatermarkAreCountedLate) {
  auto spec = make_spec("A B", cep::Contiguity::kStrict, cep::SkipKind::kPastLastRow, 0, 100);
  auto op = spec->create();
  OperatorMetrics metrics;
  OperatorContext ctx;
  ctx.metrics = &metrics;
  ASSERT_TRUE(op->open(ctx).is_ok());
  Checked out;
  ASSERT_TRUE(op->on_watermark(100, out).is_ok());
  auto b = make_batch(input_schema());
  for (Micros t : {99, 100}) {
    b->columns[0].append_int(1);
    b->columns[1].append_int(t);
    b->columns[2].append_string("A");
    b->columns[3].append_null();
    b->columns[4].append_null();
    b->num_rows++;
  }
  ASSERT_TRUE(op->process(0, b, out).is_ok());
  EXPECT_EQ(metrics.late->value(), 1u);
  EXPECT_EQ(op->state_entries(), 2);  // one partition, one buffered row
}

testing_checkpoint::Scenario scenario(uint64_t seed, const std::string& pattern, cep::Contiguity contiguity,
                                      cep::SkipKind skip, Micros within) {
  std::mt19937_64 rng(seed);
  Stream s = make_stream(rng, 600, 12, 8, 20);
  testing_checkpoint::Scenario sc;
  sc.spec = make_spec(pattern, contiguity, skip, within, 50);
  sc.in_key_columns = {0};
  sc.out_key_columns = {0};
  sc.steps = s.steps;
  return sc;
}

TEST(MatchRecognizeOperator, RestoreMidStreamContinuesExactly) {
  for (const char* backend : {"memory", "rocksdb"}) {
    testing_checkpoint::expect_restore_continues_exactly(
        scenario(1, "A B+ C?", cep::Contiguity::kStrict, cep::SkipKind::kPastLastRow, 20), backend);
    testing_checkpoint::expect_restore_continues_exactly(
        scenario(2, "A (B | C){2,4}? A", cep::Contiguity::kRelaxed, cep::SkipKind::kToNextRow, 30), backend);
    testing_checkpoint::expect_restore_continues_exactly(
        scenario(3, "A+ B", cep::Contiguity::kRelaxed, cep::SkipKind::kToLast, 0), backend);
  }
}

TEST(MatchRecognizeOperator, RescaleKeepsEveryPartition) {
  testing_checkpoint::expect_rescale_keeps_every_key(
      scenario(4, "A B* C", cep::Contiguity::kRelaxed, cep::SkipKind::kToFirst, 25), "memory");
  testing_checkpoint::expect_rescale_keeps_every_key(
      scenario(5, "(A | B)+ C", cep::Contiguity::kStrict, cep::SkipKind::kPastLastRow, 15), "rocksdb");
}

TEST(MatchRecognizeOperator, IncrementalCheckpointsRestoreExactly) {
  testing_checkpoint::expect_incremental_checkpoints_restore_exactly(
      scenario(6, "A C{1,3} B", cep::Contiguity::kRelaxed, cep::SkipKind::kPastLastRow, 20), 7);
}

}  // namespace
}  // namespace sluice
