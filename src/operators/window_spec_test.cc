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

}  // namespace sluice
