// User-defined aggregate functions registered from C++ and called from SQL: grouped and
// windowed (session windows merge their states), NULL handling, and misuse.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "common/serde.h"
#include "operators/aggregate_store.h"
#include "plan/physical_planner.h"
#include "runtime/job.h"
#include "sluice/udf.h"
#include "sql/compiler.h"

namespace sluice {
namespace {

struct Range {
  bool any = false;
  double lo = 0, hi = 0;
};

void register_value_range() {
  static bool done = false;
  if (done) return;
  done = true;
  Status s = api::register_aggregate_function<Range>(
      "value_range",
      [](Range& r, double v) {
        r.lo = r.any ? std::min(r.lo, v) : v;
        r.hi = r.any ? std::max(r.hi, v) : v;
        r.any = true;
      },
      [](Range& into, const Range& from) {
        if (!from.any) return;
        into.lo = into.any ? std::min(into.lo, from.lo) : from.lo;
        into.hi = into.any ? std::max(into.hi, from.hi) : from.hi;
        into.any = true;
      },
      [](const Range& r) -> std::optional<double> {
        if (!r.any) return std::nullopt;
        return r.hi - r.lo;
      });
  ASSERT_TRUE(s.is_ok()) << s.message();
  // NULL-aware UDAF: counts NULL arguments.
  s = api::register_aggregate_function<int64_t>(
      "count_nulls", [](int64_t& n, std::optional<int64_t> v) { n += v ? 0 : 1; },
      [](int64_t& into, const int64_t& from) { into += from; }, [](const int64_t& n) { return n; });
  ASSERT_TRUE(s.is_ok()) << s.message();
}

std::string run(const std::string& sql_template, const std::string& input, int parallelism) {
  auto dir = std::filesystem::temp_directory_path() / ("udaf-" + std::to_string(::getpid()) + "-" + std::to_string(parallelism));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "in.jsonl") << input;
  std::string sql = sql_template;
  for (size_t pos; (pos = sql.find("{DIR}")) != std::string::npos;) sql.replace(pos, 5, dir.string());
  auto job = compile_sql(sql, "udaf.sql");
  EXPECT_TRUE(job.is_ok()) << job.status().message();
  if (!job.is_ok()) return "";
  PlanOptions po;
  po.parallelism = parallelism;
  po.batch_size = 2;
  auto plan = plan_job(job.value(), po);
  EXPECT_TRUE(plan.is_ok()) << plan.status().message();
  Job j(std::move(plan.value().job));
  Status s = j.run();
  EXPECT_TRUE(s.is_ok()) << s.message();
  std::stringstream out;
  out << std::ifstream(dir / "out.jsonl").rdbuf();
  std::filesystem::remove_all(dir);
  return out.str();
}

TEST(UserAggregateTest, GroupedUdafCalledFromSql) {
  register_value_range();
  std::string out = run(R"(
    CREATE TABLE t (k TEXT, v DOUBLE PRECISION, n BIGINT) WITH (connector = 'file', path = '{DIR}/in.jsonl');
    CREATE TABLE out (k TEXT, r DOUBLE PRECISION, nulls BIGINT)
      WITH (connector = 'file', path = '{DIR}/out.jsonl', changelog = 'true');
    INSERT INTO out SELECT k, value_range(v), count_nulls(n) FROM t GROUP BY k;)",
                        "{\"k\": \"a\", \"v\": 3, \"n\": 1}\n{\"k\": \"a\", \"v\": 10, \"n\": null}\n{\"k\": \"b\", \"v\": null, \"n\": null}\n",
                        1);
  // A running result: the last value emitted per key is the final one.
  EXPECT_NE(out.find("\"k\":\"a\",\"r\":7,\"nulls\":1}"), std::string::npos) << out;
  EXPECT_NE(out.find("\"k\":\"b\",\"r\":null,\"nulls\":1}"), std::string::npos) << out;
}

TEST(UserAggregateTest, SessionWindowsMergeUdafStatesAtAnyParallelism) {
  register_value_range();
  // Key x: 0s (v=1) and 50s (v=5) are two sessions until 25s (v=20) bridges them.
  std::string input =
      "{\"k\": \"x\", \"v\": 1, \"ts\": 0}\n{\"k\": \"x\", \"v\": 5, \"ts\": 50000}\n{\"k\": \"x\", \"v\": 20, \"ts\": 25000}\n"
      "{\"k\": \"y\", \"v\": 2, \"ts\": 1000}\n{\"k\": \"x\", \"v\": 0, \"ts\": 500000}\n";
  const char* sql = R"(
    CREATE TABLE t (k TEXT, v DOUBLE PRECISION, ts TIMESTAMP)
      WITH (connector = 'file', path = '{DIR}/in.jsonl', event_time = 'ts', watermark_delay = '1 minute');
    CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
    INSERT INTO out SELECT k, window_start, value_range(v) AS r
    FROM SESSION(t, ts, INTERVAL '30 seconds') GROUP BY k, window_start, window_end;)";
  std::string first = run(sql, input, 1);
  EXPECT_NE(first.find("{\"k\":\"x\",\"window_start\":\"1970-01-01T00:00:00Z\",\"r\":19}"), std::string::npos) << first;
  for (int p : {2, 4}) {
    std::string out = run(sql, input, p);
    std::multiset<std::string> a, b;
    std::istringstream sa(first), sb(out);
    for (std::string l; std::getline(sa, l);) a.insert(l);
    for (std::string l; std::getline(sb, l);) b.insert(l);
    EXPECT_EQ(a, b) << "parallelism " << p;
  }
}

