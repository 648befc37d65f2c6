// examples/kafka/README.md works as written: its ```sh block runs with `sh -e` in a fresh
// directory laid out like the repository root (build/sluice is the binary under test,
// examples/ the source tree's), against the `sluice kafka-mock` it starts itself. The
// windowed results in SQLite are checked against SQLite's own GROUP BY over the same
// generated clicks (dumped by a second job straight from the generator, not through
// Kafka): every click reached Kafka, was read once and counted in its minute. The README's
// kcat reading of the result topic and its dead-letter file are checked too.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "sqlite_rows.h"
#include "test_helpers.h"

namespace sluice::testing {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> sorted_rows(const std::string& db_path, const std::string& sql) {
  std::vector<std::string> rows = sqlite_query_rows(db_path, sql);
  std::sort(rows.begin(), rows.end());
  return rows;
}

TEST(ExamplesKafkaTest, TheReadmeCommandsCountEveryClickPerPageAndMinute) {
  const std::string source = SLUICE_SOURCE_DIR;
  std::vector<std::string> blocks = markdown_sh_blocks(read_file(source + "/examples/kafka/README.md"));
  ASSERT_EQ(blocks.size(), 1u) << "examples/kafka/README.md shows its commands in one ```sh block";

  TempDir root;
  fs::create_directory(root.file("build"));
  fs::create_symlink(sluice_binary(), root.file("build/sluice"));
  fs::create_directory_symlink(source + "/examples", root.file("examples"));
  write_file(root.file("readme.sh"), blocks[0]);
  CommandResult r = run_command("cd '" + root.path() + "' && sh -e ./readme.sh </dev/null 2>&1");
  ASSERT_EQ(r.exit_code, 0) << blocks[0] << "\n--- output:\n" << r.output;
  const std::string scratch = root.file("scratch-kafka");

  // The reference: the producer job's generator table dumped into SQLite.
  const std::string producer = read_file(source + "/examples/kafka/produce_clicks.sql");
  const size_t create = producer.find("CREATE TABLE gen");
  ASSERT_NE(create, std::string::npos);
  write_file(scratch + "/dump.sql", producer.substr(create, producer.find(';', create) - create + 1) +
                                        "\nCREATE TABLE raw () WITH (connector = 'sqlite', path = 'raw.db');\n"
                                        "INSERT INTO raw SELECT * FROM gen;\n");
  CommandResult dump = run_sluice("run -q dump.sql", scratch);
  ASSERT_EQ(dump.exit_code, 0) << dump.output;
  const std::vector<std::string> want = sorted_rows(
      scratch + "/raw.db",
      "SELECT strftime('%Y-%m-%d %H:%M:00', ts) AS w, page, COUNT(*), COUNT(DISTINCT user_id) FROM raw "
      "GROUP BY w, page");
  const std::vector<std::string> got =
      sorted_rows(scratch + "/kafka_example.db", "SELECT window_start, page, views, users FROM page_minutes");
  ASSERT_GT(want.size(), 100u);
  EXPECT_EQ(got, want);
  EXPECT_EQ(sqlite_query(scratch + "/raw.db", "SELECT COUNT(*) FROM raw"), "200000\n");

  // The README printed "rows|200000" from SQLite, and three results read back from the topic
  // ("KEY {json}"), each keyed by its page.
  EXPECT_NE(r.output.find(std::to_string(got.size()) + "|200000"), std::string::npos) << r.output;
  int from_topic = 0;
  std::istringstream out(r.output);
  for (std::string line; std::getline(out, line);) {
    const size_t brace = line.find(" {");
    if (brace == std::string::npos || line.find("\"window_start\"") == std::string::npos) continue;
    auto value = nlohmann::json::parse(line.substr(brace + 1));
    EXPECT_EQ(value.at("page").get<std::string>(), line.substr(0, brace));
    ++from_topic;
  }
  EXPECT_EQ(from_topic, 3) << r.output;

  // The two malformed messages kcat wrote to partition 0, after the producer's clicks.
  std::vector<nlohmann::json> letters;
  std::istringstream dlq(read_file(scratch + "/clicks.dlq.jsonl"));
  for (std::string line; std::getline(dlq, line);) letters.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(letters.size(), 2u);
  EXPECT_EQ(letters[0].at("raw"), "not json");
  EXPECT_EQ(letters[0].at("key"), "k1");
  EXPECT_EQ(letters[1].at("key"), "k2");
  for (const auto& l : letters) {
    EXPECT_EQ(l.at("topic"), "clicks");
    EXPECT_EQ(l.at("partition"), 0);
  }
  EXPECT_EQ(letters[1].at("offset").get<int64_t>(), letters[0].at("offset").get<int64_t>() + 1);
}

}  // namespace
}  // namespace sluice::testing
