// Specification tests for CAST: every supported pair, failures -> NULL, unsupported pairs
// -> type errors, and the text forms of each type.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "expr/expr_test_util.h"

namespace sluice {
namespace {

using namespace expr_test;  // NOLINT(google-build-using-namespace)

constexpr TypeId kB = TypeId::kBool;
constexpr TypeId kI = TypeId::kInt64;
constexpr TypeId kD = TypeId::kFloat64;
constexpr TypeId kS = TypeId::kString;
constexpr TypeId kTS = TypeId::kTimestamp;
constexpr TypeId kIV = TypeId::kInterval;

// Casts a column (not a literal, so the batch path runs) holding `values`.
Rows cast_rows(TypeId from, const std::vector<Value>& values, TypeId to) {
  ExprPtr e = cast(Col(0, from, "v"), to);
  EXPECT_EQ(e->kind(), Expr::Kind::kCast);
  return eval_rows(e, batch_of({column_of(from, values)}));
}
Rows text_to(TypeId to, const std::vector<std::string>& texts) {
  std::vector<Value> values;
  for (const std::string& t : texts) values.push_back(Value::string(t));
  return cast_rows(kS, values, to);
}
Value ts(std::string_view s) { return Value::timestamp(parse_timestamp(s).value()); }

TEST(CastTest, SameTypeReturnsTheInputExpression) {
  ExprPtr x = Col(0, kI);
  EXPECT_EQ(cast(x, kI), x);
}

TEST(CastTest, BigintToDouble) {
  EXPECT_EQ(cast_rows(kI, {Value::int64(3), Value::int64(-7), Value::null(kI)}, kD), (Rows{"3", "-7", "NULL"}));
}

TEST(CastTest, DoubleToBigintRoundsHalfAwayFromZero) {
  EXPECT_EQ(cast_rows(kD, {Value::float64(2.5), Value::float64(-2.5), Value::float64(2.4), Value::float64(-0.4)}, kI),
            (Rows{"3", "-3", "2", "0"}));
}

TEST(CastTest, DoubleToBigintOutOfRangeIsNull) {
  EXPECT_EQ(cast_rows(kD, {Value::float64(1e19), Value::float64(-1e19), Value::float64(std::nan("")),
                           Value::float64(INFINITY), Value::float64(-9223372036854775808.0)},
                      kI),
            (Rows{"NULL", "NULL", "NULL", "NULL", "-9223372036854775808"}));
}

TEST(CastTest, BigintToBooleanIsNonZero) {
  EXPECT_EQ(cast_rows(kI, {Value::int64(0), Value::int64(5), Value::int64(-1), Value::null(kI)}, kB),
            (Rows{"false", "true", "true", "NULL"}));
}

TEST(CastTest, BooleanToBigint) {
  EXPECT_EQ(cast_rows(kB, {Value::boolean(true), Value::boolean(false), Value::null(kB)}, kI),
            (Rows{"1", "0", "NULL"}));
}

TEST(CastTest, BooleanToText) {
  EXPECT_EQ(cast_rows(kB, {Value::boolean(true), Value::boolean(false), Value::null(kB)}, kS),
            (Rows{"'true'", "'false'", "NULL"}));
}

TEST(CastTest, BigintToText) {
  EXPECT_EQ(cast_rows(kI, {Value::int64(0), Value::int64(-42), Value::int64(INT64_MIN)}, kS),
            (Rows{"'0'", "'-42'", "'-9223372036854775808'"}));
}

TEST(CastTest, DoubleToTextIsShortestRoundTripInPostgresLayout) {
  EXPECT_EQ(cast_rows(kD,
                      {Value::float64(0.1), Value::float64(100), Value::float64(1.5e-5), Value::float64(0.0001),
                       Value::float64(1e20), Value::float64(123456789012345.0), Value::float64(1e15),
                       Value::float64(-2.5), Value::float64(-0.0), Value::float64(0.1 + 0.2)},
                      kS),
            (Rows{"'0.1'", "'100'", "'1.5e-05'", "'0.0001'", "'1e+20'", "'123456789012345'", "'1e+15'", "'-2.5'",
                  "'-0'", "'0.30000000000000004'"}));
}

TEST(CastTest, NonFiniteDoublesToText) {
  EXPECT_EQ(cast_rows(kD, {Value::float64(std::nan("")), Value::float64(INFINITY), Value::float64(-INFINITY)}, kS),
            (Rows{"'NaN'", "'Infinity'", "'-Infinity'"}));
}

TEST(CastTest, DoubleTextRoundTripsExactly) {
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> mantissa(-1, 1);
  std::uniform_int_distribution<int> exponent(-30, 30);
  for (int i = 0; i < 2000; ++i) {
    const double d = mantissa(rng) * std::pow(10.0, exponent(rng));
    std::string text;
    expr_internal::append_double_text(text, d);
    double back = 0;
    ASSERT_TRUE(expr_internal::parse_double_text(text, &back)) << text;
    EXPECT_EQ(back, d) << text;
  }
}

TEST(CastTest, TimestampToText) {
  EXPECT_EQ(cast_rows(kTS,
                      {ts("2024-01-01 10:00:00"), ts("2024-01-01 10:00:00.123"), ts("2024-01-01 10:00:00.000001"),
                       ts("1969-12-31 23:59:59.5"), Value::null(kTS)},
                      kS),
            (Rows{"'2024-01-01 10:00:00'", "'2024-01-01 10:00:00.123'", "'2024-01-01 10:00:00.000001'",
                  "'1969-12-31 23:59:59.500'", "NULL"}));
}

TEST(CastTest, IntervalToTextMatchesFormatDuration) {
  std::mt19937_64 rng(7);
  std::vector<Value> values;
  std::vector<int64_t> raw = {0, 1, -1, 1500, kMicrosPerDay + kMicrosPerSecond, INT64_MAX, INT64_MIN + 1};
  for (int i = 0; i < 200; ++i) raw.push_back(static_cast<int64_t>(rng()) >> (rng() % 60));
  for (int64_t v : raw) values.push_back(Value::interval(v));
  Rows rows = cast_rows(kIV, values, kS);
  for (size_t i = 0; i < raw.size(); ++i) EXPECT_EQ(rows[i], fmt::format("'{}'", format_duration(raw[i]))) << raw[i];
}

TEST(CastTest, IntervalToTextOfTheMostNegativeValue) {
  EXPECT_EQ(cast_rows(kIV, {Value::interval(INT64_MIN)}, kS), (Rows{"'-106751991d4h54s775ms808us'"}));
}

TEST(CastTest, TextToBigint) {
  EXPECT_EQ(text_to(kI, {"42", " -7 ", "+3", "9223372036854775807", "-9223372036854775808"}),
            (Rows{"42", "-7", "3", "9223372036854775807", "-9223372036854775808"}));
}

TEST(CastTest, TextToBigintFailuresAreNull) {
  EXPECT_EQ(text_to(kI, {"1.5", "abc", "", "9223372036854775808", "12x", "+-1", "- 1"}),
            (Rows{"NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL"}));
}

TEST(CastTest, TextToDouble) {
  EXPECT_EQ(text_to(kD, {"1.5", " 1e3 ", "-0.25", "+2", "NaN", "Infinity", "-inf", ".5"}),
            (Rows{"1.5", "1000", "-0.25", "2", "NaN", "Infinity", "-Infinity", "0.5"}));
}

TEST(CastTest, TextToDoubleFailuresAreNull) {
  EXPECT_EQ(text_to(kD, {"abc", "", "1e400", "1.5.5", "0x10"}), (Rows{"NULL", "NULL", "NULL", "NULL", "NULL"}));
}

TEST(CastTest, TextToBoolean) {
  EXPECT_EQ(text_to(kB, {"true", "FALSE", "t", "f", "yes", "no", "on", "off", "1", "0", " True "}),
            (Rows{"true", "false", "true", "false", "true", "false", "true", "false", "true", "false", "true"}));
}

TEST(CastTest, TextToBooleanFailuresAreNull) {
  EXPECT_EQ(text_to(kB, {"maybe", "", "2", "tru e"}), (Rows{"NULL", "NULL", "NULL", "NULL"}));
}

TEST(CastTest, TextToTimestamp) {
  EXPECT_EQ(text_to(kTS, {"2024-01-01 10:00:00", "2024-01-01T10:00:00Z", "2024-01-01", "2024-01-01 12:00:00+02:00",
                          "2024-01-01 10:00:00.25"}),
            (Rows{"2024-01-01 10:00:00", "2024-01-01 10:00:00", "2024-01-01 00:00:00", "2024-01-01 10:00:00",
                  "2024-01-01 10:00:00.250"}));
}

TEST(CastTest, TextToTimestampFailuresAreNull) {
  EXPECT_EQ(text_to(kTS, {"yesterday", "2024-13-01", "", "2024-01-01 25:00:00"}),
            (Rows{"NULL", "NULL", "NULL", "NULL"}));
}

TEST(CastTest, TextToInterval) {
  EXPECT_EQ(text_to(kIV, {"1h30m", "90 seconds", "1 hour 30 minutes", "00:01:30", "01:30", "1 day 02:00:00",
                          "250ms", "-5m", "1.5h", "10", "2 weeks"}),
            (Rows{"1h30m", "1m30s", "1h30m", "1m30s", "1h30m", "1d2h", "250ms", "-5m", "1h30m", "10s", "14d"}));
}

TEST(CastTest, TextToIntervalFailuresAreNull) {
  EXPECT_EQ(text_to(kIV, {"soon", "", "1 month", "5 fortnights", "1:2:3:4", "99999999999999999999s"}),
            (Rows{"NULL", "NULL", "NULL", "NULL", "NULL", "NULL"}));
}

TEST(CastTest, IntervalTextRoundTrips) {
  for (int64_t v : {int64_t{0}, int64_t{1}, int64_t{-90} * kMicrosPerSecond, kMicrosPerDay * 3 + 5 * kMicrosPerMilli + 7,
                    INT64_MAX}) {
    std::string text;
    expr_internal::append_interval_text(text, v);
    int64_t back = 0;
    ASSERT_TRUE(expr_internal::parse_interval_text(text, &back)) << text;
    EXPECT_EQ(back, v) << text;
  }
}

TEST(CastTest, IntervalParserAcceptsWhatParseDurationAccepts) {
  for (const char* text : {"200ms", "5s", "1m", "2h", "1d", "5 seconds", "1 minute", "1 hour 30 minutes", "00:01:00",
                           "250 milliseconds", "10 us", "86370 seconds", "0 seconds"}) {
    int64_t ours = 0;
    ASSERT_TRUE(expr_internal::parse_interval_text(text, &ours)) << text;
    EXPECT_EQ(ours, parse_duration(text).value()) << text;
  }
}

TEST(CastTest, NullLiteralCastsToAnyType) {
  for (TypeId t : {kB, kI, kD, kS, kTS, kIV}) {
    ExprPtr e = cast(Null(), t);
    EXPECT_EQ(e->type(), t);
    EXPECT_EQ(eval(e), "NULL");
  }
}

TEST(CastTest, LiteralCastsAreFolded) {
  ExprPtr e = cast(S("2024-01-01"), kTS);
  EXPECT_EQ(e->kind(), Expr::Kind::kLiteral);
  EXPECT_EQ(e->to_string(), "TIMESTAMP '2024-01-01 00:00:00'");
  EXPECT_EQ(eval(cast(S("oops"), kI)), "NULL");
  EXPECT_EQ(cast(S("oops"), kI)->type(), kI);
}

TEST(CastTest, UnsupportedPairsAreTypeErrors) {
  auto r = make_cast(Col(0, kTS), kB);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kTypeError);
  EXPECT_EQ(r.status().message(), "cannot cast TIMESTAMP to BOOLEAN");
  EXPECT_EQ(error_of(make_cast(Col(0, kTS), kI)), "cannot cast TIMESTAMP to BIGINT");
  EXPECT_EQ(error_of(make_cast(Col(0, kIV), kD)), "cannot cast INTERVAL to DOUBLE");
  EXPECT_EQ(error_of(make_cast(Col(0, kD), kB)), "cannot cast DOUBLE to BOOLEAN");
  EXPECT_EQ(error_of(make_cast(Col(0, kB), kTS)), "cannot cast BOOLEAN to TIMESTAMP");
  EXPECT_EQ(error_of(make_cast(Col(0, kTS), kIV)), "cannot cast TIMESTAMP to INTERVAL");
}

TEST(CastTest, CastOfAColumnExpressionRunsPerBatch) {
  RecordBatch batch = batch_of({column_of(kS, {Value::string("1"), Value::string("x"), Value::null(kS)})});
  ExprPtr e = call("+", {cast(Col(0, kS, "s"), kI), I(1)});
  EXPECT_EQ(e->to_string(), "(CAST(s AS BIGINT) + 1)");
  EXPECT_EQ(eval_rows(e, batch), (Rows{"2", "NULL", "NULL"}));
}

}  // namespace
}  // namespace sluice
