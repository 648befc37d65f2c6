// SessionAggregate checkpoints: a restored operator continues exactly as an uninterrupted
// one — open sessions, their aggregates (arrival ties included), fired-but-kept sessions
// and what the sink holds for them (so later merges retract the right rows) — at the same
// parallelism, across a rescale, and from incremental (RocksDB) snapshots.
#include <gtest/gtest.h>

#include <cstdint>

#include "operators/aggregate.h"
#include "operators/checkpoint_test_util.h"

namespace sluice {
namespace {

using testing_checkpoint::Scenario;
using testing_checkpoint::Step;

constexpr Micros kSecond = 1'000'000;

// Input: k BIGINT (NULL sometimes), v BIGINT, name TEXT, ts TIMESTAMP.
SchemaPtr input_schema() {
  return make_schema({{"k", TypeId::kInt64, true},
                      {"v", TypeId::kInt64, true},
                      {"name", TypeId::kString, true},
                      {"ts", TypeId::kTimestamp, true}});
}

AggregateSpec aggregate(AggKind kind, int input, TypeId type, int time_input = -1) {
  AggregateSpec s;
  s.kind = kind;
  s.input = input;
  s.input_type = type;
  s.result_type = aggregate_result_type(kind, type);
  s.time_input = time_input;
  return s;
}

std::shared_ptr<AggregateOperatorSpec> session_spec(Micros gap, Micros allowed_lateness) {
  AggregateConfig c;
  c.windowed = true;
  c.window.kind = WindowSpec::Kind::kSession;
  c.window.size = gap;
  c.time_column = 3;
  c.allowed_lateness = allowed_lateness;
  c.key_columns = {0};
  c.aggregates = {aggregate(AggKind::kCountStar, -1, TypeId::kNull), aggregate(AggKind::kSum, 1, TypeId::kInt64),
                  aggregate(AggKind::kLastValue, 2, TypeId::kString, 3),
                  aggregate(AggKind::kArrayAgg, 1, TypeId::kInt64, 3)};
  c.key_schema = make_schema({{"k", TypeId::kInt64, true}});
  std::vector<Field> out = {{"window_start", TypeId::kTimestamp, true}, {"window_end", TypeId::kTimestamp, true},
                            {"k", TypeId::kInt64, true}};
  for (const auto& a : c.aggregates) out.push_back({agg_kind_name(a.kind), a.result_type, true});
  c.output_schema = make_schema(out);
  c.batch_size = 7;  // several output batches per call
  auto spec = std::make_shared<AggregateOperatorSpec>(c);
  spec->id = "session-1";
  return spec;
}

// Bursts of activity per key: each batch covers 4 seconds, a key is active in it with
// probability ~1/3, so sessions (gap 6 s) open, merge and close throughout. Events arrive
// up to 3 s out of order, one in five up to 15 s; the source watermark trails the largest
// time by 2 s, so some rows are late (dropped, or late-but-allowed with lateness: updating
// and merging fired sessions). Equal timestamps (ties by arrival) are frequent. After each
// batch, a watermark step.
std::vector<Step> session_input(int batches) {
  uint64_t rng = 0x9e3779b97f4a7c15ULL;
  auto next = [&](uint64_t n) {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (rng >> 33) % n;
  };
  std::vector<Step> steps;
  Micros max_ts = 0;
  Micros watermark = kMinWatermark;
  // Key 77, scripted: one event opening [W + 1, W + 7) at batch 8 (W: the watermark then),
  // and once that session has fired (watermark >= W + 7) but is not closed yet, a late event
  // at W - 2 extending it to an earlier start: the sink's row is retracted (-D) and the
  // merged session inserted again.
  Micros scripted_at = kMinWatermark;
  auto append = [&](auto batch, std::optional<int64_t> key, Micros ts) {
    if (key) {
      batch->columns[0].append_int(*key);
    } else {
      batch->columns[0].append_null();
    }
    batch->columns[1].append_int(static_cast<int64_t>(next(100)));
    std::string name("n");
    name += std::to_string(next(50));
    batch->columns[2].append_string(name);
    batch->columns[3].append_int(ts);
    batch->row_watermarks.push_back(watermark);
    batch->num_rows++;
    max_ts = std::max(max_ts, ts);
    watermark = std::max(watermark, max_ts - 2 * kSecond);
  };
  for (int b = 0; b < batches; ++b) {
    auto batch = make_batch(input_schema());
    if (b == 8) {
      scripted_at = watermark;
      append(batch, 77, scripted_at + kSecond);
    } else if (b > 8 && scripted_at != kMinWatermark && watermark >= scripted_at + 7 * kSecond &&
               watermark < scripted_at + 12 * kSecond) {
      append(batch, 77, scripted_at - 2 * kSecond);
      scripted_at = kMinWatermark;
    }
    for (int key = -1; key < 10; ++key) {
      if (next(3) != 0) continue;
      const int events = 1 + static_cast<int>(next(3));
      for (int e = 0; e < events; ++e) {
        const Micros delay = static_cast<Micros>(next(5) == 0 ? next(16) : next(4));
        const Micros ts = b * 4 * kSecond + static_cast<Micros>(next(4)) * kSecond - delay * kSecond;
        append(batch, key < 0 ? std::nullopt : std::optional<int64_t>(key), ts);
      }
    }
    if (batch->num_rows > 0) steps.push_back({batch, std::nullopt});
    steps.push_back({nullptr, watermark});
  }
  return steps;
}

Scenario scenario(Micros allowed_lateness) {
  Scenario s;
  s.spec = session_spec(6 * kSecond, allowed_lateness);
  s.in_key_columns = {0};
  s.out_key_columns = {2};
  s.steps = session_input(40);
  return s;
}

class SessionCheckpointTest : public ::testing::TestWithParam<std::tuple<std::string, Micros>> {
 protected:
  std::string backend() const { return std::get<0>(GetParam()); }
  Micros lateness() const { return std::get<1>(GetParam()); }
};

TEST_P(SessionCheckpointTest, RestoreContinuesExactlyAsUninterrupted) {
  testing_checkpoint::expect_restore_continues_exactly(scenario(lateness()), backend());
}

TEST_P(SessionCheckpointTest, RescaleOneToTwoAndBackKeepsEverySession) {
  testing_checkpoint::expect_rescale_keeps_every_key(scenario(lateness()), backend());
}

INSTANTIATE_TEST_SUITE_P(BackendsAndLateness, SessionCheckpointTest,
                         ::testing::Combine(::testing::Values("memory", "rocksdb"),
                                            ::testing::Values(Micros{0}, 8 * kSecond)));

TEST(SessionCheckpoint, IncrementalSnapshotsRestoreExactly) {
  testing_checkpoint::expect_incremental_checkpoints_restore_exactly(scenario(0));
  testing_checkpoint::expect_incremental_checkpoints_restore_exactly(scenario(8 * kSecond), 3);
}

TEST(SessionCheckpoint, TheInputExercisesFiringMergingAndLateUpdates) {
  // Guards the scenario itself: the checks above are only meaningful if sessions fire in
  // the middle of the input, and (with lateness) fired sessions are updated and retracted.
  Scenario s = scenario(8 * kSecond);
  std::vector<std::string> rows = testing_checkpoint::uninterrupted(s);
  size_t inserts_before_half = 0, updates = 0, deletes = 0, watermarks = 0;
  for (const auto& row : rows) {
    if (row.rfind("watermark", 0) == 0) ++watermarks;
    if (row.rfind("+I", 0) == 0 && watermarks < s.steps.size() / 4) ++inserts_before_half;
    if (row.rfind("+U", 0) == 0) ++updates;
    if (row.rfind("-D", 0) == 0) ++deletes;
  }
  EXPECT_GT(inserts_before_half, 5u);
  EXPECT_GT(updates, 0u);
  EXPECT_GT(deletes, 0u);
}

}  // namespace
}  // namespace sluice
