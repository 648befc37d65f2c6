// Process functions: keyed state, event-time timers and deterministic output.
//
// First the operator alone (ProcessOperator, fed batches and watermarks by hand, its output
// collected in order), then whole pipelines: the same output at parallelism 1, 2 and 4 and
// any batch size, equal to a model of the function computed here from the input.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>

#include "api/api_test_util.h"
#include "common/time_util.h"
#include "operators/process_operator.h"
#include "sluice/pipeline.h"

namespace sluice::api {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;

// ------------------------------------------------------------------ operator harness

class CollectingOutput : public Output {
 public:
  Status emit(BatchPtr batch) override {
    for (size_t r = 0; r < batch->num_rows; ++r) rows.push_back(batch->row_to_string(r));
    return Status::ok();
  }
  Status emit_watermark(Micros wm) override {
    rows.push_back(fmt::format("watermark {}", wm == kMaxWatermark ? std::string("end") : std::to_string(wm)));
    return Status::ok();
  }
  std::vector<std::string> rows;
};

// Scripted behaviour, so each test states what the function does.
class Scripted : public ProcessFunction<Scripted> {
 public:
  using ElementFn = std::function<Status(const RowView&, ProcessContext&)>;
  using TimerFn = std::function<Status(Micros, ProcessContext&)>;
  Scripted(std::vector<Field> output, ElementFn element, TimerFn timer = nullptr)
      : output_(std::move(output)), element_(std::move(element)), timer_(std::move(timer)) {}
  std::string name() const override { return "scripted"; }
  Result<std::vector<Field>> output_columns(const Schema&) const override { return output_; }
  Status process_element(const RowView& row, ProcessContext& ctx) override { return element_(row, ctx); }
  Status on_timer(Micros ts, ProcessContext& ctx) override { return timer_ ? timer_(ts, ctx) : Status::ok(); }

