// Interval and window joins at operator level (operators/time_join.h): their state (rows
// with partner counts and expiry) survives a restore, a rescale and incremental snapshots,
// so the output equals that of an uninterrupted run; state is freed as the watermark
// advances; the forwarded watermark trails the inputs' by the output delay and no output
// row is behind it; outer rows are emitted once, padded, when their interval closes.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "operators/checkpoint_test_util.h"
#include "operators/time_join.h"
#include "operators/time_join_testing.h"

namespace sluice {
namespace {

using testing_checkpoint::Scenario;
using testing_checkpoint::StageRunner;
using testing_checkpoint::Step;

struct Rng {
  uint64_t state = 0x2545f4914f6cdd1dULL;
  int64_t operator()(int64_t n) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<int64_t>((state >> 33) % static_cast<uint64_t>(n));
  }
};

using time_join_testing::output_schema;
using time_join_testing::side_schema;

// Interval join on k with right.ts - left.ts in [-5, 2] (microseconds).
std::shared_ptr<TimeJoinOperatorSpec> interval_spec(JoinType type) {
  TimeJoinConfig c;
  c.type = type;
  c.left_keys = {0};
  c.right_keys = {0};
  c.null_safe = {false};
  c.left_schema = c.right_schema = side_schema(false);
  c.output_schema = output_schema(false);
  c.batch_size = 3;
  c.left_time = 2;
  c.right_time = 2;
  c.lower = -5;
  c.upper = 2;
  auto spec = std::make_shared<TimeJoinOperatorSpec>(TimeJoinOperatorSpec::Kind::kInterval, c);
  spec->id = "interval-join-1";
  return spec;
}

// Window join on (k, window_start, window_end) of TUMBLE(10 us) rows.
std::shared_ptr<TimeJoinOperatorSpec> window_spec(JoinType type) {
  TimeJoinConfig c;
  c.type = type;
  c.left_keys = {0, 3, 4};
  c.right_keys = {0, 3, 4};
  c.null_safe = {false, false, false};
  c.left_schema = c.right_schema = side_schema(true);
  c.output_schema = output_schema(true);
  c.batch_size = 3;
  c.window.size = c.window.slide = 10;
  c.left_window_end = 4;
  c.right_window_end = 4;
  auto spec = std::make_shared<TimeJoinOperatorSpec>(TimeJoinOperatorSpec::Kind::kWindow, c);
  spec->id = "window-join-1";
  return spec;
}

// Batches of both sides with times advancing by 0..2 and moved back by up to 3, keys 0..5
// (left rows keep their key, so every output row carries the key it was routed by; right
// rows now and then have a NULL key), and after every few batches the watermark: the
// largest time so far - 3, so no row is behind it.
Scenario scenario(std::shared_ptr<TimeJoinOperatorSpec> spec, bool windowed) {
  Scenario s;
  s.spec = spec;
  s.in_key_columns = windowed ? std::vector<int>{0, 3, 4} : std::vector<int>{0};
  s.other_input_keys = {s.in_key_columns};
  s.out_key_columns = s.in_key_columns;
  Rng rng;
  Micros now = 100, max_ts = 0, last_wm = kMinWatermark;
  for (int b = 0; b < 80; ++b) {
    const int side = static_cast<int>(rng(2));
    auto batch = make_batch(side_schema(windowed));
    const int64_t n = 1 + rng(4);
    for (int64_t i = 0; i < n; ++i) {
      now += rng(3);
      const Micros ts = std::max(now - rng(4), last_wm);
      max_ts = std::max(max_ts, ts);
      const int64_t k = rng(6);
      if (side == 1 && rng(12) == 0) {
        batch->mutable_column(0).append_null();
      } else {
        batch->mutable_column(0).append_int(k);
      }
      batch->mutable_column(1).append_int(rng(20));
      batch->mutable_column(2).append_int(ts);
      if (windowed) {
        const Micros start = ts - ts % 10;
        batch->mutable_column(3).append_int(start);
        batch->mutable_column(4).append_int(start + 10);
      }
      batch->num_rows++;
    }
    Step step;
    step.batch = batch;
    step.input = side;
    s.steps.push_back(step);
    if (b % 6 == 5 && max_ts - 3 > last_wm) {
      last_wm = max_ts - 3;
      s.steps.push_back(Step{nullptr, last_wm});
    }
  }
  return s;
}

class TimeJoinCheckpointTest : public ::testing::TestWithParam<std::string> {};

TEST_P(TimeJoinCheckpointTest, IntervalJoinRestoresExactly) {
  for (JoinType type : {JoinType::kInner, JoinType::kLeft, JoinType::kRight, JoinType::kFull}) {
    SCOPED_TRACE(join_type_name(type));
    testing_checkpoint::expect_restore_continues_exactly(scenario(interval_spec(type), false), GetParam());
  }
}
TEST_P(TimeJoinCheckpointTest, WindowJoinRestoresExactly) {
  for (JoinType type : {JoinType::kInner, JoinType::kLeft, JoinType::kRight, JoinType::kFull}) {
    SCOPED_TRACE(join_type_name(type));
    testing_checkpoint::expect_restore_continues_exactly(scenario(window_spec(type), true), GetParam());
  }
}
TEST_P(TimeJoinCheckpointTest, IntervalJoinRescalesOneToTwoAndBack) {
  testing_checkpoint::expect_rescale_keeps_every_key(scenario(interval_spec(JoinType::kLeft), false), GetParam());
}
TEST_P(TimeJoinCheckpointTest, WindowJoinRescalesOneToTwoAndBack) {
  testing_checkpoint::expect_rescale_keeps_every_key(scenario(window_spec(JoinType::kLeft), true), GetParam());
}

INSTANTIATE_TEST_SUITE_P(Backends, TimeJoinCheckpointTest, ::testing::Values("memory", "rocksdb"));

TEST(TimeJoinCheckpoint, IncrementalSnapshotsRestoreExactly) {
  testing_checkpoint::expect_incremental_checkpoints_restore_exactly(scenario(interval_spec(JoinType::kFull), false));
  testing_checkpoint::expect_incremental_checkpoints_restore_exactly(scenario(window_spec(JoinType::kFull), true), 3);
}

// Checks what a time-bounded join emits: +I rows only, whose time columns are never behind
// the last watermark forwarded before them; watermarks rising.
class OnTimeOutput : public Output {
 public:
  explicit OnTimeOutput(std::vector<int> time_columns) : time_columns_(std::move(time_columns)) {}
  Status emit(BatchPtr batch) override {
    for (size_t r = 0; r < batch->num_rows; ++r) {
      EXPECT_EQ(batch->row_kind(r), RowKind::kInsert);
      for (int c : time_columns_) {
        const Column& col = batch->column(static_cast<size_t>(c));
        if (!col.is_null(r)) {
          EXPECT_GE(col.int_at(r), forwarded) << "column " << c << " behind the watermark";
        }
      }
      ++rows;
    }
    return Status::ok();
  }
  Status emit_watermark(Micros wm) override {
    EXPECT_GT(wm, forwarded);
    forwarded = wm;
    watermarks.push_back(wm);
    return Status::ok();
  }
  Micros forwarded = kMinWatermark;
  std::vector<Micros> watermarks;
  size_t rows = 0;

