// Dead-letter queues and late-data outputs that are ordinary sink tables, as a user meets
// them through `sluice run` / `sluice validate` (docs/sql.md, "Dead-letter queue and late
// data"): `dlq = 'bad_rows'` / `late_output = 'late_rows'` name a table created with
// CREATE TABLE ... WITH (connector = 'sqlite' | 'file' | any sink):
//  - the table receives the side output's fixed row schema (source, split, offset, line,
//    [queries,] error, raw, time), inferred when the table declares no columns, mapped by
//    name when it declares them in another order;
//  - one entry per bad or late input record, the same whatever the parallelism or batch
//    size, naming the queries that found a late record late;
//  - a table that cannot take them (unknown, read by the job, written by an INSERT, other
//    columns, a source-only connector) is refused at planning time with a positioned error.
// The crash test (exactly once through kill -9 with checkpoints) is side_output_crash_test.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "sqlite_rows.h"
#include "test_helpers.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::read_file;
using testing::run_sluice;
using testing::TempDir;
using testing::with_dir;
using testing::write_file;

std::vector<json> json_lines(const std::string& path) {
  std::vector<json> out;
  std::istringstream in(read_file(path));
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(json::parse(line));
  }
  return out;
}

std::string line_of(const std::string& text, int line) {
  std::istringstream in(text);
  std::string l;
  for (int i = 0; i < line; ++i) std::getline(in, l);
  return l;
}

int64_t offset_of_line(const std::string& text, int line) {
  int64_t offset = 0;
  for (int i = 1; i < line; ++i) offset = static_cast<int64_t>(text.find('\n', static_cast<size_t>(offset))) + 1;
  return offset;
}

// Lines 3 and 5 do not decode (dead letters). With a watermark delay of 0: line 4 is late
// for the 1-minute windows of `a` only (its 10-minute window is open), line 7 for both
// queries, line 8 for `a` (and `b` filters it out).
const char* kInput =
    "{\"k\": 1, \"ts\": \"2024-01-01T00:00:10Z\"}\n"
    "{\"k\": 1, \"ts\": \"2024-01-01T00:01:30Z\"}\n"
    "not json at all\n"
    "{\"k\": 2, \"ts\": \"2024-01-01T00:00:20Z\", \"note\": \"late for a\"}\n"
    "{\"k\": \"x\", \"ts\": \"2024-01-01T00:00:00Z\"}\n"
    "{\"k\": 1, \"ts\": \"2024-01-01T00:12:00Z\"}\n"
    "{\"k\": 3, \"ts\": \"2024-01-01T00:05:00Z\", \"note\": \"late for both\"}\n"
    "{\"k\": 9, \"ts\": \"2024-01-01T00:11:00Z\", \"note\": \"late for a, filtered by b\"}\n"
    "{\"k\": 1, \"ts\": \"2024-01-01T00:30:00Z\"}\n";

std::string input_text() { return kInput; }

// `{DLQ}` and `{LATE}`: the CREATE TABLE statements of the side-output tables.
const char* kJob = R"(CREATE TABLE src (k BIGINT, ts TIMESTAMP)
  WITH (connector = 'file', path = '{DIR}/in.jsonl', event_time = 'ts', dlq = 'bad_rows',
        late_output = 'late_rows');
{DLQ}
{LATE}
CREATE TABLE a (window_start TIMESTAMP, n BIGINT) WITH (connector = 'file', path = '{DIR}/a.jsonl');
CREATE TABLE b (window_start TIMESTAMP, n BIGINT) WITH (connector = 'file', path = '{DIR}/b.jsonl');
INSERT INTO a SELECT window_start, COUNT(*) FROM TUMBLE(src, ts, INTERVAL '1 minute') GROUP BY window_start;
INSERT INTO b SELECT window_start, COUNT(*) FROM TUMBLE(src, ts, INTERVAL '10 minutes') WHERE k <> 9
  GROUP BY window_start;
)";