TEST(UserAggregateTest, MisuseIsAClearError) {
  register_value_range();
  Status taken = api::register_aggregate_function<int64_t>(
      "sum", [](int64_t&, int64_t) {}, [](int64_t&, const int64_t&) {}, [](const int64_t& n) { return n; });
  EXPECT_FALSE(taken.is_ok());
  EXPECT_NE(taken.message().find("built-in"), std::string::npos);
  auto job = compile_sql(R"(
    CREATE TABLE t (k TEXT, s TEXT) WITH (connector = 'file', path = '/dev/null');
    CREATE TABLE out () WITH (connector = 'console');
    INSERT INTO out SELECT k, value_range(s) FROM t GROUP BY k;)",
                         "bad.sql");
  ASSERT_FALSE(job.is_ok());
  EXPECT_NE(job.status().message().find("value_range(TEXT) does not exist"), std::string::npos) << job.status().message();
}

// ------------------------------------------------------------------ checkpoints

// The distinct words of a group: a State that is not trivially copyable.
struct Words {
  std::set<std::string> words;
};

void register_word_udafs() {
  static bool done = false;
  if (done) return;
  done = true;
  auto accumulate = [](Words& w, std::string_view v) { w.words.emplace(v); };
  auto merge = [](Words& into, const Words& from) { into.words.insert(from.words.begin(), from.words.end()); };
  auto finish = [](const Words& w) {
    std::string out;
    for (const auto& x : w.words) {
      if (!out.empty()) out += ' ';
      out += x;
    }
    return out;
  };
  Status s = api::register_aggregate_function<Words>("words_no_checkpoint", accumulate, merge, finish);
  ASSERT_TRUE(s.is_ok()) << s.message();
  s = api::register_aggregate_function<Words>(
      "words", accumulate, merge, finish,
      [](const Words& w, std::string& out) {
        ByteWriter writer(&out);
        writer.varint(w.words.size());
        for (const auto& x : w.words) writer.str(x);
      },
      [](std::string_view in, Words& w) -> Status {
        ByteReader reader(in);
        const uint64_t n = reader.count(1);
        for (uint64_t i = 0; i < n && reader.ok(); ++i) w.words.emplace(reader.str());
        if (reader.ok() && !reader.at_end()) reader.fail();
        return reader.status("words state");
      });
  ASSERT_TRUE(s.is_ok()) << s.message();
}

// A store with one UDAF aggregate over column 0 (the UDAF's argument type).
AggregateStore udaf_store(const char* name) {
  const AggregateFunctionDef* def = AggregateFunctionRegistry::global().find(name);
  EXPECT_NE(def, nullptr) << name;
  AggregateSpec spec;
  spec.kind = AggKind::kUser;
  spec.input = 0;
  spec.input_type = def->arg_type;
  spec.result_type = def->return_type;
  spec.user = def;
  return AggregateStore({spec});
}

RecordBatch one_column(TypeId type, const std::vector<std::optional<std::string>>& values) {
  RecordBatch b(make_schema({{"x", type, true}}));
  for (const auto& v : values) {
    if (!v) {
      b.columns[0].append_null();
    } else if (type == TypeId::kString) {
      b.columns[0].append_string(*v);
    } else if (type == TypeId::kFloat64) {
      b.columns[0].append_double(std::stod(*v));
    } else {
      b.columns[0].append_int(std::stoll(*v));
    }
  }
  b.num_rows = values.size();
  return b;
}

