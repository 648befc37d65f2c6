// Specification of the CSV decoder: RFC 4180 quoting, delimiter and header options, field
// counts, NULLs, and the same type conversions as JSON applied to text.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/time_util.h"
#include "formats/format.h"

namespace sluice {
namespace {

struct Decoded {
  RecordBatch batch;
  std::vector<DecodeFailure> failures;
};

FormatOptions csv(char delimiter = ',', bool header = false) {
  FormatOptions o;
  o.format = "csv";
  o.csv_delimiter = delimiter;
  o.csv_header = header;
  return o;
}

// Records get line numbers 1, 2, ... as a line-based reader would give them.
Decoded decode(SchemaPtr schema, const std::vector<std::string>& records, FormatOptions options = csv()) {
  auto decoder = make_decoder(options, schema);
  EXPECT_TRUE(decoder.is_ok()) << decoder.status().to_string();
  RawRecords in;
  for (size_t i = 0; i < records.size(); ++i) in.append_record(records[i], 0, static_cast<int64_t>(i + 1));
  in.finish();
  Decoded d{RecordBatch(schema), {}};
  Status s = (*decoder)->decode(in, d.batch, d.failures);
  EXPECT_TRUE(s.is_ok()) << s.to_string();
  for (const Column& c : d.batch.columns) EXPECT_EQ(c.size(), d.batch.num_rows);
  return d;
}

SchemaPtr three() {
  return make_schema({{"id", TypeId::kInt64}, {"name", TypeId::kString}, {"score", TypeId::kFloat64}});
}
SchemaPtr one(TypeId type) { return make_schema({{"v", type}}); }

std::string failure(TypeId type, const std::string& field) {
  Decoded d = decode(one(type), {field});
  EXPECT_EQ(d.batch.num_rows, 0u);
  return d.failures.size() == 1 ? d.failures[0].error : "<no failure>";
}

int64_t ts(const char* iso) { return parse_timestamp(iso).value(); }

// --- structure --------------------------------------------------------------------------

TEST(CsvDecoder, FieldsMapToColumnsByPosition) {
  Decoded d = decode(three(), {"1,alice,2.5", "2,bob,-1"});
  ASSERT_EQ(d.batch.num_rows, 2u);
  EXPECT_EQ(d.batch.row_to_string(0), "1, alice, 2.5");
  EXPECT_EQ(d.batch.row_to_string(1), "2, bob, -1");
}

TEST(CsvDecoder, LineEndingIsStripped) {
  Decoded d = decode(three(), {"1,lf,1\n", "2,crlf,2\r\n"});
  ASSERT_EQ(d.batch.num_rows, 2u);
  EXPECT_EQ(d.batch.column(1).string_at(0), "lf");
  EXPECT_EQ(d.batch.column(1).string_at(1), "crlf");
}

TEST(CsvDecoder, QuotedFieldMayContainDelimiterAndLineBreaks) {
  Decoded d = decode(three(), {"1,\"Smith, J.\r\nline two\",3\n"});
  ASSERT_EQ(d.batch.num_rows, 1u);
  EXPECT_EQ(d.batch.column(1).string_at(0), "Smith, J.\r\nline two");
}

TEST(CsvDecoder, DoubledQuoteInsideQuotesIsOneQuote) {
  Decoded d = decode(three(), {R"(1,"say ""hi""",1)", R"(2,"""",1)"});
  ASSERT_EQ(d.batch.num_rows, 2u);
  EXPECT_EQ(d.batch.column(1).string_at(0), R"(say "hi")");
  EXPECT_EQ(d.batch.column(1).string_at(1), R"(")");
}

TEST(CsvDecoder, QuotedNumbersConvertLikeUnquotedOnes) {
  Decoded d = decode(three(), {R"("7","x","1.5")"});
  ASSERT_EQ(d.batch.num_rows, 1u);
  EXPECT_EQ(d.batch.row_to_string(0), "7, x, 1.5");
}

TEST(CsvDecoder, QuoteInsideUnquotedFieldIsALiteralCharacter) {
  Decoded d = decode(three(), {R"(1,5'11" tall,2)"});
  ASSERT_EQ(d.batch.num_rows, 1u);
  EXPECT_EQ(d.batch.column(1).string_at(0), R"(5'11" tall)");
}

TEST(CsvDecoder, EmptyUnquotedFieldIsNullForEveryType) {
  SchemaPtr all = make_schema({{"b", TypeId::kBool}, {"i", TypeId::kInt64}, {"d", TypeId::kFloat64},
                               {"s", TypeId::kString}, {"t", TypeId::kTimestamp}, {"iv", TypeId::kInterval}});
  Decoded d = decode(all, {",,,,,"});
  ASSERT_EQ(d.batch.num_rows, 1u);
  for (size_t c = 0; c < all->size(); ++c) EXPECT_TRUE(d.batch.column(c).is_null(0)) << c;
}

TEST(CsvDecoder, QuotedEmptyFieldIsTheEmptyString) {
  Decoded d = decode(three(), {R"(1,"",2)"});
  ASSERT_EQ(d.batch.num_rows, 1u);
  EXPECT_FALSE(d.batch.column(1).is_null(0));
  EXPECT_EQ(d.batch.column(1).string_at(0), "");
}

TEST(CsvDecoder, QuotedEmptyFieldIsNotANumber) {
  EXPECT_EQ(failure(TypeId::kInt64, R"("")"), R"(field 'v': expected BIGINT, got "")");
}

TEST(CsvDecoder, TrailingDelimiterMeansOneMoreEmptyField) {
  Decoded d = decode(three(), {"1,x,"});
  ASSERT_EQ(d.batch.num_rows, 1u);
  EXPECT_TRUE(d.batch.column(2).is_null(0));
}

TEST(CsvDecoder, DelimiterOptionIsUsed) {
  Decoded semi = decode(three(), {"1;a,b;2"}, csv(';'));
  ASSERT_EQ(semi.batch.num_rows, 1u);
  EXPECT_EQ(semi.batch.column(1).string_at(0), "a,b");
  Decoded tab = decode(three(), {"1\ta b\t2"}, csv('\t'));
  ASSERT_EQ(tab.batch.num_rows, 1u);
  EXPECT_EQ(tab.batch.column(1).string_at(0), "a b");
}

TEST(CsvDecoder, HeaderLineIsSkippedWhenHeaderOptionIsSet) {
  Decoded d = decode(three(), {"id,name,score", "1,a,1"}, csv(',', true));
  EXPECT_TRUE(d.failures.empty());
  ASSERT_EQ(d.batch.num_rows, 1u);
  EXPECT_EQ(d.batch.row_to_string(0), "1, a, 1");
}

TEST(CsvDecoder, HeaderMatchesColumnsByNameNotPosition) {
  Decoded d = decode(three(), {"score,extra,id,name", "2.5,ignored,1,alice", "-1,,2,bob"}, csv(',', true));
  EXPECT_TRUE(d.failures.empty()) << d.failures[0].error;
  ASSERT_EQ(d.batch.num_rows, 2u);
  EXPECT_EQ(d.batch.row_to_string(0), "1, alice, 2.5");
  EXPECT_EQ(d.batch.row_to_string(1), "2, bob, -1");
}

TEST(CsvDecoder, HeaderNamesAreTrimmedAndMatchedCaseInsensitivelyWhenNotExact) {
  Decoded d = decode(three(), {"\xEF\xBB\xBF\"Name\", ID ,score", "alice,1,2.5"}, csv(',', true));
  EXPECT_TRUE(d.failures.empty());
  ASSERT_EQ(d.batch.num_rows, 1u);
  EXPECT_EQ(d.batch.row_to_string(0), "1, alice, 2.5");
}

TEST(CsvDecoder, ColumnTheHeaderDoesNotNameIsNull) {
  Decoded d = decode(three(), {"name,id", "alice,1"}, csv(',', true));
  EXPECT_TRUE(d.failures.empty());
  ASSERT_EQ(d.batch.num_rows, 1u);
  EXPECT_EQ(d.batch.row_to_string(0), "1, alice, NULL");
}

TEST(CsvDecoder, RecordsMustHaveTheHeadersFieldCount) {
  Decoded d = decode(three(), {"name,id,score,x", "alice,1,2.5", "bob,2,3,y,z"}, csv(',', true));
  EXPECT_EQ(d.batch.num_rows, 0u);
  ASSERT_EQ(d.failures.size(), 2u);
  EXPECT_EQ(d.failures[0].error, "expected 4 fields (as in the header), got 3");
  EXPECT_EQ(d.failures[1].error, "expected 4 fields (as in the header), got 5");
}

TEST(CsvDecoder, ConversionErrorNamesTheColumnFoundByName) {
  Decoded d = decode(three(), {"score,id,name", "high,1,a"}, csv(',', true));
  ASSERT_EQ(d.failures.size(), 1u);
  EXPECT_EQ(d.failures[0].error, R"(field 'score': expected DOUBLE, got "high")");
}

TEST(CsvDecoder, HeaderNamingNoDeclaredColumnIsAnError) {
  auto decoder = make_decoder(csv(',', true), three());
  RawRecords in;
  in.append_record("a,b,c", 0, 1);
  in.append_record("1,x,2", 6, 2);
  in.finish();
  RecordBatch batch(three());
  std::vector<DecodeFailure> failures;
  Status s = (*decoder)->decode(in, batch, failures);
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.message(),
            "CSV header on line 1 (a,b,c) names none of the declared columns (id, name, score); with header = "
            "'true' columns are matched by name");
}

TEST(CsvDecoder, QuotedFieldsMayHoldLineBreaks) {
  Decoded d = decode(three(), {"1,\"two\nlines\",2", "2,\"crlf\r\ninside \"\"q\"\"\",3"});
  EXPECT_TRUE(d.failures.empty());
  ASSERT_EQ(d.batch.num_rows, 2u);
  EXPECT_EQ(d.batch.column(1).string_at(0), "two\nlines");
  EXPECT_EQ(d.batch.column(1).string_at(1), "crlf\r\ninside \"q\"");
}

TEST(CsvDecoder, OnlyLineOneIsTheHeader) {
  // A batch that starts mid-file has no header in it.
  auto decoder = make_decoder(csv(',', true), three());
  RawRecords in;
  in.append_record("5,e,5", 100, 5);
  in.append_record("6,f,6", 106, 6);
  in.finish();
  RecordBatch batch(three());
  std::vector<DecodeFailure> failures;
  ASSERT_TRUE((*decoder)->decode(in, batch, failures).is_ok());
  EXPECT_EQ(batch.num_rows, 2u);
}

TEST(CsvDecoder, LineOneIsDataWithoutHeaderOption) {
  Decoded d = decode(three(), {"id,name,score"});
  EXPECT_EQ(d.batch.num_rows, 0u);
  ASSERT_EQ(d.failures.size(), 1u);
  EXPECT_EQ(d.failures[0].error, R"(field 'id': expected BIGINT, got "id")");
}

TEST(CsvDecoder, ByteOrderMarkOnLineOneIsIgnored) {
  Decoded d = decode(three(), {"\xEF\xBB\xBF" "1,a,1"});
  ASSERT_EQ(d.batch.num_rows, 1u);
  EXPECT_EQ(d.batch.column(0).int_at(0), 1);
}

TEST(CsvDecoder, BlankLineIsSkippedNotAFailure) {
  Decoded d = decode(three(), {"\n", "\r\n", "1,a,1"});
  EXPECT_TRUE(d.failures.empty());
  EXPECT_EQ(d.batch.num_rows, 1u);
}

// --- failures ---------------------------------------------------------------------------

TEST(CsvDecoder, TooFewFieldsIsFailure) {
  Decoded d = decode(three(), {"1,a"});
  ASSERT_EQ(d.failures.size(), 1u);
  EXPECT_EQ(d.failures[0].error, "expected 3 fields, got 2");
}

TEST(CsvDecoder, TooManyFieldsIsFailure) {
  Decoded d = decode(three(), {"1,a,2,extra"});
  ASSERT_EQ(d.failures.size(), 1u);
  EXPECT_EQ(d.failures[0].error, "expected 3 fields, got 4");
}

TEST(CsvDecoder, FieldCountIsReportedBeforeAConversionError) {
  Decoded d = decode(three(), {"x,a"});
  ASSERT_EQ(d.failures.size(), 1u);
  EXPECT_EQ(d.failures[0].error, "expected 3 fields, got 2");
}

TEST(CsvDecoder, UnterminatedQuoteIsFailure) {
  Decoded d = decode(three(), {"1,\"open,2"});
  ASSERT_EQ(d.failures.size(), 1u);
  EXPECT_EQ(d.failures[0].error, "malformed CSV: unterminated quoted field 2");
}

TEST(CsvDecoder, TextAfterClosingQuoteIsFailure) {
  Decoded d = decode(three(), {R"(1,"a"b,2)"});
  ASSERT_EQ(d.failures.size(), 1u);
  EXPECT_EQ(d.failures[0].error, "malformed CSV: unexpected character after the closing quote of field 2");
}

TEST(CsvDecoder, ConversionFailureNamesFieldAndValue) {
  Decoded d = decode(three(), {"1,a,lots"});
  ASSERT_EQ(d.failures.size(), 1u);
  EXPECT_EQ(d.failures[0].error, R"(field 'score': expected DOUBLE, got "lots")");
}

TEST(CsvDecoder, ControlCharactersInFailureMessageAreEscaped) {
  Decoded d = decode(three(), {"1,a,\"x\ny\""});
  ASSERT_EQ(d.failures.size(), 1u);
  EXPECT_EQ(d.failures[0].error, R"(field 'score': expected DOUBLE, got "x\ny")");
}

TEST(CsvDecoder, PartiallyDecodedRecordIsRolledBack) {
  Decoded d = decode(three(), {"1,a,bad", "2,b,2"});
  ASSERT_EQ(d.batch.num_rows, 1u);
  ASSERT_EQ(d.failures.size(), 1u);
  EXPECT_EQ(d.failures[0].record, 0u);
  EXPECT_EQ(d.batch.row_to_string(0), "2, b, 2");
}

TEST(CsvDecoder, QuoteCannotBeTheDelimiter) {
  auto d = make_decoder(csv('"'), three());
  ASSERT_FALSE(d.is_ok());
  EXPECT_NE(d.status().message().find("delimiter"), std::string::npos);
}

// --- conversions ------------------------------------------------------------------------

TEST(CsvDecoderConversion, BigintAcceptsSignedIntegersWithSurroundingBlanks) {
  Decoded d = decode(one(TypeId::kInt64), {"-5", "+6", " 7 "});
  ASSERT_EQ(d.batch.num_rows, 3u);
  EXPECT_EQ(d.batch.column(0).int_at(0), -5);
  EXPECT_EQ(d.batch.column(0).int_at(1), 6);
  EXPECT_EQ(d.batch.column(0).int_at(2), 7);
}

TEST(CsvDecoderConversion, BigintRejectsFractionsAndOverflow) {
  EXPECT_EQ(failure(TypeId::kInt64, "1.5"), R"(field 'v': expected BIGINT, got "1.5")");
  EXPECT_EQ(failure(TypeId::kInt64, "9223372036854775808"),
            R"(field 'v': expected BIGINT, got "9223372036854775808" (out of range))");
}

TEST(CsvDecoderConversion, DoubleAcceptsDecimalAndExponentForms) {
  Decoded d = decode(one(TypeId::kFloat64), {"1.5", "-2e3", ".25"});
  ASSERT_EQ(d.batch.num_rows, 3u);
  EXPECT_DOUBLE_EQ(d.batch.column(0).double_at(1), -2000);
  EXPECT_DOUBLE_EQ(d.batch.column(0).double_at(2), 0.25);
}

TEST(CsvDecoderConversion, BooleanAcceptsWordsAndDigits) {
  Decoded d = decode(one(TypeId::kBool), {"true", "F", "1", "0"});
  ASSERT_EQ(d.batch.num_rows, 4u);
  EXPECT_EQ(d.batch.column(0).int_at(0), 1);
  EXPECT_EQ(d.batch.column(0).int_at(1), 0);
  EXPECT_EQ(d.batch.column(0).int_at(2), 1);
  EXPECT_EQ(d.batch.column(0).int_at(3), 0);
  EXPECT_EQ(failure(TypeId::kBool, "maybe"), R"(field 'v': expected BOOLEAN, got "maybe")");
}

TEST(CsvDecoderConversion, TextKeepsBlanks) {
  Decoded d = decode(one(TypeId::kString), {"  padded  "});
  ASSERT_EQ(d.batch.num_rows, 1u);
  EXPECT_EQ(d.batch.column(0).string_at(0), "  padded  ");
}

TEST(CsvDecoderConversion, TimestampAcceptsIsoTextAndEpochNumbers) {
  Decoded d = decode(one(TypeId::kTimestamp), {"2024-01-01T00:00:01.234Z", "1704067201234", "1704067201234.5"});
  ASSERT_EQ(d.batch.num_rows, 3u);
  EXPECT_EQ(d.batch.column(0).int_at(0), ts("2024-01-01T00:00:01.234Z"));
  EXPECT_EQ(d.batch.column(0).int_at(1), ts("2024-01-01T00:00:01.234Z"));
  EXPECT_EQ(d.batch.column(0).int_at(2), ts("2024-01-01T00:00:01.234Z") + 500);
}

TEST(CsvDecoderConversion, TimestampFailureNamesFieldAndValue) {
  EXPECT_EQ(failure(TypeId::kTimestamp, "2024-13-01"),
            R"(field 'v': expected TIMESTAMP (ISO-8601 text or epoch number in ms), got "2024-13-01" (month 13 is out of range (1-12)))");
  EXPECT_EQ(failure(TypeId::kTimestamp, "2024-02-30 10:00:00"),
            R"(field 'v': expected TIMESTAMP (ISO-8601 text or epoch number in ms), got "2024-02-30 10:00:00" (day 30 is out of range for February 2024 (29 days)))");
  EXPECT_EQ(failure(TypeId::kTimestamp, "bad"),
            R"(field 'v': expected TIMESTAMP (ISO-8601 text or epoch number in ms), got "bad")");
}

TEST(CsvDecoderConversion, IntervalAcceptsDurationTextAndNumbersInTheUnit) {
  FormatOptions seconds = csv();
  seconds.timestamp_unit = "s";
  Decoded d = decode(one(TypeId::kInterval), {"2m", "90"}, seconds);
  ASSERT_EQ(d.batch.num_rows, 2u);
  EXPECT_EQ(d.batch.column(0).int_at(0), 2 * kMicrosPerMinute);
  EXPECT_EQ(d.batch.column(0).int_at(1), 90 * kMicrosPerSecond);
}

}  // namespace
}  // namespace sluice
