// Side outputs (dead-letter queue, late-data output) and the files a job touches, as a user
// meets them through `sluice run` / `sluice validate`:
//  - the late-data output holds one entry per late input record (its raw bytes, offset,
//    line) naming every query that found it late, whatever the number of INSERTs reading
//    the source, the parallelism or the batch size;
//  - a fresh run replaces the side outputs of an earlier run, a resumed run appends;
//  - side-output files and databases are created 0600;
//  - a job that would write a file it reads, or one file from two places, is refused.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

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

int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

int file_mode(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 0777);
}

int64_t sqlite_count(const std::string& db_path, const std::string& table) {
  sqlite3* db = nullptr;
  int64_t n = -1;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    std::string sql = "SELECT COUNT(*) FROM \"" + table + "\"";
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
      n = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return n;
}

// Line 3 is late for the 1-minute windows of `a` only (its 10-minute window is open);
// line 5 is late for both; line 6 is late for `a` but `b` filters it out.
const char* kLateInput =
    "{\"k\": 1, \"ts\": \"2024-01-01T00:00:10Z\"}\n"
    "{\"k\": 1, \"ts\": \"2024-01-01T00:01:30Z\"}\n"
    "{\"k\": 2, \"ts\": \"2024-01-01T00:00:20Z\", \"note\": \"late for a\"}\n"
    "{\"k\": 1, \"ts\": \"2024-01-01T00:12:00Z\"}\n"
    "{\"k\": 3, \"ts\": \"2024-01-01T00:05:00Z\", \"note\": \"late for both\"}\n"
    "{\"k\": 9, \"ts\": \"2024-01-01T00:11:00Z\", \"note\": \"late for a, filtered by b\"}\n"
    "{\"k\": 1, \"ts\": \"2024-01-01T00:30:00Z\"}\n";

const char* kTwoQueries = R"(CREATE TABLE src (k BIGINT, ts TIMESTAMP)
  WITH (connector = 'file', path = '{DIR}/in.jsonl', event_time = 'ts');
CREATE TABLE a (window_start TIMESTAMP, n BIGINT) WITH (connector = 'file', path = '{DIR}/a.jsonl');
CREATE TABLE b (window_start TIMESTAMP, n BIGINT) WITH (connector = 'file', path = '{DIR}/b.jsonl');
INSERT INTO a SELECT window_start, COUNT(*) FROM TUMBLE(src, ts, INTERVAL '1 minute') GROUP BY window_start;
INSERT INTO b SELECT window_start, COUNT(*) FROM TUMBLE(src, ts, INTERVAL '10 minutes') WHERE k <> 9
  GROUP BY window_start;
)";

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

void expect_late_entry(const json& e, const std::string& input, int line, const std::vector<std::string>& queries) {
  EXPECT_EQ(e["source"], "src") << e.dump();
  EXPECT_EQ(e["split"], 0) << e.dump();
  EXPECT_EQ(e["line"], line) << e.dump();
  EXPECT_EQ(e["offset"], offset_of_line(input, line)) << e.dump();
  EXPECT_EQ(e["raw"], line_of(input, line)) << e.dump();
  EXPECT_EQ(e["queries"], json(queries)) << e.dump();
  EXPECT_NE(e["error"].get<std::string>().find("late record: event time"), std::string::npos) << e.dump();
}

