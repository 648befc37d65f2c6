// Specification of the JSON-lines decoder: how object keys find columns, what each column
// type accepts, and what makes a record a failure.
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

RawRecords raw(const std::vector<std::string>& records) {
  RawRecords in;
  int64_t offset = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    in.append_record(records[i], offset, static_cast<int64_t>(i + 1));
    offset += static_cast<int64_t>(records[i].size()) + 1;
  }
  in.finish();
  return in;
}

Decoded decode(SchemaPtr schema, const std::vector<std::string>& records, FormatOptions options = {}) {
  options.format = "json";
  auto decoder = make_decoder(options, schema);
  EXPECT_TRUE(decoder.is_ok()) << decoder.status().to_string();
  Decoded d{RecordBatch(schema), {}};
  Status s = (*decoder)->decode(raw(records), d.batch, d.failures);
  EXPECT_TRUE(s.is_ok()) << s.to_string();
  for (const Column& c : d.batch.columns) EXPECT_EQ(c.size(), d.batch.num_rows);
  return d;
}

SchemaPtr one(TypeId type, std::string name = "v") { return make_schema({{std::move(name), type}}); }

// Decodes {"v": <json>} into a one-column schema of `type`.
Decoded value(TypeId type, const std::string& json, FormatOptions options = {}) {
  return decode(one(type), {"{\"v\":" + json + "}"}, options);
}

// The single failure message of decoding {"v": <json>} as `type`.
std::string failure(TypeId type, const std::string& json, FormatOptions options = {}) {
  Decoded d = value(type, json, options);
  EXPECT_EQ(d.batch.num_rows, 0u);
  if (d.failures.size() != 1) return "<no failure>";
  return d.failures[0].error;
}

int64_t ts(const char* iso) { return parse_timestamp(iso).value(); }

SchemaPtr clicks() {
  return make_schema({{"user_id", TypeId::kInt64}, {"page", TypeId::kString}, {"ts", TypeId::kTimestamp}});
}

// --- records and keys -------------------------------------------------------------------

TEST(JsonDecoder, DecodesOneRowPerObjectInSchemaColumnOrder) {
  Decoded d = decode(clicks(), {R"({"ts":"2024-01-01T00:00:01.234Z","page":"/p/1","user_id":7})",
                                R"({"user_id":8,"page":"/p/2","ts":"2024-01-01T00:00:02Z"})"});
  ASSERT_EQ(d.batch.num_rows, 2u);
  EXPECT_TRUE(d.failures.empty());
  EXPECT_EQ(d.batch.column(0).int_at(0), 7);
  EXPECT_EQ(d.batch.column(1).string_at(0), "/p/1");
  EXPECT_EQ(d.batch.column(2).int_at(0), ts("2024-01-01 00:00:01.234"));
  EXPECT_EQ(d.batch.column(0).int_at(1), 8);
  EXPECT_EQ(d.batch.column(1).string_at(1), "/p/2");
}

TEST(JsonDecoder, KeyMatchesColumnCaseInsensitivelyWhenNoExactMatch) {
  Decoded d = decode(clicks(), {R"({"USER_ID":5,"Page":"/x"})"});
  ASSERT_EQ(d.batch.num_rows, 1u);
  EXPECT_EQ(d.batch.column(0).int_at(0), 5);
  EXPECT_EQ(d.batch.column(1).string_at(0), "/x");
}

TEST(JsonDecoder, ExactKeyWinsOverCaseInsensitiveKeyInEitherOrder) {
  Decoded d = decode(one(TypeId::kInt64, "id"), {R"({"id":1,"ID":2})", R"({"ID":2,"id":1})"});
  ASSERT_EQ(d.batch.num_rows, 2u);
  EXPECT_EQ(d.batch.column(0).int_at(0), 1);
  EXPECT_EQ(d.batch.column(0).int_at(1), 1);
}

TEST(JsonDecoder, ExactMatchPicksTheRightOneOfColumnsDifferingOnlyInCase) {
  Decoded d = decode(make_schema({{"a", TypeId::kInt64}, {"A", TypeId::kInt64}}), {R"({"A":2,"a":1})"});
  ASSERT_EQ(d.batch.num_rows, 1u);
  EXPECT_EQ(d.batch.column(0).int_at(0), 1);
  EXPECT_EQ(d.batch.column(1).int_at(0), 2);
}

