// Source input that used to stop a job or be silently misread, through `sluice run`: a record
// over the line-length limit, dates that do not exist, event times far in the future, and
// CSV files as spreadsheets and the CSV sink write them (header names, quoted line breaks,
// byte-order marks). Each bad record must end in the dead-letter queue with its origin and a
// reason, and the job must go on with the next record.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "test_helpers.h"

namespace sluice {
namespace {

using testing::read_file;
using testing::run_sluice;
using testing::TempDir;
using testing::with_dir;
using testing::write_file;

// The DLQ's JSON lines, parsed.
std::vector<nlohmann::json> dead_letters(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::string text = read_file(path);
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) out.push_back(nlohmann::json::parse(text.substr(start, end - start)));
    start = end + 1;
  }
  return out;
}

// "N records in" from the summary line `sluice run` prints at the end.
std::string records_in(const std::string& output) {
  size_t at = output.find(" records in");
  if (at == std::string::npos) return "<no summary>";
  size_t begin = output.rfind(' ', at - 1);
  return output.substr(begin + 1, at - begin - 1);
}

// --- a record over max_line_bytes -------------------------------------------------------

TEST(SourceInputTest, RecordOverMaxLineBytesIsDeadLetteredAndTheJobGoesOn) {
  TempDir dir;
  const std::string huge = "{\"k\": 2, \"pad\": \"" + std::string(300000, 'p') + "\"}";
  write_file(dir.file("in.jsonl"), "{\"k\": 1}\n" + huge + "\n{\"k\": 3}\n{\"k\": 4}\n");
  write_file(dir.file("job.sql"), with_dir(R"(
    CREATE TABLE src (k BIGINT) WITH (connector = 'file', path = '{DIR}/in.jsonl', max_line_bytes = '1000');
    CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
    INSERT INTO out SELECT k FROM src;)", dir.path()));
  auto r = run_sluice("run job.sql", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_file(dir.file("out.jsonl")), "{\"k\":1}\n{\"k\":3}\n{\"k\":4}\n");
  EXPECT_EQ(records_in(r.output), "4") << r.output;
  auto dlq = dead_letters(dir.file("src.dlq.jsonl"));
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_EQ(dlq[0]["line"], 2);
  EXPECT_EQ(dlq[0]["offset"], 9);
  EXPECT_EQ(dlq[0]["source"], "src");
  EXPECT_EQ(dlq[0]["split"], 0);
  const std::string error = dlq[0]["error"];
  EXPECT_EQ(error.rfind("record exceeds max line length 1000 bytes (" + std::to_string(huge.size()) + " bytes", 0), 0u)
      << error;
  EXPECT_EQ(dlq[0]["raw"].get<std::string>(), huge.substr(0, 1000)) << "raw bytes are truncated to a bounded size";
}

TEST(SourceInputTest, RecordOverMaxLineBytesOnStdinIsDeadLettered) {
  TempDir dir;
  write_file(dir.file("stdin.txt"), "1,a\n2," + std::string(5000, 'b') + "\n3,c\n");
  write_file(dir.file("job.sql"), with_dir(R"(
    CREATE TABLE src (k BIGINT, v TEXT) WITH (connector = 'stdin', format = 'csv', max_line_bytes = '100',
                                              dlq = '{DIR}/bad.jsonl');
    CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
    INSERT INTO out SELECT k, v FROM src;)", dir.path()));
  auto r = run_sluice("run -q job.sql", dir.path(), dir.file("stdin.txt"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_file(dir.file("out.jsonl")), "{\"k\":1,\"v\":\"a\"}\n{\"k\":3,\"v\":\"c\"}\n");
  auto dlq = dead_letters(dir.file("bad.jsonl"));
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_EQ(dlq[0]["line"], 2);
  EXPECT_EQ(dlq[0]["offset"], 4);
  EXPECT_NE(dlq[0]["error"].get<std::string>().find("record exceeds max line length 100 bytes"), std::string::npos);
}

TEST(SourceInputTest, MaxLineBytesMustBeValid) {
  TempDir dir;
  write_file(dir.file("in.jsonl"), "{}\n");
  write_file(dir.file("job.sql"), with_dir(R"(
    CREATE TABLE src (k BIGINT) WITH (connector = 'file', path = '{DIR}/in.jsonl', max_line_bytes = '0');
    CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
    INSERT INTO out SELECT k FROM src;)", dir.path()));
  auto r = run_sluice("validate job.sql", dir.path());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("option 'max_line_bytes' must be between 1 and"), std::string::npos) << r.output;
}

// --- dates that do not exist ------------------------------------------------------------

TEST(SourceInputTest, DatesThatDoNotExistAreDeadLetteredNotNormalised) {
  TempDir dir;
  write_file(dir.file("in.jsonl"),
             "{\"k\": 1, \"ts\": \"2024-02-29T10:00:00Z\"}\n"
             "{\"k\": 2, \"ts\": \"2024-02-30T10:00:00Z\"}\n"
             "{\"k\": 3, \"ts\": \"2023-02-29\"}\n"
             "{\"k\": 4, \"ts\": \"2024-13-01\"}\n"
             "{\"k\": 5, \"ts\": \"2024-04-31 00:00:00\"}\n"
             "{\"k\": 6, \"ts\": \"2024-03-01T00:00:00Z\"}\n");
  write_file(dir.file("job.sql"), with_dir(R"(
    CREATE TABLE src (k BIGINT, ts TIMESTAMP) WITH (connector = 'file', path = '{DIR}/in.jsonl');
    CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
    INSERT INTO out SELECT k, ts FROM src;)", dir.path()));
  auto r = run_sluice("run -q job.sql", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_file(dir.file("out.jsonl")),
            "{\"k\":1,\"ts\":\"2024-02-29T10:00:00Z\"}\n{\"k\":6,\"ts\":\"2024-03-01T00:00:00Z\"}\n");
  auto dlq = dead_letters(dir.file("src.dlq.jsonl"));
  ASSERT_EQ(dlq.size(), 4u);
  EXPECT_EQ(dlq[0]["line"], 2);
  EXPECT_NE(dlq[0]["error"].get<std::string>().find("day 30 is out of range for February 2024 (29 days)"),
            std::string::npos)
      << dlq[0]["error"];
  EXPECT_NE(dlq[1]["error"].get<std::string>().find("day 29 is out of range for February 2023 (28 days)"),
            std::string::npos);
  EXPECT_NE(dlq[2]["error"].get<std::string>().find("month 13 is out of range"), std::string::npos);
  EXPECT_NE(dlq[3]["error"].get<std::string>().find("day 31 is out of range for April 2024"), std::string::npos);
}

TEST(SourceInputTest, CastOfADateThatDoesNotExistIsNullLikeOtherBadCasts) {
  TempDir dir;
  write_file(dir.file("in.jsonl"), "{\"s\": \"2024-02-30\"}\n{\"s\": \"2024-02-29\"}\n{\"s\": \"nope\"}\n");
  write_file(dir.file("job.sql"), with_dir(R"(
    CREATE TABLE src (s TEXT) WITH (connector = 'file', path = '{DIR}/in.jsonl');
    CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
    INSERT INTO out SELECT s, CAST(s AS TIMESTAMP) AS t FROM src;)", dir.path()));
  auto r = run_sluice("run -q job.sql", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_file(dir.file("out.jsonl")),
            "{\"s\":\"2024-02-30\",\"t\":null}\n{\"s\":\"2024-02-29\",\"t\":\"2024-02-29T00:00:00Z\"}\n"
            "{\"s\":\"nope\",\"t\":null}\n");
}

TEST(SourceInputTest, TimestampLiteralOfADateThatDoesNotExistIsAPositionedError) {
  TempDir dir;
  write_file(dir.file("in.jsonl"), "{\"k\": 1}\n");
  write_file(dir.file("job.sql"), with_dir(
      "CREATE TABLE src (k BIGINT) WITH (connector = 'file', path = '{DIR}/in.jsonl');\n"
      "CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');\n"
      "INSERT INTO out SELECT k, TIMESTAMP '2024-02-30 10:00:00' AS t FROM src;\n", dir.path()));
  auto r = run_sluice("validate job.sql", dir.path());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("job.sql:3:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("day 30 is out of range for February 2024"), std::string::npos) << r.output;
}

// --- max_future_skew --------------------------------------------------------------------

const char* kSkewJob = R"(
    CREATE TABLE src (k BIGINT, ts TIMESTAMP)
      WITH (connector = 'file', path = '{DIR}/in.jsonl', event_time = 'ts'{SKEW});
    CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
    INSERT INTO out SELECT window_start, COUNT(*) AS n FROM TUMBLE(src, ts, INTERVAL '1 minute')
    GROUP BY window_start, window_end;)";

std::string skew_job(const std::string& dir, const std::string& skew) {
  std::string sql = with_dir(kSkewJob, dir);
  sql.replace(sql.find("{SKEW}"), 6, skew);
  return sql;
}

constexpr const char* kSkewInput =
    "{\"k\": 1, \"ts\": \"2024-01-01T00:00:10Z\"}\n"
    "{\"k\": 2, \"ts\": \"9999-01-01T00:00:00Z\"}\n"
    "{\"k\": 3, \"ts\": \"2024-01-01T00:00:20Z\"}\n"
    "{\"k\": 4, \"ts\": \"2024-01-01T00:01:30Z\"}\n";

TEST(SourceInputTest, WithoutMaxFutureSkewOneFarFutureRecordMakesLaterDataLate) {
  TempDir dir;
  write_file(dir.file("in.jsonl"), kSkewInput);
  write_file(dir.file("job.sql"), skew_job(dir.path(), ""));
  auto r = run_sluice("run job.sql", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("late 2"), std::string::npos) << r.output;  // today's (Flink's) behaviour
}

TEST(SourceInputTest, MaxFutureSkewDeadLettersFarFutureRecordsWithoutMovingTheWatermark) {
  TempDir dir;
  write_file(dir.file("in.jsonl"), kSkewInput);
  write_file(dir.file("job.sql"), skew_job(dir.path(), ", max_future_skew = '1 hour'"));
  auto r = run_sluice("run job.sql", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find(", late "), std::string::npos) << r.output;
  EXPECT_EQ(read_file(dir.file("out.jsonl")),
            "{\"window_start\":\"2024-01-01T00:00:00Z\",\"n\":2}\n"
            "{\"window_start\":\"2024-01-01T00:01:00Z\",\"n\":1}\n");
  auto dlq = dead_letters(dir.file("src.dlq.jsonl"));
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_EQ(dlq[0]["line"], 2);
  const std::string error = dlq[0]["error"];
  EXPECT_EQ(error.rfind("event time column 'ts' is 9999-01-01 00:00:00, more than max_future_skew 1h ahead of the "
                        "processing time ", 0),
            0u)
      << error;
}

TEST(SourceInputTest, MaxFutureSkewNeedsEventTimeAndANonNegativeDuration) {
  TempDir dir;
  write_file(dir.file("in.jsonl"), kSkewInput);
  std::string sql = skew_job(dir.path(), ", max_future_skew = '-1s'");
  write_file(dir.file("job.sql"), sql);
  auto r = run_sluice("validate job.sql", dir.path());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("max_future_skew must not be negative"), std::string::npos) << r.output;
  write_file(dir.file("job.sql"), with_dir(R"(
    CREATE TABLE src (k BIGINT, ts TIMESTAMP)
      WITH (connector = 'file', path = '{DIR}/in.jsonl', max_future_skew = '1h');
    CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
    INSERT INTO out SELECT k FROM src;)", dir.path()));
  r = run_sluice("validate job.sql", dir.path());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("max_future_skew needs an event_time column"), std::string::npos) << r.output;
}

// --- CSV ----------------------------------------------------------------------------------

TEST(SourceInputTest, CsvHeaderMatchesColumnsByNameAndIsNotARecord) {
  TempDir dir;
  write_file(dir.file("in.csv"),
             "\xEF\xBB\xBF" "note,ts,name,unused\n"
             "\"first line\nsecond line\",2024-01-01 00:00:01,ann,x\n"
             "plain,2024-01-01 00:00:02,bob,y\n"
             "\"with \"\"quotes\"\", and a comma\",2024-01-01 00:00:03,cy,z\n"
             "short,2024-01-01 00:00:04\n");
  write_file(dir.file("job.sql"), with_dir(R"(
    CREATE TABLE src (name TEXT, ts TIMESTAMP, note TEXT, missing BIGINT)
      WITH (connector = 'file', path = '{DIR}/in.csv', format = 'csv', header = 'true');
    CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.csv', format = 'csv');
    INSERT INTO out SELECT name, ts, note, missing FROM src;)", dir.path()));
  auto r = run_sluice("run job.sql", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_file(dir.file("out.csv")),
            "name,ts,note,missing\n"
            "ann,2024-01-01 00:00:01,\"first line\nsecond line\",\n"
            "bob,2024-01-01 00:00:02,plain,\n"
            "cy,2024-01-01 00:00:03,\"with \"\"quotes\"\", and a comma\",\n");
  EXPECT_EQ(records_in(r.output), "4") << "the header is not a record\n" << r.output;
  auto dlq = dead_letters(dir.file("src.dlq.jsonl"));
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_EQ(dlq[0]["line"], 6) << "line numbers count the quoted line break";
  EXPECT_EQ(dlq[0]["error"], "expected 4 fields (as in the header), got 2");
}

TEST(SourceInputTest, CsvWrittenByTheCsvSinkReadsBackTheSameRows) {
  TempDir dir;
  write_file(dir.file("in.jsonl"),
             "{\"id\": 1, \"text\": \"two\\nlines\"}\n"
             "{\"id\": 2, \"text\": \"crlf\\r\\nand \\\"quotes\\\", commas\"}\n"
             "{\"id\": 3, \"text\": \"\"}\n"
             "{\"id\": 4, \"text\": null}\n");
  write_file(dir.file("job.sql"), with_dir(R"(
    CREATE TABLE src (id BIGINT, text TEXT) WITH (connector = 'file', path = '{DIR}/in.jsonl');
    CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.csv', format = 'csv');
    INSERT INTO out SELECT text, id FROM src;)", dir.path()));
  auto r = run_sluice("run -q job.sql", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  write_file(dir.file("back.sql"), with_dir(R"(
    CREATE TABLE src (id BIGINT, text TEXT)
      WITH (connector = 'file', path = '{DIR}/out.csv', format = 'csv', header = 'true');
    CREATE TABLE back () WITH (connector = 'file', path = '{DIR}/back.jsonl');
    INSERT INTO back SELECT id, text FROM src;)", dir.path()));
  r = run_sluice("run -q back.sql", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_file(dir.file("back.jsonl")),
            "{\"id\":1,\"text\":\"two\\nlines\"}\n"
            "{\"id\":2,\"text\":\"crlf\\r\\nand \\\"quotes\\\", commas\"}\n"
            "{\"id\":3,\"text\":\"\"}\n"
            "{\"id\":4,\"text\":null}\n");
  EXPECT_FALSE(std::filesystem::exists(dir.file("src.dlq.jsonl")));
}

TEST(SourceInputTest, CsvHeaderNamingNoDeclaredColumnFailsTheJobClearly) {
  TempDir dir;
  write_file(dir.file("in.csv"), "a,b\n1,2\n");
  write_file(dir.file("job.sql"), with_dir(R"(
    CREATE TABLE src (x BIGINT, y BIGINT)
      WITH (connector = 'file', path = '{DIR}/in.csv', format = 'csv', header = 'true');
    CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
    INSERT INTO out SELECT x, y FROM src;)", dir.path()));
  auto r = run_sluice("run -q job.sql", dir.path());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("table src: CSV header on line 1 (a,b) names none of the declared columns (x, y)"),
            std::string::npos)
      << r.output;
}

TEST(SourceInputTest, ByteOrderMarkIsNotPartOfTheFirstJsonRecord) {
  TempDir dir;
  write_file(dir.file("in.jsonl"), "\xEF\xBB\xBF{\"k\": 1}\n{\"k\": 2}\n");
  write_file(dir.file("job.sql"), with_dir(R"(
    CREATE TABLE src (k BIGINT) WITH (connector = 'file', path = '{DIR}/in.jsonl');
    CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
    INSERT INTO out SELECT k FROM src;)", dir.path()));
  auto r = run_sluice("run -q job.sql", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_file(dir.file("out.jsonl")), "{\"k\":1}\n{\"k\":2}\n");
  EXPECT_FALSE(std::filesystem::exists(dir.file("src.dlq.jsonl")));
}

}  // namespace
}  // namespace sluice
