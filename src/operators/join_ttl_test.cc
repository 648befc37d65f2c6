// The state TTL of a regular join (SET state_ttl, as Flink's table.exec.state.ttl): a stored
// row not written for state_ttl of processing time is dropped (it joins no later row, and
// its retraction later finds nothing), counted in the operator's state_expired metric;
// write times survive a checkpoint. Time comes from a ManualClock.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "operators/join.h"
#include "state/state_backend.h"

namespace sluice {
namespace {

constexpr Micros kTtl = 60 * kMicrosPerSecond;

SchemaPtr side_schema(const char* value) {
  return make_schema({{"k", TypeId::kInt64, true}, {value, TypeId::kInt64, true}});
}

std::shared_ptr<JoinOperatorSpec> spec(JoinType type, Micros ttl) {
  JoinConfig c;
  c.type = type;
  c.left_keys = {0};
  c.right_keys = {0};
  c.null_safe = {false};
  c.left_schema = side_schema("v");
  c.right_schema = side_schema("w");
  c.output_schema = make_schema({{"k", TypeId::kInt64, true},
                                 {"v", TypeId::kInt64, true},
                                 {"k", TypeId::kInt64, true},
                                 {"w", TypeId::kInt64, true}});
  c.state_ttl = ttl;
  auto s = std::make_shared<JoinOperatorSpec>(c);
  s->id = "join-1";
  return s;
}

BatchPtr row(const char* value, int64_t k, int64_t v, RowKind kind = RowKind::kInsert) {
  auto b = make_batch(side_schema(value));
  b->mutable_column(0).append_int(k);
  b->mutable_column(1).append_int(v);
  b->num_rows = 1;
  if (kind != RowKind::kInsert) b->row_kinds.push_back(kind);
  return b;
}

class Collect : public Output {
 public:
  Status emit(BatchPtr batch) override {
    for (size_t r = 0; r < batch->num_rows; ++r) {
      rows.push_back(std::string(row_kind_short_name(batch->row_kind(r))) + " " + batch->row_to_string(r));
    }
    return Status::ok();
  }
  Status emit_watermark(Micros) override { return Status::ok(); }
  std::vector<std::string> take() { return std::exchange(rows, {}); }
  std::vector<std::string> rows;
};

// In-memory keyed state for one instance at parallelism 1.
class MapState : public StateWriter, public StateRestore {
 public:
  bool incremental() const override { return false; }
  void put(int, std::string_view key, std::string_view value) override { entries[std::string(key)] = value; }
  void remove(int, std::string_view key) override { entries.erase(std::string(key)); }
  void put_instance_state(std::string_view) override {}
  Status scan(int, int, const std::function<Status(int, std::string_view, std::string_view)>& fn) override {
    for (const auto& [k, v] : entries) RETURN_IF_ERROR(fn(0, k, v));
    return Status::ok();
  }
  const std::vector<std::string>& instance_states() const override { return none_; }
  int old_parallelism() const override { return 1; }
  std::map<std::string, std::string> entries;

