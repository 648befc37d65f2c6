// Specification of the dead-letter queues: destination choice, lazy creation, the JSON-lines
// and SQLite record layouts, escaping, thread safety and error reporting.
#include "formats/dead_letter.h"

#include "connectors/registry.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <thread>
#include <vector>

namespace sluice {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::string_literals;

class DeadLetterTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (fs::path(testing::TempDir()) / "dlq_test_XXXXXX").string();
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  std::unique_ptr<DeadLetterQueue> open(const std::string& name, const std::string& table = "") {
    auto q = make_dead_letter_queue(path(name), table);
    EXPECT_TRUE(q.is_ok()) << q.status().to_string();
    return q.is_ok() ? std::move(q).value() : nullptr;
  }

  static DeadLetter letter(std::string_view raw, std::string_view error = "bad record") {
    DeadLetter l;
    l.source = "clicks";
    l.split = 2;
    l.offset = 1234;
    l.line = 17;
    l.error = error;
    l.raw = raw;
    return l;
  }

  std::vector<std::string> lines(const std::string& name) const {
    std::ifstream in(path(name), std::ios::binary);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

  // Strict parse (nlohmann rejects invalid UTF-8 and raw control characters).
  static json parse(const std::string& line) {
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(j.is_discarded()) << line;
    return j;
  }

  fs::path dir_;
};

struct Row {
  std::string source;
  int64_t split, offset, line;
  std::string error;
  std::string raw;
  int raw_type;
  std::string time;
};

std::vector<Row> sqlite_rows(const std::string& db_path, const std::string& table) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  std::string sql = "SELECT source, split, \"offset\", line, error, raw, time FROM \"" + table + "\" ORDER BY rowid";
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  std::vector<Row> rows;
  while (st != nullptr && sqlite3_step(st) == SQLITE_ROW) {
    auto text = [&](int c) {
      const void* p = sqlite3_column_blob(st, c);
      return std::string(static_cast<const char*>(p ? p : ""), static_cast<size_t>(sqlite3_column_bytes(st, c)));
    };
    rows.push_back(Row{text(0), sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2),
                       sqlite3_column_int64(st, 3), text(4), text(5), sqlite3_column_type(st, 5), text(6)});
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return rows;
}

const std::regex kIsoTime(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z)");

// --- destination ------------------------------------------------------------------------

TEST_F(DeadLetterTest, PlainPathIsAJsonLinesFile) {
  EXPECT_EQ(open("bad.jsonl")->describe(), "file " + path("bad.jsonl"));
}

TEST_F(DeadLetterTest, DatabaseExtensionsSelectSqliteWithDefaultTableDlq) {
  for (const char* name : {"out.db", "out.sqlite", "out.sqlite3", "OUT.DB"}) {
    EXPECT_EQ(open(name)->describe(), "sqlite " + path(name) + " table dlq") << name;
  }
}

TEST_F(DeadLetterTest, TableNameSelectsSqliteWhateverTheExtension) {
  EXPECT_EQ(open("store", "bad_clicks")->describe(), "sqlite " + path("store") + " table bad_clicks");
}

// Issue 9 point 22, as for a SQLite sink (one check, sqlite_sink.h): a SQLite side output
// in a URI or memory database would write nowhere, and sluice's bookkeeping tables are no
// side output's; both refused with one line, before anything is created.
TEST_F(DeadLetterTest, SqliteUriMemoryPathsAndReservedTablesAreRefused) {
  for (SideOutputKind kind : {SideOutputKind::kDeadLetters, SideOutputKind::kLateData}) {
    for (const auto& [where, table, want] : std::vector<std::tuple<std::string, std::string, std::string>>{
             {"file:dlq.db", "", "would be opened as a SQLite URI and written nowhere"},
             {"file:dlq.db?mode=memory", "bad", "would be opened as a SQLite URI and written nowhere"},
             {":memory:", "bad", "would be opened as an in-memory database and written nowhere"},
             {path("out.db"), "_sluice_commits", "sqlite table name '_sluice_commits' is reserved"},
             {path("out.db"), "_SLUICE_undo", "sqlite table name '_SLUICE_undo' is reserved"}}) {
      auto q = make_dead_letter_queue(where, table, kind);
      ASSERT_FALSE(q.is_ok()) << where << " " << table;
      EXPECT_EQ(q.status().code(), StatusCode::kInvalidArgument);
      const std::string& m = q.status().message();
      EXPECT_NE(m.find(want), std::string::npos) << m;
      EXPECT_EQ(m.rfind(side_output_kind_name(kind), 0), 0u) << m;
      EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    }
  }
  EXPECT_FALSE(fs::exists(path("out.db")));
  EXPECT_TRUE(make_dead_letter_queue("./file:dlq.db", "").is_ok()) << "a file really named so";
}

