// TopN checkpoints: the rows held per partition (continuous top-N and deduplication: the
// current top N, which the sink also holds; window top-N: the rows of windows not yet
// emitted) survive a restore, a rescale and incremental snapshots, so the output equals
// that of an uninterrupted run.
#include <gtest/gtest.h>

#include <cstdint>

#include "operators/checkpoint_test_util.h"
#include "operators/topn.h"

namespace sluice {
namespace {

using testing_checkpoint::Scenario;
using testing_checkpoint::Step;

constexpr Micros kSecond = 1'000'000;

struct Rng {
  uint64_t state = 0x2545f4914f6cdd1dULL;
  uint64_t operator()(uint64_t n) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (state >> 33) % n;
  }
};

// ---- Continuous top-N: input [k, v, name, partition k, order v], output [k, v, name, rn].

SchemaPtr continuous_input() {
  return make_schema({{"k", TypeId::kInt64, true},
                      {"v", TypeId::kInt64, true},
                      {"name", TypeId::kString, true},
                      {"partition_1", TypeId::kInt64, true},
                      {"order_1", TypeId::kInt64, true}});
}

std::shared_ptr<TopNOperatorSpec> continuous_spec(int64_t limit) {
  TopNConfig c;
  c.visible_columns = 3;
  c.partition_columns = {3};
  c.order_columns = {4};
  c.descending = {true};
  c.nulls_first = {false};
  c.limit = limit;
  c.output_schema = make_schema({{"k", TypeId::kInt64, true},
                                 {"v", TypeId::kInt64, true},
                                 {"name", TypeId::kString, true},
                                 {"rn", TypeId::kInt64, false}});
  c.batch_size = 5;
  auto spec = std::make_shared<TopNOperatorSpec>(c);
  spec->id = "top-n-1";
  return spec;
}

// Keys 0..11 and NULL; values with many ties (arrival breaks them) and some NULLs.
std::vector<Step> continuous_input_steps(int batches) {
  Rng rng;
  std::vector<Step> steps;
  for (int b = 0; b < batches; ++b) {
    auto batch = make_batch(continuous_input());
    const int rows = 3 + static_cast<int>(rng(8));
    for (int r = 0; r < rows; ++r) {
      const int64_t key = static_cast<int64_t>(rng(13)) - 1;
      const bool null_value = rng(10) == 0;
      const int64_t v = static_cast<int64_t>(rng(20));
      for (int col : {0, 3}) {
        if (key < 0) {
          batch->columns[static_cast<size_t>(col)].append_null();
        } else {
          batch->columns[static_cast<size_t>(col)].append_int(key);
        }
      }
      for (int col : {1, 4}) {
        if (null_value) {
          batch->columns[static_cast<size_t>(col)].append_null();
        } else {
          batch->columns[static_cast<size_t>(col)].append_int(v);
        }
      }
      std::string name("row");
      name += std::to_string(b * 100 + r);
      batch->columns[2].append_string(name);
      batch->num_rows++;
    }
    steps.push_back({batch, std::nullopt});
    steps.push_back({nullptr, static_cast<Micros>(b) * kSecond});
  }
  return steps;
}

Scenario continuous_scenario(int64_t limit) {
  Scenario s;
  s.spec = continuous_spec(limit);
  s.in_key_columns = {3};
  s.out_key_columns = {0};
  s.steps = continuous_input_steps(30);
  return s;
}

// ---- Window top-N: input [window_start, window_end, k, v, partition: window_start,
// window_end, k, order v], output [window_start, window_end, k, v, rn].

SchemaPtr windowed_input() {
  return make_schema({{"window_start", TypeId::kTimestamp, true},
                      {"window_end", TypeId::kTimestamp, true},
                      {"k", TypeId::kInt64, true},
                      {"v", TypeId::kFloat64, true},
                      {"partition_1", TypeId::kTimestamp, true},
                      {"partition_2", TypeId::kTimestamp, true},
                      {"partition_3", TypeId::kInt64, true},
                      {"order_1", TypeId::kFloat64, true}});
}

std::shared_ptr<TopNOperatorSpec> windowed_spec() {
  TopNConfig c;
  c.visible_columns = 4;
  c.partition_columns = {4, 5, 6};
  c.order_columns = {7};
  c.descending = {false};
  c.nulls_first = {true};
  c.limit = 2;
  c.window_end_column = 5;
  c.output_schema = make_schema({{"window_start", TypeId::kTimestamp, true},
                                 {"window_end", TypeId::kTimestamp, true},
                                 {"k", TypeId::kInt64, true},
                                 {"v", TypeId::kFloat64, true},
                                 {"rn", TypeId::kInt64, false}});
  c.batch_size = 6;
  auto spec = std::make_shared<TopNOperatorSpec>(c);
  spec->id = "window-top-n-1";
  return spec;
}

// 10-second windows; each batch brings rows of the two newest open windows; the watermark
// passes a window end every few batches, so windows are emitted throughout the input.
std::vector<Step> windowed_input_steps(int batches) {
  Rng rng;
  std::vector<Step> steps;
  const Micros size = 10 * kSecond;
  for (int b = 0; b < batches; ++b) {
    auto batch = make_batch(windowed_input());
    const Micros newest_end = (b / 3 + 1) * size;
    const int rows = 4 + static_cast<int>(rng(8));
    for (int r = 0; r < rows; ++r) {
      const Micros end = newest_end - (b >= 3 && rng(3) == 0 ? size : 0);
      const int64_t key = static_cast<int64_t>(rng(6));
      const bool null_value = rng(12) == 0;
      const double v = static_cast<double>(rng(40)) / 4.0;
      for (int col : {0, 4}) batch->columns[static_cast<size_t>(col)].append_int(end - size);
      for (int col : {1, 5}) batch->columns[static_cast<size_t>(col)].append_int(end);
      for (int col : {2, 6}) batch->columns[static_cast<size_t>(col)].append_int(key);
      for (int col : {3, 7}) {
        if (null_value) {
          batch->columns[static_cast<size_t>(col)].append_null();
        } else {
          batch->columns[static_cast<size_t>(col)].append_double(v);
        }
      }
      batch->num_rows++;
    }
    steps.push_back({batch, std::nullopt});
    // The older of the two open windows closes when the next batch moves to a new window.
    if (b % 3 == 2) steps.push_back({nullptr, newest_end - size});
  }
  return steps;
}

Scenario windowed_scenario() {
  Scenario s;
  s.spec = windowed_spec();
  s.in_key_columns = {4, 5, 6};
  s.out_key_columns = {0, 1, 2};
  s.steps = windowed_input_steps(36);
  return s;
}

class TopNCheckpointTest : public ::testing::TestWithParam<std::string> {};

TEST_P(TopNCheckpointTest, ContinuousTopNRestoresExactly) {
  testing_checkpoint::expect_restore_continues_exactly(continuous_scenario(3), GetParam());
}
TEST_P(TopNCheckpointTest, DeduplicationRestoresExactly) {
  testing_checkpoint::expect_restore_continues_exactly(continuous_scenario(1), GetParam());
}
TEST_P(TopNCheckpointTest, WindowTopNRestoresExactly) {
  testing_checkpoint::expect_restore_continues_exactly(windowed_scenario(), GetParam());
}
TEST_P(TopNCheckpointTest, ContinuousTopNRescalesOneToTwoAndBack) {
  testing_checkpoint::expect_rescale_keeps_every_key(continuous_scenario(3), GetParam());
}
TEST_P(TopNCheckpointTest, WindowTopNRescalesOneToTwoAndBack) {
  testing_checkpoint::expect_rescale_keeps_every_key(windowed_scenario(), GetParam());
}

INSTANTIATE_TEST_SUITE_P(Backends, TopNCheckpointTest, ::testing::Values("memory", "rocksdb"));

TEST(TopNCheckpoint, IncrementalSnapshotsRestoreExactly) {
  testing_checkpoint::expect_incremental_checkpoints_restore_exactly(continuous_scenario(3));
  testing_checkpoint::expect_incremental_checkpoints_restore_exactly(windowed_scenario(), 3);
}

TEST(TopNCheckpoint, AnOperatorThatSawNoInputRestoresNothing) {
  // Nothing was held: the checkpoint has no instance state, and the restored operator
  // learns the partition key schema from its first batch as usual.
  Scenario s = continuous_scenario(3);
  s.steps.insert(s.steps.begin(), Step{nullptr, Micros{-5}});
  testing_checkpoint::CheckpointFixture fixture;
  auto backend = fixture.backend("memory");
  ASSERT_NE(backend, nullptr);
  std::vector<std::string> got;
  auto before = std::make_unique<testing_checkpoint::StageRunner>(s.spec, 1, s.in_key_columns, s.out_key_columns,
                                                                  backend.get());
  ASSERT_TRUE(before->feed(s.steps[0]).is_ok());
  auto info = fixture.checkpoint(*before, 1);
  ASSERT_TRUE(info.is_ok()) << info.status().message();
  testing_checkpoint::retire(before, got, true);
  testing_checkpoint::StageRunner after(s.spec, 1, s.in_key_columns, s.out_key_columns, backend.get());
  ASSERT_TRUE(fixture.restore(after, s.spec->id, info.value(), 1).is_ok());
  ASSERT_TRUE(after.feed(s.steps, 1, s.steps.size()).is_ok());
  ASSERT_TRUE(after.finish().is_ok());
  for (const auto& row : after.all_rows(true)) got.push_back(row);
  EXPECT_EQ(got, testing_checkpoint::uninterrupted(s));
}

}  // namespace
}  // namespace sluice