TEST(LateOutputTest, OneEntryPerInputRecordNamingTheQueriesThatFoundItLate) {
  for (const char* flags : {"", " -p 2 --batch-size 1", " --batch-size 2"}) {
    SCOPED_TRACE(flags);
    TempDir dir;
    write_file(dir.file("in.jsonl"), kLateInput);
    write_file(dir.file("job.sql"), with_dir(kTwoQueries, dir.path()));
    auto r = run_sluice(std::string("run job.sql") + flags, dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    auto late = json_lines(dir.file("src.late.jsonl"));
    ASSERT_EQ(late.size(), 3u) << read_file(dir.file("src.late.jsonl"));
    expect_late_entry(late[0], kLateInput, 3, {"a"});
    expect_late_entry(late[1], kLateInput, 5, {"a", "b"});
    expect_late_entry(late[2], kLateInput, 6, {"a"});
    // The run summary counts late records once, and per query.
    EXPECT_NE(r.output.find("late data of src: 3 records"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("late 3"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("late 1"), std::string::npos) << r.output;
  }
}

TEST(LateOutputTest, OneQueryWritesTheRawRecordNotInternalColumns) {
  TempDir dir;
  write_file(dir.file("in.jsonl"), kLateInput);
  write_file(dir.file("job.sql"), with_dir(R"(CREATE TABLE src (k BIGINT, ts TIMESTAMP)
  WITH (connector = 'file', path = '{DIR}/in.jsonl', event_time = 'ts', late_output = '{DIR}/late.jsonl');
CREATE TABLE a (window_start TIMESTAMP, n BIGINT) WITH (connector = 'file', path = '{DIR}/a.jsonl');
INSERT INTO a SELECT window_start, SUM(k) FROM TUMBLE(src, ts, INTERVAL '1 minute') GROUP BY window_start;
)",
                                           dir.path()));
  auto r = run_sluice("run job.sql", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::string text = read_file(dir.file("late.jsonl"));
  EXPECT_EQ(text.find("agg_arg"), std::string::npos) << text;
  auto late = json_lines(dir.file("late.jsonl"));
  ASSERT_EQ(late.size(), 3u) << text;
  expect_late_entry(late[0], kLateInput, 3, {"a"});
  expect_late_entry(late[1], kLateInput, 5, {"a"});
  expect_late_entry(late[2], kLateInput, 6, {"a"});
}

TEST(LateOutputTest, SqliteLateTableHasTheQueries) {
  TempDir dir;
  write_file(dir.file("in.jsonl"), kLateInput);
  std::string sql = with_dir(kTwoQueries, dir.path());
  sql.replace(sql.find("event_time = 'ts'"), 17,
              "event_time = 'ts', late_output = '" + dir.file("side.db") + "', late_output_table = 'late_rows'");
  write_file(dir.file("job.sql"), sql);
  auto r = run_sluice("run job.sql", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(sqlite_count(dir.file("side.db"), "late_rows"), 3);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(dir.file("side.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT line, queries, raw FROM late_rows ORDER BY line", -1, &st, nullptr),
            SQLITE_OK);
  std::vector<std::string> rows;
  while (sqlite3_step(st) == SQLITE_ROW) {
    rows.push_back(std::to_string(sqlite3_column_int64(st, 0)) + " " +
                   reinterpret_cast<const char*>(sqlite3_column_text(st, 1)));
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  EXPECT_EQ(rows, (std::vector<std::string>{"3 [\"a\"]", "5 [\"a\",\"b\"]", "6 [\"a\"]"}));
}

// --------------------------------------------------------------------------- runs

const char* kDlqJob = R"(CREATE TABLE src (k BIGINT, ts TIMESTAMP)
  WITH (connector = 'file', path = '{DIR}/in.jsonl', event_time = 'ts');
CREATE TABLE a (window_start TIMESTAMP, n BIGINT) WITH (connector = 'file', path = '{DIR}/a.jsonl');
INSERT INTO a SELECT window_start, COUNT(*) FROM TUMBLE(src, ts, INTERVAL '1 minute') GROUP BY window_start;
)";

TEST(SideOutputRunsTest, AFreshRunReplacesTheSideOutputsOfAnEarlierRun) {
  TempDir dir;
  write_file(dir.file("in.jsonl"), std::string(kLateInput) + "not json\n");
  write_file(dir.file("job.sql"), with_dir(kDlqJob, dir.path()));
  for (int run = 0; run < 3; ++run) {
    auto r = run_sluice("run -q job.sql", dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(count_lines(read_file(dir.file("src.dlq.jsonl"))), 1) << "run " << run;
    EXPECT_EQ(count_lines(read_file(dir.file("src.late.jsonl"))), 3) << "run " << run;
  }
  // A clean fresh run leaves no side output of the earlier runs behind.
  write_file(dir.file("in.jsonl"), "{\"k\": 1, \"ts\": \"2024-01-01T00:00:10Z\"}\n");
  ASSERT_EQ(run_sluice("run -q job.sql", dir.path()).exit_code, 0);
  EXPECT_FALSE(fs::exists(dir.file("src.dlq.jsonl")));
  EXPECT_FALSE(fs::exists(dir.file("src.late.jsonl")));
}

TEST(SideOutputRunsTest, AFreshRunReplacesASqliteDeadLetterTable) {
  TempDir dir;
  write_file(dir.file("in.jsonl"), std::string(kLateInput) + "not json\n");
  std::string sql = with_dir(kDlqJob, dir.path());
  sql.replace(sql.find("event_time = 'ts'"), 17, "event_time = 'ts', dlq = '" + dir.file("side.db") + "'");
  write_file(dir.file("job.sql"), sql);
  for (int run = 0; run < 2; ++run) {
    ASSERT_EQ(run_sluice("run -q job.sql", dir.path()).exit_code, 0);
    EXPECT_EQ(sqlite_count(dir.file("side.db"), "dlq"), 1) << "run " << run;
  }
  EXPECT_EQ(file_mode(dir.file("side.db")), 0600);
}

TEST(SideOutputRunsTest, AResumedRunAppends) {
  TempDir dir;
  write_file(dir.file("in.jsonl"), std::string(kLateInput) + "not json\n");
  write_file(dir.file("job.sql"), with_dir(kDlqJob, dir.path()));
  ASSERT_EQ(run_sluice("run -q job.sql --checkpoint-dir ck", dir.path()).exit_code, 0);
  EXPECT_EQ(count_lines(read_file(dir.file("src.dlq.jsonl"))), 1);
  // The job resumes after the records it has read: only the new ones are dead-lettered,
  // after the letters of the first run.
  std::ofstream(dir.file("in.jsonl"), std::ios::app) << "still not json\n";
  auto r = run_sluice("run -q job.sql --checkpoint-dir ck", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto dlq = json_lines(dir.file("src.dlq.jsonl"));
  ASSERT_EQ(dlq.size(), 2u) << read_file(dir.file("src.dlq.jsonl"));
  EXPECT_EQ(dlq[0]["raw"], "not json");
  EXPECT_EQ(dlq[1]["raw"], "still not json");
  EXPECT_EQ(count_lines(read_file(dir.file("src.late.jsonl"))), 3);
}

TEST(SideOutputRunsTest, SideOutputFilesArePrivate) {
  TempDir dir;
  write_file(dir.file("in.jsonl"), std::string(kLateInput) + "not json\n");
  ::chmod(dir.file("in.jsonl").c_str(), 0640);
  write_file(dir.file("job.sql"), with_dir(kDlqJob, dir.path()));
  const mode_t old_mask = ::umask(022);
  auto r = run_sluice("run -q job.sql", dir.path());
  ::umask(old_mask);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(file_mode(dir.file("src.dlq.jsonl")), 0600);
  EXPECT_EQ(file_mode(dir.file("src.late.jsonl")), 0600);
}

// --------------------------------------------------------------------------- paths

struct PathCase {
  std::string name;
  std::string sql;      // {DIR} replaced
  std::string message;  // part of the one-line error; empty: the job is valid
};
// Test listings show the case name, not the struct's bytes.
void PrintTo(const PathCase& c, std::ostream* os) { *os << c.name; }

class FilePathTest : public ::testing::TestWithParam<PathCase> {};

TEST_P(FilePathTest, IsCheckedAtPlanningTime) {
  TempDir dir;
  const std::string input = "{\"k\": 1, \"ts\": \"2024-01-01T00:00:10Z\"}\n";
  write_file(dir.file("in.jsonl"), input);
  fs::create_directory(dir.file("sub"));
  fs::create_symlink(dir.file("in.jsonl"), dir.file("link.jsonl"));
  write_file(dir.file("job.sql"), with_dir(GetParam().sql, dir.path()));
  for (const char* cmd : {"validate job.sql", "run job.sql"}) {
    auto r = run_sluice(cmd, dir.path());
    if (GetParam().message.empty()) {
      EXPECT_EQ(r.exit_code, 0) << cmd << ": " << r.output;
      continue;
    }
    EXPECT_NE(r.exit_code, 0) << cmd << ": " << r.output;
    EXPECT_EQ(count_lines(r.output), 1) << cmd << ": " << r.output;
    EXPECT_EQ(r.output.find("sluice: error: job.sql:"), 0u) << cmd << ": " << r.output;
    EXPECT_NE(r.output.find(with_dir(GetParam().message, dir.path())), std::string::npos) << cmd << ": " << r.output;
  }
  EXPECT_EQ(read_file(dir.file("in.jsonl")), input);  // the input survives
}

const char* kSource =
    "CREATE TABLE src (k BIGINT, ts TIMESTAMP) WITH (connector = 'file', path = '{DIR}/in.jsonl', "
    "event_time = 'ts'";

INSTANTIATE_TEST_SUITE_P(
    Paths, FilePathTest,
    ::testing::Values(
        PathCase{"SinkOnTheSourceSpelledDifferently",
                 std::string(kSource) + ");\n"
                 "CREATE TABLE out (k BIGINT) WITH (connector = 'file', path = '{DIR}/sub/../in.jsonl');\n"
                 "INSERT INTO out SELECT k FROM src;\n",
                 "table out writes '{DIR}/sub/../in.jsonl', the file table src reads (job.sql:1:"},
        PathCase{"SinkOnASymlinkToTheSource",
                 std::string(kSource) + ");\n"
                 "CREATE TABLE out (k BIGINT) WITH (connector = 'file', path = 'link.jsonl');\n"
                 "INSERT INTO out SELECT k FROM src;\n",
                 "a job must not overwrite its input"},
        PathCase{"RelativeSinkOnTheSource",
                 std::string(kSource) + ");\n"
                 "CREATE TABLE out (k BIGINT) WITH (connector = 'sqlite', path = 'in.jsonl');\n"
                 "INSERT INTO out SELECT k FROM src;\n",
                 "job.sql:2:"},
        PathCase{"DeadLetterQueueOnTheSource",
                 std::string(kSource) + ", dlq = 'in.jsonl');\n"
                 "CREATE TABLE out (k BIGINT) WITH (connector = 'file', path = 'out.jsonl');\n"
                 "INSERT INTO out SELECT k FROM src;\n",
                 "the dead-letter queue of table src writes 'in.jsonl', the file table src reads"},
        PathCase{"LateOutputOnTheSource",
                 std::string(kSource) + ", late_output = './in.jsonl');\n"
                 "CREATE TABLE out (w TIMESTAMP, n BIGINT) WITH (connector = 'file', path = 'out.jsonl');\n"
                 "INSERT INTO out SELECT window_start, COUNT(*) FROM TUMBLE(src, ts, INTERVAL '1' MINUTE) "
                 "GROUP BY window_start;\n",
                 "the late-data output of table src writes './in.jsonl'"},
        PathCase{"TwoFileSinksOnOneFile",
                 std::string(kSource) + ");\n"
                 "CREATE TABLE o1 (k BIGINT) WITH (connector = 'file', path = 'out.jsonl');\n"
                 "CREATE TABLE o2 (k BIGINT) WITH (connector = 'file', path = '{DIR}/out.jsonl');\n"
                 "INSERT INTO o1 SELECT k FROM src;\nINSERT INTO o2 SELECT k FROM src;\n",
                 "job.sql:3:"},
        PathCase{"SinkOnTheDeadLetterQueue",
                 std::string(kSource) + ");\n"
                 "CREATE TABLE out (k BIGINT) WITH (connector = 'file', path = 'src.dlq.jsonl');\n"
                 "INSERT INTO out SELECT k FROM src;\n",
                 "as table out does"},
        PathCase{"TwoSqliteSinksOnOneTable",
                 std::string(kSource) + ");\n"
                 "CREATE TABLE o1 (k BIGINT) WITH (connector = 'sqlite', path = 'out.db', table = 't');\n"
                 "CREATE TABLE o2 (k BIGINT) WITH (connector = 'sqlite', path = 'out.db', table = 't');\n"
                 "INSERT INTO o1 SELECT k FROM src;\nINSERT INTO o2 SELECT k FROM src;\n",
                 "table o2 writes SQLite table 't' in 'out.db', as table o1 does"},
        PathCase{"TwoSqliteSinksAndTheDeadLettersInOneDatabase",
                 std::string(kSource) + ", dlq = 'out.db');\n"
                 "CREATE TABLE o1 (k BIGINT) WITH (connector = 'sqlite', path = 'out.db');\n"
                 "CREATE TABLE o2 (k BIGINT) WITH (connector = 'sqlite', path = 'out.db');\n"
                 "INSERT INTO o1 SELECT k FROM src;\nINSERT INTO o2 SELECT k FROM src;\n",
                 ""},
        PathCase{"TwoSourcesSharingOneDeadLetterFile",
                 std::string(kSource) + ", dlq = 'bad.jsonl');\n"
                 "CREATE TABLE src2 (k BIGINT) WITH (connector = 'file', path = 'in.jsonl', dlq = 'bad.jsonl');\n"
                 "CREATE TABLE out (k BIGINT) WITH (connector = 'file', path = 'out.jsonl');\n"
                 "INSERT INTO out SELECT k FROM src UNION ALL SELECT k FROM src2;\n",
                 ""}),
    [](const auto& info) { return info.param.name; });

TEST(FilePathTest, ErrorNamesThePathAsWritten) {
  TempDir dir;
  write_file(dir.file("in.jsonl"), "{}\n");
  write_file(dir.file("job.sql"), with_dir(std::string(kSource) + ");\n"
                                           "CREATE TABLE out (k BIGINT) WITH (connector = 'file', path = 'in.jsonl');\n"
                                           "INSERT INTO out SELECT k FROM src;\n",
                                           dir.path()));
  auto r = run_sluice("validate job.sql", dir.path());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("job.sql:2:55: table out writes 'in.jsonl', the file table src reads (job.sql:1:"),
            std::string::npos)
      << r.output;
}

}  // namespace
}  // namespace sluice