TEST_F(DeadLetterTest, EmptyPathIsError) { EXPECT_FALSE(make_dead_letter_queue("", "").is_ok()); }

TEST_F(DeadLetterTest, MissingDirectoryIsErrorNamingThePath) {
  auto q = make_dead_letter_queue(path("nope/dlq.jsonl"), "");
  ASSERT_FALSE(q.is_ok());
  EXPECT_NE(q.status().message().find(path("nope/dlq.jsonl")), std::string::npos) << q.status().message();
}

TEST_F(DeadLetterTest, DirectoryAsPathIsErrorNamingThePath) {
  auto q = make_dead_letter_queue(dir_.string(), "");
  ASSERT_FALSE(q.is_ok());
  EXPECT_NE(q.status().message().find(dir_.string()), std::string::npos);
}

TEST_F(DeadLetterTest, OpenFailureOnFirstWriteIsErrorNamingThePath) {
  fs::create_directory(dir_ / "gone");
  auto q = open("gone/dlq.jsonl");
  fs::remove(dir_ / "gone");
  Status s = q->write(letter("x"));
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find(path("gone/dlq.jsonl")), std::string::npos) << s.message();
}

TEST_F(DeadLetterTest, SqliteOpenFailureOnFirstWriteIsErrorNamingThePath) {
  fs::create_directory(dir_ / "gone");
  auto q = open("gone/dlq.db");
  fs::remove(dir_ / "gone");
  Status s = q->write(letter("x"));
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find(path("gone/dlq.db")), std::string::npos) << s.message();
}

// --- JSON-lines file --------------------------------------------------------------------

TEST_F(DeadLetterTest, FileIsCreatedLazilyOnFirstWrite) {
  auto q = open("dlq.jsonl");
  ASSERT_TRUE(q->flush().is_ok());
  EXPECT_FALSE(fs::exists(path("dlq.jsonl")));
  ASSERT_TRUE(q->write(letter("x")).is_ok());
  EXPECT_TRUE(fs::exists(path("dlq.jsonl")));
}

TEST_F(DeadLetterTest, CleanRunLeavesNoFile) {
  open("dlq.jsonl").reset();
  EXPECT_FALSE(fs::exists(path("dlq.jsonl")));
}

TEST_F(DeadLetterTest, FileHasOneJsonObjectPerLetterWithAllFields) {
  auto q = open("dlq.jsonl");
  ASSERT_TRUE(q->write(letter("{\"user_id\":\"abc\"}", "field 'user_id': expected BIGINT")).is_ok());
  ASSERT_TRUE(q->write(letter("second")).is_ok());
  ASSERT_TRUE(q->flush().is_ok());
  auto ls = lines("dlq.jsonl");
  ASSERT_EQ(ls.size(), 2u);
  json j = parse(ls[0]);
  EXPECT_EQ(j["source"], "clicks");
  EXPECT_EQ(j["split"], 2);
  EXPECT_EQ(j["offset"], 1234);
  EXPECT_EQ(j["line"], 17);
  EXPECT_EQ(j["error"], "field 'user_id': expected BIGINT");
  EXPECT_EQ(j["raw"], "{\"user_id\":\"abc\"}");
  EXPECT_TRUE(std::regex_match(j["time"].get<std::string>(), kIsoTime)) << j["time"];
  EXPECT_EQ(parse(ls[1])["raw"], "second");
}