 private:
  std::vector<int> time_columns_;
};

// Runs `s` through one instance: every forwarded watermark is the input's less `delay`.
void expect_output_on_time(const Scenario& s, std::vector<int> time_columns, Micros delay) {
  auto op = s.spec->create();
  OperatorMetrics metrics;
  OperatorContext ctx;
  ctx.metrics = &metrics;
  ASSERT_TRUE(op->open(ctx).is_ok());
  OnTimeOutput out(std::move(time_columns));
  std::vector<Micros> expected;
  for (const Step& step : s.steps) {
    if (step.watermark) {
      ASSERT_TRUE(op->on_watermark(*step.watermark, out).is_ok());
      expected.push_back(*step.watermark - delay);
    } else {
      ASSERT_TRUE(op->process(step.input, step.batch, out).is_ok());
    }
  }
  ASSERT_TRUE(op->finish(out).is_ok());
  expected.push_back(kMaxWatermark);
  EXPECT_EQ(out.watermarks, expected);
  EXPECT_GT(out.rows, 0u);
}

TEST(TimeJoinWatermarks, IntervalJoinForwardsTheWatermarkLessTheLargestBound) {
  for (JoinType type : {JoinType::kInner, JoinType::kLeft, JoinType::kRight, JoinType::kFull}) {
    SCOPED_TRACE(join_type_name(type));
    expect_output_on_time(scenario(interval_spec(type), false), {2, 5}, 5);
  }
}
TEST(TimeJoinWatermarks, WindowJoinForwardsTheWatermarkLessTheWindowSize) {
  for (JoinType type : {JoinType::kInner, JoinType::kLeft, JoinType::kRight, JoinType::kFull}) {
    SCOPED_TRACE(join_type_name(type));
    expect_output_on_time(scenario(window_spec(type), true), {2, 3, 4, 7, 8, 9}, 10);
  }
}

// Rows leave the state once the watermark passes the last time a partner may have.
TEST(TimeJoinState, IntervalJoinFreesRowsAsTheWatermarkAdvances) {
  auto spec = interval_spec(JoinType::kLeft);
  StageRunner runner(spec, 1, {0}, {0}, nullptr, {{0}});
  Operator& op = runner.op(0);
  auto rows = [&](std::initializer_list<std::pair<int64_t, Micros>> kt) {
    auto b = make_batch(side_schema(false));
    for (auto [k, t] : kt) {
      b->mutable_column(0).append_int(k);
      b->mutable_column(1).append_int(0);
      b->mutable_column(2).append_int(t);
      b->num_rows++;
    }
    return b;
  };
  ASSERT_TRUE(runner.feed(Step{rows({{1, 100}, {2, 104}, {3, 110}}), std::nullopt, 0}).is_ok());
  ASSERT_TRUE(runner.feed(Step{rows({{1, 98}, {2, 120}}), std::nullopt, 1}).is_ok());
  EXPECT_EQ(op.state_entries(), 5);
  // Left rows stay until W > ts + 2; right rows until W > ts + 5.
  ASSERT_TRUE(runner.feed(Step{nullptr, Micros{104}}).is_ok());
  EXPECT_EQ(op.state_entries(), 3);  // left 100 (matched), right 98 gone
  ASSERT_TRUE(runner.feed(Step{nullptr, Micros{113}}).is_ok());
  EXPECT_EQ(op.state_entries(), 1);  // only right 120 is left
  ASSERT_TRUE(runner.feed(Step{nullptr, Micros{126}}).is_ok());
  EXPECT_EQ(op.state_entries(), 0);
  // The pair (1, 100, 1, 98), then left 104 and 110 padded as they left the state.
  std::vector<std::string> got = runner.all_rows(false);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].rfind("+I 1, 0, ", 0), 0u) << got[0];
  EXPECT_NE(got[1].find("NULL"), std::string::npos) << got[1];
  EXPECT_NE(got[2].find("NULL"), std::string::npos) << got[2];
}

TEST(TimeJoinState, WindowJoinFreesAWindowWhenItCloses) {
  Scenario s = scenario(window_spec(JoinType::kFull), true);
  StageRunner runner(s.spec, 1, s.in_key_columns, s.out_key_columns, nullptr, s.other_input_keys);
  int64_t peak = 0;
  for (const Step& step : s.steps) {
    ASSERT_TRUE(runner.feed(step).is_ok());
    peak = std::max(peak, runner.op(0).state_entries());
    if (step.watermark) {
      // Rows of windows ending at or before the watermark are gone: at most the open
      // windows' rows (a window spans 10 us, rows come a few per us) remain.
      EXPECT_LT(runner.op(0).state_entries(), 80) << "watermark " << *step.watermark;
    }
  }
  EXPECT_GT(peak, 0);
  ASSERT_TRUE(runner.feed(Step{nullptr, kMaxWatermark}).is_ok());
  EXPECT_EQ(runner.op(0).state_entries(), 0);
}

}  // namespace
}  // namespace sluice
