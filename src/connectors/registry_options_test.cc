// docs/sql.md documents every option of every connector, driven by the registry's option
// lists (the same lists that decide which options a table may give): under the heading
// "### `NAME` source" / "### `NAME` sink" (and "### Options of every source" for the
// options the planner reads), a table with one row per accepted option showing its type
// and default, and no row for an option the connector does not accept. Adding an option to
// a connector without a row in docs/sql.md fails here.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <future>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "connectors/registry.h"
#include "connectors/test_util.h"

namespace sluice {
namespace {

std::string read_sql_md() {
  const char* root = std::getenv("SLUICE_SOURCE_DIR");
  EXPECT_NE(root, nullptr) << "SLUICE_SOURCE_DIR is not set (ctest sets it)";
  if (root == nullptr) return {};
  std::ifstream f(std::string(root) + "/docs/sql.md");
  EXPECT_TRUE(f.good()) << "cannot read " << root << "/docs/sql.md";
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  return s.substr(i);
}

// Cell text without the backticks of inline code ("`json`" -> "json").
std::string plain(const std::string& cell) {
  std::string out;
  for (char c : cell) {
    if (c != '`') out.push_back(c);
  }
  return out;
}

// The cells of a markdown table row; "\|" is a literal bar inside a cell.
std::vector<std::string> cells(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  for (size_t i = 1; i < line.size(); ++i) {  // line[0] is the leading '|'
    if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == '|') {
      cur.push_back('|');
      ++i;
    } else if (line[i] == '|') {
      out.push_back(trim(cur));
      cur.clear();
    } else {
      cur.push_back(line[i]);
    }
  }
  return out;
}

struct Table {
  bool found = false;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};

// The first table after the heading whose text is `title`, before the next heading.
Table table_under(const std::string& markdown, const std::string& title) {
  Table t;
  std::istringstream in(markdown);
  bool in_section = false;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] == '#') {
      if (in_section) break;
      size_t i = line.find_first_not_of('#');
      in_section = i != std::string::npos && trim(line.substr(i)) == title;
      continue;
    }
    if (!in_section) continue;
    if (line.empty() || line[0] != '|') {
      if (!t.header.empty()) break;  // the table ended
      continue;
    }
    std::vector<std::string> row = cells(line);
    if (t.header.empty()) {
      t.found = true;
      t.header = row;
    } else if (!row.empty() && row[0].find_first_not_of("-: ") != std::string::npos) {
      t.rows.push_back(row);  // not the |---| separator line
    }
  }
  return t;
}

int column(const Table& t, const std::string& name) {
  for (size_t i = 0; i < t.header.size(); ++i) {
    if (plain(t.header[i]) == name) return static_cast<int>(i);
  }
  return -1;
}

std::string expected_row(const OptionSpec& o) {
  return fmt::format("| `{}` | {} | `{}` | {} |", o.name, o.type, o.default_value, o.description);
}