 private:
  std::vector<Field> output_;
  ElementFn element_;
  TimerFn timer_;
};

SchemaPtr input_schema() { return make_schema({field("k", TypeId::kInt64), field("ts", TypeId::kTimestamp)}); }

// Rows (key, ts); a key of INT64_MIN stands for NULL. Row watermarks when given.
BatchPtr rows(const std::vector<std::pair<int64_t, Micros>>& data, std::vector<Micros> row_watermarks = {}) {
  auto b = make_batch(input_schema());
  for (auto [k, ts] : data) {
    if (k == INT64_MIN) {
      b->columns[0].append_null();
    } else {
      b->columns[0].append_int(k);
    }
    b->columns[1].append_int(ts);
  }
  b->num_rows = data.size();
  b->row_watermarks = std::move(row_watermarks);
  return b;
}

struct Harness {
  explicit Harness(std::shared_ptr<const KeyedProcessFunction> fn, bool emit_time = false) {
    ProcessConfig c;
    c.function = std::move(fn);
    c.key_columns = {0};
    c.input_schema = input_schema();
    auto fields = c.function->output_columns(*c.input_schema).value();
    if (emit_time) fields.push_back(field("__emit_time", TypeId::kTimestamp));
    c.output_schema = make_schema(fields);
    c.time_column = 1;
    c.emit_time = emit_time;
    spec = std::make_unique<ProcessOperatorSpec>(c);
    op = spec->create();
    OperatorContext ctx;
    ctx.metrics = &metrics;
    EXPECT_TRUE(op->open(ctx).is_ok());
  }
  Status process(BatchPtr b) { return op->process(0, b, out); }
  Status watermark(Micros wm) { return op->on_watermark(wm, out); }
  std::unique_ptr<ProcessOperatorSpec> spec;
  std::unique_ptr<Operator> op;
  OperatorMetrics metrics;
  CollectingOutput out;
};

std::vector<Field> key_and_value() { return {field("k", TypeId::kInt64), field("v", TypeId::kInt64)}; }

TEST(ProcessOperator, StateIsKeptPerKey) {
  auto fn = std::make_shared<Scripted>(key_and_value(), [](const RowView& row, ProcessContext& ctx) {
    int64_t& n = ctx.state<int64_t>("count").get_or_create();
    ++n;
    return ctx.emit(row.get<int64_t>(0), n);
  });
  Harness h(fn);
  ASSERT_TRUE(h.process(rows({{1, 10}, {2, 11}, {1, 12}})).is_ok());
  ASSERT_TRUE(h.process(rows({{1, 13}, {2, 14}})).is_ok());
  EXPECT_EQ(h.out.rows, (std::vector<std::string>{"1, 1", "2, 1", "1, 2", "1, 3", "2, 2"}));
}

TEST(ProcessOperator, ClearedStateStartsOver) {
  auto fn = std::make_shared<Scripted>(key_and_value(), [](const RowView& row, ProcessContext& ctx) {
    auto state = ctx.state<int64_t>("count");
    int64_t n = state.value_or(0) + 1;
    if (n == 2) {
      state.clear();
    } else {
      state.update(n);
    }
    return ctx.emit(row.get<int64_t>(0), n);
  });
  Harness h(fn);
  ASSERT_TRUE(h.process(rows({{1, 10}, {1, 11}, {1, 12}})).is_ok());
  EXPECT_EQ(h.out.rows, (std::vector<std::string>{"1, 1", "1, 2", "1, 1"}));
}

// Registers a timer at the row's ts + 100 and reports (key, timer time) when it fires.
std::shared_ptr<Scripted> timer_reporter() {
  return std::make_shared<Scripted>(
      key_and_value(),
      [](const RowView& row, ProcessContext& ctx) {
        ctx.register_event_time_timer(row.get<Timestamp>(1)->micros + 100);
        return Status::ok();
      },
      [](Micros ts, ProcessContext& ctx) { return ctx.emit(ctx.key().get<int64_t>(0), ts); });
}

TEST(ProcessOperator, TimersFireWhenTheWatermarkReachesThemInTimeThenKeyOrder) {
  Harness h(timer_reporter());
  ASSERT_TRUE(h.process(rows({{3, 0}, {1, 0}, {2, 50}, {-7, 0}, {INT64_MIN, 0}})).is_ok());
  ASSERT_TRUE(h.watermark(99).is_ok());
  ASSERT_TRUE(h.watermark(100).is_ok());
  ASSERT_TRUE(h.watermark(200).is_ok());
  EXPECT_EQ(h.out.rows, (std::vector<std::string>{"watermark 99", "NULL, 100", "-7, 100", "1, 100", "3, 100",
                                                  "watermark 100", "2, 150", "watermark 200"}));
}

TEST(ProcessOperator, ATimerRegisteredTwiceFiresOnce) {
  Harness h(timer_reporter());
  ASSERT_TRUE(h.process(rows({{1, 0}, {1, 0}})).is_ok());
  ASSERT_TRUE(h.watermark(1000).is_ok());
  EXPECT_EQ(h.out.rows, (std::vector<std::string>{"1, 100", "watermark 1000"}));
}

TEST(ProcessOperator, DeletedTimersDoNotFire) {
  auto fn = std::make_shared<Scripted>(
      key_and_value(),
      [](const RowView& row, ProcessContext& ctx) {
        Micros ts = row.get<Timestamp>(1)->micros;
        ctx.register_event_time_timer(ts + 100);
        if (*row.get<int64_t>(0) == 2) ctx.delete_event_time_timer(ts + 100);
        return Status::ok();
      },
      [](Micros ts, ProcessContext& ctx) { return ctx.emit(ctx.key().get<int64_t>(0), ts); });
  Harness h(fn);
  ASSERT_TRUE(h.process(rows({{1, 0}, {2, 0}})).is_ok());
  ASSERT_TRUE(h.watermark(kMaxWatermark).is_ok());
  EXPECT_EQ(h.out.rows, (std::vector<std::string>{"1, 100", "watermark end"}));
}

TEST(ProcessOperator, ATimerInThePastFiresJustAfterTheRowsWatermark) {
  // The row carries watermark 500; its timer at 100 is already due, so it is moved to 501.
  Harness h(timer_reporter());
  ASSERT_TRUE(h.process(rows({{1, 0}}, {500})).is_ok());
  ASSERT_TRUE(h.watermark(500).is_ok());
  ASSERT_TRUE(h.watermark(501).is_ok());
  EXPECT_EQ(h.out.rows, (std::vector<std::string>{"watermark 500", "1, 501", "watermark 501"}));
}

TEST(ProcessOperator, TimersSetWhileFiringFireInTheSamePassWhenDue) {
  auto fn = std::make_shared<Scripted>(
      key_and_value(),
      [](const RowView&, ProcessContext& ctx) {
        ctx.register_event_time_timer(10);
        return Status::ok();
      },
      [](Micros ts, ProcessContext& ctx) {
        if (ts < 30) ctx.register_event_time_timer(ts + 10);
        return ctx.emit(ctx.key().get<int64_t>(0), ts);
      });
  Harness h(fn);
  ASSERT_TRUE(h.process(rows({{1, 0}})).is_ok());
  ASSERT_TRUE(h.watermark(25).is_ok());
  EXPECT_EQ(h.out.rows, (std::vector<std::string>{"1, 10", "1, 20", "watermark 25"}));
}

TEST(ProcessOperator, TheEndOfInputFiresPendingTimersButNotTimersTheyRegister) {
  auto fn = std::make_shared<Scripted>(
      key_and_value(),
      [](const RowView&, ProcessContext& ctx) {
        ctx.register_event_time_timer(1'000'000);
        return Status::ok();
      },
      [](Micros ts, ProcessContext& ctx) {
        ctx.register_event_time_timer(ts + 1);  // would never end
        return ctx.emit(ctx.key().get<int64_t>(0), ts);
      });
  Harness h(fn);
  ASSERT_TRUE(h.process(rows({{1, 0}})).is_ok());
  ASSERT_TRUE(h.op->finish(h.out).is_ok());
  EXPECT_EQ(h.out.rows, (std::vector<std::string>{"1, 1000000", "watermark end"}));
}

TEST(ProcessOperator, EmitTimeIsTheRowTimeOrJustAfterItsWatermarkOrTheTimerTime) {
  auto fn = std::make_shared<Scripted>(
      key_and_value(),
      [](const RowView& row, ProcessContext& ctx) {
        ctx.register_event_time_timer(1000);
        return ctx.emit(row.get<int64_t>(0), 0);
      },
      [](Micros ts, ProcessContext& ctx) { return ctx.emit(ctx.key().get<int64_t>(0), ts); });
  Harness h(fn, /*emit_time=*/true);
  // Row at 300 with watermark 100 -> 300; row at 50 with watermark 200 (late) -> 201.
  ASSERT_TRUE(h.process(rows({{1, 300}, {2, 50}}, {100, 200})).is_ok());
  ASSERT_TRUE(h.watermark(1000).is_ok());
  EXPECT_EQ(h.out.rows,
            (std::vector<std::string>{"1, 0, 1970-01-01 00:00:00.000300", "2, 0, 1970-01-01 00:00:00.000201",
                                      "1, 1000, 1970-01-01 00:00:00.001", "2, 1000, 1970-01-01 00:00:00.001",
                                      "watermark 1000"}));
}

TEST(ProcessOperator, EmitChecksTheNumberAndTypesOfValues) {
  auto too_few = std::make_shared<Scripted>(key_and_value(), [](const RowView&, ProcessContext& ctx) {
    return ctx.emit(int64_t{1});
  });
  Harness a(too_few);
  Status s = a.process(rows({{1, 0}}));
  EXPECT_EQ(s.message(), "process scripted: emit: the output has 2 columns (k BIGINT, v BIGINT), got 1 values");
  auto wrong_type = std::make_shared<Scripted>(key_and_value(), [](const RowView&, ProcessContext& ctx) {
    return ctx.emit(1, "two");
  });
  Harness b(wrong_type);
  s = b.process(rows({{1, 0}}));
  EXPECT_EQ(s.code(), StatusCode::kTypeError);
  EXPECT_EQ(s.message(), "process scripted: emit: column 2 'v' is BIGINT but the value is a string");
}

TEST(ProcessOperator, EmitAcceptsNullsOptionalsAndWidening) {
  std::vector<Field> out = {field("a", TypeId::kFloat64), field("b", TypeId::kString), field("c", TypeId::kTimestamp),
                            field("d", TypeId::kBool)};
  auto fn = std::make_shared<Scripted>(out, [](const RowView&, ProcessContext& ctx) {
    std::optional<std::string> none;
    return ctx.emit(3, none, Timestamp{kMicrosPerSecond}, std::nullopt);
  });
  Harness h(fn);
  ASSERT_TRUE(h.process(rows({{1, 0}})).is_ok());
  EXPECT_EQ(h.out.rows, (std::vector<std::string>{"3, NULL, 1970-01-01 00:00:01, NULL"}));
}

TEST(ProcessOperator, UserErrorsStopProcessingWithTheFunctionsName) {
  auto fn = std::make_shared<Scripted>(key_and_value(), [](const RowView&, ProcessContext&) {
    return invalid_argument("bad row");
  });
  Harness h(fn);
  EXPECT_EQ(h.process(rows({{1, 0}})).message(), "process scripted: bad row");
}

TEST(ProcessOperatorDeathTest, OneStateNameWithTwoTypesIsAProgrammingError) {
  auto fn = std::make_shared<Scripted>(key_and_value(), [](const RowView&, ProcessContext& ctx) {
    ctx.state<int64_t>("x").update(1);
    ctx.state<std::string>("x").update("y");
    return Status::ok();
  });
  Harness h(fn);
  EXPECT_DEATH((void)h.process(rows({{1, 0}})), "state 'x' is used with two different C\\+\\+ types");
}

TEST(OrderedKeyEncoding, OrdersLikeTheValuesWithNullsFirst) {
  auto schema = make_schema({field("d", TypeId::kFloat64), field("s", TypeId::kString)});
  auto b = make_batch(schema);
  std::vector<std::pair<std::optional<double>, std::string>> values = {
      {-2.5, "b"}, {std::nullopt, "z"}, {0.0, std::string("a\0b", 3)}, {0.0, "a"}, {-100.0, "x"}, {7.25, ""}, {0.0, "ab"}};
  for (const auto& [d, s] : values) {
    if (d) {
      b->columns[0].append_double(*d);
    } else {
      b->columns[0].append_null();
    }
    b->columns[1].append_string(s);
  }
  b->num_rows = values.size();
  std::vector<std::pair<std::string, size_t>> encoded;
  std::string buf;
  for (size_t r = 0; r < b->num_rows; ++r) {
    encode_ordered_key(*b, {0, 1}, r, buf);
    encoded.push_back({buf, r});
  }
  std::sort(encoded.begin(), encoded.end());
  std::vector<std::string> order;
  for (const auto& [e, r] : encoded) order.push_back(b->row_to_string(r));
  EXPECT_EQ(order, (std::vector<std::string>{"NULL, z", "-100, x", "-2.5, b", "0, a", std::string("0, a\0b", 6),
                                             "0, ab", "7.25, "}));
}

// ------------------------------------------------------------------ whole pipelines

constexpr Micros kMinute = kMicrosPerMinute;

// Views per user per minute; once a minute is complete, reports the users with more than
// `threshold` views in it. Rows whose minute the watermark has passed are ignored.
class BusyUsers : public ProcessFunction<BusyUsers> {
 public:
  explicit BusyUsers(int64_t threshold) : threshold_(threshold) {}
  std::string name() const override { return "busy_users"; }
  Result<std::vector<Field>> output_columns(const Schema& input) const override {
    if (input.find("user_id") < 0) return invalid_argument("busy_users needs a user_id column");
    return std::vector<Field>{field("user_id", TypeId::kInt64), field("minute_us", TypeId::kInt64),
                              field("views", TypeId::kInt64)};
  }
  Status process_element(const RowView&, ProcessContext& ctx) override {
    Micros minute = floor_div(*ctx.timestamp(), kMinute) * kMinute;
    if (minute + kMinute <= ctx.current_watermark()) return Status::ok();
    auto& counts = ctx.state<std::map<Micros, int64_t>>("views").get_or_create();
    if (counts[minute]++ == 0) ctx.register_event_time_timer(minute + kMinute);
    return Status::ok();
  }
  Status on_timer(Micros ts, ProcessContext& ctx) override {
    auto state = ctx.state<std::map<Micros, int64_t>>("views");
    auto& counts = state.get_or_create();
    auto it = counts.find(ts - kMinute);
    if (it == counts.end()) return Status::ok();
    Status s = Status::ok();
    if (it->second > threshold_) s = ctx.emit(ctx.key().get<int64_t>(0), it->first, it->second);
    counts.erase(it);
    if (counts.empty()) state.clear();
    return s;
  }