std::string job(const std::string& dir, const std::string& dlq_table, const std::string& late_table) {
  std::string sql = with_dir(kJob, dir);
  auto put = [&](const std::string& what, const std::string& value) {
    for (size_t pos; (pos = sql.find(what)) != std::string::npos;) sql.replace(pos, what.size(), with_dir(value, dir));
  };
  put("{DLQ}", dlq_table);
  put("{LATE}", late_table);
  return sql;
}

const char* kSqliteDlq = "CREATE TABLE bad_rows () WITH (connector = 'sqlite', path = '{DIR}/side.db', table = 'bad');";
const char* kSqliteLate =
    "CREATE TABLE late_rows () WITH (connector = 'sqlite', path = '{DIR}/side.db', table = 'late');";
const char* kFileDlq = "CREATE TABLE bad_rows () WITH (connector = 'file', path = '{DIR}/bad.jsonl');";
const char* kFileLate = "CREATE TABLE late_rows () WITH (connector = 'file', path = '{DIR}/late.jsonl');";

const std::vector<std::string> kRunFlags = {"", "-p 2", "-p 4 --batch-size 1", "--batch-size 2"};

TEST(SideOutputSinkTest, DeadLettersAndLateRowsGoToSqliteTablesNamedInSql) {
  TempDir dir;
  const std::string input = input_text();
  write_file(dir.file("in.jsonl"), input);
  write_file(dir.file("job.sql"), job(dir.path(), kSqliteDlq, kSqliteLate));
  for (const std::string& flags : kRunFlags) {
    fs::remove(dir.file("side.db"));
    auto r = run_sluice("run -q job.sql " + flags, dir.path());
    ASSERT_EQ(r.exit_code, 0) << flags << ": " << r.output;
    // One row per dead letter, with the record's position and bytes.
    auto bad = testing::sqlite_query_rows(dir.file("side.db"),
                            "SELECT source, split, \"offset\", line, raw, error <> '', time IS NOT NULL FROM bad "
                            "ORDER BY line");
    EXPECT_EQ(bad, (std::vector<std::string>{
                       "src|0|" + std::to_string(offset_of_line(input, 3)) + "|3|" + line_of(input, 3) + "|1|1",
                       "src|0|" + std::to_string(offset_of_line(input, 5)) + "|5|" + line_of(input, 5) + "|1|1"}))
        << flags;
    // One row per late record, naming the queries that found it late.
    auto late = testing::sqlite_query_rows(dir.file("side.db"),
                             "SELECT source, \"offset\", line, queries, raw, instr(error, 'late record') = 1 FROM late "
                             "ORDER BY line");
    EXPECT_EQ(late, (std::vector<std::string>{
                        "src|" + std::to_string(offset_of_line(input, 4)) + "|4|[\"a\"]|" + line_of(input, 4) + "|1",
                        "src|" + std::to_string(offset_of_line(input, 7)) + "|7|[\"a\",\"b\"]|" + line_of(input, 7) +
                            "|1",
                        "src|" + std::to_string(offset_of_line(input, 8)) + "|8|[\"a\"]|" + line_of(input, 8) + "|1"}))
        << flags;
  }
  // No shorthand files appear beside them.
  EXPECT_FALSE(fs::exists(dir.file("src.dlq.jsonl")));
  EXPECT_FALSE(fs::exists(dir.file("src.late.jsonl")));
}