// Everything wrong between the options a connector accepts and the table documenting them.
std::vector<std::string> problems(const std::string& markdown, const std::string& title,
                                  const std::vector<OptionSpec>& options) {
  std::vector<std::string> out;
  Table t = table_under(markdown, title);
  // A connector without options needs its section, not a table.
  if (!t.found && options.empty() && markdown.find("### " + title + "\n") != std::string::npos) return {};
  if (!t.found) return {fmt::format("docs/sql.md has no table under a heading '{}'", title)};
  int name_col = column(t, "option"), type_col = column(t, "type"), default_col = column(t, "default");
  if (name_col < 0 || type_col < 0 || default_col < 0) {
    return {fmt::format("docs/sql.md: the table under '{}' needs the columns option, type, default", title)};
  }
  auto cell = [](const std::vector<std::string>& row, int c) {
    return static_cast<size_t>(c) < row.size() ? row[static_cast<size_t>(c)] : std::string();
  };
  for (const OptionSpec& o : options) {
    const std::vector<std::string>* row = nullptr;
    for (const auto& r : t.rows) {
      if (plain(cell(r, name_col)) == o.name) row = &r;
    }
    if (row == nullptr) {
      out.push_back(fmt::format("docs/sql.md, '{}': option '{}' is accepted but not documented; add a row like: {}",
                                title, o.name, expected_row(o)));
      continue;
    }
    if (plain(cell(*row, type_col)) != o.type) {
      out.push_back(fmt::format("docs/sql.md, '{}': option '{}' has type '{}', the registry says '{}'", title,
                                o.name, cell(*row, type_col), o.type));
    }
    if (plain(cell(*row, default_col)) != o.default_value) {
      out.push_back(fmt::format("docs/sql.md, '{}': option '{}' has default '{}', the registry says '{}'", title,
                                o.name, cell(*row, default_col), o.default_value));
    }
  }
  for (const auto& r : t.rows) {
    std::string name = plain(cell(r, name_col));
    bool accepted = false;
    for (const OptionSpec& o : options) accepted = accepted || o.name == name;
    if (!accepted) {
      out.push_back(fmt::format("docs/sql.md, '{}': documents option '{}', which the connector does not accept",
                                title, name));
    }
  }
  return out;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

TEST(RegistryDocsTest, EveryConnectorOptionIsDocumentedWithItsTypeAndDefault) {
  std::string doc = read_sql_md();
  std::vector<ConnectorInfo> connectors = registered_connectors();
  // file, generator, http, stdin; blackhole, console, file, sqlite (and kafka, nats, postgres,
  // redis and redis-stream when built)
  size_t expected = 8;
#ifdef SLUICE_WITH_KAFKA
  expected += 2;  // a source and a sink
#endif
#ifdef SLUICE_HAS_POSTGRES
  expected += 2;  // the sink and the CDC source
#endif
#ifdef SLUICE_HAS_REDIS
  expected += 2;  // the sink and the streams source
#endif
#ifdef SLUICE_HAS_NATS
  expected += 2;  // a source and a sink
#endif
  ASSERT_EQ(connectors.size(), expected);
  for (const ConnectorInfo& c : connectors) {
    std::string title = fmt::format("`{}` {}", c.name, c.kind);
    EXPECT_EQ(joined(problems(doc, title, c.options)), "") << title;
  }
}

TEST(RegistryDocsTest, EveryCommonSourceOptionIsDocumented) {
  OptionList common = common_source_options();
  ASSERT_FALSE(common.empty());
  EXPECT_EQ(joined(problems(read_sql_md(), "Options of every source", {common.begin(), common.end()})), "");
}

TEST(RegistryDocsTest, EveryCommonSinkOptionIsDocumented) {
  OptionList common = common_sink_options();
  ASSERT_FALSE(common.empty());
  EXPECT_EQ(joined(problems(read_sql_md(), "Options of every sink", {common.begin(), common.end()})), "");
}

// The check itself: an option added to a connector's list without a row is reported, and
// so are a wrong default and a row for an option nobody accepts.
TEST(RegistryDocsTest, AnUndocumentedOptionIsReported) {
  const std::string doc =
      "### `demo` source\n\n| option | type | default | meaning |\n|---|---|---|---|\n"
      "| `path` | text | required | the file |\n| `rate` | integer | `5` | per second |\n"
      "| `gone` | bool | `false` | removed |\n\n### next\n| `other` | x | y | z |\n";
  std::vector<OptionSpec> options = {{"path", "text", "required", "the file"},
                                     {"rate", "integer", "0", "per second"},
                                     {"max_line_bytes", "integer", "1048576", "longest line"}};
  std::string found = joined(problems(doc, "`demo` source", options));
  EXPECT_NE(found.find("option 'max_line_bytes' is accepted but not documented; add a row like: "
                       "| `max_line_bytes` | integer | `1048576` | longest line |"),
            std::string::npos)
      << found;
  EXPECT_NE(found.find("option 'rate' has default '`5`', the registry says '0'"), std::string::npos) << found;
  EXPECT_NE(found.find("documents option 'gone', which the connector does not accept"), std::string::npos) << found;
  EXPECT_EQ(found.find("'other'"), std::string::npos) << found;  // under another heading
  EXPECT_NE(joined(problems(doc, "`nothing` sink", options)).find("has no table"), std::string::npos);
}

// A declared default that names a value (not a description such as "the SQL table's
// name") must be the value the connector's code falls back to.
bool describes_a_value(const OptionSpec& o) {
  return o.default_value.find_first_of(" <") == std::string_view::npos;
}

bool same_default(const OptionSpec& o, const std::string& code) {
  if (o.default_value == "none" || o.default_value == "required") return code.empty();
  if (o.type == "duration") {
    auto declared = parse_duration(o.default_value), used = parse_duration(code);
    return declared.is_ok() && used.is_ok() && declared.value() == used.value();
  }
  return o.default_value == code;
}

// Builds connector `c` with only its required options (and again with format = 'csv' when
// it has CSV options, which are read only then) and compares the fallback each option was
// read with against the registry's declared default, which docs/sql.md shows. The
// connectors of a server (dsn, url) read every option before they connect: given an
// address where nothing listens, they fail to connect (after their retries) with every
// fallback recorded.
void check_declared_defaults(const ConnectorInfo& c, const testing::TempDir& dir, const SchemaPtr& schema) {
  std::vector<std::map<std::string, std::string>> variants(1);
  bool needs_server = false;
  for (const OptionSpec& o : c.options) {
    if (o.default_value != "required") continue;
    if (o.name == "bootstrap_servers") {  // kafka: the factory does not connect
      variants[0]["bootstrap_servers"] = "127.0.0.1:9";
      continue;
    }
    if (o.name == "topic") continue;
    if (o.name == "listen") {  // http: the factory does not listen (its reader does)
      variants[0]["listen"] = "127.0.0.1:9";
      continue;
    }
    if (o.name == "dsn" || o.name == "url") {  // port 1: nothing listens
      const std::string scheme = o.name == "dsn" ? "postgresql" : c.name == "nats" ? "nats" : "redis";
      variants[0][std::string(o.name)] = scheme + "://127.0.0.1:1";
      needs_server = true;
      continue;
    }
    if (o.name == "slot_name" || o.name == "stream" || o.name == "subject" || o.name == "primary_key") {
      variants[0][std::string(o.name)] = "a";
      continue;
    }
    ASSERT_EQ(o.name, "path") << c.name << " " << c.kind << ": this test only knows how to fill in 'path'";
    variants[0]["path"] = c.kind == "source" ? dir.file("in.jsonl") : dir.file(std::string(c.name) + ".out");
  }
  if (c.name == "kafka") variants[0]["topic"] = "t";  // required (the source: one of topic, topic_pattern)
  if (c.name == "http") variants[0]["wal_dir"] = dir.file("wal");  // required without a checkpoint directory
  bool csv = false;
  for (const OptionSpec& o : c.options) csv = csv || o.name == "delimiter";
  // redis-stream reads each entry's fields as a JSON object: it refuses format = 'csv', and
  // its CSV options are documented as not used.
  const bool json_only = c.name == "redis-stream";
  if (csv && !json_only) {
    variants.push_back(variants[0]);
    variants.back()["format"] = "csv";
  }
  std::set<std::string> checked;
  for (const auto& options : variants) {
    std::map<std::string, std::string> fallbacks;
    // Built, or (a server's connector) refused only because nothing listens there.
    const auto made = [&](const Status& s) {
      if (needs_server) {
        EXPECT_EQ(s.code(), StatusCode::kUnavailable) << c.name << " " << c.kind << ": " << s.message();
      } else {
        EXPECT_TRUE(s.is_ok()) << c.name << " " << c.kind << ": " << s.message();
      }
    };
    if (c.kind == "source") {
      SourceSpec spec = testing::source_spec(std::string(c.name), options, schema);
      made(make_source_factory(spec).status());
      fallbacks = spec.options.fallbacks();
    } else {
      SinkSpec spec = testing::sink_spec(std::string(c.name), options, schema);
      made(make_sink_factory(spec).status());
      fallbacks = spec.options.fallbacks();
    }
    for (const OptionSpec& o : c.options) {
      auto it = fallbacks.find(std::string(o.name));
      if (it == fallbacks.end() || !describes_a_value(o)) continue;
      checked.insert(std::string(o.name));
      EXPECT_TRUE(same_default(o, it->second))
          << c.name << " " << c.kind << ": option '" << o.name << "' is declared (and documented) with default '"
          << o.default_value << "' but the connector falls back to '" << it->second << "'";
    }
  }
  for (const OptionSpec& o : c.options) {
    if (!describes_a_value(o) || o.default_value == "none" || o.default_value == "required") continue;
    if (json_only && (o.name == "delimiter" || o.name == "header")) continue;
    EXPECT_TRUE(checked.count(std::string(o.name)))
        << c.name << " " << c.kind << ": option '" << o.name << "' was never read with its default";
  }
}

// Every connector; those of a server at once (each waits out its connection retries).
TEST(RegistryOptionsTest, DeclaredDefaultsAreTheDefaultsTheConnectorsUse) {
  testing::TempDir dir;
  testing::write_file(dir.file("in.jsonl"), "{}\n");
  SchemaPtr schema = make_schema({{"a", TypeId::kInt64}});
  std::vector<std::future<void>> servers;
  for (const ConnectorInfo& c : registered_connectors()) {
    bool needs_server = false;
    for (const OptionSpec& o : c.options) needs_server = needs_server || o.name == "dsn" || o.name == "url";
    if (needs_server) {
      servers.push_back(std::async(std::launch::async, [&, c] { check_declared_defaults(c, dir, schema); }));
    } else {
      check_declared_defaults(c, dir, schema);
    }
  }
  for (auto& f : servers) f.get();
}

// The same lists drive validation: an option no list declares is refused before the
// connector runs, naming the accepted ones (for a source also the common ones).
TEST(RegistryOptionsTest, AnUndeclaredOptionIsRefusedWithTheDeclaredNames) {
  auto f = make_source_factory(testing::source_spec("stdin", {{"follow", "true"}}));
  ASSERT_FALSE(f.is_ok());
  EXPECT_EQ(f.status().message(),
            "table clicks: unknown option 'follow' (known options: max_line_bytes, format, delimiter, header, "
            "timestamp_unit, event_time, watermark_delay, allowed_lateness, idle_timeout, readers, max_future_skew, dlq, "
            "dlq_table, late_output, late_output_table)");
  auto s = make_sink_factory(testing::sink_spec("sqlite", {{"path", "x.db"}, {"mode", "append"}},
                                                make_schema({{"a", TypeId::kInt64}})));
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.status().message(),
            "table out: unknown option 'mode' (known options: path, table, primary_key, sink.parallelism, sink.flush_interval)");
}

TEST(RegistryOptionsTest, CommonSourceOptionsAreRecognised) {
  EXPECT_TRUE(is_common_source_option("event_time"));
  EXPECT_TRUE(is_common_source_option("late_output_table"));
  EXPECT_FALSE(is_common_source_option("path"));
  EXPECT_FALSE(is_common_source_option("connector"));
}

}  // namespace
}  // namespace sluice
