// The SQL front end on hostile or unusual job files, through the CLI: bytes the parser
// cannot take (NUL, invalid UTF-8), a directory instead of a file, expressions deep or long
// enough to exhaust a stack, and the positions and wording of statement-level errors.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <fmt/format.h>

#include <string>

#include "test_helpers.h"

namespace sluice {
namespace {

constexpr const char* kTables =
    "CREATE TABLE t (v BIGINT, ts TIMESTAMP) WITH (connector = 'file', path = '{DIR}/t.jsonl');\n"
    "CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');\n";

struct Job {
  testing::TempDir dir;
  explicit Job(const std::string& sql) {
    testing::write_file(dir.file("t.jsonl"), "{\"v\": 2, \"ts\": \"2024-01-01T00:00:00Z\"}\n");
    testing::write_file(dir.file("job.sql"), testing::with_dir(sql, dir.path()));
  }
  testing::CommandResult run(const std::string& command = "run -q") const {
    return testing::run_sluice(command + " job.sql", dir.path());
  }
  std::string out() const { return testing::read_file(dir.file("out.jsonl")); }
};

// Terms of a chain a bit below kMaxOperatorsPerStatement (src/sql/front_checks.h).
constexpr int kNearLimit = 49000;

std::string chain(const std::string& term, const std::string& op, int n) {
  std::string s = term;
  for (int i = 1; i < n; ++i) s += op + term;
  return s;
}

TEST(SqlFrontTest, NulByteIsAPositionedErrorNotTheEndOfTheFile) {
  Job job(std::string(kTables) + "-- x\n  " + std::string(1, '\0') + "INSERT INTO out SELECT v FROM t;\n");
  auto r = job.run();
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("job.sql:4:3: NUL byte"), std::string::npos) << r.output;
}

TEST(SqlFrontTest, InvalidUtf8InALiteralIsAPositionedError) {
  Job job(std::string(kTables) + "INSERT INTO out SELECT v FROM t WHERE 'caf\xe9' <> '';\n");
  auto r = job.run("validate");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("job.sql:3:43: invalid UTF-8 byte 0xe9"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("json"), std::string::npos) << r.output;
}

TEST(SqlFrontTest, ValidUtf8IsAcceptedAndColumnsCountCharacters) {
  Job job(std::string(kTables) + "INSERT INTO out SELECT 'é€😀' AS s, nope FROM t;\n");
  auto r = job.run("validate");
  EXPECT_NE(r.exit_code, 0);
  // The column counts characters: 'é€😀' is 5 characters (quotes included), 11 bytes.
  EXPECT_NE(r.output.find("job.sql:3:36: unknown column 'nope'"), std::string::npos) << r.output;
}

TEST(SqlFrontTest, ADirectoryAsTheJobFileIsAClearError) {
  testing::TempDir dir;
  auto r = testing::run_sluice("run " + dir.path(), dir.path());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("is a directory"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("nothing to run"), std::string::npos) << r.output;
}

// Peak RSS of the sluice children run so far, in KiB (0 under sanitizers, whose allocator
// keeps freed memory resident: the bound is only meaningful in the normal build).
long peak_child_rss_kib() {
  if (testing::sanitized()) return 0;
  rusage usage{};
  if (getrusage(RUSAGE_CHILDREN, &usage) != 0) return -1;
  return usage.ru_maxrss;
}

TEST(SqlFrontTest, TenThousandTermChainComputesTheSum) {
  // a + b + c ... parses left-deep, one level per operator: bound, evaluated and printed
  // in loops, so the length costs neither stack nor memory per term.
  Job job(std::string(kTables) + "INSERT INTO out SELECT " + chain("v", " + ", 10000) + " AS s FROM t;\n");
  auto r = job.run();
  ASSERT_EQ(r.exit_code, 0) << r.output.substr(0, 300);
  EXPECT_EQ(job.out(), "{\"s\":20000}\n");
  EXPECT_LT(peak_child_rss_kib(), 200 * 1024) << "peak RSS of sluice in KiB";
}

TEST(SqlFrontTest, LongChainsOfEveryArithmeticOperatorAndConcatenationWork) {
  // (((2 * 1) - 1) / 1 ...), then text: 'x' || v || v ... and a timestamp shifted 10,000 times.
  Job job(std::string(kTables) + "INSERT INTO out SELECT v" + chain("", " * 1 - 1 + 1 / 1", 5000) + " AS a, " +
          "length('x'" + chain("", " || v", 10000) + ") AS b, ts" + chain("", " + INTERVAL '1' SECOND", 10000) +
          " AS c FROM t WHERE v" + chain("", " + 0", 10000) + " = 2;\n");
  auto r = job.run();
  ASSERT_EQ(r.exit_code, 0) << r.output.substr(0, 300);
  EXPECT_EQ(job.out(), "{\"a\":2,\"b\":10000,\"c\":\"2024-01-01T02:46:39Z\"}\n");
}

TEST(SqlFrontTest, LongChainsInAnAggregateQueryWork) {
  // Each level of the chain outside SUM is compared with the GROUP BY keys (v + v is one):
  // that must not cost the chain's length per level.
  Job job(std::string(kTables) +
          "CREATE TABLE agg () WITH (connector = 'file', path = '{DIR}/agg.jsonl', changelog = 'true');\n"
          "INSERT INTO agg SELECT v + v AS k, " + chain("v", " + ", 10000) + " AS a, SUM(" + chain("v", " + ", 10000) +
          ") AS s FROM t GROUP BY v + v, v;\n");
  auto r = job.run();
  ASSERT_EQ(r.exit_code, 0) << r.output.substr(0, 300);
  const std::string out = testing::read_file(job.dir.file("agg.jsonl"));
  EXPECT_NE(out.find("\"k\":4,\"a\":20000,\"s\":20000"), std::string::npos) << out;
}

TEST(SqlFrontTest, AChainJustBelowTheOperatorLimitDoesNotCrash) {
  Job job(std::string(kTables) + "INSERT INTO out SELECT " + chain("v", "+", kNearLimit) + " AS s FROM t;\n");
  auto r = job.run();
  ASSERT_EQ(r.exit_code, 0) << r.output.substr(0, 300);
  EXPECT_EQ(job.out(), fmt::format("{{\"s\":{}}}\n", 2 * kNearLimit));
}

// `inner` wrapped n times in before ... after.
std::string nest(const std::string& before, const std::string& inner, const std::string& after, int n) {
  std::string s = inner;
  for (int i = 0; i < n; ++i) s = before + s + after;
  return s;
}

// The output of validating SELECT <expr>, which must be a one-line nesting error.
std::string expect_nesting_error(const std::string& expr) {
  Job job(std::string(kTables) + "INSERT INTO out SELECT " + expr + " AS s FROM t;\n");
  auto r = job.run("validate");
  EXPECT_GT(r.exit_code, 0) << r.output.substr(0, 300);  // an error exit, not a signal
  EXPECT_NE(r.output.find("job.sql:3:"), std::string::npos) << r.output.substr(0, 300);
  EXPECT_NE(r.output.find("nested too deeply"), std::string::npos) << r.output.substr(0, 300);
  return r.output;
}

TEST(SqlFrontTest, DeeplyNestedCallsAreALimitErrorNotACrash) { expect_nesting_error(nest("abs(", "v", ")", 5000)); }

TEST(SqlFrontTest, CallsNestedBeyondTheParsersStackAreALimitError) {
  // Deeper than bison's stack: the parser's "memory exhausted", said plainly.
  const std::string out = expect_nesting_error(nest("abs(", "v", ")", 10000));
  EXPECT_EQ(out.find("memory exhausted"), std::string::npos) << out.substr(0, 300);
}

TEST(SqlFrontTest, ARightNestedChainIsALimitErrorNotACrash) {
  // v + (v + (v + ...)): every level is a parenthesis, not a left-deep chain.
  expect_nesting_error(nest("v + (", "v", ")", 10000));
}

TEST(SqlFrontTest, AHugeChainIsRefusedBeforeTheParserRecurses) {
  Job job(std::string(kTables) + "\nINSERT INTO out SELECT " + chain("v", "+", 100000) + " AS s FROM t;\n");
  auto r = job.run("validate");
  EXPECT_GT(r.exit_code, 0) << r.output.substr(0, 300);
  EXPECT_NE(r.output.find("job.sql:4:1: statement too large"), std::string::npos) << r.output.substr(0, 300);
}

TEST(SqlFrontTest, LongChainsBelowTheLimitWork) {
  // 1,000 terms of +, and 10,000 AND-ed conditions (PostgreSQL's grammar keeps those flat).
  Job job(std::string(kTables) + "INSERT INTO out SELECT " + chain("v", " + ", 1000) + " AS s FROM t WHERE " +
          chain("v > 0", " AND ", 10000) + ";\n");
  auto r = job.run();
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(job.out(), "{\"s\":2000}\n");
}

TEST(SqlFrontTest, ThousandNestedCallsBindInBoundedMemory) {
  std::string nested = "v";
  for (int i = 0; i < 1000; ++i) nested = "abs(" + nested + ")";
  Job job(std::string(kTables) + "INSERT INTO out SELECT " + nested + " AS s FROM t;\n");
  auto r = job.run();
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(job.out(), "{\"s\":2}\n");
  EXPECT_LT(peak_child_rss_kib(), 200 * 1024) << "peak RSS of sluice in KiB";  // was 600 MB
}

TEST(SqlFrontTest, StatementErrorsPointIntoTheStatementNotBeforeIt) {
  Job job(std::string(kTables) + "\n-- a comment before the statement\n  UNION_TYPO SELECT 1;\n");
  auto r = job.run("validate");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("job.sql:5:3: syntax error"), std::string::npos) << r.output;
  Job join(std::string(kTables) + "\n/* joins */\nINSERT INTO out SELECT a.v FROM t AS a JOIN t AS b USING (nope);\n");
  r = join.run("validate");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("job.sql:5:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("column 'nope' in USING is not a column of the left side of the join"), std::string::npos)
      << r.output;
  Job bare(std::string(kTables) + "\n\n  SELECT v FROM t;\n");
  r = bare.run("validate");
  EXPECT_NE(r.output.find("job.sql:5:3: a bare SELECT"), std::string::npos) << r.output;
}

TEST(SqlFrontTest, PlanningErrorsAboutATablePointAtItsCreateTable) {
  Job option("\n  CREATE TABLE t (v BIGINT) WITH (connector = 'file', path = '{DIR}/t.jsonl', pth = 'x');\n"
             "CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');\n"
             "INSERT INTO out SELECT v FROM t;\n");
  auto r = option.run("validate");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("job.sql:2:16: table t: unknown option 'pth'"), std::string::npos) << r.output;
  Job updates(std::string(kTables) + "INSERT INTO out SELECT v, COUNT(*) AS n FROM t GROUP BY v;\n");
  r = updates.run("validate");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("job.sql:2:14: table out: the query produces updates"), std::string::npos) << r.output;
}

