// examples/README.md's commands work exactly as written: every ```sh block of the README is
// run, in order, by one `sh -e` in a fresh directory laid out like the repository root
// (build/sluice is the binary under test, examples/ the source tree's examples), and the
// outputs the README promises are there. The results themselves are checked against
// batch queries by examples_test.cc.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "test_helpers.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;

int64_t count_rows(const std::string& db_path, const std::string& table) {
  sqlite3* db = nullptr;
  int64_t n = -1;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    std::string sql = "SELECT COUNT(*) FROM " + table;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
      n = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return n;
}

TEST(ExamplesReadmeTest, DocumentedCommandsRunFromAScratchFolder) {
  const std::string source = SLUICE_SOURCE_DIR;
  std::vector<std::string> blocks = testing::markdown_sh_blocks(testing::read_file(source + "/examples/README.md"));
  ASSERT_GE(blocks.size(), 2u) << "examples/README.md should show its commands in ```sh blocks";
  std::string script;
  for (const auto& b : blocks) script += b;
  ASSERT_NE(script.find("clicks_per_page.sql"), std::string::npos) << script;

  testing::TempDir root;
  fs::create_directory(root.file("build"));
  fs::create_symlink(testing::sluice_binary(), root.file("build/sluice"));
  fs::create_directory_symlink(source + "/examples", root.file("examples"));
  testing::write_file(root.file("readme.sh"), script);
  testing::CommandResult r = testing::run_command("cd '" + root.path() + "' && sh -e ./readme.sh </dev/null 2>&1");
  ASSERT_EQ(r.exit_code, 0) << script << "\n--- output:\n" << r.output;

  const std::string scratch = root.file("scratch");
  EXPECT_GT(count_rows(scratch + "/demo.db", "page_minutes"), 1000);
  EXPECT_GT(count_rows(scratch + "/active_users.db", "active_users"), 10);
  EXPECT_GT(count_rows(scratch + "/sessions.db", "sessions"), 1000);
  EXPECT_GT(count_rows(scratch + "/funnel.db", "funnel"), 5);
  EXPECT_TRUE(fs::exists(scratch + "/funnel.jsonl"));
  // clicks_per_page.sql: its table, the late rows and the malformed lines of clicks.jsonl.
  int64_t per_page = count_rows(scratch + "/out.db", "per_page");
  EXPECT_GT(per_page, 10);
  EXPECT_GT(fs::file_size(scratch + "/clicks_per_page.late.jsonl"), 0u);
  EXPECT_GT(fs::file_size(scratch + "/clicks_per_page.dlq.jsonl"), 0u);
  // Issue 9 point 19: the examples all read a table `clicks`; each keeps its own side
  // outputs (funnel.sql's generator makes malformed records), none the default name's.
  EXPECT_GT(fs::file_size(scratch + "/funnel.dlq.jsonl"), 0u);
  EXPECT_FALSE(fs::exists(scratch + "/clicks.dlq.jsonl"));
  EXPECT_FALSE(fs::exists(scratch + "/clicks.late.jsonl"));
  // The README's `sqlite3 out.db 'SELECT * FROM per_page ...'` printed every row.
  size_t printed = 0;
  std::istringstream out(r.output);
  for (std::string line; std::getline(out, line);) printed += line.rfind("2024-01-01 ", 0) == 0 ? 1 : 0;
  EXPECT_EQ(static_cast<int64_t>(printed), per_page) << r.output;
}

}  // namespace
}  // namespace sluice
