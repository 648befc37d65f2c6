#include "operators/window_spec.h"

#include <gtest/gtest.h>

#include <vector>

namespace sluice {

TEST(WindowSpecTest, TumbleAlignsToSizeAndOffset) {
  WindowSpec w{WindowSpec::Kind::kTumble, 30, 30, 0};
  EXPECT_EQ(w.last_start(59), 30);
  EXPECT_EQ(w.last_start(-1), -30);
  WindowSpec o{WindowSpec::Kind::kTumble, 30, 30, 13};
  EXPECT_EQ(o.last_start(12), -17);
  EXPECT_EQ(o.last_start(13), 13);
}

TEST(WindowSpecTest, HopYieldsEveryContainingWindowLatestFirst) {
  WindowSpec w{WindowSpec::Kind::kHop, 30, 15, 0};
  std::vector<Micros> starts;
  w.for_each_window(20, [&](Micros s) { starts.push_back(s); });
  EXPECT_EQ(starts, (std::vector<Micros>{15, 0}));
  EXPECT_EQ(w.max_end(20), 45);
}

TEST(WindowSpecTest, HopWithSizeNotAMultipleOfSlide) {
  WindowSpec w{WindowSpec::Kind::kHop, 25, 10, 0};
  std::vector<Micros> starts;
  w.for_each_window(30, [&](Micros s) { starts.push_back(s); });
  EXPECT_EQ(starts, (std::vector<Micros>{30, 20, 10}));
}

TEST(WindowSpecTest, ValidateCapsWindowsPerRow) {
  const Micros ms = kMicrosPerMilli, day = 24 * 3600 * kMicrosPerSecond;
  WindowSpec huge{WindowSpec::Kind::kHop, day, ms, 0};  // 86,400,000 windows per row
  Status s = huge.validate();
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("puts every row into 86400000 windows; at most 10000"), std::string::npos) << s.message();
  WindowSpec limit{WindowSpec::Kind::kHop, 10000 * kMicrosPerSecond, kMicrosPerSecond, 0};
  EXPECT_TRUE(limit.validate().is_ok());
  limit.size += 1;  // one more window for some rows
  EXPECT_FALSE(limit.validate().is_ok());
  WindowSpec day_by_10s{WindowSpec::Kind::kHop, day, 10 * kMicrosPerSecond, 0};
  EXPECT_TRUE(day_by_10s.validate().is_ok());
}

TEST(WindowSpecTest, ValidateRefusesEmptyNegativeAndAbsurdWindows) {
  auto message = [](WindowSpec w) { return w.validate().message(); };
  EXPECT_NE(message({WindowSpec::Kind::kTumble, 0, 0, 0}).find("the window size must be positive"), std::string::npos);
  EXPECT_NE(message({WindowSpec::Kind::kSession, -5, -5, 0}).find("the session gap must be positive"), std::string::npos);
  EXPECT_NE(message({WindowSpec::Kind::kHop, 10, 0, 0}).find("the hop slide must be positive"), std::string::npos);
  EXPECT_NE(message({WindowSpec::Kind::kHop, 10, 20, 0}).find("would belong to none"), std::string::npos);
  EXPECT_NE(message({WindowSpec::Kind::kTumble, kMaxWindowDuration + 1, kMaxWindowDuration + 1, 0}).find("too large"),
            std::string::npos);
  EXPECT_NE(message({WindowSpec::Kind::kTumble, 10, 10, INT64_MIN / 2}).find("offset"), std::string::npos);
  EXPECT_TRUE(WindowSpec({WindowSpec::Kind::kTumble, 10, 10, -3}).validate().is_ok());
}

}  // namespace sluice