TEST(JsonDecoder, DuplicateKeyLastValueWins) {
  Decoded d = decode(one(TypeId::kInt64), {R"({"v":1,"v":2})"});
  ASSERT_EQ(d.batch.num_rows, 1u);
  EXPECT_EQ(d.batch.column(0).int_at(0), 2);
}

TEST(JsonDecoder, EscapedKeyIsUnescapedBeforeMatching) {
  Decoded d = decode(clicks(), {R"({"user\u005fid":3})"});
  ASSERT_EQ(d.batch.num_rows, 1u);
  EXPECT_EQ(d.batch.column(0).int_at(0), 3);
}

TEST(JsonDecoder, MissingKeyIsNull) {
  Decoded d = decode(clicks(), {R"({"user_id":1})"});
  ASSERT_EQ(d.batch.num_rows, 1u);
  EXPECT_TRUE(d.batch.column(1).is_null(0));
  EXPECT_TRUE(d.batch.column(2).is_null(0));
}

TEST(JsonDecoder, JsonNullIsNullForEveryType) {
  for (TypeId t : {TypeId::kBool, TypeId::kInt64, TypeId::kFloat64, TypeId::kString, TypeId::kTimestamp,
                   TypeId::kInterval}) {
    Decoded d = value(t, "null");
    ASSERT_EQ(d.batch.num_rows, 1u) << type_name(t);
    EXPECT_TRUE(d.batch.column(0).is_null(0)) << type_name(t);
  }
}

TEST(JsonDecoder, ExtraKeysAreIgnored) {
  Decoded d = decode(one(TypeId::kInt64), {R"({"x":{"deep":[1,2,{"y":null}]},"v":4,"z":"s"})"});
  ASSERT_EQ(d.batch.num_rows, 1u);
  EXPECT_EQ(d.batch.column(0).int_at(0), 4);
}

TEST(JsonDecoder, KeysInADifferentOrderPerRecordStillMatch) {
  Decoded d = decode(clicks(), {R"({"user_id":1,"page":"a"})", R"({"page":"b","user_id":2})",
                                R"({"extra":0,"user_id":3})", R"({"user_id":4,"page":"d"})"});
  ASSERT_EQ(d.batch.num_rows, 4u);
  EXPECT_EQ(d.batch.row_to_string(0), "1, a, NULL");
  EXPECT_EQ(d.batch.row_to_string(1), "2, b, NULL");
  EXPECT_EQ(d.batch.row_to_string(2), "3, NULL, NULL");
  EXPECT_EQ(d.batch.row_to_string(3), "4, d, NULL");
}

TEST(JsonDecoder, BlankRecordIsSkippedNotAFailure) {
  Decoded d = decode(one(TypeId::kInt64), {"", "  \r", R"({"v":1})"});
  EXPECT_EQ(d.batch.num_rows, 1u);
  EXPECT_TRUE(d.failures.empty());
}

TEST(JsonDecoder, RecordMayEndWithLineBreak) {
  Decoded d = decode(one(TypeId::kInt64), {"{\"v\":1}\r\n"});
  ASSERT_EQ(d.batch.num_rows, 1u);
  EXPECT_EQ(d.batch.column(0).int_at(0), 1);
}

// --- failures ---------------------------------------------------------------------------

TEST(JsonDecoder, InvalidJsonIsFailureWithSimdjsonError) {
  Decoded d = decode(clicks(), {R"({"user_id":1,)"});
  ASSERT_EQ(d.failures.size(), 1u);
  EXPECT_EQ(d.failures[0].error.rfind("invalid JSON: ", 0), 0u) << d.failures[0].error;
}

TEST(JsonDecoder, BadAtomIsFailureNamingSimdjsonErrorCode) {
  Decoded d = decode(one(TypeId::kBool), {R"({"v":tru})"});
  ASSERT_EQ(d.failures.size(), 1u);
  EXPECT_NE(d.failures[0].error.find("invalid JSON: T_ATOM_ERROR"), std::string::npos) << d.failures[0].error;
}