TEST(SideOutputSinkTest, DeadLettersAndLateRowsGoToFileSinksNamedInSql) {
  TempDir dir;
  const std::string input = input_text();
  write_file(dir.file("in.jsonl"), input);
  write_file(dir.file("job.sql"), job(dir.path(), kFileDlq, kFileLate));
  for (const std::string& flags : kRunFlags) {
    auto r = run_sluice("run -q job.sql " + flags, dir.path());
    ASSERT_EQ(r.exit_code, 0) << flags << ": " << r.output;
    auto bad = json_lines(dir.file("bad.jsonl"));
    ASSERT_EQ(bad.size(), 2u) << flags << ": " << read_file(dir.file("bad.jsonl"));
    std::sort(bad.begin(), bad.end(), [](const json& x, const json& y) { return x["line"] < y["line"]; });
    for (size_t i = 0; i < bad.size(); ++i) {
      const int line = i == 0 ? 3 : 5;
      EXPECT_EQ(bad[i]["source"], "src");
      EXPECT_EQ(bad[i]["split"], 0);
      EXPECT_EQ(bad[i]["line"], line);
      EXPECT_EQ(bad[i]["offset"], offset_of_line(input, line));
      EXPECT_EQ(bad[i]["raw"], line_of(input, line));
      EXPECT_FALSE(bad[i]["error"].get<std::string>().empty());
      EXPECT_TRUE(bad[i]["time"].is_string());
    }
    auto late = json_lines(dir.file("late.jsonl"));
    ASSERT_EQ(late.size(), 3u) << flags << ": " << read_file(dir.file("late.jsonl"));
    std::sort(late.begin(), late.end(), [](const json& x, const json& y) { return x["line"] < y["line"]; });
    EXPECT_EQ(late[0]["line"], 4);
    EXPECT_EQ(late[0]["queries"], "[\"a\"]");
    EXPECT_EQ(late[1]["line"], 7);
    EXPECT_EQ(late[1]["queries"], "[\"a\",\"b\"]");
    EXPECT_EQ(late[2]["line"], 8);
    EXPECT_EQ(late[2]["raw"], line_of(input, 8));
  }
}

