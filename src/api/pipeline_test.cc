// The C++ pipeline builder, specified against the SQL front end: for each query, the
// builder's LogicalJob has the same structure as compile_sql's, EXPLAIN prints the same
// plan, and running both on the same input writes byte-identical output. Then: misuse
// comes back as a Status that names the step and what is wrong.
#include "sluice/pipeline.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <sqlite3.h>

#include <chrono>
#include <functional>

#include "api/api_test_util.h"
#include "sql/compiler.h"

namespace sluice::api {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;

// --------------------------------------------------------------------------- fixtures

const char* kSqlSources = R"(
CREATE TABLE clicks (user_id BIGINT, page TEXT, ts TIMESTAMP, amount DOUBLE PRECISION)
  WITH (connector = 'file', path = '{DIR}/clicks.jsonl', format = 'json',
        event_time = 'ts', watermark_delay = '2 seconds',
        dlq = '{DIR}/clicks.jsonl.dlq', late_output = '{DIR}/clicks.jsonl.late');
CREATE TABLE clicks2 (user_id BIGINT, page TEXT, ts TIMESTAMP, amount DOUBLE PRECISION)
  WITH (connector = 'file', path = '{DIR}/clicks2.jsonl', format = 'json',
        event_time = 'ts', watermark_delay = '2 seconds',
        dlq = '{DIR}/clicks2.jsonl.dlq', late_output = '{DIR}/clicks2.jsonl.late');
)";

std::vector<Field> click_columns() {
  return {field("user_id", TypeId::kInt64), field("page", TypeId::kString), field("ts", TypeId::kTimestamp),
          field("amount", TypeId::kFloat64)};
}

TableOptions click_options(const std::string& dir, const std::string& file) {
  return {{"connector", "file"}, {"path", dir + "/" + file}, {"format", "json"}, {"event_time", "ts"},
          {"watermark_delay", "2 seconds"}, {"dlq", dir + "/" + file + ".dlq"}, {"late_output", dir + "/" + file + ".late"}};
}

struct Sources {
  Stream clicks;
  Stream clicks2;
};

Sources declare_sources(Pipeline& p, const std::string& dir) {
  return {p.source("clicks", click_columns(), click_options(dir, "clicks.jsonl")),
          p.source("clicks2", click_columns(), click_options(dir, "clicks2.jsonl"))};
}

TableOptions file_sink(const std::string& dir) {
  return {{"connector", "file"}, {"path", dir + "/out.jsonl"}, {"format", "json"}};
}

std::string sqlite_rows(const std::string& path, const std::string& query) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) return "cannot open " + path;
  std::string out;
  auto cb = [](void* acc, int n, char** values, char**) -> int {
    auto* s = static_cast<std::string*>(acc);
    for (int i = 0; i < n; ++i) *s += std::string(values[i] ? values[i] : "NULL") + (i + 1 < n ? "|" : "\n");
    return 0;
  };
  char* err = nullptr;
  if (sqlite3_exec(db, query.c_str(), cb, &out, &err) != SQLITE_OK) {
    out = std::string("error: ") + (err ? err : "?");
    sqlite3_free(err);
  }
  sqlite3_close(db);
  return out;
}

struct EquivalenceCase {
  std::string name;
  std::string sql;  // after kSqlSources; {DIR} is the test directory
  std::function<void(Pipeline&, const Sources&, const std::string& dir)> build;
  // Reads what the job wrote.
  std::function<std::string(const std::string& dir)> output = [](const std::string& dir) {
    return testing::read_file(dir + "/out.jsonl");
  };
  bool ordered_at_any_parallelism = true;  // windowed aggregates without HAVING are
};

