// Side-output rows: the fixed schema, the batch builder, and the batched write of the
// JSON-lines queue (one call per poll) writing what one write() per letter wrote.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "common/scoped_temp_dir.h"
#include "formats/dead_letter.h"

namespace sluice {
namespace {

using nlohmann::json;

std::vector<json> lines_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<json> out;
  for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
  return out;
}

DeadLetter letter(std::string_view raw, int64_t line, std::vector<std::string_view> queries = {}) {
  DeadLetter l;
  l.source = "clicks";
  l.split = 3;
  l.offset = line * 10;
  l.line = line;
  l.error = "bad \"record\"\n";
  l.raw = raw;
  l.queries = std::move(queries);
  return l;
}

TEST(SideOutputSchemaTest, DeadLettersAndLateDataHaveFixedColumns) {
  EXPECT_EQ(side_output_schema(SideOutputKind::kDeadLetters)->to_string(),
            make_schema({{"source", TypeId::kString, true},
                         {"split", TypeId::kInt64, true},
                         {"offset", TypeId::kInt64, true},
                         {"line", TypeId::kInt64, true},
                         {"error", TypeId::kString, true},
                         {"raw", TypeId::kString, true},
                         {"time", TypeId::kTimestamp, true}})
                ->to_string());
  const SchemaPtr& late = side_output_schema(SideOutputKind::kLateData);
  EXPECT_EQ(late->size(), 8u);
  EXPECT_EQ(late->field(static_cast<size_t>(side_output_columns(SideOutputKind::kLateData).queries)).name, "queries");
  EXPECT_EQ(late->field(side_output_columns(SideOutputKind::kLateData).time).name, "time");
}

TEST(SideOutputRowsTest, BuildsOneRowPerLetterAndStartsANewBatchOnTake) {
  SideOutputRows rows(SideOutputKind::kLateData);
  EXPECT_TRUE(rows.empty());
  rows.add(letter("{\"a\":1}", 1, {"out", "out#2"}), 1700000000123456);
  rows.add(letter("x", 2, {"out"}), 1700000000123456);
  ASSERT_EQ(rows.size(), 2u);
  MutableBatchPtr batch = rows.take();
  EXPECT_TRUE(rows.empty());
  ASSERT_EQ(batch->num_rows, 2u);
  const SideOutputColumns c = side_output_columns(SideOutputKind::kLateData);
  EXPECT_EQ(batch->column(c.source).string_at(0), "clicks");
  EXPECT_EQ(batch->column(c.split).int_at(1), 3);
  EXPECT_EQ(batch->column(c.offset).int_at(1), 20);
  EXPECT_EQ(batch->column(c.line).int_at(0), 1);
  EXPECT_EQ(batch->column(static_cast<size_t>(c.queries)).string_at(0), "[\"out\",\"out#2\"]");
  EXPECT_EQ(batch->column(c.raw).string_at(0), "{\"a\":1}");
  EXPECT_EQ(batch->column(c.time).int_at(0), 1700000000123000);  // milliseconds
}

TEST(FileDeadLetterQueueTest, WriteRowsWritesWhatWriteWritesPerLetter) {
  ScopedTempDir dir;
  const std::string raws[] = {"plain", "quote \" and \\ and \t", std::string("bad utf8 \xff\xfe end"), ""};
  for (SideOutputKind kind : {SideOutputKind::kDeadLetters, SideOutputKind::kLateData}) {
    const std::string one = dir.path() + "/one.jsonl", batched = dir.path() + "/batched.jsonl";
    auto a = make_file_dead_letter_queue(one, kind);
    auto b = make_file_dead_letter_queue(batched, kind);
    ASSERT_TRUE(a.is_ok() && b.is_ok());
    ASSERT_TRUE(a.value()->begin_run(false).is_ok());
    ASSERT_TRUE(b.value()->begin_run(false).is_ok());
    SideOutputRows rows(kind);
    int64_t line = 0;
    for (const std::string& raw : raws) {
      std::vector<std::string_view> queries;
      if (kind == SideOutputKind::kLateData) queries = {"out", "out#2"};
      DeadLetter l = letter(raw, ++line, queries);
      ASSERT_TRUE(a.value()->write(l).is_ok());
      rows.add(l, 1700000000123456);
    }
    ASSERT_TRUE(b.value()->write_rows(*rows.take()).is_ok());
    ASSERT_TRUE(a.value()->flush().is_ok());
    ASSERT_TRUE(b.value()->flush().is_ok());
    EXPECT_EQ(a.value()->count(), 4u);
    EXPECT_EQ(b.value()->count(), 4u);
    auto expected = lines_of(one);
    auto got = lines_of(batched);
    ASSERT_EQ(got.size(), expected.size());
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i]["time"], "2023-11-14T22:13:20.123Z");
      expected[i].erase("time");
      got[i].erase("time");
      EXPECT_EQ(got[i], expected[i]);
    }
    EXPECT_EQ(got[2]["raw"], "bad utf8 \u00ff\u00fe end");  // invalid bytes as \u00XX
    if (kind == SideOutputKind::kLateData) {
      EXPECT_EQ(got[0]["queries"], json({"out", "out#2"}));
    } else {
      EXPECT_FALSE(got[0].contains("queries"));
    }
  }
}

}  // namespace
}  // namespace sluice