TEST(JsonDecoder, NonObjectRecordIsFailure) {
  Decoded d = decode(clicks(), {"[1,2]", "42", R"("text")"});
  ASSERT_EQ(d.failures.size(), 3u);
  EXPECT_EQ(d.failures[0].error, "expected a JSON object, got array");
  EXPECT_EQ(d.failures[1].error, "expected a JSON object, got number");
  EXPECT_EQ(d.failures[2].error, "expected a JSON object, got string");
}

TEST(JsonDecoder, TrailingGarbageIsFailure) {
  Decoded d = decode(clicks(), {R"({"user_id":1} x)", R"({"user_id":1}{"user_id":2})", R"({"user_id":1}})"});
  ASSERT_EQ(d.failures.size(), 3u);
  for (const auto& f : d.failures) EXPECT_EQ(f.error.rfind("invalid JSON: ", 0), 0u) << f.error;
  EXPECT_EQ(d.failures[1].error.rfind("invalid JSON: TRAILING_CONTENT", 0), 0u) << d.failures[1].error;
}

TEST(JsonDecoder, InvalidValueUnderIgnoredKeyIsFailure) {
  Decoded d = decode(one(TypeId::kInt64), {R"({"v":1,"x":[1,,2]})", R"({"v":1,"x":{"a":nul}})",
                                           R"({"v":1,"x":01})", R"({"v":1,"x":"\q"})"});
  EXPECT_EQ(d.batch.num_rows, 0u);
  ASSERT_EQ(d.failures.size(), 4u);
  for (const auto& f : d.failures) EXPECT_EQ(f.error.rfind("invalid JSON: ", 0), 0u) << f.error;
}

TEST(JsonDecoder, InvalidUtf8IsFailure) {
  Decoded d = decode(one(TypeId::kString), {"{\"v\":\"\xff\"}"});
  ASSERT_EQ(d.failures.size(), 1u);
  EXPECT_NE(d.failures[0].error.find("UTF8_ERROR"), std::string::npos) << d.failures[0].error;
}

TEST(JsonDecoder, FailureReportsRecordIndexAndOtherRecordsAreKept) {
  Decoded d = decode(one(TypeId::kInt64), {R"({"v":1})", "oops", R"({"v":3})", "{", R"({"v":5})"});
  ASSERT_EQ(d.batch.num_rows, 3u);
  EXPECT_EQ(d.batch.row_to_string(2), "5");
  ASSERT_EQ(d.failures.size(), 2u);
  EXPECT_EQ(d.failures[0].record, 1u);
  EXPECT_EQ(d.failures[1].record, 3u);
}

TEST(JsonDecoder, PartiallyDecodedRecordIsRolledBack) {
  // user_id and page convert before ts fails; none of them may stay in the batch.
  Decoded d = decode(clicks(), {R"({"user_id":1,"page":"/a","ts":"soon"})",
                                R"({"user_id":2,"page":"/b","ts":"2024-01-01"})"});
  ASSERT_EQ(d.batch.num_rows, 1u);
  ASSERT_EQ(d.failures.size(), 1u);
  for (const Column& c : d.batch.columns) EXPECT_EQ(c.size(), 1u);
  EXPECT_EQ(d.batch.row_to_string(0), "2, /b, 2024-01-01 00:00:00");
}

TEST(JsonDecoder, DuplicateKeyWithInvalidLastValueIsFailureAndRolledBack) {
  Decoded d = decode(clicks(), {R"({"user_id":1,"user_id":"x"})", R"({"user_id":2})"});
  ASSERT_EQ(d.batch.num_rows, 1u);
  EXPECT_EQ(d.batch.column(0).int_at(0), 2);
}

TEST(JsonDecoder, AppendsAfterRowsAlreadyInTheBatch) {
  auto decoder = make_decoder(FormatOptions{.format = "json"}, one(TypeId::kInt64));
  ASSERT_TRUE(decoder.is_ok());
  RecordBatch batch(one(TypeId::kInt64));
  std::vector<DecodeFailure> failures;
  ASSERT_TRUE((*decoder)->decode(raw({R"({"v":1})"}), batch, failures).is_ok());
  ASSERT_TRUE((*decoder)->decode(raw({R"({"v":"bad"})", R"({"v":2})"}), batch, failures).is_ok());
  ASSERT_EQ(batch.num_rows, 2u);
  EXPECT_EQ(batch.column(0).int_at(1), 2);
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].record, 0u);  // index into the second RawRecords
}