std::vector<EquivalenceCase> equivalence_cases() {
  std::vector<EquivalenceCase> cases;
  cases.push_back(
      {"TumbleWindowAggregateWithFilter",
       R"(CREATE TABLE per_page (window_start TIMESTAMP, window_end TIMESTAMP, page TEXT, clicks BIGINT,
            users BIGINT, total DOUBLE PRECISION, low DOUBLE PRECISION, high DOUBLE PRECISION, mean DOUBLE PRECISION)
            WITH (connector = 'file', path = '{DIR}/out.jsonl', format = 'json');
          INSERT INTO per_page
          SELECT window_start, window_end, page, COUNT(*) AS clicks, COUNT(DISTINCT user_id) AS users,
                 SUM(amount) AS total, MIN(amount) AS low, MAX(amount) AS high, AVG(amount) AS mean
          FROM TUMBLE(clicks, ts, INTERVAL '1 minute')
          WHERE page <> '/health'
          GROUP BY window_start, window_end, page;)",
       [](Pipeline& p, const Sources& s, const std::string& dir) {
         Table out = p.sink("per_page", file_sink(dir),
                            {field("window_start", TypeId::kTimestamp), field("window_end", TypeId::kTimestamp),
                             field("page", TypeId::kString), field("clicks", TypeId::kInt64),
                             field("users", TypeId::kInt64), field("total", TypeId::kFloat64),
                             field("low", TypeId::kFloat64), field("high", TypeId::kFloat64),
                             field("mean", TypeId::kFloat64)});
         s.clicks.filter(col("page") != "/health")
             .tumble("ts", 1min)
             .key_by("page")
             .aggregate(count().as("clicks"), count_distinct("user_id").as("users"), sum("amount").as("total"),
                        min("amount").as("low"), max("amount").as("high"), avg("amount").as("mean"))
             .to(out);
       }});
  cases.push_back(
      {"FilterAndProjectIntoInferredSink",
       R"(CREATE TABLE projected () WITH (connector = 'file', path = '{DIR}/out.jsonl', format = 'json');
          INSERT INTO projected
          SELECT user_id, upper(page) AS page_uc, ts, amount * 2 AS doubled
          FROM clicks WHERE user_id % 3 = 0 AND amount IS NOT NULL;)",
       [](Pipeline& p, const Sources& s, const std::string& dir) {
         Table out = p.sink("projected", file_sink(dir));
         s.clicks.filter(col("user_id") % 3 == 0)
             .filter(is_not_null(col("amount")))
             .select(col("user_id"), call("upper", col("page")).as("page_uc"), col("ts"),
                     (col("amount") * 2).as("doubled"))
             .to(out);
       }});
  cases.push_back(
      {"HopGlobalWindowAggregate",
       R"(CREATE TABLE hops () WITH (connector = 'file', path = '{DIR}/out.jsonl', format = 'json');
          INSERT INTO hops
          SELECT window_start, window_end, COUNT(*) AS n, SUM(amount) AS total
          FROM HOP(clicks, ts, INTERVAL '30 seconds', INTERVAL '1 minute')
          GROUP BY window_start, window_end;)",
       [](Pipeline& p, const Sources& s, const std::string& dir) {
         Table out = p.sink("hops", file_sink(dir));
         s.clicks.hop("ts", 30s, 1min).aggregate(count().as("n"), sum("amount").as("total")).to(out);
       }});
  cases.push_back(
      {"RunningAggregateIntoSqliteUpsert",
       R"(CREATE TABLE totals (page TEXT, c BIGINT, users BIGINT)
            WITH (connector = 'sqlite', path = '{DIR}/out.db', table = 'totals', primary_key = 'page');
          INSERT INTO totals SELECT page, COUNT(*) AS c, COUNT(DISTINCT user_id) AS users FROM clicks GROUP BY page;)",
       [](Pipeline& p, const Sources& s, const std::string& dir) {
         Table out = p.sink("totals",
                            {{"connector", "sqlite"}, {"path", dir + "/out.db"}, {"table", "totals"},
                             {"primary_key", "page"}},
                            {field("page", TypeId::kString), field("c", TypeId::kInt64), field("users", TypeId::kInt64)});
         s.clicks.key_by("page").aggregate(count().as("c"), count_distinct("user_id").as("users")).to(out);
       },
       [](const std::string& dir) {
         return sqlite_rows(dir + "/out.db", "SELECT page, c, users FROM totals ORDER BY page");
       }});
  cases.push_back(
      {"UnionOfTwoSourcesWindowed",
       R"(CREATE VIEW both_clicks AS SELECT * FROM clicks UNION ALL SELECT * FROM clicks2;
          CREATE TABLE per_minute () WITH (connector = 'file', path = '{DIR}/out.jsonl', format = 'json');
          INSERT INTO per_minute
          SELECT window_start, window_end, COUNT(*) AS n, MAX(amount) AS top
          FROM TUMBLE(both_clicks, ts, INTERVAL '1 minute') GROUP BY window_start, window_end;)",
       [](Pipeline& p, const Sources& s, const std::string& dir) {
         Table out = p.sink("per_minute", file_sink(dir));
         s.clicks.union_with(s.clicks2).tumble("ts", 1min).aggregate(count().as("n"), max("amount").as("top")).to(out);
       }});
  cases.push_back(
      {"HavingThenSelect",
       R"(CREATE TABLE busy () WITH (connector = 'file', path = '{DIR}/out.jsonl', format = 'json');
          INSERT INTO busy
          SELECT page, window_end, COUNT(*) AS clicks
          FROM TUMBLE(clicks, ts, INTERVAL '1 minute')
          GROUP BY window_start, window_end, page HAVING COUNT(*) > 3;)",
       [](Pipeline& p, const Sources& s, const std::string& dir) {
         Table out = p.sink("busy", file_sink(dir));
         s.clicks.tumble("ts", 1min)
             .key_by("page")
             .aggregate(count().as("clicks"))
             .filter(col("clicks") > 3)
             .select("page", "window_end", "clicks")
             .to(out);
       },
       [](const std::string& dir) { return testing::read_file(dir + "/out.jsonl"); }, false});
  cases.push_back(
      {"SqlTextFilterAndExpressionKey",
       R"(CREATE TABLE products () WITH (connector = 'file', path = '{DIR}/out.jsonl', format = 'json');
          INSERT INTO products
          SELECT window_start, window_end, lower(page) AS p, COUNT(*) AS n
          FROM TUMBLE(clicks, ts, INTERVAL '1 minute')
          WHERE page LIKE '/product/%' OR amount > 50
          GROUP BY window_start, window_end, lower(page);)",
       [](Pipeline& p, const Sources& s, const std::string& dir) {
         Table out = p.sink("products", file_sink(dir));
         s.clicks.filter(sql_expr("page LIKE '/product/%' OR amount > 50"))
             .tumble("ts", 1min)
             .key_by(call("lower", col("page")).as("p"))
             .aggregate(count().as("n"))
             .to(out);
       }});
  cases.push_back(
      {"SessionWindowsPerUser",
       R"(CREATE TABLE sessions () WITH (connector = 'file', path = '{DIR}/out.jsonl', format = 'json');
          INSERT INTO sessions
          SELECT window_start, window_end, user_id, COUNT(*) AS n
          FROM SESSION(clicks, ts, INTERVAL '10 seconds')
          GROUP BY window_start, window_end, user_id;)",
       [](Pipeline& p, const Sources& s, const std::string& dir) {
         Table out = p.sink("sessions", file_sink(dir));
         s.clicks.session("ts", 10s).key_by("user_id").aggregate(count().as("n")).to(out);
       }});
  cases.push_back(
      {"AssignmentCastsIntoDeclaredSink",
       R"(CREATE TABLE casted (page TEXT, n DOUBLE PRECISION, user_text TEXT)
            WITH (connector = 'file', path = '{DIR}/out.jsonl', format = 'json');
          INSERT INTO casted SELECT page, user_id, user_id FROM clicks WHERE page = '/cart';)",
       [](Pipeline& p, const Sources& s, const std::string& dir) {
         Table out = p.sink("casted", file_sink(dir),
                            {field("page", TypeId::kString), field("n", TypeId::kFloat64),
                             field("user_text", TypeId::kString)});
         s.clicks.filter(col("page") == "/cart").select("page", "user_id", "user_id").to(out);
       }});
  cases.push_back(
      {"JobLevelAllowedLatenessIntoUpsertSink",
       R"(SET allowed_lateness = '10 seconds';
          CREATE TABLE late_counts (window_start TIMESTAMP, window_end TIMESTAMP, n BIGINT)
            WITH (connector = 'sqlite', path = '{DIR}/out.db', table = 'late_counts', primary_key = 'window_start');
          INSERT INTO late_counts
          SELECT window_start, window_end, COUNT(*) AS n FROM TUMBLE(clicks, ts, INTERVAL '10 seconds')
          GROUP BY window_start, window_end;)",
       [](Pipeline& p, const Sources& s, const std::string& dir) {
         p.set_allowed_lateness(10s);
         Table out = p.sink("late_counts",
                            {{"connector", "sqlite"}, {"path", dir + "/out.db"}, {"table", "late_counts"},
                             {"primary_key", "window_start"}},
                            {field("window_start", TypeId::kTimestamp), field("window_end", TypeId::kTimestamp),
                             field("n", TypeId::kInt64)});
         s.clicks.tumble("ts", 10s).aggregate(count().as("n")).to(out);
       },
       [](const std::string& dir) {
         return sqlite_rows(dir + "/out.db", "SELECT window_start, window_end, n FROM late_counts ORDER BY 1");
       }});
  cases.push_back(
      {"TumbleWithoutAggregateAssignsWindows",
       R"(CREATE TABLE windowed () WITH (connector = 'file', path = '{DIR}/out.jsonl', format = 'json');
          INSERT INTO windowed SELECT * FROM TUMBLE(clicks, ts, INTERVAL '10 seconds') WHERE amount > 90;)",
       [](Pipeline& p, const Sources& s, const std::string& dir) {
         Table out = p.sink("windowed", file_sink(dir));
         s.clicks.tumble("ts", 10s).filter(col("amount") > 90).to(out);
       }});
  // Joins: clicks2's columns renamed (a name both streams have is ambiguous in join()). A
  // join's output order follows how its two inputs' batches interleave (it differs with the
  // batch size), so the rows are compared sorted.
  auto sorted_output = [](const std::string& dir) {
    std::istringstream in(testing::read_file(dir + "/out.jsonl"));
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    std::sort(lines.begin(), lines.end());
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
  };
  const char* kRenamed = "(SELECT user_id AS user_id2, page AS page2, ts AS ts2, amount AS amount2 FROM clicks2)";
  auto renamed = [](const Stream& s) {
    return s.select(col("user_id").as("user_id2"), col("page").as("page2"), col("ts").as("ts2"),
                    col("amount").as("amount2"));
  };
  cases.push_back(
      {"IntervalJoinOfTwoStreams",
       std::string(R"(CREATE TABLE joined () WITH (connector = 'file', path = '{DIR}/out.jsonl', format = 'json');
          INSERT INTO joined SELECT * FROM clicks a JOIN )") + kRenamed + R"( b
            ON a.user_id = b.user_id2 AND b.ts2 BETWEEN a.ts - INTERVAL '10' SECOND AND a.ts;)",
       [renamed](Pipeline& p, const Sources& s, const std::string& dir) {
         Table out = p.sink("joined", file_sink(dir));
         s.clicks.join(renamed(s.clicks2), col("user_id") == col("user_id2") && col("ts2") >= col("ts") - lit(Interval{10'000'000}) &&
                                               col("ts2") <= col("ts"))
             .to(out);
       },
       sorted_output, true});
  cases.push_back(
      {"InnerJoinOnAnExpressionKeyWithAResidual",
       std::string(R"(CREATE TABLE joined () WITH (connector = 'file', path = '{DIR}/out.jsonl', format = 'json');
          INSERT INTO joined SELECT a.user_id, a.page, b.page2, b.amount2 FROM clicks a JOIN )") + kRenamed +
           R"( b ON a.user_id + 1 = b.user_id2 AND a.amount < b.amount2 WHERE a.page = '/cart';)",
       [renamed](Pipeline& p, const Sources& s, const std::string& dir) {
         Table out = p.sink("joined", file_sink(dir));
         s.clicks.join(renamed(s.clicks2), col("user_id") + 1 == col("user_id2") && col("amount") < col("amount2"))
             .filter(col("page") == "/cart")
             .select("user_id", "page", "page2", "amount2")
             .to(out);
       },
       sorted_output, true});
  return cases;
}

