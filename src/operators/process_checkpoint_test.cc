// ProcessOperator checkpoints: keyed state values (built-in and user StateSerializer types)
// and event-time timers survive a restore, a rescale and incremental snapshots; a state
// whose type cannot be serialized fails the checkpoint with a clear Status, and a state
// read back as another C++ type than it was saved as fails the job.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "operators/checkpoint_test_util.h"
#include "operators/process_operator.h"
#include "sluice/process_function.h"

// A user type with its own serializer.
namespace demo {
struct Stats {
  int64_t count = 0;
  double sum = 0;
  std::vector<std::string> names;
};
// A user type without one.
struct Opaque {
  int64_t n = 0;
};
}  // namespace demo

template <>
struct sluice::api::StateSerializer<demo::Stats> {
  static void write(ByteWriter& out, const demo::Stats& v) {
    out.i64(v.count);
    out.f64(v.sum);
    StateSerializer<std::vector<std::string>>::write(out, v.names);
  }
  static demo::Stats read(ByteReader& in) {
    demo::Stats v;
    v.count = in.i64();
    v.sum = in.f64();
    v.names = StateSerializer<std::vector<std::string>>::read(in);
    return v;
  }
};

namespace sluice {
namespace {

using api::ProcessContext;
using api::RowView;
using testing_checkpoint::Scenario;
using testing_checkpoint::Step;

constexpr Micros kSecond = 1'000'000;

SchemaPtr input_schema() {
  return make_schema({{"k", TypeId::kString, true}, {"v", TypeId::kInt64, true}, {"ts", TypeId::kTimestamp, true}});
}

// Per key: a running count (int64), per-10-second-bucket sums (std::map), the last value
// (std::optional), Stats (a user serializer), a flag (bool). A timer at the end of each
// bucket emits the bucket's sum with the key's count and Stats, then drops the bucket; a
// key idle for 25 s is cleared by a second timer.
class Buckets : public api::ProcessFunction<Buckets> {
 public:
  std::string name() const override { return "buckets"; }
  Result<std::vector<Field>> output_columns(const Schema&) const override {
    return std::vector<Field>{{"k", TypeId::kString, true},    {"bucket_end", TypeId::kTimestamp, true},
                              {"sum", TypeId::kInt64, true},   {"count", TypeId::kInt64, true},
                              {"mean", TypeId::kFloat64, true}, {"names", TypeId::kString, true},
                              {"last", TypeId::kInt64, true},  {"flag", TypeId::kBool, true}};
  }
  Status process_element(const RowView& row, ProcessContext& ctx) override {
    const Micros ts = *ctx.timestamp();
    const int64_t v = row.get<int64_t>(1).value_or(-1);
    ++ctx.state<int64_t>("count").get_or_create();
    const Micros bucket_end = (ts / (10 * kSecond) + 1) * 10 * kSecond;
    auto& buckets = ctx.state<std::map<Micros, int64_t>>("buckets").get_or_create();
    if (buckets.find(bucket_end) == buckets.end()) ctx.register_event_time_timer(bucket_end);
    buckets[bucket_end] += v;
    ctx.state<std::optional<int64_t>>("last").update(row.get<int64_t>(1));
    demo::Stats& stats = ctx.state<demo::Stats>("stats").get_or_create();
    stats.count++;
    stats.sum += static_cast<double>(v);
    std::string name("v");
    name += std::to_string(v);
    stats.names.push_back(name);
    if (stats.names.size() > 3) stats.names.erase(stats.names.begin());
    auto flag = ctx.state<bool>("flag");
    flag.update(!flag.value_or(false));
    auto idle = ctx.state<Micros>("idle_timer");
    if (const Micros* old = idle.get()) ctx.delete_event_time_timer(*old);
    idle.update(ts + 25 * kSecond);
    ctx.register_event_time_timer(ts + 25 * kSecond);
    return Status::ok();
  }
  Status on_timer(Micros ts, ProcessContext& ctx) override {
    auto idle = ctx.state<Micros>("idle_timer");
    if (idle.get() != nullptr && *idle.get() == ts) {
      for (const char* s : {"count", "idle_timer"}) ctx.state<int64_t>(s).clear();
      ctx.state<std::map<Micros, int64_t>>("buckets").clear();
      ctx.state<std::optional<int64_t>>("last").clear();
      ctx.state<demo::Stats>("stats").clear();
      ctx.state<bool>("flag").clear();
      return Status::ok();
    }
    auto& buckets = ctx.state<std::map<Micros, int64_t>>("buckets").get_or_create();
    auto it = buckets.find(ts);
    if (it == buckets.end()) return Status::ok();
    const int64_t sum = it->second;
    buckets.erase(it);
    const demo::Stats& stats = *ctx.state<demo::Stats>("stats").get();
    std::string names;
    for (const auto& n : stats.names) names += n + ";";
    std::optional<int64_t> last = ctx.state<std::optional<int64_t>>("last").value_or(std::nullopt);
    std::optional<std::string_view> key = ctx.key().get<std::string_view>(0);
    return ctx.emit(key, api::Timestamp{ts}, sum, *ctx.state<int64_t>("count").get(), stats.sum / static_cast<double>(stats.count),
                    names, last, ctx.state<bool>("flag").value_or(false));
  }
};

std::shared_ptr<ProcessOperatorSpec> process_spec(std::shared_ptr<const api::KeyedProcessFunction> fn, bool emit_time) {
  ProcessConfig c;
  c.function = std::move(fn);
  c.key_columns = {0};
  c.input_schema = input_schema();
  auto fields = c.function->output_columns(*c.input_schema).value();
  if (emit_time) fields.push_back({"__emit_time", TypeId::kTimestamp, false});
  c.output_schema = make_schema(fields);
  c.time_column = 2;
  c.emit_time = emit_time;
  c.batch_size = 4;
  auto spec = std::make_shared<ProcessOperatorSpec>(c);
  spec->id = "process-1";
  return spec;
}

// Keys "a".."l" and NULL, active in bursts so idle timers fire mid-input; events up to 2 s
// out of order; the source watermark trails the largest time by 1 s.
std::vector<Step> process_input(int batches) {
  uint64_t rng = 0x853c49e6748fea9bULL;
  auto next = [&](uint64_t n) {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (rng >> 33) % n;
  };
  std::vector<Step> steps;
  Micros max_ts = 0, watermark = kMinWatermark;
  for (int b = 0; b < batches; ++b) {
    auto batch = make_batch(input_schema());
    for (int key = -1; key < 12; ++key) {
      if (next(4) != 0) continue;
      for (int e = 0, n = 1 + static_cast<int>(next(3)); e < n; ++e) {
        if (key < 0) {
          batch->columns[0].append_null();
        } else {
          batch->columns[0].append_string(std::string(1, static_cast<char>('a' + key)));
        }
        if (next(8) == 0) {
          batch->columns[1].append_null();
        } else {
          batch->columns[1].append_int(static_cast<int64_t>(next(50)));
        }
        const Micros ts = b * 3 * kSecond + static_cast<Micros>(next(3)) * kSecond - static_cast<Micros>(next(3)) * kSecond;
        batch->columns[2].append_int(ts);
        batch->row_watermarks.push_back(watermark);
        batch->num_rows++;
        max_ts = std::max(max_ts, ts);
        watermark = std::max(watermark, max_ts - kSecond);
      }
    }
    if (batch->num_rows > 0) steps.push_back({batch, std::nullopt});
    steps.push_back({nullptr, watermark});
  }
  return steps;
}

Scenario scenario(bool emit_time = false) {
  Scenario s;
  s.spec = process_spec(std::make_shared<Buckets>(), emit_time);
  s.in_key_columns = {0};
  s.out_key_columns = {0};
  s.steps = process_input(50);
  return s;
}

class ProcessCheckpointTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ProcessCheckpointTest, StateAndTimersRestoreExactly) {
  testing_checkpoint::expect_restore_continues_exactly(scenario(), GetParam());
  testing_checkpoint::expect_restore_continues_exactly(scenario(/*emit_time=*/true), GetParam());
}

TEST_P(ProcessCheckpointTest, RescaleOneToTwoAndBackKeepsEveryKey) {
  testing_checkpoint::expect_rescale_keeps_every_key(scenario(), GetParam());
}

INSTANTIATE_TEST_SUITE_P(Backends, ProcessCheckpointTest, ::testing::Values("memory", "rocksdb"));

TEST(ProcessCheckpoint, IncrementalSnapshotsRestoreExactly) {
  testing_checkpoint::expect_incremental_checkpoints_restore_exactly(scenario());
  testing_checkpoint::expect_incremental_checkpoints_restore_exactly(scenario(), 5);
}

TEST(ProcessCheckpoint, TheInputExercisesTimersAndClearing) {
  Scenario s = scenario();
  std::vector<std::string> rows = testing_checkpoint::uninterrupted(s);
  size_t emitted_before_half = 0, watermarks = 0;
  for (const auto& row : rows) {
    if (row.rfind("watermark", 0) == 0) {
      ++watermarks;
    } else if (watermarks < s.steps.size() / 4) {
      ++emitted_before_half;
    }
  }
  EXPECT_GT(emitted_before_half, 5u);
}

// A function whose state type has no StateSerializer.
class OpaqueState : public api::ProcessFunction<OpaqueState> {
 public:
  std::string name() const override { return "opaque"; }
  Result<std::vector<Field>> output_columns(const Schema&) const override {
    return std::vector<Field>{{"n", TypeId::kInt64, true}};
  }
  Status process_element(const RowView&, ProcessContext& ctx) override {
    ctx.state<demo::Opaque>("opaque").get_or_create().n++;
    return Status::ok();
  }
};

TEST(ProcessCheckpoint, AStateWithoutSerializerFailsTheCheckpointNamingIt) {
  auto spec = process_spec(std::make_shared<OpaqueState>(), false);
  // Without checkpoints the state works as before.
  testing_checkpoint::StageRunner plain(spec, 1, {0}, {0});
  ASSERT_TRUE(plain.feed(process_input(3), 0, 6).is_ok());

  testing_checkpoint::CheckpointFixture fixture;
  auto backend = fixture.backend("memory");
  testing_checkpoint::StageRunner runner(spec, 1, {0}, {0}, backend.get());
  ASSERT_TRUE(runner.feed(process_input(3), 0, 6).is_ok());
  auto info = fixture.checkpoint(runner, 1);
  ASSERT_FALSE(info.is_ok());
  EXPECT_EQ(info.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(info.status().message().find("state 'opaque'"), std::string::npos) << info.status().message();
  EXPECT_NE(info.status().message().find("demo::Opaque"), std::string::npos) << info.status().message();
  EXPECT_NE(info.status().message().find("StateSerializer"), std::string::npos) << info.status().message();
}

// Saves "x" as int64_t, or (the other variant) reads it as double.
class TypedState : public api::ProcessFunction<TypedState> {
 public:
  explicit TypedState(bool as_double) : as_double_(as_double) {}
  std::string name() const override { return "typed"; }
  Result<std::vector<Field>> output_columns(const Schema&) const override {
    return std::vector<Field>{{"n", TypeId::kFloat64, true}};
  }
  Status process_element(const RowView&, ProcessContext& ctx) override {
    if (as_double_) return ctx.emit(++ctx.state<double>("x").get_or_create());
    return ctx.emit(static_cast<double>(++ctx.state<int64_t>("x").get_or_create()));
  }

 private:
  bool as_double_;
};

TEST(ProcessCheckpoint, ReadingAStateAsAnotherTypeThanSavedFails) {
  testing_checkpoint::CheckpointFixture fixture;
  auto backend = fixture.backend("memory");
  const std::vector<Step> input = process_input(6);
  auto saving = std::make_unique<testing_checkpoint::StageRunner>(process_spec(std::make_shared<TypedState>(false), false),
                                                                  1, std::vector<int>{0}, std::vector<int>{0},
                                                                  backend.get());
  ASSERT_TRUE(saving->feed(input, 0, 4).is_ok());
  auto info = fixture.checkpoint(*saving, 1);
  ASSERT_TRUE(info.is_ok()) << info.status().message();
  saving.reset();

  testing_checkpoint::StageRunner reading(process_spec(std::make_shared<TypedState>(true), false), 1, {0}, {0},
                                          backend.get());
  ASSERT_TRUE(fixture.restore(reading, "process-1", info.value(), 1).is_ok());
  Status s = reading.feed(input, 4, input.size());
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("state 'x' was checkpointed as long but is now read as double"), std::string::npos)
      << s.message();
}

TEST(ProcessCheckpoint, BuiltInSerializersRoundTrip) {
  auto round_trip = [](const auto& value) {
    using T = std::decay_t<decltype(value)>;
    std::string bytes;
    ByteWriter w(&bytes);
    api::StateSerializer<T>::write(w, value);
    ByteReader r(bytes);
    T back = api::StateSerializer<T>::read(r);
    EXPECT_TRUE(r.ok());
    EXPECT_TRUE(r.at_end());
    return back == value;
  };
  EXPECT_TRUE(round_trip(int64_t{-5}));
  EXPECT_TRUE(round_trip(uint16_t{65535}));
  EXPECT_TRUE(round_trip(true));
  EXPECT_TRUE(round_trip(2.5f));
  EXPECT_TRUE(round_trip(std::string("a\0b", 3)));
  EXPECT_TRUE(round_trip(std::optional<int32_t>()));
  EXPECT_TRUE(round_trip(std::optional<int32_t>(7)));
  EXPECT_TRUE(round_trip(std::make_pair(std::string("k"), 1.5)));
  EXPECT_TRUE(round_trip(std::make_tuple(1, std::string("x"), false)));
  EXPECT_TRUE(round_trip(std::vector<std::vector<int>>{{1, 2}, {}, {3}}));
  EXPECT_TRUE(round_trip(std::deque<Micros>{1, 2}));
  EXPECT_TRUE(round_trip(std::set<std::string>{"a", "b"}));
  EXPECT_TRUE(round_trip(std::map<Micros, int64_t>{{1, 2}, {3, 4}}));
  EXPECT_TRUE(round_trip(std::unordered_map<std::string, int>{{"a", 1}}));
  EXPECT_TRUE(round_trip(std::unordered_set<int64_t>{5, 6}));
  EXPECT_TRUE(round_trip(api::Timestamp{123}));
  enum class Color : uint8_t { kRed = 1, kBlue = 2 };
  EXPECT_TRUE(round_trip(Color::kBlue));
  static_assert(!api::SerializableState<demo::Opaque>);
  static_assert(!api::SerializableState<std::vector<demo::Opaque>>);
  static_assert(api::SerializableState<std::map<std::string, demo::Stats>>);

  // Out of range for the type, or truncated: the reader fails.
  std::string bytes;
  ByteWriter w(&bytes);
  w.i64(300);
  ByteReader r(bytes);
  (void)api::StateSerializer<int8_t>::read(r);
  EXPECT_FALSE(r.ok());
  ByteReader shorter(std::string_view(bytes).substr(0, 3));
  (void)api::StateSerializer<std::map<int, int>>::read(shorter);
  EXPECT_FALSE(shorter.ok());
}

}  // namespace
}  // namespace sluice
