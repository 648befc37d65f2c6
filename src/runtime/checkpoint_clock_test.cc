// The checkpoint coordinator reads time from the injected clock: with a ManualClock a test
// decides when the interval has passed and how long a checkpoint took, without sleeping
// for the interval. Its statistics land in the job's metrics registry.
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "common/clock.h"
#include "metrics/registry.h"
#include "runtime/checkpoint_coordinator.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;

class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (fs::temp_directory_path() / "sluice-ckclock-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~ScratchDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Polls real time (bounded) for a condition another thread makes true.
template <class F>
bool eventually(F f) {
  for (int i = 0; i < 1000; ++i) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return f();
}

SourceSplitState split_state() {
  SourceSplitState s;
  s.table = "events";
  s.split = 0;
  return s;
}

TEST(CheckpointClockTest, IntervalAndDurationFollowTheInjectedClock) {
  ScratchDir dir;
  CheckpointOptions options;
  options.dir = dir.path();
  options.interval = 10 * kMicrosPerSecond;
  ManualClock clock;
  MetricsRegistry registry;
  CheckpointCoordinator coordinator(options, "clocked", {}, /*num_tasks=*/1, /*num_sources=*/1,
                                    {{"events", "test:events"}});
  coordinator.use(registry, "clocked", clock);
  ASSERT_TRUE(coordinator.open().is_ok());
  Status error = Status::ok();
  coordinator.start([&](const Status& s) { error = s; }, [] {});

  // Real time passes, the clock does not: no checkpoint is due.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(coordinator.trigger_id(), 0u);

  clock.advance(10 * kMicrosPerSecond);
  ASSERT_TRUE(eventually([&] { return coordinator.trigger_id() == 1; }));
  clock.advance(250 * kMicrosPerMilli);  // the checkpoint takes 250 ms of clock time
  coordinator.ack(1, {}, {split_state()});
  ASSERT_TRUE(eventually([&] { return coordinator.completed().load() == 1; }));

  const CheckpointMetrics& m = coordinator.metrics();
  EXPECT_EQ(m.completed->value(), 1u);
  EXPECT_EQ(m.failed->value(), 0u);
  EXPECT_EQ(m.last_id->value(), 1);
  EXPECT_EQ(m.last_duration_us->value(), 250 * kMicrosPerMilli);
  EXPECT_EQ(m.last_completed_unix_us->value(), clock.unix_micros());
  EXPECT_GT(m.last_size_bytes->value(), 0);
  EXPECT_EQ(m.duration_us->count(), 1u);
  EXPECT_EQ(m.duration_us->sum(), 250 * kMicrosPerMilli);

  // The next interval counts from the trigger (clock time 10 s): due at 20 s, not before.
  clock.advance(9'700 * kMicrosPerMilli);  // 19.95 s
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(coordinator.trigger_id(), 1u);
  clock.advance(50 * kMicrosPerMilli);  // 20 s
  ASSERT_TRUE(eventually([&] { return coordinator.trigger_id() == 2; }));
  coordinator.ack(2, {}, {split_state()});
  ASSERT_TRUE(eventually([&] { return coordinator.completed().load() == 2; }));
  EXPECT_EQ(m.last_duration_us->value(), 0) << "no clock time passed during checkpoint 2";
  coordinator.stop();
  EXPECT_TRUE(error.is_ok()) << error.message();

  // The same values through the registry, as a scraper sees them.
  std::string text = render_prometheus_text(registry.collect());
  EXPECT_NE(text.find("sluice_checkpoints_completed_total{job=\"clocked\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("sluice_checkpoint_last_completed_id{job=\"clocked\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("sluice_checkpoint_duration_seconds_bucket{job=\"clocked\",le=\"0.01\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("sluice_checkpoint_duration_seconds_sum{job=\"clocked\"} 0.25\n"), std::string::npos) << text;
  EXPECT_NE(text.find("sluice_checkpoint_duration_seconds_count{job=\"clocked\"} 2\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace sluice
