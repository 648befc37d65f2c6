// ChangelogFilter: the changelog it emits (first row of a key +I, a key that stops
// qualifying -D, a key that qualifies again +I), and its checkpoints: a restored filter
// continues exactly as an uninterrupted one, across a rescale and from incremental
// (RocksDB) snapshots, for a GROUP BY result and for windows with allowed lateness (whose
// keys the filter forgets once the window is final).
#include "operators/changelog_filter.h"

#include <gtest/gtest.h>

#include <map>

#include "operators/checkpoint_test_util.h"
#include "types/value.h"

namespace sluice {
namespace {

using testing_checkpoint::Scenario;
using testing_checkpoint::Step;

constexpr Micros kSecond = 1'000'000;

// Input: window_start, window_end, k (NULL sometimes), s — an aggregate's output.
SchemaPtr input_schema() {
  return make_schema({{"window_start", TypeId::kTimestamp, true},
                      {"window_end", TypeId::kTimestamp, true},
                      {"k", TypeId::kInt64, true},
                      {"s", TypeId::kInt64, true}});
}

// WHERE s >= 5, keyed by k (and window_start when windowed).
std::shared_ptr<ChangelogFilterOperatorSpec> filter_spec(bool windowed, Micros lateness) {
  ChangelogFilterConfig c;
  auto predicate = make_call(">=", {make_column_ref(3, TypeId::kInt64, "s"), make_literal(Value::int64(5))});
  EXPECT_TRUE(predicate.is_ok());
  c.predicate = predicate.value();
  c.key_columns = windowed ? std::vector<int>{2, 0} : std::vector<int>{2};
  c.partition_columns = 1;
  c.end_column = windowed ? 1 : -1;
  c.allowed_lateness = lateness;
  std::vector<Field> key = {{"k", TypeId::kInt64, true}};
  if (windowed) key.push_back({"window_start", TypeId::kTimestamp, true});
  c.key_schema = make_schema(key);
  auto spec = std::make_shared<ChangelogFilterOperatorSpec>(c);
  spec->id = "filter-1";
  return spec;
}

// k < 0: a NULL key.
void append_row(RecordBatch& b, Micros start, Micros end, int64_t k, int64_t s, RowKind kind) {
  b.columns[0].append_int(start);
  b.columns[1].append_int(end);
  if (k >= 0) {
    b.columns[2].append_int(k);
  } else {
    b.columns[2].append_null();
  }
  b.columns[3].append_int(s);
  b.row_kinds.push_back(kind);
  b.num_rows++;
}

// An upsert stream as an aggregate emits it: per (key, window) +I, then +U with a running
// sum that goes up and down around the threshold, sometimes -D then +I again (a session
// merged away); windowed: a window (10 s) is updated until the watermark passes its end +
// lateness, then never again. A watermark step after each batch.
std::vector<Step> upsert_input(bool windowed, Micros lateness, int batches, int keys, int rows_per_batch) {
  uint64_t rng = 0x2545F4914F6CDD1DULL;
  auto next = [&](uint64_t n) {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (rng >> 33) % n;
  };
  std::map<std::pair<int64_t, Micros>, int64_t> live;  // (k, start) -> sum; absent: not emitted upstream
  std::vector<Step> steps;
  Micros watermark = kMinWatermark;
  for (int b = 0; b < batches; ++b) {
    auto batch = make_batch(input_schema());
    const Micros now = b * 3 * kSecond;
    for (int row = 0; row < rows_per_batch; ++row) {
      const int64_t key = static_cast<int64_t>(next(static_cast<uint64_t>(keys) + 1)) - 1;  // -1: NULL
      Micros start = 0;
      if (windowed) {
        start = (now / (10 * kSecond) - static_cast<Micros>(next(3))) * 10 * kSecond;
        if (start + 10 * kSecond + lateness <= watermark || start < 0) continue;  // final window
      }
      auto id = std::make_pair(key, start);
      auto it = live.find(id);
      const int64_t k = key;
      if (it == live.end()) {
        const int64_t s = static_cast<int64_t>(next(10));
        live[id] = s;
        append_row(*batch, start, start + 10 * kSecond, k, s, RowKind::kInsert);
      } else if (next(8) == 0) {
        append_row(*batch, start, start + 10 * kSecond, k, it->second, RowKind::kDelete);
        live.erase(it);
      } else {
        it->second += static_cast<int64_t>(next(9)) - 4;
        append_row(*batch, start, start + 10 * kSecond, k, it->second, RowKind::kUpdateAfter);
      }
    }
    if (batch->num_rows > 0) steps.push_back({batch, std::nullopt});
    if (windowed) {
      watermark = now - 12 * kSecond;
      steps.push_back({nullptr, watermark});
    }
  }
  return steps;
}

// `keys` 3000: enough final windows that the filter compacts its table of keys.
Scenario scenario(bool windowed, Micros lateness, int keys = 8) {
  Scenario s;
  s.spec = filter_spec(windowed, lateness);
  s.in_key_columns = {2};
  s.out_key_columns = {2};
  s.steps = upsert_input(windowed, lateness, 60, keys, keys > 100 ? 300 : 6);
  return s;
}

TEST(ChangelogFilter, RetractsKeysThatStopQualifyingAndInsertsThemAgain) {
  auto batch = make_batch(input_schema());
  append_row(*batch, 0, 0, 1, 3, RowKind::kInsert);       // not yet
  append_row(*batch, 0, 0, 1, 7, RowKind::kUpdateAfter);  // qualifies: +I
  append_row(*batch, 0, 0, 2, 9, RowKind::kInsert);       // +I
  append_row(*batch, 0, 0, 1, 8, RowKind::kUpdateAfter);  // +U
  append_row(*batch, 0, 0, 1, 1, RowKind::kUpdateAfter);  // stops: -D
  append_row(*batch, 0, 0, 1, 2, RowKind::kUpdateAfter);  // still not: nothing
  append_row(*batch, 0, 0, 1, 6, RowKind::kUpdateAfter);  // again: +I
  append_row(*batch, 0, 0, 2, 9, RowKind::kUpdateBefore);  // ignored
  append_row(*batch, 0, 0, 2, 9, RowKind::kDelete);       // -D
  append_row(*batch, 0, 0, 3, 9, RowKind::kDelete);       // never emitted: nothing
  Scenario s;
  s.spec = filter_spec(false, 0);
  s.in_key_columns = {2};
  s.out_key_columns = {2};
  s.steps = {{batch, std::nullopt}};
  const std::vector<std::string> expected = {
      "+I 1970-01-01 00:00:00, 1970-01-01 00:00:00, 1, 7", "+I 1970-01-01 00:00:00, 1970-01-01 00:00:00, 2, 9",
      "+U 1970-01-01 00:00:00, 1970-01-01 00:00:00, 1, 8", "-D 1970-01-01 00:00:00, 1970-01-01 00:00:00, 1, 1",
      "+I 1970-01-01 00:00:00, 1970-01-01 00:00:00, 1, 6", "-D 1970-01-01 00:00:00, 1970-01-01 00:00:00, 2, 9"};
  EXPECT_EQ(testing_checkpoint::uninterrupted(s), expected);
}

TEST(ChangelogFilter, TheInputExercisesRetractionsAndRequalification) {
  for (bool windowed : {false, true}) {
    std::vector<std::string> rows = testing_checkpoint::uninterrupted(scenario(windowed, 5 * kSecond));
    std::map<std::string, size_t> kinds;
    for (const auto& row : rows) kinds[row.substr(0, 2)]++;
    EXPECT_GT(kinds["+I"], 20u);
    EXPECT_GT(kinds["+U"], 10u);
    EXPECT_GT(kinds["-D"], 10u);
  }
}

class ChangelogFilterCheckpointTest : public ::testing::TestWithParam<std::tuple<std::string, bool>> {
 protected:
  Scenario make() const { return scenario(std::get<1>(GetParam()), 5 * kSecond); }
  std::string backend() const { return std::get<0>(GetParam()); }
};

TEST_P(ChangelogFilterCheckpointTest, RestoreContinuesExactlyAsUninterrupted) {
  testing_checkpoint::expect_restore_continues_exactly(make(), backend());
}

TEST_P(ChangelogFilterCheckpointTest, RescaleOneToTwoAndBackKeepsEveryKey) {
  testing_checkpoint::expect_rescale_keeps_every_key(make(), backend());
}

INSTANTIATE_TEST_SUITE_P(BackendsAndWindows, ChangelogFilterCheckpointTest,
                         ::testing::Combine(::testing::Values("memory", "rocksdb"), ::testing::Values(false, true)));

TEST(ChangelogFilterCheckpoint, IncrementalSnapshotsRestoreExactly) {
  testing_checkpoint::expect_incremental_checkpoints_restore_exactly(scenario(false, 0));
  testing_checkpoint::expect_incremental_checkpoints_restore_exactly(scenario(true, 5 * kSecond), 3);
}

TEST(ChangelogFilterCheckpoint, ForgettingFinalWindowsKeepsCheckpointsExact) {
  // Thousands of keys per window: the keys of final windows are dropped and the table is
  // rebuilt (compacted) between checkpoints; restores must still continue exactly.
  testing_checkpoint::expect_restore_continues_exactly(scenario(true, 5 * kSecond, 3000), "memory");
  testing_checkpoint::expect_incremental_checkpoints_restore_exactly(scenario(true, 5 * kSecond, 3000), 3);
}

}  // namespace
}  // namespace sluice
