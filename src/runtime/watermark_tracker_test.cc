#include "runtime/watermark_tracker.h"

#include <gtest/gtest.h>

namespace sluice {

TEST(WatermarkTrackerTest, CombinedIsTheMinimumOfActiveChannels) {
  WatermarkTracker t(2);
  t.on_watermark(0, 100);
  EXPECT_EQ(t.combined(), kMinWatermark);
  t.on_watermark(1, 50);
  EXPECT_EQ(t.combined(), 50);
  t.on_watermark(1, 200);
  EXPECT_EQ(t.combined(), 100);
}

TEST(WatermarkTrackerTest, IdleChannelStopsHoldingBackAndRejoinsOnData) {
  WatermarkTracker t(2);
  t.on_watermark(0, 100);
  t.on_watermark(1, 10);
  EXPECT_EQ(t.combined(), 10);
  t.on_idle(1);
  EXPECT_EQ(t.combined(), 100);
  t.on_watermark(1, 20);  // rejoins; combined never goes back
  EXPECT_EQ(t.combined(), 100);
  t.on_watermark(0, 300);
  EXPECT_EQ(t.combined(), 100);  // min(300, 20) is behind what was already emitted
  t.on_watermark(1, 150);
  EXPECT_EQ(t.combined(), 150);  // the rejoined channel holds back again
}

TEST(WatermarkTrackerTest, NeverMovesBackward) {
  WatermarkTracker t(1);
  t.on_watermark(0, 100);
  t.on_watermark(0, 50);
  EXPECT_EQ(t.combined(), 100);
}

TEST(WatermarkTrackerTest, EndedChannelsDoNotHoldBack) {
  WatermarkTracker t(2);
  t.on_watermark(0, kMaxWatermark);
  t.on_end(0);
  t.on_watermark(1, 70);
  EXPECT_EQ(t.combined(), 70);
  t.on_watermark(1, kMaxWatermark);
  t.on_end(1);
  EXPECT_TRUE(t.all_ended());
  EXPECT_EQ(t.combined(), kMaxWatermark);
}

}  // namespace sluice
