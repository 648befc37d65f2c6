// Temporal join checkpoints: the versions and the probe rows waiting for the watermark
// survive a restore, a rescale and incremental snapshots, so the output equals that of an
// uninterrupted run; and the output equals the brute-force "version valid at the probe
// row's time" answer, with state pruned below the watermark.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>

#include "operators/checkpoint_test_util.h"
#include "operators/temporal_join.h"

namespace sluice {
namespace {

using testing_checkpoint::Scenario;
using testing_checkpoint::Step;

struct Rng {
  uint64_t state = 0x2545f4914f6cdd1dULL;
  uint64_t operator()(uint64_t n) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (state >> 33) % n;
  }
};

// Probe rows: [k, v, ts]; versions: [k, rate, ts]. Output [k, v, ts, k, rate, ts].
SchemaPtr side_schema(const char* value) {
  return make_schema({{"k", TypeId::kInt64, true}, {value, TypeId::kInt64, true}, {"ts", TypeId::kTimestamp, true}});
}

std::shared_ptr<TemporalJoinOperatorSpec> temporal_spec(JoinType type, bool residual) {
  TemporalJoinConfig c;
  c.type = type;
  c.probe_keys = {0};
  c.table_keys = {0};
  c.null_safe = {false};
  c.probe_time = 2;
  c.version_time = 2;
  if (residual) {  // v < rate
    auto lt = make_call("<", {make_column_ref(1, TypeId::kInt64, "v"), make_column_ref(4, TypeId::kInt64, "rate")});
    EXPECT_TRUE(lt.is_ok());
    c.residual = lt.value();
  }
  c.probe_schema = side_schema("v");
  c.table_schema = side_schema("rate");
  std::vector<Field> out = c.probe_schema->fields();
  for (const auto& f : c.table_schema->fields()) out.push_back({f.name, f.type, true});
  c.output_schema = make_schema(out);
  c.batch_size = 3;
  auto spec = std::make_shared<TemporalJoinOperatorSpec>(c);
  spec->id = "temporal_join-1";
  return spec;
}

struct Generated {
  Scenario scenario;
  std::vector<std::vector<int64_t>> probes;    // k (INT64_MIN: NULL), v, ts
  std::vector<std::vector<int64_t>> versions;  // k, rate, ts, deleted, arrival
};

// Versions (with deletions) and probe rows of keys 0..7 whose times lag the stream's maximum
// by at most 5 (disorder within the watermark delay of 6), with a watermark every few batches.
Generated temporal_scenario(JoinType type, bool residual) {
  Generated g;
  Scenario& s = g.scenario;
  s.spec = temporal_spec(type, residual);
  s.in_key_columns = {0};
  s.other_input_keys = {{0}};
  s.out_key_columns = {0};
  Rng rng;
  int64_t now = 100;
  for (int b = 0; b < 80; ++b) {
    const int side = static_cast<int>(rng(2));
    auto batch = make_batch(side_schema(side == 0 ? "v" : "rate"));
    const size_t n = 1 + rng(4);
    for (size_t i = 0; i < n; ++i) {
      now += static_cast<int64_t>(rng(3));
      const int64_t ts = now - static_cast<int64_t>(rng(6));
      const int64_t k = static_cast<int64_t>(rng(8));
      const int64_t value = static_cast<int64_t>(rng(20));
      const bool deleted = side == 1 && rng(8) == 0;
      if (side == 0 && rng(12) == 0) {
        batch->mutable_column(0).append_null();
        g.probes.push_back({INT64_MIN, value, ts});
      } else {
        batch->mutable_column(0).append_int(k);
        if (side == 0) g.probes.push_back({k, value, ts});
        if (side == 1) g.versions.push_back({k, value, ts, deleted ? 1 : 0, static_cast<int64_t>(g.versions.size())});
      }
      batch->mutable_column(1).append_int(value);
      batch->mutable_column(2).append_int(ts);
      batch->num_rows++;
      batch->row_kinds.push_back(deleted ? RowKind::kDelete : RowKind::kInsert);
    }
    Step step;
    step.batch = batch;
    step.input = side;
    s.steps.push_back(step);
    if (b % 4 == 3) s.steps.push_back(Step{nullptr, Micros{now - 6}});
  }
  return g;
}

class TemporalJoinCheckpointTest : public ::testing::TestWithParam<std::string> {};

TEST_P(TemporalJoinCheckpointTest, InnerJoinRestoresExactly) {
  testing_checkpoint::expect_restore_continues_exactly(temporal_scenario(JoinType::kInner, false).scenario, GetParam());
}
TEST_P(TemporalJoinCheckpointTest, LeftJoinWithAResidualRestoresExactly) {
  testing_checkpoint::expect_restore_continues_exactly(temporal_scenario(JoinType::kLeft, true).scenario, GetParam());
}
TEST_P(TemporalJoinCheckpointTest, LeftJoinRescalesOneToTwoAndBack) {
  testing_checkpoint::expect_rescale_keeps_every_key(temporal_scenario(JoinType::kLeft, false).scenario, GetParam());
}

INSTANTIATE_TEST_SUITE_P(Backends, TemporalJoinCheckpointTest, ::testing::Values("memory", "rocksdb"));

TEST(TemporalJoinCheckpoint, IncrementalSnapshotsRestoreExactly) {
  testing_checkpoint::expect_incremental_checkpoints_restore_exactly(temporal_scenario(JoinType::kLeft, true).scenario);
  testing_checkpoint::expect_incremental_checkpoints_restore_exactly(temporal_scenario(JoinType::kInner, false).scenario,
                                                                     3);
}

// Every probe row joins the newest version of its key starting at or before its time (the
// last to arrive among equal starts; a deletion: none), whatever the arrival order.
TEST(TemporalJoin, EachRowJoinsTheVersionValidAtItsTime) {
  for (JoinType type : {JoinType::kInner, JoinType::kLeft}) {
    for (bool residual : {false, true}) {
      Generated g = temporal_scenario(type, residual);
      std::vector<std::string> rows = testing_checkpoint::uninterrupted(g.scenario);
      std::map<std::string, int> got, want;
      Micros last_watermark = kMinWatermark;
      for (const auto& r : rows) {
        if (r.rfind("watermark", 0) == 0) {
          if (r != "watermark end") last_watermark = std::stoll(r.substr(10));
          continue;
        }
        ASSERT_EQ(r.rfind("+I ", 0), 0u) << "append-only output: " << r;
        got[r.substr(3)]++;
      }
      EXPECT_GT(last_watermark, kMinWatermark);
      auto text = [](int64_t k) { return k == INT64_MIN ? std::string("NULL") : std::to_string(k); };
      for (const auto& p : g.probes) {
        const std::vector<int64_t>* best = nullptr;
        for (const auto& v : g.versions) {
          if (p[0] == INT64_MIN || v[0] != p[0] || v[2] > p[2]) continue;
          if (!best || v[2] >= (*best)[2]) best = &v;  // later arrival wins at equal starts
        }
        if (best && (*best)[3] == 1) best = nullptr;  // deleted
        if (best && residual && !(p[1] < (*best)[1])) best = nullptr;
        const std::string probe = fmt::format("{}, {}, {}", text(p[0]), p[1], format_timestamp(p[2]));
        if (best) {
          want[fmt::format("{}, {}, {}, {}", probe, (*best)[0], (*best)[1], format_timestamp((*best)[2]))]++;
        } else if (type == JoinType::kLeft) {
          want[probe + ", NULL, NULL, NULL"]++;
        }
      }
      EXPECT_GT(want.size(), 20u);
      EXPECT_EQ(got, want) << join_type_name(type) << (residual ? " with a residual" : "");
    }
  }
}

// State stays bounded: with many versions per key, only those not superseded at the
// watermark are kept.
TEST(TemporalJoin, VersionsOlderThanTheWatermarkAreDropped) {
  auto spec = temporal_spec(JoinType::kInner, false);
  auto op = spec->create();
  OperatorContext ctx;
  OperatorMetrics metrics;
  ctx.metrics = &metrics;
  ASSERT_TRUE(op->open(ctx).is_ok());
  testing_checkpoint::CollectingOutput out({0});
  for (int64_t t = 0; t < 10000; t += 10) {
    auto batch = make_batch(side_schema("rate"));
    for (int64_t k = 0; k < 4; ++k) {
      batch->mutable_column(0).append_int(k);
      batch->mutable_column(1).append_int(t);
      batch->mutable_column(2).append_int(t);
      batch->num_rows++;
    }
    ASSERT_TRUE(op->process(1, batch, out).is_ok());
    ASSERT_TRUE(op->on_watermark(t - 50, out).is_ok());
  }
  // 4 keys, each with the version at or before the watermark and the 5 after it.
  EXPECT_LE(op->state_entries(), 4 * 7);
}

}  // namespace
}  // namespace sluice