TEST_F(DeadLetterTest, FileEscapesQuotesBackslashesAndControlCharacters) {
  const std::string raw = "a\"b\\c\nd\re\tf\x01g\x7f" "h\0i"s;
  auto q = open("dlq.jsonl");
  ASSERT_TRUE(q->write(letter(raw)).is_ok());
  ASSERT_TRUE(q->flush().is_ok());
  auto ls = lines("dlq.jsonl");
  ASSERT_EQ(ls.size(), 1u);  // the newline in raw did not split the line
  EXPECT_EQ(parse(ls[0])["raw"].get<std::string>(), raw);
}

TEST_F(DeadLetterTest, FileKeepsValidUtf8AsIs) {
  const std::string raw = "caf\xc3\xa9 \xf0\x9f\x98\x80";
  auto q = open("dlq.jsonl");
  ASSERT_TRUE(q->write(letter(raw)).is_ok());
  ASSERT_TRUE(q->flush().is_ok());
  EXPECT_EQ(parse(lines("dlq.jsonl")[0])["raw"].get<std::string>(), raw);
}

TEST_F(DeadLetterTest, FileEscapesEachInvalidUtf8ByteAsItsCodePoint) {
  // Stray continuation, truncated sequence, overlong, surrogate, beyond U+10FFFF.
  const std::string raw = "a\x80" "b\xe2\x82" "c\xc0\xaf" "d\xed\xa0\x80" "e\xf5\x80\x80\x80";
  auto q = open("dlq.jsonl");
  ASSERT_TRUE(q->write(letter(raw, "bad \xff error")).is_ok());
  ASSERT_TRUE(q->flush().is_ok());
  auto ls = lines("dlq.jsonl");
  ASSERT_EQ(ls.size(), 1u);
  EXPECT_NE(ls[0].find(R"("raw":"a\u0080b\u00e2\u0082c\u00c0\u00afd\u00ed\u00a0\u0080e\u00f5\u0080\u0080\u0080")"),
            std::string::npos)
      << ls[0];
  json j = parse(ls[0]);
  EXPECT_EQ(j["error"], "bad \xc3\xbf error");  // U+00FF
}

TEST_F(DeadLetterTest, FileAppendsToLettersOfAnEarlierRun) {
  ASSERT_TRUE(open("dlq.jsonl")->write(letter("first run")).is_ok());
  ASSERT_TRUE(open("dlq.jsonl")->write(letter("second run")).is_ok());
  EXPECT_EQ(lines("dlq.jsonl").size(), 2u);
}

TEST_F(DeadLetterTest, CountCountsWrittenLetters) {
  auto q = open("dlq.jsonl");
  EXPECT_EQ(q->count(), 0u);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(q->write(letter("x")).is_ok());
  EXPECT_EQ(q->count(), 3u);
}

TEST_F(DeadLetterTest, ConcurrentWritersProduceWholeLines) {
  auto q = open("dlq.jsonl");
  constexpr int kThreads = 4, kEach = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&q, t] {
      const std::string raw = "thread " + std::to_string(t) + std::string(200, 'x');
      for (int i = 0; i < kEach; ++i) EXPECT_TRUE(q->write(letter(raw)).is_ok());
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(q->flush().is_ok());
  EXPECT_EQ(q->count(), static_cast<uint64_t>(kThreads * kEach));
  auto ls = lines("dlq.jsonl");
  ASSERT_EQ(ls.size(), static_cast<size_t>(kThreads * kEach));
  for (const auto& l : ls) ASSERT_EQ(parse(l)["raw"].get<std::string>().size(), 208u);
}

// --- runs and file modes -----------------------------------------------------------------

int mode_of(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 0777) : -1;
}