TEST(JsonDecoder, RecordsWithoutSpareCapacityAreStillDecoded) {
  RawRecords in;
  in.append_record(R"({"v":10})", 0, 1);
  in.append_record(R"({"v":11})", 9, 2);
  in.data.shrink_to_fit();  // breaks the padding promise: the decoder must copy, not over-read
  auto decoder = make_decoder(FormatOptions{.format = "json"}, one(TypeId::kInt64));
  RecordBatch batch(one(TypeId::kInt64));
  std::vector<DecodeFailure> failures;
  ASSERT_TRUE((*decoder)->decode(in, batch, failures).is_ok());
  ASSERT_EQ(batch.num_rows, 2u);
  EXPECT_EQ(batch.column(0).int_at(1), 11);
}

TEST(JsonDecoder, BatchOfTheWrongShapeIsAnErrorStatus) {
  auto decoder = make_decoder(FormatOptions{.format = "json"}, one(TypeId::kInt64));
  RecordBatch batch(one(TypeId::kString));
  std::vector<DecodeFailure> failures;
  EXPECT_FALSE((*decoder)->decode(raw({R"({"v":1})"}), batch, failures).is_ok());
}

// --- BIGINT -----------------------------------------------------------------------------

TEST(JsonDecoderBigint, AcceptsJsonIntegers) {
  Decoded d = decode(one(TypeId::kInt64), {R"({"v":-42})", R"({"v":9223372036854775807})",
                                           R"({"v":-9223372036854775808})"});
  ASSERT_EQ(d.batch.num_rows, 3u);
  EXPECT_EQ(d.batch.column(0).int_at(0), -42);
  EXPECT_EQ(d.batch.column(0).int_at(1), INT64_MAX);
  EXPECT_EQ(d.batch.column(0).int_at(2), INT64_MIN);
}

TEST(JsonDecoderBigint, AcceptsDoubleWithExactIntegralValue) {
  Decoded d = decode(one(TypeId::kInt64), {R"({"v":12.0})", R"({"v":1e3})", R"({"v":-2.5e1})"});
  ASSERT_EQ(d.batch.num_rows, 3u);
  EXPECT_EQ(d.batch.column(0).int_at(0), 12);
  EXPECT_EQ(d.batch.column(0).int_at(1), 1000);
  EXPECT_EQ(d.batch.column(0).int_at(2), -25);
}

TEST(JsonDecoderBigint, AcceptsStringHoldingAnInteger) {
  Decoded d = value(TypeId::kInt64, R"("42")");
  ASSERT_EQ(d.batch.num_rows, 1u);
  EXPECT_EQ(d.batch.column(0).int_at(0), 42);
}

TEST(JsonDecoderBigint, NonNumericStringIsFailureNamingFieldAndValue) {
  Decoded d = decode(clicks(), {R"({"user_id":"abc"})"});
  ASSERT_EQ(d.failures.size(), 1u);
  EXPECT_EQ(d.failures[0].error, R"(field 'user_id': expected BIGINT, got string "abc")");
}

TEST(JsonDecoderBigint, FractionalNumberIsFailure) {
  EXPECT_EQ(failure(TypeId::kInt64, "1.5"), "field 'v': expected BIGINT, got number 1.5");
}

TEST(JsonDecoderBigint, OutOfRangeNumberIsFailure) {
  EXPECT_EQ(failure(TypeId::kInt64, "9223372036854775808"),
            "field 'v': expected BIGINT, got number 9223372036854775808 (out of range)");
  EXPECT_NE(failure(TypeId::kInt64, "-9223372036854775809").find("out of range"), std::string::npos);
  EXPECT_NE(failure(TypeId::kInt64, "1e19").find("out of range"), std::string::npos);
  EXPECT_NE(failure(TypeId::kInt64, R"("99999999999999999999")").find("out of range"), std::string::npos);
}

