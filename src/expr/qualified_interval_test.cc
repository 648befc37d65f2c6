// INTERVAL 'text' <qualifier>: the values PostgreSQL gives for each qualifier, and the
// refusals (months and years are not fixed durations).
#include <gtest/gtest.h>

#include "common/time_util.h"
#include "expr/expr.h"

namespace sluice {
namespace {

using F = IntervalField;
constexpr int64_t kS = kMicrosPerSecond;
constexpr int64_t kM = kMicrosPerMinute;
constexpr int64_t kH = kMicrosPerHour;
constexpr int64_t kD = kMicrosPerDay;

int64_t micros(std::string_view text, F from, F to, int precision = -1) {
  auto r = parse_qualified_interval(text, IntervalQualifier{from, to, precision});
  EXPECT_TRUE(r.is_ok()) << text << ": " << r.status().message();
  return r.is_ok() ? r.value() : -1;
}
std::string error(std::string_view text, F from, F to, int precision = -1) {
  auto r = parse_qualified_interval(text, IntervalQualifier{from, to, precision});
  EXPECT_FALSE(r.is_ok()) << text << " gave " << (r.is_ok() ? r.value() : 0);
  return r.is_ok() ? "" : r.status().message();
}

TEST(QualifiedIntervalTest, ABareNumberCountsTheTrailingField) {
  EXPECT_EQ(micros("1", F::kMinute, F::kMinute), kM);
  EXPECT_EQ(micros("90", F::kMinute, F::kMinute), 90 * kM);
  EXPECT_EQ(micros("2", F::kHour, F::kHour), 2 * kH);
  EXPECT_EQ(micros("3", F::kDay, F::kDay), 3 * kD);
  EXPECT_EQ(micros("45", F::kSecond, F::kSecond), 45 * kS);
  EXPECT_EQ(micros("5", F::kDay, F::kHour), 5 * kH);
  EXPECT_EQ(micros("5", F::kDay, F::kMinute), 5 * kM);
  EXPECT_EQ(micros("5", F::kDay, F::kSecond), 5 * kS);
  EXPECT_EQ(micros("-7", F::kMinute, F::kMinute), -7 * kM);
}

TEST(QualifiedIntervalTest, ClockFieldsAreHoursMinutesExceptMinuteToSecond) {
  EXPECT_EQ(micros("1:30", F::kHour, F::kMinute), 90 * kM);
  EXPECT_EQ(micros("1:30", F::kHour, F::kSecond), 90 * kM);
  EXPECT_EQ(micros("1:30", F::kMinute, F::kSecond), kM + 30 * kS);
  EXPECT_EQ(micros("1:30.25", F::kMinute, F::kSecond), kM + 30 * kS + 250000);
  EXPECT_EQ(micros("01:02:03.5", F::kHour, F::kSecond), kH + 2 * kM + 3 * kS + 500000);
  EXPECT_EQ(micros("-1:30", F::kHour, F::kMinute), -90 * kM);
}

TEST(QualifiedIntervalTest, ANumberBeforeAClockOrHoursCountsDays) {
  EXPECT_EQ(micros("1 2:03:04", F::kDay, F::kSecond), kD + 2 * kH + 3 * kM + 4 * kS);
  EXPECT_EQ(micros("1 2", F::kDay, F::kHour), kD + 2 * kH);
  EXPECT_EQ(micros("2 10:00", F::kDay, F::kMinute), 2 * kD + 10 * kH);
}

TEST(QualifiedIntervalTest, FieldsBelowTheTrailingOneAreTruncated) {
  EXPECT_EQ(micros("1:30:45", F::kHour, F::kMinute), 90 * kM);
  EXPECT_EQ(micros("1.5", F::kHour, F::kHour), kH);
  EXPECT_EQ(micros("1.5", F::kMinute, F::kMinute), kM);
  EXPECT_EQ(micros("1.5", F::kDay, F::kDay), kD);
  EXPECT_EQ(micros("2 hours 30 minutes", F::kHour, F::kHour), 2 * kH);
  EXPECT_EQ(micros("-1:30:45", F::kHour, F::kMinute), -90 * kM);  // toward zero
  // Days are not part of the time of day: they stay.
  EXPECT_EQ(micros("1 day 3 hours", F::kMinute, F::kMinute), kD + 3 * kH);
  EXPECT_EQ(micros("1 day 3 hours", F::kDay, F::kDay), kD);
}

TEST(QualifiedIntervalTest, PrecisionRoundsTheSeconds) {
  EXPECT_EQ(micros("1.23456", F::kSecond, F::kSecond, 3), kS + 235000);
  EXPECT_EQ(micros("1.2345", F::kSecond, F::kSecond, 2), kS + 230000);
  EXPECT_EQ(micros("-1.5", F::kSecond, F::kSecond, 0), -2 * kS);
  EXPECT_EQ(micros("1 2:03:04.5678", F::kDay, F::kSecond, 1), kD + 2 * kH + 3 * kM + 4 * kS + 600000);
}

TEST(QualifiedIntervalTest, UnitsAndAgoAreRead) {
  EXPECT_EQ(micros("1 hour 30 minutes", F::kHour, F::kMinute), 90 * kM);
  EXPECT_EQ(micros("5 minutes ago", F::kMinute, F::kMinute), -5 * kM);
  EXPECT_EQ(micros("1h30m", F::kDay, F::kSecond), 90 * kM);
  EXPECT_EQ(micros("2 weeks", F::kDay, F::kDay), 14 * kD);
}

TEST(QualifiedIntervalTest, MonthsAndYearsAreRefusedWithTheReason) {
  EXPECT_NE(error("1", F::kYear, F::kYear).find("no fixed length"), std::string::npos);
  EXPECT_NE(error("1", F::kMonth, F::kMonth).find("no fixed length"), std::string::npos);
  EXPECT_NE(error("1-2", F::kYear, F::kMonth).find("no fixed length"), std::string::npos);
  EXPECT_NE(error("1 month", F::kDay, F::kSecond).find("no fixed length"), std::string::npos);
  EXPECT_NE(error("2 years", F::kDay, F::kSecond).find("no fixed length"), std::string::npos);
}

// {months, micros} as PostgreSQL gives them (checked against PostgreSQL 16).
using MonthsMicros = std::pair<int64_t, int64_t>;
MonthsMicros calendar(std::string_view text, F from = F::kDay, F to = F::kSecond) {
  auto r = parse_calendar_interval(text, IntervalQualifier{from, to, -1});
  EXPECT_TRUE(r.is_ok()) << text << ": " << r.status().message();
  return r.is_ok() ? MonthsMicros{r.value().months, r.value().micros} : MonthsMicros{-1, -1};
}

TEST(QualifiedIntervalTest, CalendarIntervalsKeepMonthsApart) {
  EXPECT_EQ(calendar("1", F::kMonth, F::kMonth), MonthsMicros(1, 0));
  EXPECT_EQ(calendar("14", F::kMonth, F::kMonth), MonthsMicros(14, 0));
  EXPECT_EQ(calendar("2", F::kYear, F::kYear), MonthsMicros(24, 0));
  EXPECT_EQ(calendar("1-2", F::kYear, F::kMonth), MonthsMicros(14, 0));
  EXPECT_EQ(calendar("1", F::kYear, F::kMonth), MonthsMicros(1, 0));  // the trailing field
  EXPECT_EQ(calendar("-1-2"), MonthsMicros(-14, 0));
  EXPECT_EQ(calendar("1 year 2 months 3 days 4 hours"), MonthsMicros(14, 3 * kD + 4 * kH));
  EXPECT_EQ(calendar("1 year ago"), MonthsMicros(-12, 0));
  EXPECT_EQ(calendar("1 year 2 days", F::kDay, F::kDay), MonthsMicros(12, 2 * kD));
}

TEST(QualifiedIntervalTest, CalendarFractionsAndTruncationFollowPostgres) {
  EXPECT_EQ(calendar("1.5 years"), MonthsMicros(18, 0));
  EXPECT_EQ(calendar("1.5 months"), MonthsMicros(1, 15 * kD));
  EXPECT_EQ(calendar("1.5", F::kYear, F::kYear), MonthsMicros(12, 0));
  EXPECT_EQ(calendar("1.5", F::kMonth, F::kMonth), MonthsMicros(1, 0));
  EXPECT_EQ(calendar("1-2", F::kYear, F::kYear), MonthsMicros(12, 0));
  EXPECT_EQ(calendar("1 month 3 days", F::kMonth, F::kMonth), MonthsMicros(1, 0));
}

TEST(QualifiedIntervalTest, MalformedTextIsAnError) {
  EXPECT_NE(error("", F::kMinute, F::kMinute).find("invalid INTERVAL literal"), std::string::npos);
  EXPECT_NE(error("abc", F::kMinute, F::kMinute).find("unknown unit 'abc'"), std::string::npos);
  EXPECT_NE(error("1 2", F::kMinute, F::kMinute).find("twice"), std::string::npos);
  EXPECT_NE(error("1:2:3:4", F::kHour, F::kSecond).find("bad time"), std::string::npos);
  EXPECT_NE(error("minutes", F::kMinute, F::kMinute).find("has no number"), std::string::npos);
  error("99999999999999999999", F::kMinute, F::kMinute);
  error("9999999999999", F::kDay, F::kDay);  // overflows int64 microseconds
}

}  // namespace
}  // namespace sluice