 private:
  int64_t threshold_;
};

// The model: the same rule applied to the input file in order (one split: each row's
// watermark is the largest earlier time minus the delay).
std::string busy_users_model(const std::string& jsonl, Micros delay, int64_t threshold) {
  std::map<std::pair<Micros, int64_t>, int64_t> counts;  // (minute, user) -> views
  Micros max_ts = kMinWatermark;
  size_t at = 0;
  while (at < jsonl.size()) {
    size_t end = jsonl.find('\n', at);
    std::string line = jsonl.substr(at, end - at);
    at = end + 1;
    int64_t user = std::stoll(line.substr(line.find("\"user_id\":") + 10));
    Micros ts = std::stoll(line.substr(line.find("\"ts\":") + 5)) * kMicrosPerMilli;
    Micros wm = max_ts == kMinWatermark ? kMinWatermark : max_ts - delay;
    max_ts = std::max(max_ts, ts);
    Micros minute = floor_div(ts, kMinute) * kMinute;
    if (minute + kMinute <= wm) continue;
    counts[{minute, user}]++;
  }
  std::string out;
  for (const auto& [k, n] : counts) {
    if (n > threshold) out += fmt::format("{{\"user_id\":{},\"minute_us\":{},\"views\":{}}}\n", k.second, k.first, n);
  }
  return out;
}

class ProcessPipeline : public ::testing::Test {
 protected:
  void SetUp() override { testing::write_file(dir_.file("clicks.jsonl"), testing::clicks_jsonl(4000, 5, 6)); }
  Stream clicks(Pipeline& p) {
    return p.source("clicks",
                    {field("user_id", TypeId::kInt64), field("page", TypeId::kString), field("ts", TypeId::kTimestamp),
                     field("amount", TypeId::kFloat64)},
                    {{"connector", "file"}, {"path", dir_.file("clicks.jsonl")}, {"format", "json"},
                     {"event_time", "ts"}, {"watermark_delay", "2 seconds"}, {"dlq", dir_.file("dlq.jsonl")}});
  }
  Table out(Pipeline& p) {
    return p.sink("busy", {{"connector", "file"}, {"path", dir_.file("busy.jsonl")}, {"format", "json"}});
  }
  std::string run(const Pipeline& p, int parallelism, size_t batch_size) {
    std::filesystem::remove(dir_.file("busy.jsonl"));
    RunOptions o;
    o.parallelism = parallelism;
    o.batch_size = batch_size;
    auto r = p.run(o);
    EXPECT_TRUE(r.is_ok()) << r.status().message();
    return testing::read_file(dir_.file("busy.jsonl"));
  }
  TempDir dir_;
};

TEST_F(ProcessPipeline, MatchesTheModelAtAnyParallelismAndBatchSize) {
  Pipeline p;
  clicks(p).filter(col("page") != "/health").key_by("user_id").process(std::make_unique<BusyUsers>(10)).to(out(p));
  std::string expected = run(p, 1, 4096);
  ASSERT_FALSE(expected.empty());
  for (int parallelism : {1, 2, 4}) {
    for (size_t batch : {1u, 64u, 4096u}) {
      EXPECT_EQ(run(p, parallelism, batch), expected) << "parallelism " << parallelism << ", batch size " << batch;
    }
  }
}

TEST_F(ProcessPipeline, DeterministicWithSeveralSourceSplitsToo) {
  // Three generator splits interleave in thread-timing order; row watermarks and timers
  // still make the output depend only on the data.
  Pipeline p;
  p.source("gen",
           {field("user_id", TypeId::kInt64), field("page", TypeId::kString), field("ts", TypeId::kTimestamp)},
           {{"connector", "generator"}, {"events", "30000"}, {"splits", "3"}, {"users", "40"},
            {"out_of_order", "0.1"}, {"max_out_of_orderness", "3 seconds"}, {"event_time", "ts"},
            {"watermark_delay", "1 second"}, {"dlq", dir_.file("gen.dlq.jsonl")}})
      .key_by("user_id")
      .process(std::make_unique<BusyUsers>(30))
      .to(out(p));
  std::string expected = run(p, 1, 4096);
  ASSERT_FALSE(expected.empty());
  for (int parallelism : {2, 4}) {
    for (size_t batch : {13u, 4096u}) {
      EXPECT_EQ(run(p, parallelism, batch), expected) << "parallelism " << parallelism << ", batch size " << batch;
    }
  }
}

TEST_F(ProcessPipeline, OutputEqualsAModelOfTheFunction) {
  Pipeline p;
  clicks(p).key_by("user_id").process(std::make_unique<BusyUsers>(10)).to(out(p));
  std::string expected = busy_users_model(testing::read_file(dir_.file("clicks.jsonl")), 2 * kMicrosPerSecond, 10);
  ASSERT_FALSE(expected.empty());
  // The sink orders by (emit time = end of minute, user_id, ...), the model by (minute, user).
  EXPECT_EQ(run(p, 1, 4096), expected);
  EXPECT_EQ(run(p, 4, 7), expected);
}

TEST_F(ProcessPipeline, ProcessOutputFeedsLaterSteps) {
  Pipeline p;
  clicks(p)
      .key_by("user_id")
      .process(std::make_unique<BusyUsers>(10))
      .filter(col("views") > 12)
      .select(col("user_id"), (col("views") * 10).as("score"))
      .to(out(p));
  std::string one = run(p, 1, 4096);
  EXPECT_FALSE(one.empty());
  EXPECT_EQ(run(p, 4, 33), one);
  EXPECT_EQ(one.find("minute_us"), std::string::npos);
}

TEST_F(ProcessPipeline, ExplainShowsAKeyedProcessStage) {
  Pipeline p;
  clicks(p).key_by("user_id").process(std::make_unique<BusyUsers>(10)).to(out(p));
  auto plan = p.explain({4, 0});
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();
  EXPECT_NE(plan.value().find("-> hash exchange to stage 1 on [$0]"), std::string::npos) << plan.value();
  EXPECT_NE(plan.value().find("stage 1 process (parallelism 4)"), std::string::npos) << plan.value();
  EXPECT_NE(plan.value().find("busy_users by [$0] -> (user_id BIGINT, minute_us BIGINT, views BIGINT, __emit_time "
                              "TIMESTAMP) with emit time"),
            std::string::npos)
      << plan.value();
}

TEST_F(ProcessPipeline, KeysMustBeColumns) {
  Pipeline p;
  Stream s = clicks(p).key_by(col("user_id") % 10).process(std::make_unique<BusyUsers>(1));
  EXPECT_NE(s.status().message().find("key (user_id % 10) is not a column"), std::string::npos) << s.status().message();
}

TEST_F(ProcessPipeline, OutputColumnErrorsComeBackFromBuild) {
  Pipeline p;
  Stream s = clicks(p).select("page", "ts").key_by("page").process(std::make_unique<BusyUsers>(1));
  EXPECT_EQ(s.status().message(), "key_by(page).process(busy_users): busy_users needs a user_id column");
}

TEST_F(ProcessPipeline, RuntimeErrorsOfTheFunctionFailTheRun) {
  Pipeline p;
  auto fn = std::make_unique<Scripted>(key_and_value(), [](const RowView&, ProcessContext& ctx) {
    return ctx.emit(1.5, 2);
  });
  clicks(p).key_by("user_id").process(std::move(fn)).to(out(p));
  auto r = p.run({2, 0});
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("emit: column 1 'k' is BIGINT but the value is a floating-point number"),
            std::string::npos)
      << r.status().message();
}

TEST_F(ProcessPipeline, UpdatingInputsAreRefused) {
  Pipeline q;
  Stream c = q.source("c", {field("user_id", TypeId::kInt64), field("ts", TypeId::kTimestamp)},
                      {{"connector", "file"}, {"path", dir_.file("clicks.jsonl")}, {"event_time", "ts"},
                       {"dlq", dir_.file("dlq.jsonl")}});
  c.key_by("user_id").aggregate(count().as("n")).key_by("user_id").process(std::make_unique<BusyUsers>(1)).to(
      q.sink("o", {{"connector", "console"}}));
  auto plan = q.explain();
  ASSERT_FALSE(plan.is_ok());
  EXPECT_EQ(plan.status().message(), "a process function needs an append-only input, not the updates of an aggregate");
}

}  // namespace
}  // namespace sluice::api