class BuilderMatchesSql : public ::testing::TestWithParam<EquivalenceCase> {
 protected:
  void SetUp() override {
    testing::write_file(dir_.file("clicks.jsonl"), testing::clicks_jsonl(1500, 7));
    testing::write_file(dir_.file("clicks2.jsonl"), testing::clicks_jsonl(700, 11));
  }
  LogicalJob sql_job() {
    std::string text = testing::replace_all(std::string(kSqlSources) + GetParam().sql, "{DIR}", dir_.path());
    auto job = compile_sql(text, "case.sql");
    EXPECT_TRUE(job.is_ok()) << job.status().message();
    return job.is_ok() ? job.value() : LogicalJob();
  }
  LogicalJob cpp_job() {
    Pipeline p;
    GetParam().build(p, declare_sources(p, dir_.path()), dir_.path());
    auto job = p.build();
    EXPECT_TRUE(job.is_ok()) << job.status().message();
    return job.is_ok() ? job.value() : LogicalJob();
  }
  // Runs a job from a clean output state and returns what it wrote.
  std::string run(const LogicalJob& job, int parallelism, size_t batch_size) {
    std::filesystem::remove(dir_.file("out.jsonl"));
    std::filesystem::remove(dir_.file("out.db"));
    Status s = testing::run_logical_job(job, parallelism, batch_size);
    EXPECT_TRUE(s.is_ok()) << s.message();
    return GetParam().output(dir_.path());
  }
  TempDir dir_;
};

