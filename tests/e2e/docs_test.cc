// docs/sql.md documents every `SET` setting and every command-line flag, taken from the
// binary itself: the settings from the error for an unknown one (which lists the known
// ones), the flags from each command's --help. (Connector options are checked against the
// connector registry by src/connectors/registry_options_test.cc.)
#include <gtest/gtest.h>

#include <cctype>
#include <regex>
#include <set>
#include <string>

#include "test_helpers.h"

namespace sluice {
namespace {

std::string sql_md() { return testing::read_file(std::string(SLUICE_SOURCE_DIR) + "/docs/sql.md"); }

// The text from the heading line starting with `heading` to the next heading of that level.
std::string section(const std::string& doc, const std::string& heading) {
  size_t start = doc.find("\n" + heading);
  if (start == std::string::npos) return {};
  size_t end = doc.find("\n## ", start + 1);
  return doc.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

TEST(DocsTest, EverySetSettingHasARowInTheSettingsTable) {
  testing::TempDir dir;
  testing::write_file(dir.file("job.sql"), "SET no_such_setting = 1;\n");
  auto r = testing::run_sluice("validate job.sql", dir.path());
  ASSERT_NE(r.exit_code, 0);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.output, m, std::regex(R"(\(known: ([a-z_, ]+)\))"))) << r.output;
  std::string settings = section(sql_md(), "## Settings");
  ASSERT_FALSE(settings.empty()) << "docs/sql.md has no '## Settings' section";
  std::string known = m[1];
  int count = 0;
  const std::regex name("[a-z_]+");
  for (std::sregex_iterator it(known.begin(), known.end(), name), end; it != end; ++it) {
    EXPECT_NE(settings.find("| `" + it->str() + "` |"), std::string::npos)
        << "docs/sql.md, Settings: no row for SET " << it->str();
    ++count;
  }
  EXPECT_GE(count, 7) << known;
}

TEST(DocsTest, EveryCommandLineFlagIsDocumented) {
  testing::TempDir dir;
  const std::string doc = sql_md();
  std::set<std::string> flags;
  for (const char* command : {"", "run", "validate", "explain", "savepoint", "top"}) {
    auto r = testing::run_sluice(std::string(command) + " --help", dir.path());
    ASSERT_EQ(r.exit_code, 0) << command << ": " << r.output;
    const std::regex flag(R"((^|[\s,])(--[a-z][a-z-]+))");
    for (std::sregex_iterator it(r.output.begin(), r.output.end(), flag), end; it != end; ++it) {
      flags.insert((*it)[2].str());
    }
  }
  flags.erase("--help");
  ASSERT_GE(flags.size(), 10u);
  for (const std::string& f : flags) {
    // The whole flag: --checkpoint-dir must not count as --checkpoint.
    bool found = false;
    for (size_t at = doc.find(f); at != std::string::npos && !found; at = doc.find(f, at + 1)) {
      char next = at + f.size() < doc.size() ? doc[at + f.size()] : ' ';
      found = !(std::islower(static_cast<unsigned char>(next)) || next == '-');
    }
    EXPECT_TRUE(found) << "docs/sql.md does not mention " << f;
  }
}

}  // namespace
}  // namespace sluice