TEST(SideOutputSinkTest, DeclaredColumnsAreMatchedByName) {
  TempDir dir;
  const std::string input = input_text();
  write_file(dir.file("in.jsonl"), input);
  write_file(dir.file("job.sql"),
             job(dir.path(),
                 "CREATE TABLE bad_rows (raw TEXT, line BIGINT, error TEXT, source TEXT, split BIGINT, \"offset\" "
                 "BIGINT, time TIMESTAMP) WITH (connector = 'file', path = '{DIR}/bad.csv', format = 'csv', header = 'false');",
                 "CREATE TABLE late_rows (line BIGINT, queries TEXT, source TEXT, split BIGINT, \"offset\" BIGINT, "
                 "error TEXT, raw TEXT, time TIMESTAMP) WITH (connector = 'sqlite', path = '{DIR}/side.db', "
                 "table = 'late');"));
  auto r = run_sluice("run -q job.sql", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::istringstream csv(read_file(dir.file("bad.csv")));
  std::vector<std::string> lines;
  for (std::string l; std::getline(csv, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 2u) << read_file(dir.file("bad.csv"));
  EXPECT_EQ(lines[0].rfind("not json at all,3,", 0), 0u) << lines[0];
  EXPECT_EQ(testing::sqlite_query_rows(dir.file("side.db"), "SELECT line, queries FROM late ORDER BY line"),
            (std::vector<std::string>{"4|[\"a\"]", "7|[\"a\",\"b\"]", "8|[\"a\"]"}));
}

// Two sources feed one dead-letter table; the plan shows the side edges.
TEST(SideOutputSinkTest, SeveralSourcesShareOneDeadLetterTable) {
  TempDir dir;
  write_file(dir.file("one.jsonl"), "{\"k\": 1}\nbad one\n{\"k\": 2}\n");
  write_file(dir.file("two.jsonl"), "bad two\n{\"k\": 3}\n");
  write_file(dir.file("job.sql"), with_dir(R"(CREATE TABLE one (k BIGINT)
  WITH (connector = 'file', path = '{DIR}/one.jsonl', dlq = 'bad_rows');
CREATE TABLE two (k BIGINT) WITH (connector = 'file', path = '{DIR}/two.jsonl', dlq = 'BAD_ROWS');
CREATE TABLE bad_rows () WITH (connector = 'sqlite', path = '{DIR}/side.db');
CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
INSERT INTO out SELECT k FROM one UNION ALL SELECT k FROM two;
)",
                                           dir.path()));
  auto explain = run_sluice("explain job.sql", dir.path());
  ASSERT_EQ(explain.exit_code, 0) << explain.output;
  EXPECT_NE(explain.output.find("dead letters -> table bad_rows"), std::string::npos) << explain.output;
  EXPECT_NE(explain.output.find("-> dead letters to stage"), std::string::npos) << explain.output;
  auto r = run_sluice("run -q job.sql", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(testing::sqlite_query_rows(dir.file("side.db"), "SELECT source, line, raw FROM bad_rows ORDER BY source"),
            (std::vector<std::string>{"one|2|bad one", "two|1|bad two"}));
}

// A resumed run of a checkpointed job continues the sink's transactions: the second run
// adds only the dead letters of the lines appended since.
TEST(SideOutputSinkTest, ACheckpointedJobResumesTheDeadLetterTable) {
  TempDir dir;
  write_file(dir.file("in.jsonl"), "{\"k\": 1}\nbad 1\n");
  write_file(dir.file("job.sql"), with_dir(R"(CREATE TABLE src (k BIGINT)
  WITH (connector = 'file', path = '{DIR}/in.jsonl', dlq = 'bad_rows');
CREATE TABLE bad_rows () WITH (connector = 'sqlite', path = '{DIR}/side.db');
CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
INSERT INTO out SELECT k FROM src;
)",
                                           dir.path()));
  auto r = run_sluice("run -q job.sql --checkpoint-dir ck", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(testing::sqlite_query_rows(dir.file("side.db"), "SELECT line, raw FROM bad_rows"), (std::vector<std::string>{"2|bad 1"}));
  write_file(dir.file("in.jsonl"), "{\"k\": 1}\nbad 1\n{\"k\": 2}\nbad 2\n");
  r = run_sluice("run -q job.sql --checkpoint-dir ck", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(testing::sqlite_query_rows(dir.file("side.db"), "SELECT line, raw FROM bad_rows ORDER BY line"),
            (std::vector<std::string>{"2|bad 1", "4|bad 2"}));
}

struct PlanningError {
  const char* name;
  const char* tables;   // CREATE TABLE statements besides src and out
  const char* options;  // side-output options of src
  const char* message;  // expected in the error ({DIR} replaced)
};

class SideOutputSinkPlanningTest : public ::testing::TestWithParam<PlanningError> {};

TEST_P(SideOutputSinkPlanningTest, IsRefusedWithAPositionedError) {
  TempDir dir;
  write_file(dir.file("in.jsonl"), "{\"k\": 1, \"ts\": 1}\n");
  const std::string sql = std::string("CREATE TABLE src (k BIGINT, ts TIMESTAMP) WITH (connector = 'file', path = "
                                      "'in.jsonl', event_time = 'ts', ") +
                          GetParam().options + ");\n" + GetParam().tables +
                          "\nCREATE TABLE out () WITH (connector = 'file', path = 'out.jsonl');\n"
                          "INSERT INTO out SELECT window_start, COUNT(*) AS n FROM TUMBLE(src, ts, INTERVAL '1 minute') "
                          "GROUP BY window_start;\n";
  write_file(dir.file("job.sql"), sql);
  for (const char* cmd : {"validate job.sql", "run -q job.sql"}) {
    auto r = run_sluice(cmd, dir.path());
    EXPECT_NE(r.exit_code, 0) << cmd << ": " << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << cmd << ": " << r.output;
    EXPECT_EQ(r.output.rfind("sluice: error: job.sql:", 0), 0u) << cmd << ": " << r.output;
    EXPECT_NE(r.output.find(with_dir(GetParam().message, dir.path())), std::string::npos) << cmd << ": " << r.output;
  }
  EXPECT_FALSE(fs::exists(dir.file("out.jsonl")));
}

INSTANTIATE_TEST_SUITE_P(
    Refused, SideOutputSinkPlanningTest,
    ::testing::Values(
        PlanningError{"UnknownTable", "", "dlq = 'bad_rows'",
                      "job.sql:1:107: table src: option 'dlq' names table 'bad_rows', which is not declared"},
        PlanningError{"UnknownLateTable", "", "late_output = 'late_rows'",
                      "table src: option 'late_output' names table 'late_rows', which is not declared"},
        PlanningError{"SourceTable",
                      "CREATE TABLE other (k BIGINT) WITH (connector = 'file', path = 'in.jsonl');\n"
                      "CREATE TABLE out2 () WITH (connector = 'file', path = 'out2.jsonl');\n"
                      "INSERT INTO out2 SELECT k FROM other;",
                      "dlq = 'other'",
                      "job.sql:1:107: table src: option 'dlq' names table other (job.sql:2:14), which this job reads: "
                      "a dead-letter queue needs a table of its own"},
        PlanningError{"InsertTarget", "", "dlq = 'out'",
                      "option 'dlq' names table out (job.sql:3:14), which an INSERT writes"},
        PlanningError{"WrongColumnType",
                      "CREATE TABLE bad_rows (source TEXT, split BIGINT, \"offset\" BIGINT, line BIGINT, error TEXT, "
                      "raw BIGINT, time TIMESTAMP) WITH (connector = 'file', path = 'bad.jsonl');",
                      "dlq = 'bad_rows'",
                      "job.sql:2:14: table bad_rows: column 'raw' is BIGINT, but a dead-letter queue writes TEXT"},
        PlanningError{"MissingColumn",
                      "CREATE TABLE bad_rows (source TEXT, error TEXT, raw TEXT) WITH (connector = 'sqlite', path = "
                      "'side.db');",
                      "dlq = 'bad_rows'", "job.sql:2:14: table bad_rows: column 'split' is missing"},
        PlanningError{"OtherColumn",
                      "CREATE TABLE late_rows (k BIGINT) WITH (connector = 'sqlite', path = 'side.db');",
                      "late_output = 'late_rows'",
                      "job.sql:2:14: table late_rows: column 'k' is not a column of a late-data output"},
        PlanningError{"DeadLetterColumnsForLateRows",
                      "CREATE TABLE late_rows (source TEXT, split BIGINT, \"offset\" BIGINT, line BIGINT, error TEXT, "
                      "raw TEXT, time TIMESTAMP) WITH (connector = 'sqlite', path = 'side.db');",
                      "late_output = 'late_rows'", "table late_rows: column 'queries' is missing"},
        PlanningError{"SourceOnlyConnector", "CREATE TABLE bad_rows () WITH (connector = 'generator');",
                      "dlq = 'bad_rows'", "table bad_rows is the dead-letter queue of table src, job.sql:1:107"},
        PlanningError{"BothKindsInOneTable",
                      "CREATE TABLE side () WITH (connector = 'sqlite', path = 'side.db');",
                      "dlq = 'side', late_output = 'side'",
                      "option 'late_output' names table side (job.sql:2:14), which is already a dead-letter queue"},
        PlanningError{"TableOptionWithATable",
                      "CREATE TABLE bad_rows () WITH (connector = 'sqlite', path = 'side.db');",
                      "dlq = 'bad_rows', dlq_table = 'x'", "option 'dlq_table' names a table of the SQLite database"},
        PlanningError{"OnTheSourceFile", "CREATE TABLE bad_rows () WITH (connector = 'file', path = './in.jsonl');",
                      "dlq = 'bad_rows'", "table bad_rows writes './in.jsonl', the file table src reads"}),
    [](const ::testing::TestParamInfo<PlanningError>& info) { return std::string(info.param.name); });

// The file and SQLite shorthands keep working beside a table-named side output.
TEST(SideOutputSinkTest, ShorthandsStillNameFiles) {
  TempDir dir;
  const std::string input = input_text();
  write_file(dir.file("in.jsonl"), input);
  std::string sql = job(dir.path(), kSqliteDlq, "");
  sql.replace(sql.find("late_output = 'late_rows'"), std::string("late_output = 'late_rows'").size(),
              "late_output = './late.jsonl'");
  write_file(dir.file("job.sql"), sql);
  auto r = run_sluice("run -q job.sql", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(json_lines(dir.file("late.jsonl")).size(), 3u);
  EXPECT_EQ(testing::sqlite_query_rows(dir.file("side.db"), "SELECT COUNT(*) FROM bad"), (std::vector<std::string>{"2"}));
}

}  // namespace
}  // namespace sluice