 private:
  std::vector<std::string> none_;
};

struct Running {
  // The operator refers to its spec's config: `spec` keeps it alive.
  explicit Running(std::shared_ptr<JoinOperatorSpec> s, ManualClock* clock) : spec(std::move(s)), op(spec->create()) {
    ctx.metrics = &metrics;
    ctx.clock = clock;
    EXPECT_TRUE(op->open(ctx).is_ok());
  }
  std::vector<std::string> feed(int input, const BatchPtr& b) {
    EXPECT_TRUE(op->process(input, b, out).is_ok());
    return out.take();
  }
  std::shared_ptr<JoinOperatorSpec> spec;
  std::unique_ptr<Operator> op;
  OperatorMetrics metrics;
  OperatorContext ctx;
  Collect out;
};

using Rows = std::vector<std::string>;

TEST(JoinStateTtlTest, RowsNotWrittenForTheTtlJoinNothingMore) {
  ManualClock clock;
  Running j(spec(JoinType::kInner, kTtl), &clock);
  EXPECT_EQ(j.feed(0, row("v", 1, 10)), Rows{});
  clock.advance(30 * kMicrosPerSecond);
  EXPECT_EQ(j.feed(1, row("w", 1, 100)), (Rows{"+I 1, 10, 1, 100"}));
  clock.advance(29 * kMicrosPerSecond);  // the left row is 59 s old: still there
  EXPECT_EQ(j.feed(1, row("w", 1, 101)), (Rows{"+I 1, 10, 1, 101"}));
  clock.advance(2 * kMicrosPerSecond);  // 61 s: expired at once; the right rows (31 s, 2 s) stay
  EXPECT_EQ(j.feed(1, row("w", 1, 102)), Rows{});
  EXPECT_EQ(j.feed(0, row("v", 1, 11)), (Rows{"+I 1, 11, 1, 100", "+I 1, 11, 1, 101", "+I 1, 11, 1, 102"}));
  // The retraction of an expired row finds nothing and emits nothing.
  EXPECT_EQ(j.feed(0, row("v", 1, 10, RowKind::kDelete)), Rows{});
  // Within a quarter of the TTL a scan drops it from memory, and counts it.
  clock.advance(20 * kMicrosPerSecond);
  ASSERT_TRUE(j.op->on_idle_tick(j.out).is_ok());
  EXPECT_EQ(j.metrics.state_expired->value(), 1u);
}

TEST(JoinStateTtlTest, WithoutATtlRowsLiveUntilRetracted) {
  ManualClock clock;
  Running j(spec(JoinType::kInner, 0), &clock);
  EXPECT_EQ(j.feed(0, row("v", 1, 10)), Rows{});
  clock.advance(365LL * 24 * 3600 * kMicrosPerSecond);
  EXPECT_EQ(j.feed(1, row("w", 1, 100)), (Rows{"+I 1, 10, 1, 100"}));
  EXPECT_EQ(j.metrics.state_expired->value(), 0u);
}

TEST(JoinStateTtlTest, AnExpiredOuterRowIsNotRetractedWhenAPartnerArrives) {
  ManualClock clock;
  Running j(spec(JoinType::kLeft, kTtl), &clock);
  EXPECT_EQ(j.feed(0, row("v", 2, 20)), (Rows{"+I 2, 20, NULL, NULL"}));
  clock.advance(61 * kMicrosPerSecond);
  // Flink's semantics: the expired row is gone; its padded row stays in the output.
  EXPECT_EQ(j.feed(1, row("w", 2, 5)), Rows{});
  EXPECT_EQ(j.feed(0, row("v", 2, 21)), (Rows{"+I 2, 21, 2, 5"}));
}

TEST(JoinStateTtlTest, WriteTimesSurviveACheckpoint) {
  ManualClock clock;
  auto s = spec(JoinType::kInner, kTtl);
  MapState state;
  {
    Running j(s, &clock);
    j.feed(0, row("v", 1, 10));
    clock.advance(40 * kMicrosPerSecond);
    j.feed(0, row("v", 1, 11));
    ASSERT_TRUE(j.op->snapshot(1, state).is_ok());
  }
  clock.advance(30 * kMicrosPerSecond);  // 70 s after the first row, 30 s after the second
  Running restored(s, &clock);
  ASSERT_TRUE(restored.op->restore(1, &state).is_ok());
  EXPECT_EQ(restored.feed(1, row("w", 1, 100)), (Rows{"+I 1, 11, 1, 100"}));
  EXPECT_EQ(restored.metrics.state_expired->value(), 1u);
}

TEST(JoinStateTtlTest, EntriesWithoutTimesRestoreAsWrittenAtTheRestore) {
  ManualClock clock;
  MapState state;
  {
    Running j(spec(JoinType::kInner, 0), &clock);  // no TTL: checkpointed without times
    j.feed(0, row("v", 1, 10));
    ASSERT_TRUE(j.op->snapshot(1, state).is_ok());
  }
  clock.advance(10 * kTtl);
  Running restored(spec(JoinType::kInner, kTtl), &clock);
  ASSERT_TRUE(restored.op->restore(1, &state).is_ok());
  clock.advance(kTtl / 2);
  EXPECT_EQ(restored.feed(1, row("w", 1, 100)), (Rows{"+I 1, 10, 1, 100"}));
  clock.advance(kTtl);
  EXPECT_EQ(restored.feed(1, row("w", 1, 101)), Rows{});
}

}  // namespace
}  // namespace sluice
