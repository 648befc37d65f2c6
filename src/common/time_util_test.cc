#include "common/time_util.h"

#include <gtest/gtest.h>

namespace sluice {

TEST(DurationTest, ParsesCompactAndWordForms) {
  EXPECT_EQ(parse_duration("200ms").value(), 200 * kMicrosPerMilli);
  EXPECT_EQ(parse_duration("5s").value(), 5 * kMicrosPerSecond);
  EXPECT_EQ(parse_duration("1m").value(), kMicrosPerMinute);
  EXPECT_EQ(parse_duration("5 seconds").value(), 5 * kMicrosPerSecond);
  EXPECT_EQ(parse_duration("1 minute").value(), kMicrosPerMinute);
  EXPECT_EQ(parse_duration("1 hour 30 minutes").value(), 90 * kMicrosPerMinute);
  EXPECT_EQ(parse_duration("00:01:30").value(), 90 * kMicrosPerSecond);
  EXPECT_EQ(parse_duration("86370 seconds").value(), 86370 * kMicrosPerSecond);
  EXPECT_EQ(parse_duration("0 seconds").value(), 0);
}

TEST(DurationTest, RejectsUnknownUnitsWithAClearMessage) {
  auto r = parse_duration("5 fortnights");
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("unknown unit"), std::string::npos);
  EXPECT_FALSE(parse_duration("").is_ok());
  EXPECT_FALSE(parse_duration("abc").is_ok());
}

TEST(TimestampTest, ParsesIsoForms) {
  EXPECT_EQ(parse_timestamp("1970-01-01T00:00:00Z").value(), 0);
  EXPECT_EQ(parse_timestamp("1970-01-01 00:00:01.5").value(), 1500000);
  EXPECT_EQ(parse_timestamp("2022-01-01T10:00:00Z").value(), 1641031200LL * kMicrosPerSecond);
  EXPECT_EQ(parse_timestamp("2022-01-01T12:00:00+02:00").value(), 1641031200LL * kMicrosPerSecond);
  EXPECT_EQ(parse_timestamp("2022-01-01").value(), 1640995200LL * kMicrosPerSecond);
  EXPECT_FALSE(parse_timestamp("2022-13-01").is_ok());
  EXPECT_FALSE(parse_timestamp("yesterday").is_ok());
}

TEST(TimestampTest, RejectsDatesThatDoNotExistInsteadOfNormalisingThem) {
  Micros t = 0;
  for (const char* bad : {"2024-02-30", "2023-02-29", "2024-04-31", "2024-06-31T10:00:00Z", "2100-02-29",
                          "2024-13-01", "2024-00-10", "2024-01-00", "2024-01-32 00:00:00", "2024-01-01T25:00"}) {
    EXPECT_FALSE(try_parse_timestamp(bad, &t)) << bad;
    EXPECT_FALSE(parse_timestamp(bad).is_ok()) << bad;
  }
  // Leap years: every 4th year, not centuries, but every 400th year.
  EXPECT_EQ(parse_timestamp("2024-02-29").value(), parse_timestamp("2024-03-01").value() - kMicrosPerDay);
  EXPECT_TRUE(parse_timestamp("2000-02-29T12:00:00Z").is_ok());
  EXPECT_TRUE(parse_timestamp("1600-02-29").is_ok());
  EXPECT_TRUE(parse_timestamp("2024-12-31 23:59:59.999").is_ok());
  EXPECT_EQ(parse_timestamp("2024-02-30").status().message(),
            "bad timestamp '2024-02-30': day 30 is out of range for February 2024 (29 days)");
  EXPECT_EQ(timestamp_range_error("2023-02-29T10:00:00Z"), "day 29 is out of range for February 2023 (28 days)");
  EXPECT_EQ(timestamp_range_error("2024-13-01"), "month 13 is out of range (1-12)");
  EXPECT_NE(timestamp_range_error("2024-01-01T25:00").find("time of day out of range"), std::string::npos);
  EXPECT_EQ(timestamp_range_error("2024-02-29"), "");
  EXPECT_EQ(timestamp_range_error("yesterday"), "");
  EXPECT_NE(parse_timestamp("yesterday").status().message().find("expected ISO-8601"), std::string::npos);
}

TEST(TimestampTest, FormatsRoundTrip) {
  EXPECT_EQ(format_timestamp(0), "1970-01-01 00:00:00");
  EXPECT_EQ(format_timestamp(1500000), "1970-01-01 00:00:01.500");
  EXPECT_EQ(format_timestamp(1000001), "1970-01-01 00:00:01.000001");
  EXPECT_EQ(format_timestamp(-1), "1969-12-31 23:59:59.999999");
  for (int64_t ts : {0LL, 1641031200123456LL, -86400000000LL, 253402300799000000LL}) {
    EXPECT_EQ(parse_timestamp(format_timestamp(ts)).value(), ts);
    EXPECT_EQ(parse_timestamp(format_timestamp_iso(ts)).value(), ts);
  }
}

TEST(FloorDivTest, RoundsTowardNegativeInfinity) {
  EXPECT_EQ(floor_div(7, 2), 3);
  EXPECT_EQ(floor_div(-7, 2), -4);
  EXPECT_EQ(floor_mod(-7, 2), 1);
}

}  // namespace sluice