TEST_P(BuilderMatchesSql, BuildsTheSameLogicalPlan) {
  EXPECT_EQ(testing::dump_job(cpp_job()), testing::dump_job(sql_job()));
}

TEST_P(BuilderMatchesSql, ExplainsTheSamePhysicalPlan) {
  LogicalJob sql = sql_job(), cpp = cpp_job();
  for (int parallelism : {1, 3}) {
    auto a = testing::explain_logical_job(sql, parallelism);
    auto b = testing::explain_logical_job(cpp, parallelism);
    ASSERT_TRUE(a.is_ok()) << a.status().message();
    ASSERT_TRUE(b.is_ok()) << b.status().message();
    EXPECT_EQ(b.value(), a.value()) << "parallelism " << parallelism;
  }
}

TEST_P(BuilderMatchesSql, WritesByteIdenticalOutput) {
  LogicalJob sql = sql_job(), cpp = cpp_job();
  std::string expected = run(sql, 1, 4096);
  EXPECT_FALSE(expected.empty());
  EXPECT_EQ(run(cpp, 1, 4096), expected);
  EXPECT_EQ(run(cpp, 1, 17), expected);
  if (GetParam().ordered_at_any_parallelism) {
    EXPECT_EQ(run(cpp, 3, 64), expected);
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, BuilderMatchesSql, ::testing::ValuesIn(equivalence_cases()),
                         [](const ::testing::TestParamInfo<EquivalenceCase>& info) { return info.param.name; });

// --------------------------------------------------------------------------- running

TEST(PipelineRun, RunsAJobAndReportsCounts) {
  TempDir dir;
  testing::write_file(dir.file("clicks.jsonl"), testing::clicks_jsonl(300, 3) + "{\"user_id\": oops}\n");
  Pipeline p;
  Stream clicks = p.source("clicks", click_columns(), click_options(dir.path(), "clicks.jsonl"));
  Table out = p.sink("out", file_sink(dir.path()));
  clicks.tumble("ts", 1min).aggregate(count().as("n")).to(out);
  auto summary = p.run();
  ASSERT_TRUE(summary.is_ok()) << summary.status().message();
  EXPECT_EQ(summary.value().records_in, 301u);
  EXPECT_EQ(summary.value().dead_lettered, 1u);
  EXPECT_NE(summary.value().explain.find("window_aggregate"), std::string::npos);
  EXPECT_FALSE(testing::read_file(dir.file("out.jsonl")).empty());
}

TEST(PipelineRun, SettingsBecomeTheDefaultRunOptions) {
  TempDir dir;
  testing::write_file(dir.file("clicks.jsonl"), "");
  Pipeline p;
  p.set_parallelism(4).set_batch_size(128);
  Stream clicks = p.source("clicks", click_columns(), click_options(dir.path(), "clicks.jsonl"));
  clicks.key_by("page").aggregate(count()).to(p.sink("out", {{"connector", "sqlite"}, {"path", dir.file("o.db")},
                                                             {"primary_key", "page"}}));
  auto plan = p.explain();
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();
  EXPECT_NE(plan.value().find("group_aggregate (parallelism 4)"), std::string::npos) << plan.value();
  EXPECT_NE(plan.value().find("batch size 128"), std::string::npos) << plan.value();
  auto job = p.build();
  ASSERT_TRUE(job.is_ok());
  EXPECT_EQ(job.value().settings.values.at("parallelism"), "4");
}

TEST(PipelineRun, StreamSchemaShowsTheColumnsOfTheNextStep) {
  Pipeline p;
  Stream s = p.source("clicks", click_columns(), click_options("/tmp", "x.jsonl"))
                 .tumble("ts", 1min)
                 .key_by("page")
                 .aggregate(count().as("clicks"), avg("amount"));
  auto schema = s.schema();
  ASSERT_TRUE(schema.is_ok()) << schema.status().message();
  EXPECT_EQ(schema.value()->to_string(),
            "(window_start TIMESTAMP, window_end TIMESTAMP, page TEXT, clicks BIGINT, avg DOUBLE)");
}

// --------------------------------------------------------------------------- misuse

class PipelineMisuse : public ::testing::Test {
 protected:
  Stream clicks() { return p_.source("clicks", click_columns(), click_options("/tmp", "clicks.jsonl")); }
  Pipeline p_;
};

TEST_F(PipelineMisuse, UnknownColumnNamesTheStepAndTheKnownColumns) {
  Stream s = clicks().filter(col("pricee") > 10);
  EXPECT_EQ(s.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(s.status().message(), "filter((pricee > 10)): unknown column 'pricee' (columns: user_id, page, ts, amount)");
  s.to(p_.sink("out", {{"connector", "console"}}));
  auto job = p_.build();
  ASSERT_FALSE(job.is_ok());
  EXPECT_EQ(job.status().message(), s.status().message());
}

TEST_F(PipelineMisuse, OperatorOnWrongTypesIsATypeError) {
  Stream s = clicks().select((col("page") * 2).as("x"));
  EXPECT_EQ(s.status().code(), StatusCode::kTypeError);
  EXPECT_EQ(s.status().message(), "select((page * 2) AS x): operator * cannot be applied to TEXT and BIGINT");
}

TEST_F(PipelineMisuse, FilterMustBeBoolean) {
  Stream s = clicks().filter(col("user_id") + 1);
  EXPECT_EQ(s.status().code(), StatusCode::kTypeError);
  EXPECT_EQ(s.status().message(), "filter((user_id + 1)): a filter must be a boolean condition, not BIGINT");
}

TEST_F(PipelineMisuse, UnknownFunctionSuggestsTheClosestName) {
  Stream s = clicks().select(call("lowr", col("page")));
  EXPECT_EQ(s.status().message(), "select(lowr(page)): unknown function 'lowr'; did you mean 'lower'?");
}

TEST_F(PipelineMisuse, AggregateFunctionsAreNotExpressions) {
  Stream s = clicks().select(call("count", col("page")));
  EXPECT_NE(s.status().message().find("use aggregate(count(...))"), std::string::npos) << s.status().message();
}

TEST_F(PipelineMisuse, SumOfTextIsRefusedLikeInSql) {
  Stream s = clicks().key_by("user_id").aggregate(sum("page"));
  EXPECT_EQ(s.status().code(), StatusCode::kTypeError);
  EXPECT_EQ(s.status().message(), "key_by(user_id).aggregate(sum(page)): sum(page): sum needs a numeric argument, not TEXT");
}

TEST_F(PipelineMisuse, WindowOnANonTimestampColumn) {
  Stream s = clicks().tumble("page", 1min);
  EXPECT_EQ(s.status().message(), "tumble(page, 1m): time column 'page' must be TIMESTAMP, not TEXT");
}

TEST_F(PipelineMisuse, WindowSizeMustBePositive) {
  Stream s = clicks().tumble("ts", 0s);
  EXPECT_NE(s.status().message().find("the window size must be positive"), std::string::npos) << s.status().message();
}

TEST_F(PipelineMisuse, SessionWindowsNeedAnAggregate) {
  clicks().session("ts", 10s).to(p_.sink("out", {{"connector", "console"}}));
  auto job = p_.build();
  ASSERT_FALSE(job.is_ok());
  EXPECT_NE(job.status().message().find("session windows need an aggregation"), std::string::npos)
      << job.status().message();
}

TEST_F(PipelineMisuse, SinkColumnTypesMustBeAssignable) {
  Table out = p_.sink("out", {{"connector", "console"}}, {field("t", TypeId::kTimestamp)});
  clicks().select("user_id").to(out);
  auto job = p_.build();
  ASSERT_FALSE(job.is_ok());
  EXPECT_EQ(job.status().code(), StatusCode::kTypeError);
  EXPECT_EQ(job.status().message(),
            "to(out): column 1 't' of table out is TIMESTAMP but the stream gives BIGINT ('user_id'); add a cast()");
}

TEST_F(PipelineMisuse, SinkColumnCountMustMatch) {
  Table out = p_.sink("out", {{"connector", "console"}}, {field("a", TypeId::kInt64)});
  clicks().to(out);
  auto job = p_.build();
  ASSERT_FALSE(job.is_ok());
  EXPECT_NE(job.status().message().find("table out has 1 columns"), std::string::npos) << job.status().message();
}

TEST_F(PipelineMisuse, InferredSinkNeedsDistinctColumnNames) {
  clicks().select("page", "page").to(p_.sink("out", {{"connector", "console"}}));
  auto job = p_.build();
  ASSERT_FALSE(job.is_ok());
  EXPECT_NE(job.status().message().find("two columns named 'page'"), std::string::npos) << job.status().message();
}

TEST_F(PipelineMisuse, TablesNeedAConnectorAndUniqueNames) {
  Stream a = p_.source("t", click_columns(), {{"path", "x"}});
  std::string sources = "file, generator, http";  // kafka and nats are sources and sinks: listed once
#ifdef SLUICE_WITH_KAFKA
  sources += ", kafka";
#endif
#ifdef SLUICE_HAS_NATS
  sources += ", nats";
#endif
#ifdef SLUICE_HAS_POSTGRES
  sources += ", postgres-cdc";
#endif
#ifdef SLUICE_HAS_REDIS
  sources += ", redis-stream";
#endif
  std::string optional;  // the sinks of this build's optional connectors
#ifdef SLUICE_HAS_POSTGRES
  optional += ", postgres";
#endif
#ifdef SLUICE_HAS_REDIS
  optional += ", redis";
#endif
  EXPECT_EQ(a.status().message(), "source(t): table t: missing option 'connector' "
                                  "(available: " + sources + ", stdin, blackhole, console" +
                                      optional + ", sqlite)");
  Stream b = clicks();
  Stream c = p_.source("CLICKS", click_columns(), {{"connector", "file"}});
  EXPECT_EQ(c.status().message(), "source(CLICKS): table 'CLICKS' already exists");
}

TEST_F(PipelineMisuse, EventTimeMustBeAColumn) {
  Stream s = p_.source("t", click_columns(), {{"connector", "file"}, {"event_time", "time"}});
  EXPECT_EQ(s.status().message(), "table t: event_time column 'time' is not a column of the table");
}

TEST_F(PipelineMisuse, AJobMustWriteSomewhere) {
  clicks();
  auto job = p_.build();
  ASSERT_FALSE(job.is_ok());
  EXPECT_EQ(job.status().message(), "the pipeline writes nowhere: call Stream::to(sink) at least once");
}

TEST_F(PipelineMisuse, TheFirstErrorSticksThroughLaterSteps) {
  Stream s = clicks().filter(col("nope")).select("page").tumble("ts", 1min);
  EXPECT_EQ(s.status().message().rfind("filter(nope): unknown column 'nope'", 0), 0u) << s.status().message();
}

TEST_F(PipelineMisuse, StreamsOfDifferentPipelinesDoNotMix) {
  Pipeline other;
  Stream theirs = other.source("x", click_columns(), {{"connector", "file"}});
  Stream s = clicks().union_with(theirs);
  EXPECT_EQ(s.status().message(), "union_with: the streams belong to different Pipelines");
}

TEST_F(PipelineMisuse, JoinNamesBothStreamsColumnsOnlyWhenUnambiguous) {
  Pipeline p;
  auto a = p.source("a", {field("k", TypeId::kInt64), field("v", TypeId::kString)}, {{"connector", "stdin"}});
  auto b = p.source("b", {field("k", TypeId::kInt64), field("w", TypeId::kString)}, {{"connector", "stdin"}});
  Stream ambiguous = a.join(b, col("k") == col("k"));
  EXPECT_NE(ambiguous.status().message().find("ambiguous"), std::string::npos) << ambiguous.status().message();
  Stream not_boolean = a.join(b.select(col("k").as("k2"), col("w")), col("v"));
  EXPECT_NE(not_boolean.status().message().find("join(ON v)"), std::string::npos) << not_boolean.status().message();
  Stream ok = a.join(b.select(col("k").as("k2"), col("w")), col("k") == col("k2"), JoinKind::kLeft);
  ASSERT_TRUE(ok.status().is_ok()) << ok.status().message();
  EXPECT_EQ(ok.schema().value()->to_string(), "(k BIGINT, v TEXT, k2 BIGINT, w TEXT)");
  Pipeline other;
  auto c = other.source("c", {field("x", TypeId::kInt64)}, {{"connector", "stdin"}});
  EXPECT_NE(a.join(c, col("k") == col("x")).status().message().find("different Pipelines"), std::string::npos);
}

TEST_F(PipelineMisuse, PlanningErrorsComeFromRun) {
  clicks().to(p_.sink("out", {{"connector", "mqtt"}}));
  auto r = p_.run();
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("mqtt"), std::string::npos) << r.status().message();
}

TEST_F(PipelineMisuse, SqlTextErrorsPointIntoTheText) {
  Stream s = clicks().filter(sql_expr("amount > 'abc' +"));
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find("sql_expr(\"amount > 'abc' +\")"), std::string::npos) << s.status().message();
  EXPECT_NE(s.status().message().find("syntax error"), std::string::npos) << s.status().message();
}

// Compile-time misuse: the concepts reject these before any Status exists.
template <typename S, typename K>
concept CanKeyBy = requires(S s, K k) { s.key_by(k); };
template <typename S, typename K>
concept CanSelect = requires(S s, K k) { s.select(k); };
template <typename A, typename B>
concept CanAdd = requires(A a, B b) { a + b; };
static_assert(!CanKeyBy<Stream, int>, "key_by takes column names or Expressions");
static_assert(CanKeyBy<Stream, const char*> && CanKeyBy<Stream, Expression>);
static_assert(!CanSelect<Stream, double>, "select takes column names or Expressions");
static_assert(!CanAdd<Expression, std::vector<int>>, "operands must be Expressions or SQL values");
static_assert(CanAdd<Expression, int> && CanAdd<double, Expression> && CanAdd<Expression, Timestamp>);

}  // namespace
}  // namespace sluice::api