TEST(JsonDecoderBigint, BooleanObjectAndArrayAreFailures) {
  EXPECT_EQ(failure(TypeId::kInt64, "true"), "field 'v': expected BIGINT, got boolean true");
  EXPECT_EQ(failure(TypeId::kInt64, R"({"a":1})"), "field 'v': expected BIGINT, got object");
  EXPECT_EQ(failure(TypeId::kInt64, "[1]"), "field 'v': expected BIGINT, got array");
}

// --- DOUBLE -----------------------------------------------------------------------------

TEST(JsonDecoderDouble, AcceptsAnyJsonNumber) {
  Decoded d = decode(one(TypeId::kFloat64), {R"({"v":1.25})", R"({"v":-3})", R"({"v":6.02e23})"});
  ASSERT_EQ(d.batch.num_rows, 3u);
  EXPECT_DOUBLE_EQ(d.batch.column(0).double_at(0), 1.25);
  EXPECT_DOUBLE_EQ(d.batch.column(0).double_at(1), -3);
  EXPECT_DOUBLE_EQ(d.batch.column(0).double_at(2), 6.02e23);
}

TEST(JsonDecoderDouble, IntegerBeyond64BitsBecomesDouble) {
  Decoded d = decode(one(TypeId::kFloat64), {R"({"v":9000000000000000000000000000})",
                                             R"({"v":18446744073709551615})"});
  ASSERT_EQ(d.batch.num_rows, 2u);
  EXPECT_DOUBLE_EQ(d.batch.column(0).double_at(0), 9e27);
  EXPECT_DOUBLE_EQ(d.batch.column(0).double_at(1), 18446744073709551615.0);
}

TEST(JsonDecoderDouble, AcceptsNumericString) {
  Decoded d = value(TypeId::kFloat64, R"("-1.5e2")");
  ASSERT_EQ(d.batch.num_rows, 1u);
  EXPECT_DOUBLE_EQ(d.batch.column(0).double_at(0), -150);
}

TEST(JsonDecoderDouble, NonNumericStringIsFailure) {
  EXPECT_EQ(failure(TypeId::kFloat64, R"("1.5kg")"), R"(field 'v': expected DOUBLE, got string "1.5kg")");
}

// --- BOOLEAN ----------------------------------------------------------------------------

TEST(JsonDecoderBoolean, AcceptsTrueAndFalse) {
  Decoded d = decode(one(TypeId::kBool), {R"({"v":true})", R"({"v":false})"});
  ASSERT_EQ(d.batch.num_rows, 2u);
  EXPECT_EQ(d.batch.column(0).int_at(0), 1);
  EXPECT_EQ(d.batch.column(0).int_at(1), 0);
}

TEST(JsonDecoderBoolean, AcceptsNumbersZeroAndOne) {
  Decoded d = decode(one(TypeId::kBool), {R"({"v":1})", R"({"v":0})", R"({"v":1.0})"});
  ASSERT_EQ(d.batch.num_rows, 3u);
  EXPECT_EQ(d.batch.row_to_string(0), "true");
  EXPECT_EQ(d.batch.row_to_string(1), "false");
  EXPECT_EQ(d.batch.row_to_string(2), "true");
}

TEST(JsonDecoderBoolean, AcceptsBooleanWordsCaseInsensitively) {
  Decoded d = decode(one(TypeId::kBool), {R"({"v":"TRUE"})", R"({"v":"False"})", R"({"v":"t"})",
                                          R"({"v":"F"})", R"({"v":"1"})", R"({"v":"0"})"});
  ASSERT_EQ(d.batch.num_rows, 6u);
  std::vector<int64_t> got;
  for (size_t r = 0; r < 6; ++r) got.push_back(d.batch.column(0).int_at(r));
  EXPECT_EQ(got, (std::vector<int64_t>{1, 0, 1, 0, 1, 0}));
}

TEST(JsonDecoderBoolean, OtherNumbersAndWordsAreFailures) {
  EXPECT_EQ(failure(TypeId::kBool, "2"), "field 'v': expected BOOLEAN, got number 2");
  EXPECT_EQ(failure(TypeId::kBool, R"("yes")"), R"(field 'v': expected BOOLEAN, got string "yes")");
}

