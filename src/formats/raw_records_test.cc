// RawRecords' optional message metadata (key, headers, broker timestamp, partition/offset):
// absent for byte sources, one entry per record when a message source sets it.
#include "formats/raw_records.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(RawRecordsTest, RecordsOfByteSourcesCarryNoMetadata) {
  RawRecords raw;
  raw.append_record("{}", 0, 1);
  EXPECT_TRUE(raw.metadata.empty());
}

TEST(RawRecordsTest, MessageMetadataIsKeptPerRecordAndClearedWithTheRecords) {
  RawRecords raw;
  std::string_view key = "user-7";
  raw.append_record("{\"a\":1}", 41, -1);
  raw.append_metadata(&key, {{"trace", "abc"}, {"empty", ""}}, 1700000000000000, 3, 41);
  raw.append_record("{\"a\":2}", 42, -1);
  raw.append_metadata(nullptr, {}, RecordMetadata::kMissing, 3, 42);
  const RecordMetadata& m = raw.metadata;
  ASSERT_FALSE(m.empty());
  EXPECT_EQ(m.key(0), "user-7");
  EXPECT_EQ(m.has_key[0], 1);
  EXPECT_EQ(m.has_key[1], 0) << "a missing key is not an empty key";
  ASSERT_EQ(m.num_headers(0), 2u);
  EXPECT_EQ(m.header(0, 0), (std::pair<std::string_view, std::string_view>{"trace", "abc"}));
  EXPECT_EQ(m.header(0, 1), (std::pair<std::string_view, std::string_view>{"empty", ""}));
  EXPECT_EQ(m.num_headers(1), 0u);
  EXPECT_EQ(m.broker_timestamps[0], 1700000000000000);
  EXPECT_EQ(m.broker_timestamps[1], RecordMetadata::kMissing);
  EXPECT_EQ(m.partitions[1], 3);
  EXPECT_EQ(m.message_offsets[1], 42);
  raw.clear();
  EXPECT_TRUE(raw.metadata.empty());
  EXPECT_TRUE(raw.metadata.header_bytes.empty());
}

}  // namespace
}  // namespace sluice