TEST_F(DeadLetterTest, AFreshRunRemovesTheFileOfAnEarlierRun) {
  ASSERT_TRUE(open("dlq.jsonl")->write(letter("earlier run")).is_ok());
  auto q = open("dlq.jsonl");
  ASSERT_TRUE(q->begin_run(/*resumed=*/false).is_ok());
  EXPECT_FALSE(fs::exists(path("dlq.jsonl")));  // a clean run leaves nothing behind
  ASSERT_TRUE(q->write(letter("this run")).is_ok());
  ASSERT_TRUE(q->flush().is_ok());
  auto ls = lines("dlq.jsonl");
  ASSERT_EQ(ls.size(), 1u);
  EXPECT_EQ(parse(ls[0])["raw"], "this run");
}

TEST_F(DeadLetterTest, AResumedRunAppends) {
  ASSERT_TRUE(open("dlq.jsonl")->write(letter("earlier run")).is_ok());
  auto q = open("dlq.jsonl");
  ASSERT_TRUE(q->begin_run(/*resumed=*/true).is_ok());
  ASSERT_TRUE(q->write(letter("this run")).is_ok());
  ASSERT_TRUE(q->flush().is_ok());
  EXPECT_EQ(lines("dlq.jsonl").size(), 2u);
}

TEST_F(DeadLetterTest, AFreshRunTruncatesASymlinkedFileAndNeverTouchesDevices) {
  ASSERT_TRUE(open("target.jsonl")->write(letter("earlier run")).is_ok());
  fs::create_symlink(path("target.jsonl"), path("link.jsonl"));
  ASSERT_TRUE(open("link.jsonl")->begin_run(false).is_ok());
  EXPECT_TRUE(fs::is_symlink(path("link.jsonl")));
  EXPECT_EQ(fs::file_size(path("target.jsonl")), 0u);
  auto dev = make_dead_letter_queue("/dev/null", "");
  ASSERT_TRUE(dev.is_ok());
  ASSERT_TRUE(dev.value()->begin_run(false).is_ok());
  EXPECT_TRUE(fs::exists("/dev/null"));
}

TEST_F(DeadLetterTest, CreatedFilesAreReadableByTheOwnerOnly) {
  const mode_t old = ::umask(022);
  ASSERT_TRUE(open("dlq.jsonl")->write(letter("x")).is_ok());
  ASSERT_TRUE(open("dlq.db")->write(letter("x")).is_ok());
  ::umask(old);
  EXPECT_EQ(mode_of(path("dlq.jsonl")), 0600);
  EXPECT_EQ(mode_of(path("dlq.db")), 0600);
}

TEST_F(DeadLetterTest, AnExistingFileKeepsItsMode) {
  std::ofstream(path("dlq.jsonl")) << "";
  ::chmod(path("dlq.jsonl").c_str(), 0640);
  auto q = open("dlq.jsonl");
  ASSERT_TRUE(q->begin_run(true).is_ok());
  ASSERT_TRUE(q->write(letter("x")).is_ok());
  EXPECT_EQ(mode_of(path("dlq.jsonl")), 0640);
}

TEST_F(DeadLetterTest, AFreshRunDropsTheSqliteTableButKeepsTheDatabase) {
  ASSERT_TRUE(open("side.db", "bad")->write(letter("earlier run")).is_ok());
  ASSERT_TRUE(open("side.db", "other")->write(letter("another table")).is_ok());
  auto q = open("side.db", "bad");
  ASSERT_TRUE(q->begin_run(false).is_ok());
  ASSERT_TRUE(q->write(letter("this run")).is_ok());
  ASSERT_TRUE(q->flush().is_ok());
  auto rows = sqlite_rows(path("side.db"), "bad");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].raw, "this run");
  EXPECT_EQ(sqlite_rows(path("side.db"), "other").size(), 1u);
}

TEST_F(DeadLetterTest, LateDataEntriesNameTheirQueries) {
  auto q = make_dead_letter_queue(path("late.jsonl"), "", SideOutputKind::kLateData);
  ASSERT_TRUE(q.is_ok());
  DeadLetter l = letter("{\"ts\": 1}", "late record");
  l.queries = {"per_page", "top#2"};
  ASSERT_TRUE(q.value()->write(l).is_ok());
  ASSERT_TRUE(q.value()->flush().is_ok());
  json j = parse(lines("late.jsonl").at(0));
  EXPECT_EQ(j["queries"], json::array({"per_page", "top#2"}));
  EXPECT_EQ(j["raw"], "{\"ts\": 1}");
  // Dead letters have no queries field.
  ASSERT_TRUE(open("dlq.jsonl")->write(letter("x")).is_ok());
  EXPECT_FALSE(parse(lines("dlq.jsonl").at(0)).contains("queries"));
}

