// SQL end-to-end cases as files: tests/e2e/cases/<name>/ holds job.sql ({DIR} = the run's
// directory), its input files, optionally stdin.txt (fed to `sluice run`) and
// expected/<file> for each output file to compare byte for byte (for SQLite outputs,
// expected/<db>.<table>.txt holds `SELECT * ... ORDER BY 1..n` rows, '|' separated), and
// optionally expected_error.txt: a substring of the one-line error the run must fail with.
// A case holding a file named `unordered` compares outputs as sorted lines (UNION ALL of
// independent sources interleaves by arrival: the multiset is deterministic, not the order).
// Adding a case needs no C++.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>

#include "test_helpers.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> case_names() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(std::string(SLUICE_SOURCE_DIR) + "/tests/e2e/cases")) {
    if (fs::exists(e.path() / "job.sql")) out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string dump_table(const std::string& db_path, const std::string& table) {
  sqlite3* db = nullptr;
  std::string out;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) return "<cannot open>";
  sqlite3_stmt* st = nullptr;
  std::string sql = "SELECT * FROM \"" + table + "\"";
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    out = std::string("<") + sqlite3_errmsg(db) + ">";
  } else {
    int n = sqlite3_column_count(st);
    std::vector<std::string> rows;
    while (sqlite3_step(st) == SQLITE_ROW) {
      std::string row;
      for (int i = 0; i < n; ++i) {
        if (i) row += "|";
        const unsigned char* t = sqlite3_column_text(st, i);
        row += t ? reinterpret_cast<const char*>(t) : "NULL";
      }
      rows.push_back(row);
    }
    std::sort(rows.begin(), rows.end());
    for (const auto& r : rows) out += r + "\n";
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return out;
}

std::string sorted_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

class SqlCaseTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SqlCaseTest, ProducesTheExpectedOutput) {
  fs::path src = fs::path(SLUICE_SOURCE_DIR) / "tests/e2e/cases" / GetParam();
  testing::TempDir dir;
  for (const auto& e : fs::directory_iterator(src)) {
    if (e.is_regular_file()) fs::copy_file(e.path(), fs::path(dir.path()) / e.path().filename());
  }
  testing::write_file(dir.file("job.sql"), testing::with_dir(testing::read_file((src / "job.sql").string()), dir.path()));
  std::string args = "run -q job.sql";
  if (fs::exists(src / "args.txt")) args = testing::read_file((src / "args.txt").string());
  while (!args.empty() && args.back() == '\n') args.pop_back();
  std::string in = fs::exists(src / "stdin.txt") ? dir.file("stdin.txt") : "/dev/null";
  auto r = testing::run_sluice(args, dir.path(), in);
  if (fs::exists(src / "expected_error.txt")) {
    std::string want = testing::read_file((src / "expected_error.txt").string());
    while (!want.empty() && want.back() == '\n') want.pop_back();
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.output.find(want), std::string::npos) << r.output;
    return;
  }
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_TRUE(fs::exists(src / "expected")) << "case has no expected/ folder";
  for (const auto& e : fs::directory_iterator(src / "expected")) {
    std::string name = e.path().filename().string();
    std::string want = testing::read_file(e.path().string());
    std::string got;
    auto dot = name.find(".db.");
    if (dot != std::string::npos && name.size() > 4 && name.substr(name.size() - 4) == ".txt") {
      std::string db = name.substr(0, dot + 3);
      std::string table = name.substr(dot + 4, name.size() - dot - 8);
      got = dump_table(dir.file(db), table);
    } else if (name == "stdout.txt") {
      got = r.output;
    } else {
      got = testing::read_file(dir.file(name));
    }
    if (fs::exists(src / "unordered")) {
      got = sorted_lines(got);
      want = sorted_lines(want);
    }
    EXPECT_EQ(got, want) << "output file " << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, SqlCaseTest, ::testing::ValuesIn(case_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace sluice