// Updates slot 0 with `batch`, checkpoints it, restores into a new store, then updates both
// with `more`: returns the two results (original, restored).
std::pair<std::string, std::string> checkpoint_and_continue(const char* udaf, const RecordBatch& batch,
                                                            const RecordBatch& more) {
  AggregateStore original = udaf_store(udaf);
  uint32_t slot = original.allocate();
  std::vector<uint32_t> rows(batch.num_rows), slots(batch.num_rows, slot);
  for (uint32_t r = 0; r < rows.size(); ++r) rows[r] = r;
  original.update(batch, rows.data(), slots.data(), rows.size());
  std::string why;
  EXPECT_TRUE(original.checkpointable(&why)) << why;
  std::string bytes;
  ByteWriter w(&bytes);
  original.serialize_slot(slot, w);

  AggregateStore restored = udaf_store(udaf);
  uint32_t restored_slot = restored.allocate();
  ByteReader r(bytes);
  Status s = restored.deserialize_slot(r, restored_slot);
  EXPECT_TRUE(s.is_ok()) << s.message();
  std::vector<uint32_t> more_rows(more.num_rows), more_slots(more.num_rows, slot);
  for (uint32_t k = 0; k < more_rows.size(); ++k) more_rows[k] = k;
  original.update(more, more_rows.data(), more_slots.data(), more_rows.size());
  restored.update(more, more_rows.data(), more_slots.data(), more_rows.size());
  Column a(original.specs()[0].result_type), b(original.specs()[0].result_type);
  original.append_result(0, slot, a);
  restored.append_result(0, restored_slot, b);
  return {a.value_to_string(0), b.value_to_string(0)};
}

TEST(UserAggregateTest, TriviallyCopyableStateIsCheckpointedAutomatically) {
  register_value_range();
  const AggregateFunctionDef* def = AggregateFunctionRegistry::global().find("value_range");
  ASSERT_NE(def, nullptr);
  EXPECT_TRUE(def->serialize && def->deserialize);
  auto [original, restored] = checkpoint_and_continue("value_range", one_column(TypeId::kFloat64, {"3", "10", std::nullopt}),
                                                      one_column(TypeId::kFloat64, {"-2", "4"}));
  EXPECT_EQ(original, "12");
  EXPECT_EQ(restored, original);
  auto [n_original, n_restored] = checkpoint_and_continue("count_nulls", one_column(TypeId::kInt64, {std::nullopt, "1"}),
                                                          one_column(TypeId::kInt64, {std::nullopt}));
  EXPECT_EQ(n_original, "2");
  EXPECT_EQ(n_restored, n_original);

  // Bytes of another size (the State type changed) are refused.
  auto state = def->create();
  Status s = def->deserialize(std::string_view("abc", 3), *state);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("value_range"), std::string::npos) << s.message();
}

TEST(UserAggregateTest, OtherStatesNeedSerializeToBeCheckpointed) {
  register_word_udafs();
  const AggregateFunctionDef* plain = AggregateFunctionRegistry::global().find("words_no_checkpoint");
  ASSERT_NE(plain, nullptr);
  EXPECT_FALSE(plain->serialize || plain->deserialize);
  AggregateStore store = udaf_store("words_no_checkpoint");
  std::string why;
  EXPECT_FALSE(store.checkpointable(&why));
  EXPECT_EQ(why, "aggregate function 'words_no_checkpoint' has no serialize/deserialize; it cannot be checkpointed");

  auto [original, restored] = checkpoint_and_continue("words", one_column(TypeId::kString, {"b", "a", std::nullopt, "b"}),
                                                      one_column(TypeId::kString, {"c", "a"}));
  EXPECT_EQ(original, "a b c");
  EXPECT_EQ(restored, original);
}

TEST(UserAggregateTest, AFailingDeserializeIsDataLossNamingTheFunction) {
  register_word_udafs();
  AggregateStore store = udaf_store("words");
  uint32_t slot = store.allocate();
  // A slot image whose UDAF bytes claim 5 words but hold none.
  std::string bytes;
  ByteWriter w(&bytes);
  w.u8(static_cast<uint8_t>(AggKind::kUser));
  w.u8(static_cast<uint8_t>(TypeId::kString));
  w.u8(1);
  w.str(std::string("\x05", 1));
  ByteReader r(bytes);
  Status s = store.deserialize_slot(r, slot);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("'words'"), std::string::npos) << s.message();
}

TEST(UserAggregateTest, SerializeWithoutDeserializeIsRefused) {
  AggregateFunctionDef def;
  def.name = "half_hooks";
  def.arg_type = TypeId::kInt64;
  def.return_type = TypeId::kInt64;
  def.create = [] { return std::make_unique<api::udf_internal::AggregateHolder<int64_t>>(); };
  def.accumulate = [](AggregateState* const*, const Column&, const uint32_t*, size_t) {};
  def.merge = [](AggregateState&, const AggregateState&) {};
  def.finish = [](const AggregateState&, Column& out) { out.append_int(0); };
  def.serialize = [](const AggregateState&, std::string&) {};
  Status s = AggregateFunctionRegistry::global().add(std::move(def));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("serialize and deserialize go together"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace sluice
