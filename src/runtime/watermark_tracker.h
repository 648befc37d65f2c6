// WatermarkTracker: the watermark of a task with several input channels.
//
// The combined watermark is the minimum over channels that are neither idle nor ended. An
// idle channel (its source split saw no data for its idle timeout) does not hold the others
// back; it becomes active again with its next watermark. Combined only moves forward.
// Owned by one task thread.
#pragma once

#include <vector>

#include "common/time_util.h"

namespace sluice {

class WatermarkTracker {
 public:
  explicit WatermarkTracker(size_t channels)
      : watermarks_(channels, kMinWatermark), idle_(channels, false), ended_(channels, false) {}

  void on_watermark(int channel, Micros wm) {
    size_t c = static_cast<size_t>(channel);
    idle_[c] = false;
    if (wm > watermarks_[c]) watermarks_[c] = wm;
    recompute();
  }
  void on_idle(int channel) {
    idle_[static_cast<size_t>(channel)] = true;
    recompute();
  }
  void on_end(int channel) {
    ended_[static_cast<size_t>(channel)] = true;
    recompute();
  }
  Micros combined() const { return combined_; }
  bool all_ended() const {
    for (bool e : ended_) {
      if (!e) return false;
    }
    return true;
  }
  bool all_idle() const {
    for (size_t c = 0; c < idle_.size(); ++c) {
      if (!idle_[c] && !ended_[c]) return false;
    }
    return true;
  }

 private:
  void recompute() {
    Micros m = kMaxWatermark;
    bool any = false;
    for (size_t c = 0; c < watermarks_.size(); ++c) {
      if (idle_[c] || ended_[c]) continue;
      any = true;
      if (watermarks_[c] < m) m = watermarks_[c];
    }
    // All idle: hold. All ended: whatever they last said (the final watermark came first).
    if (!any) {
      if (!all_ended()) return;
      m = kMinWatermark;
      for (Micros w : watermarks_) m = w > m ? w : m;
    }
    if (m > combined_) combined_ = m;
  }

  std::vector<Micros> watermarks_;
  std::vector<bool> idle_;
  std::vector<bool> ended_;
  Micros combined_ = kMinWatermark;
};

}  // namespace sluice