// --- SQLite -----------------------------------------------------------------------------

TEST_F(DeadLetterTest, SqliteDatabaseIsCreatedLazilyOnFirstWrite) {
  auto q = open("dlq.db");
  ASSERT_TRUE(q->flush().is_ok());
  EXPECT_FALSE(fs::exists(path("dlq.db")));
  ASSERT_TRUE(q->write(letter("x")).is_ok());
  EXPECT_TRUE(fs::exists(path("dlq.db")));
}

TEST_F(DeadLetterTest, SqliteRowsHoldAllFieldsAndRawBytesAsBlob) {
  const std::string raw("bin\0\xff\n", 6);
  auto q = open("dlq.db");
  ASSERT_TRUE(q->write(letter(raw, "field 'x': expected BIGINT")).is_ok());
  ASSERT_TRUE(q->write(letter("")).is_ok());
  ASSERT_TRUE(q->flush().is_ok());
  auto rows = sqlite_rows(path("dlq.db"), "dlq");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].source, "clicks");
  EXPECT_EQ(rows[0].split, 2);
  EXPECT_EQ(rows[0].offset, 1234);
  EXPECT_EQ(rows[0].line, 17);
  EXPECT_EQ(rows[0].error, "field 'x': expected BIGINT");
  EXPECT_EQ(rows[0].raw, raw);
  EXPECT_EQ(rows[0].raw_type, SQLITE_BLOB);
  EXPECT_TRUE(std::regex_match(rows[0].time, kIsoTime)) << rows[0].time;
  EXPECT_EQ(rows[1].raw_type, SQLITE_BLOB);  // an empty record is an empty BLOB, not NULL
}

TEST_F(DeadLetterTest, SqliteUsesTheGivenTableName) {
  auto q = open("store.sqlite", "bad clicks");
  ASSERT_TRUE(q->write(letter("x")).is_ok());
  ASSERT_TRUE(q->flush().is_ok());
  EXPECT_EQ(sqlite_rows(path("store.sqlite"), "bad clicks").size(), 1u);
}

TEST_F(DeadLetterTest, SqliteAppendsToAnExistingTable) {
  ASSERT_TRUE(open("dlq.db")->write(letter("first run")).is_ok());  // destructor commits
  auto q = open("dlq.db");
  ASSERT_TRUE(q->write(letter("second run")).is_ok());
  ASSERT_TRUE(q->flush().is_ok());
  auto rows = sqlite_rows(path("dlq.db"), "dlq");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].raw, "second run");
}

TEST_F(DeadLetterTest, SqliteFlushMakesLettersVisibleToOtherConnections) {
  auto q = open("dlq.db");
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(q->write(letter(std::to_string(i))).is_ok());
  ASSERT_TRUE(q->flush().is_ok());
  auto rows = sqlite_rows(path("dlq.db"), "dlq");
  ASSERT_EQ(rows.size(), 1000u);
  EXPECT_EQ(rows[999].raw, "999");
  EXPECT_EQ(q->count(), 1000u);
}

TEST_F(DeadLetterTest, SqliteTableWithIncompatibleColumnsIsError) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path("dlq.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE dlq (x INTEGER)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  Status s = open("dlq.db")->write(letter("x"));
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find(path("dlq.db")), std::string::npos) << s.message();
}

TEST_F(DeadLetterTest, SqliteConcurrentWritersLoseNothing) {
  auto q = open("dlq.db");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&q] {
      for (int i = 0; i < 300; ++i) EXPECT_TRUE(q->write(letter("x")).is_ok());
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(q->flush().is_ok());
  EXPECT_EQ(sqlite_rows(path("dlq.db"), "dlq").size(), 1200u);
}

}  // namespace
}  // namespace sluice