// --- TEXT -------------------------------------------------------------------------------

TEST(JsonDecoderText, StringIsUnescaped) {
  Decoded d = value(TypeId::kString, R"("a\"b\\c\n\u00e9\ud83d\ude00")");
  ASSERT_EQ(d.batch.num_rows, 1u);
  EXPECT_EQ(d.batch.column(0).string_at(0), "a\"b\\c\n\xc3\xa9\xf0\x9f\x98\x80");
}

TEST(JsonDecoderText, NumberAndBooleanKeepTheirJsonText) {
  Decoded d = decode(one(TypeId::kString), {R"({"v": 1.50 })", R"({"v":-7})", R"({"v":true})"});
  ASSERT_EQ(d.batch.num_rows, 3u);
  EXPECT_EQ(d.batch.column(0).string_at(0), "1.50");
  EXPECT_EQ(d.batch.column(0).string_at(1), "-7");
  EXPECT_EQ(d.batch.column(0).string_at(2), "true");
}

TEST(JsonDecoderText, ObjectAndArrayBecomeTheirRawJsonText) {
  Decoded d = decode(one(TypeId::kString), {R"({"v":{"a":[1,{"b":null}]},"w":0})", R"({"v":[1, "x"] })"});
  ASSERT_EQ(d.batch.num_rows, 2u);
  EXPECT_EQ(d.batch.column(0).string_at(0), R"({"a":[1,{"b":null}]})");
  EXPECT_EQ(d.batch.column(0).string_at(1), R"([1, "x"])");
}

TEST(JsonDecoderText, InvalidJsonInsideObjectValueIsFailure) {
  EXPECT_EQ(failure(TypeId::kString, R"({"a":tru})").rfind("invalid JSON: ", 0), 0u);
}

TEST(JsonDecoderText, NestingDeeperThanTheLimitIsFailure) {
  std::string deep = std::string(300, '[') + std::string(300, ']');
  EXPECT_NE(failure(TypeId::kString, deep).find("DEPTH_ERROR"), std::string::npos);
}

// --- TIMESTAMP --------------------------------------------------------------------------

TEST(JsonDecoderTimestamp, AcceptsIso8601String) {
  Decoded d = decode(one(TypeId::kTimestamp), {R"({"v":"2024-01-01T00:00:01.234Z"})",
                                               R"({"v":"2024-01-01 02:00:00+02:00"})"});
  ASSERT_EQ(d.batch.num_rows, 2u);
  EXPECT_EQ(d.batch.column(0).int_at(0), ts("2024-01-01T00:00:01.234Z"));
  EXPECT_EQ(d.batch.column(0).int_at(1), ts("2024-01-01T00:00:00Z"));
}

TEST(JsonDecoderTimestamp, NumberIsEpochMillisecondsByDefault) {
  Decoded d = value(TypeId::kTimestamp, "1704067201234");
  ASSERT_EQ(d.batch.num_rows, 1u);
  EXPECT_EQ(d.batch.column(0).int_at(0), ts("2024-01-01T00:00:01.234Z"));
}

TEST(JsonDecoderTimestamp, NumberFollowsTimestampUnitOption) {
  FormatOptions seconds;
  seconds.timestamp_unit = "s";
  EXPECT_EQ(value(TypeId::kTimestamp, "1704067200", seconds).batch.column(0).int_at(0), ts("2024-01-01"));
  FormatOptions micros;
  micros.timestamp_unit = "us";
  EXPECT_EQ(value(TypeId::kTimestamp, "1704067200000001", micros).batch.column(0).int_at(0),
            ts("2024-01-01") + 1);
}

TEST(JsonDecoderTimestamp, FractionalNumberIsAllowed) {
  FormatOptions seconds;
  seconds.timestamp_unit = "s";
  Decoded d = value(TypeId::kTimestamp, "1704067200.5", seconds);
  ASSERT_EQ(d.batch.num_rows, 1u);
  EXPECT_EQ(d.batch.column(0).int_at(0), ts("2024-01-01T00:00:00.5Z"));
}

