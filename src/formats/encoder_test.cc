// Specification of the JSON and CSV output encoders.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "common/time_util.h"
#include "formats/format.h"

namespace sluice {
namespace {

SchemaPtr all_types_schema() {
  return make_schema({{"flag", TypeId::kBool},
                      {"id", TypeId::kInt64},
                      {"score", TypeId::kFloat64},
                      {"name", TypeId::kString},
                      {"ts", TypeId::kTimestamp},
                      {"dur", TypeId::kInterval}});
}

// One row of all_types_schema: true, 42, 1.5, "bob", 2024-01-01T00:00:00Z, 90 s.
RecordBatch one_row_batch() {
  RecordBatch b(all_types_schema());
  b.mutable_column(0).append_bool(true);
  b.mutable_column(1).append_int(42);
  b.mutable_column(2).append_double(1.5);
  b.mutable_column(3).append_string("bob");
  b.mutable_column(4).append_int(parse_timestamp("2024-01-01T00:00:00Z").value());
  b.mutable_column(5).append_int(90 * kMicrosPerSecond);
  b.sync_num_rows();
  return b;
}

RecordBatch single_column(TypeId type) {
  return RecordBatch(make_schema({{"v", type}}));
}

std::string encode(const std::string& format, const RecordBatch& b, size_t row = 0, bool with_op = false,
                   bool changelog = false) {
  FormatOptions o;
  o.format = format;
  o.changelog = changelog;
  auto enc = make_encoder(o, b.schema);
  EXPECT_TRUE(enc.is_ok()) << enc.status().message();
  std::string out;
  enc.value()->encode_row(b, row, with_op, out);
  return out;
}

std::string json_string_of(std::string_view s) {
  RecordBatch b = single_column(TypeId::kString);
  b.mutable_column(0).append_string(s);
  b.sync_num_rows();
  return encode("json", b);
}

// ---- JSON ----

TEST(JsonEncoderTest, WritesOneObjectPerLineInSchemaOrder) {
  EXPECT_EQ(encode("json", one_row_batch()),
            "{\"flag\":true,\"id\":42,\"score\":1.5,\"name\":\"bob\",\"ts\":\"2024-01-01T00:00:00Z\","
            "\"dur\":\"1m30s\"}\n");
}

TEST(JsonEncoderTest, NullsAreJsonNull) {
  RecordBatch b(all_types_schema());
  for (auto& c : b.columns) c.append_null();
  b.sync_num_rows();
  EXPECT_EQ(encode("json", b),
            "{\"flag\":null,\"id\":null,\"score\":null,\"name\":null,\"ts\":null,\"dur\":null}\n");
}

TEST(JsonEncoderTest, DoublesUseShortestRoundTripAndNonFiniteBecomesNull) {
  RecordBatch b = single_column(TypeId::kFloat64);
  for (double d : {0.1, 1e20, -0.0, 3.0, std::numeric_limits<double>::quiet_NaN(),
                   std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()}) {
    b.mutable_column(0).append_double(d);
  }
  b.sync_num_rows();
  std::vector<std::string> want = {"0.1", "1e+20", "-0", "3", "null", "null", "null"};
  for (size_t r = 0; r < want.size(); ++r) {
    EXPECT_EQ(encode("json", b, r), "{\"v\":" + want[r] + "}\n") << "row " << r;
  }
}

TEST(JsonEncoderTest, TimestampsKeepTheirFraction) {
  RecordBatch b = single_column(TypeId::kTimestamp);
  b.mutable_column(0).append_int(parse_timestamp("2024-03-04T05:06:07.250Z").value());
  b.sync_num_rows();
  EXPECT_EQ(encode("json", b), "{\"v\":\"2024-03-04T05:06:07.250Z\"}\n");
}

TEST(JsonEncoderTest, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(json_string_of("a\"b\\c\nd\te\r\b\f\x01\x1f"),
            "{\"v\":\"a\\\"b\\\\c\\nd\\te\\r\\b\\f\\u0001\\u001f\"}\n");
}

TEST(JsonEncoderTest, EscapesColumnNames) {
  RecordBatch b(make_schema({{"we\"ird", TypeId::kInt64}}));
  b.mutable_column(0).append_int(1);
  b.sync_num_rows();
  EXPECT_EQ(encode("json", b), "{\"we\\\"ird\":1}\n");
}

TEST(JsonEncoderTest, KeepsValidUtf8AsIs) {
  EXPECT_EQ(json_string_of("h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80"),
            "{\"v\":\"h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80\"}\n");
}

TEST(JsonEncoderTest, EscapesInvalidUtf8SoTheOutputIsAlwaysValidJson) {
  // Lone continuation byte, truncated sequence, overlong '/', surrogate, above U+10FFFF, 0xFF.
  const std::string bad = "a\x80" "b\xC3" "c\xC0\xAF" "d\xED\xA0\x80" "e\xF4\x90\x80\x80" "f\xFF";
  std::string line = json_string_of(bad);
  EXPECT_EQ(line,
            "{\"v\":\"a\\u0080b\\u00c3c\\u00c0\\u00afd\\u00ed\\u00a0\\u0080e\\u00f4\\u0090\\u0080\\u0080"
            "f\\u00ff\"}\n");
  auto parsed = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(parsed.is_discarded()) << line;
  EXPECT_TRUE(parsed["v"].is_string());
}

TEST(JsonEncoderTest, WithOpPutsTheOperationFirst) {
  RecordBatch b = single_column(TypeId::kInt64);
  b.mutable_column(0).append_int(7);
  b.mutable_column(0).append_int(8);
  b.mutable_column(0).append_int(9);
  b.mutable_column(0).append_int(10);
  b.sync_num_rows();
  b.row_kinds = {RowKind::kInsert, RowKind::kUpdateBefore, RowKind::kUpdateAfter, RowKind::kDelete};
  EXPECT_EQ(encode("json", b, 0, true), "{\"op\":\"+I\",\"v\":7}\n");
  EXPECT_EQ(encode("json", b, 1, true), "{\"op\":\"-U\",\"v\":8}\n");
  EXPECT_EQ(encode("json", b, 2, true), "{\"op\":\"+U\",\"v\":9}\n");
  EXPECT_EQ(encode("json", b, 3, true), "{\"op\":\"-D\",\"v\":10}\n");
  EXPECT_EQ(encode("json", b, 3, false), "{\"v\":10}\n");
}

TEST(JsonEncoderTest, ChangelogOptionAlwaysWritesTheOperation) {
  RecordBatch b = single_column(TypeId::kInt64);
  b.mutable_column(0).append_int(7);
  b.sync_num_rows();
  EXPECT_EQ(encode("json", b, 0, /*with_op=*/false, /*changelog=*/true), "{\"op\":\"+I\",\"v\":7}\n");
}

// ---- CSV ----

TEST(CsvEncoderTest, HeaderNamesTheColumns) {
  FormatOptions o;
  o.format = "csv";
  auto enc = make_encoder(o, all_types_schema());
  ASSERT_TRUE(enc.is_ok());
  EXPECT_EQ(enc.value()->header(), "flag,id,score,name,ts,dur\n");
}

TEST(CsvEncoderTest, ChangelogHeaderStartsWithOp) {
  FormatOptions o;
  o.format = "csv";
  o.changelog = true;
  auto enc = make_encoder(o, all_types_schema());
  ASSERT_TRUE(enc.is_ok());
  EXPECT_EQ(enc.value()->header(), "op,flag,id,score,name,ts,dur\n");
  std::string row;
  enc.value()->encode_row(one_row_batch(), 0, false, row);
  EXPECT_EQ(row, "+I,true,42,1.5,bob,2024-01-01 00:00:00,1m30s\n");
}

TEST(CsvEncoderTest, WritesValuesWithSqlTimestamps) {
  EXPECT_EQ(encode("csv", one_row_batch()), "true,42,1.5,bob,2024-01-01 00:00:00,1m30s\n");
}

TEST(CsvEncoderTest, NullIsAnEmptyFieldAndEmptyStringIsQuoted) {
  RecordBatch b(make_schema({{"a", TypeId::kString}, {"b", TypeId::kString}, {"c", TypeId::kInt64}}));
  b.mutable_column(0).append_null();
  b.mutable_column(1).append_string("");
  b.mutable_column(2).append_null();
  b.sync_num_rows();
  EXPECT_EQ(encode("csv", b), ",\"\",\n");
}

TEST(CsvEncoderTest, QuotesFieldsWithDelimitersQuotesAndLineBreaks) {
  RecordBatch b = single_column(TypeId::kString);
  for (const char* s : {"plain", "a,b", "say \"hi\"", "two\nlines", "cr\rhere", " padded "}) {
    b.mutable_column(0).append_string(s);
  }
  b.sync_num_rows();
  std::vector<std::string> want = {"plain\n", "\"a,b\"\n", "\"say \"\"hi\"\"\"\n", "\"two\nlines\"\n",
                                   "\"cr\rhere\"\n", "\" padded \"\n"};
  for (size_t r = 0; r < want.size(); ++r) EXPECT_EQ(encode("csv", b, r), want[r]) << "row " << r;
}

TEST(CsvEncoderTest, UsesTheConfiguredDelimiter) {
  FormatOptions o;
  o.format = "csv";
  o.csv_delimiter = ';';
  RecordBatch b(make_schema({{"a", TypeId::kString}, {"b", TypeId::kInt64}}));
  b.mutable_column(0).append_string("x;y,z");
  b.mutable_column(1).append_int(1);
  b.sync_num_rows();
  auto enc = make_encoder(o, b.schema);
  ASSERT_TRUE(enc.is_ok());
  std::string out;
  enc.value()->encode_row(b, 0, false, out);
  EXPECT_EQ(out, "\"x;y,z\";1\n");
  EXPECT_EQ(enc.value()->header(), "a;b\n");
}

TEST(CsvEncoderTest, SpellsNonFiniteDoublesLikePostgres) {
  RecordBatch b = single_column(TypeId::kFloat64);
  b.mutable_column(0).append_double(std::numeric_limits<double>::quiet_NaN());
  b.mutable_column(0).append_double(-std::numeric_limits<double>::infinity());
  b.sync_num_rows();
  EXPECT_EQ(encode("csv", b, 0), "NaN\n");
  EXPECT_EQ(encode("csv", b, 1), "-Infinity\n");
}

TEST(CsvEncoderTest, WithOpPrefixesTheOperation) {
  RecordBatch b = single_column(TypeId::kInt64);
  b.mutable_column(0).append_int(5);
  b.sync_num_rows();
  b.row_kinds = {RowKind::kDelete};
  EXPECT_EQ(encode("csv", b, 0, true), "-D,5\n");
}

TEST(MakeEncoderTest, UnknownFormatIsAnError) {
  FormatOptions o;
  o.format = "avro";
  auto enc = make_encoder(o, all_types_schema());
  ASSERT_FALSE(enc.is_ok());
  EXPECT_NE(enc.status().message().find("unknown output format 'avro'"), std::string::npos);
}

}  // namespace
}  // namespace sluice