TEST(SqlFrontTest, UnsupportedFormsSayWhatIsUnsupported) {
  struct Case {
    std::string select;
    std::string want;
  } cases[] = {
      {"SELECT (SELECT max(v) FROM t) AS m FROM t", "scalar subqueries"},
      {"SELECT v FROM t WHERE v IN (SELECT v FROM t)", "IN (SELECT ...) is not supported"},
      {"SELECT now() AS n FROM t", "now() is not supported: it reads the processing-time clock"},
      {"SELECT current_timestamp AS n FROM t", "processing-time clock"},
      {"SELECT ts AT TIME ZONE 'Europe/Paris' AS x FROM t", "AT TIME ZONE is not supported"},
  };
  for (const auto& c : cases) {
    Job job(std::string(kTables) + "INSERT INTO out " + c.select + ";\n");
    auto r = job.run("validate");
    EXPECT_NE(r.exit_code, 0) << c.select;
    EXPECT_NE(r.output.find(c.want), std::string::npos) << c.select << "\n" << r.output;
    EXPECT_NE(r.output.find("job.sql:3:"), std::string::npos) << c.select << "\n" << r.output;
    EXPECT_EQ(r.output.find("did you mean"), std::string::npos) << r.output;
  }
}

TEST(SqlFrontTest, CommonTableExpressionsAreBoundLikeViews) {
  Job job(std::string(kTables) +
          "INSERT INTO out WITH doubled(d) AS (SELECT v * 2 FROM t), big AS (SELECT d FROM doubled WHERE d > 1)\n"
          "SELECT d + 1 AS e FROM big;\n");
  auto r = job.run();
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(job.out(), "{\"e\":5}\n");
  Job outer(std::string(kTables) + "WITH x AS (SELECT v FROM t) INSERT INTO out SELECT v + 1 AS w FROM x;\n");
  r = outer.run();
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(outer.out(), "{\"w\":3}\n");
  Job recursive(std::string(kTables) + "INSERT INTO out WITH RECURSIVE x AS (SELECT v FROM x) SELECT v FROM x;\n");
  r = recursive.run("validate");
  EXPECT_NE(r.output.find("WITH RECURSIVE is not supported"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace sluice
