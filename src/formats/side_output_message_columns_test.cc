// Dead letters of message sources (Kafka): the side-output rows with the message columns
// (topic, partition, key, headers), and the JSON lines written from them, which name where
// the record sits; a letter that is not a message's leaves the columns NULL and its line
// unchanged.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/scoped_temp_dir.h"
#include "formats/dead_letter.h"

namespace sluice {
namespace {

using nlohmann::json;

DeadLetter letter(int64_t offset) {
  DeadLetter l;
  l.source = "clicks";
  l.split = 1;
  l.offset = offset;
  l.error = "not JSON";
  l.raw = "oops";
  return l;
}

TEST(SideOutputMessageColumnsTest, FourColumnsFollowTheBaseOnesForDeadLettersOfMessages) {
  const SchemaPtr& base = side_output_schema(SideOutputKind::kDeadLetters);
  const SchemaPtr& full = side_output_schema(SideOutputKind::kDeadLetters, true);
  ASSERT_EQ(full->size(), base->size() + 4);
  for (size_t i = 0; i < base->size(); ++i) EXPECT_EQ(full->field(i).name, base->field(i).name);
  const SideOutputColumns c = side_output_columns(SideOutputKind::kDeadLetters, true);
  EXPECT_EQ(full->field(static_cast<size_t>(c.topic)).name, "topic");
  EXPECT_EQ(full->field(static_cast<size_t>(c.partition)).type, TypeId::kInt64);
  EXPECT_EQ(full->field(static_cast<size_t>(c.key)).name, "key");
  EXPECT_EQ(full->field(static_cast<size_t>(c.headers)).name, "headers");
  EXPECT_EQ(side_output_columns(SideOutputKind::kDeadLetters).topic, -1);
  EXPECT_TRUE(is_side_output_message_column("partition"));
  EXPECT_FALSE(is_side_output_message_column("offset"));
}

TEST(SideOutputMessageColumnsTest, RowsAndJsonLinesCarryTopicPartitionKeyAndHeaders) {
  SideOutputRows rows(SideOutputKind::kDeadLetters, true);
  DeadLetter message = letter(41);
  const std::string_view key = "user-7";
  message.topic = "clicks-topic";
  message.partition = 3;
  message.key = &key;
  message.headers = "{\"trace\":\"abc\"}";
  rows.add(message, 1700000000000000);
  DeadLetter keyless = message;
  keyless.offset = 42;
  keyless.key = nullptr;
  keyless.headers = "{}";
  rows.add(keyless, 1700000000000000);
  rows.add(letter(7), 1700000000000000);  // not a message's: NULLs
  MutableBatchPtr batch = rows.take();
  ASSERT_EQ(batch->num_rows, 3u);
  const SideOutputColumns c = side_output_columns(SideOutputKind::kDeadLetters, true);
  EXPECT_EQ(batch->column(static_cast<size_t>(c.topic)).string_at(0), "clicks-topic");
  EXPECT_EQ(batch->column(static_cast<size_t>(c.partition)).int_at(0), 3);
  EXPECT_EQ(batch->column(static_cast<size_t>(c.key)).string_at(0), "user-7");
  EXPECT_TRUE(batch->column(static_cast<size_t>(c.key)).is_null(1));
  EXPECT_EQ(batch->column(static_cast<size_t>(c.headers)).string_at(0), "{\"trace\":\"abc\"}");
  EXPECT_TRUE(batch->column(static_cast<size_t>(c.topic)).is_null(2));
  EXPECT_TRUE(batch->column(static_cast<size_t>(c.partition)).is_null(2));

  ScopedTempDir dir;
  const std::string path = dir.path() + "/dlq.jsonl";
  auto queue = make_file_dead_letter_queue(path, SideOutputKind::kDeadLetters);
  ASSERT_TRUE(queue.is_ok());
  ASSERT_TRUE(queue.value()->begin_run(false).is_ok());
  ASSERT_TRUE(queue.value()->write_rows(*batch).is_ok());
  ASSERT_TRUE(queue.value()->write(message).is_ok());  // one letter: the same fields
  ASSERT_TRUE(queue.value()->flush().is_ok());
  std::ifstream in(path);
  std::vector<json> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0].at("topic"), "clicks-topic");
  EXPECT_EQ(lines[0].at("partition"), 3);
  EXPECT_EQ(lines[0].at("offset"), 41);
  EXPECT_EQ(lines[0].at("key"), "user-7");
  EXPECT_EQ(lines[0].at("headers"), json::parse("{\"trace\":\"abc\"}"));
  EXPECT_TRUE(lines[1].at("key").is_null());
  EXPECT_FALSE(lines[2].contains("topic"));
  EXPECT_FALSE(lines[2].contains("partition"));
  lines[0].erase("time");
  lines[3].erase("time");
  EXPECT_EQ(lines[3], lines[0]);
}

}  // namespace
}  // namespace sluice
