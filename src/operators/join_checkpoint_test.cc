// Join checkpoints and changelog: the rows of both sides (and the partner counts of outer
// rows) survive a restore, a rescale and incremental snapshots, so the output equals that
// of an uninterrupted run; and the changelog of an outer join follows Flink's (padded rows
// retracted at the first partner, re-emitted after the last one is retracted).
#include <gtest/gtest.h>

#include <cstdint>
#include <map>

#include "operators/checkpoint_test_util.h"
#include "operators/join.h"

namespace sluice {
namespace {

using testing_checkpoint::Scenario;
using testing_checkpoint::Step;

struct Rng {
  uint64_t state = 0x9e3779b97f4a7c15ULL;
  uint64_t operator()(uint64_t n) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (state >> 33) % n;
  }
};

SchemaPtr side_schema(const char* value) {
  return make_schema({{"k", TypeId::kInt64, true}, {value, TypeId::kInt64, true}});
}

// LEFT JOIN on k (left $0 = right $0) AND v < w: output [k, v, k, w].
std::shared_ptr<JoinOperatorSpec> join_spec(JoinType type, Micros state_ttl = 0) {
  JoinConfig c;
  c.state_ttl = state_ttl;
  c.type = type;
  c.left_keys = {0};
  c.right_keys = {0};
  c.null_safe = {false};
  auto lt = make_call("<", {make_column_ref(1, TypeId::kInt64, "v"), make_column_ref(3, TypeId::kInt64, "w")});
  EXPECT_TRUE(lt.is_ok());
  c.residual = lt.value();
  c.left_schema = side_schema("v");
  c.right_schema = side_schema("w");
  c.output_schema = make_schema({{"k", TypeId::kInt64, true},
                                 {"v", TypeId::kInt64, true},
                                 {"k", TypeId::kInt64, true},
                                 {"w", TypeId::kInt64, true}});
  c.batch_size = 4;
  auto spec = std::make_shared<JoinOperatorSpec>(c);
  spec->id = "join-1";
  return spec;
}

// Batches of both sides: inserts of keys 0..9 (and NULL), and retractions (-D) of rows
// inserted before, so partners come and go.
Scenario join_scenario(JoinType type, Micros state_ttl = 0) {
  Scenario s;
  s.spec = join_spec(type, state_ttl);
  s.in_key_columns = {0};
  s.other_input_keys = {{0}};
  s.out_key_columns = {0};
  Rng rng;
  std::vector<std::pair<int64_t, int64_t>> live[2];
  for (int b = 0; b < 60; ++b) {
    const int side = static_cast<int>(rng(2));
    auto batch = make_batch(side_schema(side == 0 ? "v" : "w"));
    const size_t n = 1 + rng(5);
    for (size_t i = 0; i < n; ++i) {
      auto& rows = live[side];
      const bool retract = !rows.empty() && rng(4) == 0;
      std::pair<int64_t, int64_t> row;
      if (retract) {
        const size_t at = rng(rows.size());
        row = rows[at];
        rows.erase(rows.begin() + static_cast<long>(at));
      } else {
        row = {static_cast<int64_t>(rng(10)), static_cast<int64_t>(rng(20))};
        rows.push_back(row);
      }
      // A left NULL key (never matches) once in a while; left rows keep their key so each
      // output row carries the key it was routed by.
      if (row.first == 9 && side == 1) {
        batch->mutable_column(0).append_null();
      } else {
        batch->mutable_column(0).append_int(row.first);
      }
      batch->mutable_column(1).append_int(row.second);
      batch->num_rows++;
      batch->row_kinds.push_back(retract ? RowKind::kDelete : RowKind::kInsert);
    }
    Step step;
    step.batch = batch;
    step.input = side;
    s.steps.push_back(step);
    if (b % 10 == 9) s.steps.push_back(Step{nullptr, Micros{b}});
  }
  return s;
}

class JoinCheckpointTest : public ::testing::TestWithParam<std::string> {};

TEST_P(JoinCheckpointTest, LeftJoinRestoresExactly) {
  testing_checkpoint::expect_restore_continues_exactly(join_scenario(JoinType::kLeft), GetParam());
}
TEST_P(JoinCheckpointTest, FullJoinRestoresExactly) {
  testing_checkpoint::expect_restore_continues_exactly(join_scenario(JoinType::kFull), GetParam());
}
TEST_P(JoinCheckpointTest, LeftJoinRescalesOneToTwoAndBack) {
  testing_checkpoint::expect_rescale_keeps_every_key(join_scenario(JoinType::kLeft), GetParam());
}

INSTANTIATE_TEST_SUITE_P(Backends, JoinCheckpointTest, ::testing::Values("memory", "rocksdb"));

TEST(JoinCheckpoint, IncrementalSnapshotsRestoreExactly) {
  testing_checkpoint::expect_incremental_checkpoints_restore_exactly(join_scenario(JoinType::kLeft));
  testing_checkpoint::expect_incremental_checkpoints_restore_exactly(join_scenario(JoinType::kFull), 3);
}

// With a state TTL (an hour: nothing expires here) entries carry write times: they restore
// exactly too, with every backend, incrementally and after a rescale.
TEST_P(JoinCheckpointTest, JoinWithAStateTtlRestoresExactly) {
  const Micros hour = 3600 * kMicrosPerSecond;
  testing_checkpoint::expect_restore_continues_exactly(join_scenario(JoinType::kFull, hour), GetParam());
  testing_checkpoint::expect_rescale_keeps_every_key(join_scenario(JoinType::kLeft, hour), GetParam());
  testing_checkpoint::expect_incremental_checkpoints_restore_exactly(join_scenario(JoinType::kLeft, hour));
}

// The folded changelog equals the batch join of the live rows (brute force), for every
// join type, and the watermarks before the end are held back.
TEST(JoinChangelog, FoldsToTheBatchJoinOfTheLiveRows) {
  for (JoinType type : {JoinType::kInner, JoinType::kLeft, JoinType::kRight, JoinType::kFull}) {
    Scenario s = join_scenario(type);
    std::vector<std::string> rows = testing_checkpoint::uninterrupted(s);
    std::map<std::string, int> folded;
    for (const auto& r : rows) {
      if (r.rfind("watermark", 0) == 0) {
        EXPECT_EQ(r, "watermark end") << "only the final watermark passes a regular join";
        continue;
      }
      const int delta = r.rfind("+I", 0) == 0 ? 1 : -1;
      ASSERT_TRUE(r.rfind("+I", 0) == 0 || r.rfind("-D", 0) == 0) << r;
      folded[r.substr(3)] += delta;
      ASSERT_GE(folded[r.substr(3)], 0) << "retracted a row not emitted: " << r;
    }
    // Brute force over the live rows at the end.
    std::vector<std::pair<std::string, std::string>> live[2];  // (key text, row text)
    std::vector<std::vector<int64_t>> lrows[2];
    for (const Step& st : s.steps) {
      if (!st.batch) continue;
      for (size_t r = 0; r < st.batch->num_rows; ++r) {
        std::vector<int64_t> row = {st.batch->column(0).is_null(r) ? INT64_MIN : st.batch->column(0).int_at(r),
                                    st.batch->column(1).int_at(r)};
        auto& v = lrows[st.input];
        if (st.batch->row_kind(r) == RowKind::kInsert) {
          v.push_back(row);
        } else {
          for (size_t i = 0; i < v.size(); ++i) {
            if (v[i] == row) {
              v.erase(v.begin() + static_cast<long>(i));
              break;
            }
          }
        }
      }
    }
    auto text = [](int64_t k) { return k == INT64_MIN ? std::string("NULL") : std::to_string(k); };
    std::map<std::string, int> expected;
    std::vector<int> lmatch(lrows[0].size()), rmatch(lrows[1].size());
    for (size_t i = 0; i < lrows[0].size(); ++i) {
      for (size_t j = 0; j < lrows[1].size(); ++j) {
        const auto& l = lrows[0][i];
        const auto& r = lrows[1][j];
        if (l[0] == INT64_MIN || l[0] != r[0] || !(l[1] < r[1])) continue;
        ++lmatch[i];
        ++rmatch[j];
        expected[text(l[0]) + ", " + std::to_string(l[1]) + ", " + text(r[0]) + ", " + std::to_string(r[1])]++;
      }
    }
    const bool louter = type == JoinType::kLeft || type == JoinType::kFull;
    const bool router = type == JoinType::kRight || type == JoinType::kFull;
    for (size_t i = 0; louter && i < lrows[0].size(); ++i) {
      if (lmatch[i] == 0) expected[text(lrows[0][i][0]) + ", " + std::to_string(lrows[0][i][1]) + ", NULL, NULL"]++;
    }
    for (size_t j = 0; router && j < lrows[1].size(); ++j) {
      if (rmatch[j] == 0) expected["NULL, NULL, " + text(lrows[1][j][0]) + ", " + std::to_string(lrows[1][j][1])]++;
    }
    for (auto it = folded.begin(); it != folded.end();) it = it->second == 0 ? folded.erase(it) : std::next(it);
    EXPECT_EQ(folded, expected) << join_type_name(type);
  }
}

}  // namespace
}  // namespace sluice