TEST(JsonDecoderTimestamp, NumericStringIsAnEpochValueToo) {
  Decoded d = value(TypeId::kTimestamp, R"("1704067201234")");
  ASSERT_EQ(d.batch.num_rows, 1u);
  EXPECT_EQ(d.batch.column(0).int_at(0), ts("2024-01-01T00:00:01.234Z"));
}

TEST(JsonDecoderTimestamp, UnparsableStringIsFailureNamingFieldAndValue) {
  EXPECT_EQ(failure(TypeId::kTimestamp, R"("yesterday")"),
            R"(field 'v': expected TIMESTAMP (ISO-8601 text or epoch number in ms), got string "yesterday")");
}

TEST(JsonDecoderTimestamp, OutOfRangeNumberIsFailure) {
  EXPECT_NE(failure(TypeId::kTimestamp, "9223372036854775807").find("out of range"), std::string::npos);
  EXPECT_NE(failure(TypeId::kTimestamp, "1e300").find("out of range"), std::string::npos);
}

TEST(JsonDecoderTimestamp, BooleanIsFailure) {
  EXPECT_NE(failure(TypeId::kTimestamp, "false").find("got boolean false"), std::string::npos);
}

// --- INTERVAL ---------------------------------------------------------------------------

TEST(JsonDecoderInterval, AcceptsDurationText) {
  Decoded d = decode(one(TypeId::kInterval), {R"({"v":"5s"})", R"({"v":"1 minute"})", R"({"v":"00:01:30"})"});
  ASSERT_EQ(d.batch.num_rows, 3u);
  EXPECT_EQ(d.batch.column(0).int_at(0), 5 * kMicrosPerSecond);
  EXPECT_EQ(d.batch.column(0).int_at(1), kMicrosPerMinute);
  EXPECT_EQ(d.batch.column(0).int_at(2), 90 * kMicrosPerSecond);
}

TEST(JsonDecoderInterval, NumberIsInTheTimestampUnit) {
  EXPECT_EQ(value(TypeId::kInterval, "250").batch.column(0).int_at(0), 250 * kMicrosPerMilli);
  FormatOptions seconds;
  seconds.timestamp_unit = "s";
  EXPECT_EQ(value(TypeId::kInterval, "1.5", seconds).batch.column(0).int_at(0), 1500 * kMicrosPerMilli);
}

TEST(JsonDecoderInterval, UnparsableTextIsFailure) {
  EXPECT_EQ(failure(TypeId::kInterval, R"("a while")"),
            R"(field 'v': expected INTERVAL (duration text like '5s' or number in ms), got string "a while")");
}

TEST(JsonDecoderInterval, DurationTooLargeForInt64MicrosecondsIsFailure) {
  EXPECT_NE(failure(TypeId::kInterval, R"("99999999999999999999 days")").find("expected INTERVAL"), std::string::npos);
  EXPECT_NE(failure(TypeId::kInterval, R"("99999999999999999999:00:00")").find("expected INTERVAL"), std::string::npos);
}

// --- factory ----------------------------------------------------------------------------

TEST(MakeDecoder, UnknownFormatNamesItAndTheSupportedOnes) {
  auto d = make_decoder(FormatOptions{.format = "avro"}, one(TypeId::kInt64));
  ASSERT_FALSE(d.is_ok());
  EXPECT_NE(d.status().message().find("'avro'"), std::string::npos);
  EXPECT_NE(d.status().message().find("json, csv"), std::string::npos);
}

TEST(MakeDecoder, FormatNameIsCaseInsensitive) {
  EXPECT_TRUE(make_decoder(FormatOptions{.format = "JSON"}, one(TypeId::kInt64)).is_ok());
  EXPECT_TRUE(make_decoder(FormatOptions{.format = "Csv"}, one(TypeId::kInt64)).is_ok());
}

TEST(MakeDecoder, UnknownTimestampUnitIsError) {
  FormatOptions options{.format = "json"};
  options.timestamp_unit = "fortnights";
  auto d = make_decoder(options, one(TypeId::kInt64));
  ASSERT_FALSE(d.is_ok());
  EXPECT_NE(d.status().message().find("fortnights"), std::string::npos);
}

}  // namespace
}  // namespace sluice
