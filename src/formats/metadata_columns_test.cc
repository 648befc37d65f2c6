#include "formats/metadata_columns.h"

#include <gtest/gtest.h>

#include <typeinfo>

namespace sluice {
namespace {

const std::vector<MetadataField> kAll = {MetadataField::kKey,    MetadataField::kTopic,     MetadataField::kPartition,
                                         MetadataField::kOffset, MetadataField::kTimestamp, MetadataField::kHeaders};

TEST(MetadataColumnsTest, DecodedAndMetadataColumnsAreAssembledInDeclaredOrder) {
  SchemaPtr schema = make_schema({{"_partition", TypeId::kInt64},
                                  {"v", TypeId::kInt64},
                                  {"_key", TypeId::kString},
                                  {"_timestamp", TypeId::kTimestamp},
                                  {"_headers", TypeId::kString},
                                  {"_offset", TypeId::kInt64},
                                  {"_topic", TypeId::kString}});
  auto made = MetadataColumns::make(schema, kAll, "table t");
  ASSERT_TRUE(made.is_ok()) << made.status().message();
  const MetadataColumns& m = made.value();
  ASSERT_EQ(m.payload_schema()->size(), 1u);
  EXPECT_EQ(m.payload_schema()->field(0).name, "v");

  RawRecords raw;
  std::string_view key = "k1";
  raw.append_record("{\"v\":1}", 10, -1);
  raw.append_metadata(&key, {{"h", "x\"y"}, {"n", ""}}, 5'000'000, 3, 10);
  raw.append_record("broken", 11, -1);  // dead-lettered: no row
  raw.append_metadata(nullptr, {}, RecordMetadata::kMissing, 3, 11);
  raw.append_record("{\"v\":2}", 12, -1);
  raw.append_metadata(nullptr, {}, RecordMetadata::kMissing, 3, 12);
  raw.metadata.topic = "clicks";
  RecordBatch payload(m.payload_schema());
  payload.mutable_column(0).append_int(1);
  payload.mutable_column(0).append_int(2);
  payload.sync_num_rows();
  RecordBatch out(schema);
  m.assemble(raw, {0, 2}, payload, out);
  ASSERT_EQ(out.num_rows, 2u);
  EXPECT_EQ(out.row_to_string(0), out.row_to_string(0));
  EXPECT_EQ(out.column(0).int_at(0), 3);
  EXPECT_EQ(out.column(1).int_at(1), 2);
  EXPECT_EQ(out.column(2).string_at(0), "k1");
  EXPECT_TRUE(out.column(2).is_null(1));
  EXPECT_EQ(out.column(3).int_at(0), 5'000'000);
  EXPECT_TRUE(out.column(3).is_null(1));
  EXPECT_EQ(out.column(4).string_at(0), "{\"h\":\"x\\\"y\",\"n\":\"\"}");
  EXPECT_EQ(out.column(4).string_at(1), "{}");
  EXPECT_EQ(out.column(5).int_at(1), 12);
  EXPECT_EQ(out.column(6).string_at(1), "clicks");
}

TEST(MetadataColumnsTest, AWronglyTypedMetadataColumnIsRefused) {
  auto made = MetadataColumns::make(make_schema({{"_offset", TypeId::kString}}), kAll, "table t");
  ASSERT_FALSE(made.is_ok());
  EXPECT_EQ(made.status().message(), "table t: metadata column '_offset' must be BIGINT, not TEXT");
}

TEST(MetadataColumnsTest, NamesASourceDoesNotFillAreDecoded) {
  auto made = MetadataColumns::make(make_schema({{"_key", TypeId::kString}, {"v", TypeId::kInt64}}), {}, "table t");
  ASSERT_TRUE(made.is_ok());
  EXPECT_TRUE(made.value().empty());
  EXPECT_EQ(made.value().payload_schema()->size(), 2u);
}

// make_decoder() of a format listing metadata fields decodes the declared table: JSON fields
// named like metadata columns are not read, the metadata fills them; rows of a second poll
// decoded into the same batch are appended (row_records index each poll's records).
TEST(MetadataColumnsTest, TheDecoderOfAFormatWithMetadataFillsTheDeclaredTable) {
  SchemaPtr schema = make_schema({{"v", TypeId::kInt64}, {"_offset", TypeId::kInt64}, {"_key", TypeId::kString}});
  FormatOptions format;
  format.format = "json";
  format.metadata = kAll;
  auto made = make_decoder(format, schema);
  ASSERT_TRUE(made.is_ok()) << made.status().message();
  Decoder& decoder = *made.value();
  auto poll = [](int64_t first_offset) {
    RawRecords raw;
    std::string_view key = "k";
    raw.append_record("{\"v\":1,\"_offset\":99,\"_key\":\"not this\"}", first_offset, -1);
    raw.append_metadata(&key, {}, RecordMetadata::kMissing, 0, first_offset);
    raw.append_record("{\"v\":\"bad\"}", first_offset + 1, -1);
    raw.append_metadata(nullptr, {}, RecordMetadata::kMissing, 0, first_offset + 1);
    raw.append_record("{\"v\":3}", first_offset + 2, -1);
    raw.append_metadata(nullptr, {}, RecordMetadata::kMissing, 0, first_offset + 2);
    raw.finish();
    return raw;
  };
  RecordBatch out(schema);
  std::vector<DecodeFailure> failures;
  std::vector<uint32_t> row_records;
  ASSERT_TRUE(decoder.decode(poll(10), out, failures, &row_records).is_ok());
  ASSERT_TRUE(decoder.decode(poll(20), out, failures, &row_records).is_ok());
  ASSERT_EQ(out.num_rows, 4u);
  ASSERT_EQ(failures.size(), 2u);
  EXPECT_EQ(failures[0].record, 1u);
  EXPECT_EQ(row_records, (std::vector<uint32_t>{0, 2, 0, 2}));
  const int64_t offsets[] = {10, 12, 20, 22};
  for (size_t r = 0; r < 4; ++r) EXPECT_EQ(out.column(1).int_at(r), offsets[r]) << r;
  EXPECT_EQ(out.column(0).int_at(3), 3);
  EXPECT_EQ(out.column(2).string_at(0), "k");
  EXPECT_TRUE(out.column(2).is_null(1));
  // A table without metadata columns gets the plain decoder of its format.
  auto plain = make_decoder(format, make_schema({{"v", TypeId::kInt64}}));
  ASSERT_TRUE(plain.is_ok());
  format.metadata.clear();
  auto without = make_decoder(format, make_schema({{"v", TypeId::kInt64}}));
  ASSERT_TRUE(without.is_ok());
  const Decoder& a = *plain.value();
  const Decoder& b = *without.value();
  EXPECT_EQ(typeid(a), typeid(b));
}

}  // namespace
}  // namespace sluice
