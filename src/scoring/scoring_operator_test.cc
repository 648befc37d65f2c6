// The scoring operator against a real model server on loopback: results match rows, ordered
// output keeps input order, unordered output is the same multiset and never crosses a
// watermark, fallbacks for failed calls, a slow call does not hold the data path below the
// in-flight limit, and a checkpoint with calls in flight restores to the same output.
#include "scoring/scoring_operator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "scoring/testing/model_server.h"

namespace sluice {
namespace {

using testing_scoring::ModelServer;

SchemaPtr input_schema() {
  return make_schema({{"id", TypeId::kInt64, true}, {"amount", TypeId::kFloat64, true}});
}

BatchPtr rows(int64_t first, int64_t count, bool null_amounts = false) {
  auto b = make_batch(input_schema());
  for (int64_t i = first; i < first + count; ++i) {
    b->columns[0].append_int(i);
    if (null_amounts) {
      b->columns[1].append_null();
    } else {
      b->columns[1].append_double(static_cast<double>(i * 10));
    }
  }
  b->sync_num_rows();
  return b;
}

// The result the model gives row `id` (testing/model_server.h).
std::string expected_result(int64_t id) {
  nlohmann::json in = {{"id", id}, {"amount", static_cast<double>(id * 10)}};
  return ModelServer::score_one(in, "v1").dump();
}

class Collect : public Output {
 public:
  Status emit(BatchPtr batch) override {
    for (size_t r = 0; r < batch->num_rows; ++r) {
      ids.push_back(batch->column(0).int_at(r));
      results.push_back(batch->column(2).is_null(r) ? "NULL" : std::string(batch->column(2).string_at(r)));
      events.push_back("row " + std::to_string(ids.back()));
    }
    return Status::ok();
  }
  Status emit_watermark(Micros wm) override {
    events.push_back("watermark " + std::to_string(wm));
    return Status::ok();
  }
  std::vector<int64_t> ids;
  std::vector<std::string> results;
  std::vector<std::string> events;
};

struct Instance {
  std::shared_ptr<ScoringOperatorSpec> spec;
  std::unique_ptr<Operator> op;
  OperatorMetrics metrics;
  MetricsRegistry registry;
  Collect out;

  explicit Instance(ScoringOptions o, ExprPtr body = nullptr) {
    spec = std::make_shared<ScoringOperatorSpec>(std::move(o), std::move(body), 0, input_schema(),
                                                 scoring_output_schema(*input_schema()));
    spec->id = "score-test";
    op = spec->create();
    OperatorContext ctx;
    ctx.metrics = &metrics;
    ctx.registry = &registry;
    ctx.metrics_job = "job";
    Status s = op->open(ctx);
    EXPECT_TRUE(s.is_ok()) << s.message();
  }
  // Polls until nothing is in flight (real time bound).
  void drain() {
    for (int i = 0; i < 1000 && op->has_async_work(); ++i) {
      ASSERT_TRUE(op->poll_async(out).is_ok());
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  int64_t counter(const std::string& name) {
    for (const auto& f : registry.collect()) {
      if (f.name == name && !f.series.empty()) return f.series[0].raw_value;
    }
    return -1;
  }
};

ScoringOptions options(const ModelServer& server) {
  ScoringOptions o;
  o.client.url = server.url();
  o.client.timeout_us = 2 * kMicrosPerSecond;
  o.client.retry.max_attempts = 1;
  o.fallback = R"({"score":0,"model_version":"fallback"})";
  return o;
}

TEST(ScoringOperatorTest, EachRowGetsItsOwnResultInInputOrder) {
  ModelServer server;
  ASSERT_GT(server.start(), 0);
  server.slow_id_mod = 7;  // some calls answer later than those after them
  server.slow_ms = 30;
  ScoringOptions o = options(server);
  o.max_in_flight = 16;
  Instance in(o);
  for (int b = 0; b < 5; ++b) ASSERT_TRUE(in.op->process(0, rows(b * 20, 20), in.out).is_ok());
  ASSERT_TRUE(in.op->finish(in.out).is_ok());
  ASSERT_EQ(in.out.ids.size(), 100u);
  for (int64_t i = 0; i < 100; ++i) {
    EXPECT_EQ(in.out.ids[static_cast<size_t>(i)], i);
    EXPECT_EQ(in.out.results[static_cast<size_t>(i)], expected_result(i));
  }
  EXPECT_LE(server.max_in_flight.load(), 16);
  EXPECT_EQ(in.counter("sluice_scoring_calls_total"), 100);
}

TEST(ScoringOperatorTest, MicroBatchesGiveTheSameResultsWithFewerCalls) {
  ModelServer server;
  ASSERT_GT(server.start(), 0);
  ScoringOptions o = options(server);
  o.batch_rows = 8;
  Instance in(o);
  ASSERT_TRUE(in.op->process(0, rows(0, 50), in.out).is_ok());
  ASSERT_TRUE(in.op->finish(in.out).is_ok());
  ASSERT_EQ(in.out.ids.size(), 50u);
  for (int64_t i = 0; i < 50; ++i) EXPECT_EQ(in.out.results[static_cast<size_t>(i)], expected_result(i));
  EXPECT_EQ(server.requests.load(), 7);  // ceil(50 / 8)
}

TEST(ScoringOperatorTest, UnorderedGivesTheSameMultisetAndHoldsWatermarksBehindEarlierRows) {
  ModelServer server;
  ASSERT_GT(server.start(), 0);
  server.slow_id_mod = 5;
  server.slow_ms = 40;
  ScoringOptions o = options(server);
  o.ordered = false;
  Instance in(o);
  ASSERT_TRUE(in.op->process(0, rows(0, 10), in.out).is_ok());
  ASSERT_TRUE(in.op->on_watermark(1000, in.out).is_ok());
  ASSERT_TRUE(in.op->process(0, rows(10, 10), in.out).is_ok());
  ASSERT_TRUE(in.op->finish(in.out).is_ok());
  std::vector<int64_t> ids = in.out.ids;
  std::sort(ids.begin(), ids.end());
  ASSERT_EQ(ids.size(), 20u);
  for (int64_t i = 0; i < 20; ++i) EXPECT_EQ(ids[static_cast<size_t>(i)], i);
  for (size_t i = 0; i < in.out.ids.size(); ++i) {
    EXPECT_EQ(in.out.results[i], expected_result(in.out.ids[i]));
  }
  // The watermark comes after every row before it and before every row after it.
  auto wm = std::find(in.out.events.begin(), in.out.events.end(), "watermark 1000");
  ASSERT_NE(wm, in.out.events.end());
  EXPECT_EQ(wm - in.out.events.begin(), 10);
  // Unordered: the slow rows (0, 5) did not hold the fast ones back.
  EXPECT_NE(in.out.ids[0], 0);
}

TEST(ScoringOperatorTest, OrderedWatermarksFollowTheRowsBeforeThem) {
  ModelServer server;
  ASSERT_GT(server.start(), 0);
  Instance in(options(server));
  ASSERT_TRUE(in.op->on_watermark(5, in.out).is_ok());  // nothing in flight: at once
  ASSERT_EQ(in.out.events.size(), 1u);
  ASSERT_TRUE(in.op->process(0, rows(0, 3), in.out).is_ok());
  ASSERT_TRUE(in.op->on_watermark(10, in.out).is_ok());
  ASSERT_TRUE(in.op->finish(in.out).is_ok());
  EXPECT_EQ(in.out.events,
            (std::vector<std::string>{"watermark 5", "row 0", "row 1", "row 2", "watermark 10"}));
}

TEST(ScoringOperatorTest, FailedCallsGiveTheFallbackAndNullBodiesGiveNull) {
  ModelServer server;
  ASSERT_GT(server.start(), 0);
  server.fail_status = 500;
  ScoringOptions o = options(server);
  o.client.breaker.failure_threshold = 1000;
  Instance in(o);
  ASSERT_TRUE(in.op->process(0, rows(0, 3), in.out).is_ok());
  ASSERT_TRUE(in.op->finish(in.out).is_ok());
  ASSERT_EQ(in.out.results.size(), 3u);
  for (const auto& r : in.out.results) EXPECT_EQ(r, *o.fallback);
  EXPECT_EQ(in.counter("sluice_scoring_fallbacks_total"), 3);
  EXPECT_EQ(in.counter("sluice_scoring_failures_total"), 3);
}

TEST(ScoringOperatorTest, ANullBodyIsNotSentAndGivesNull) {
  ModelServer server;
  ASSERT_GT(server.start(), 0);
  // The body is the amount as JSON text (a number); NULL amounts give a NULL body.
  auto body = make_cast(make_column_ref(1, TypeId::kFloat64, "amount"), TypeId::kString);
  ASSERT_TRUE(body.is_ok());
  Instance in(options(server), body.value());
  auto b = make_batch(input_schema());
  b->columns[0].append_int(1);
  b->columns[1].append_null();
  b->columns[0].append_int(2);
  b->columns[1].append_double(4000);
  b->sync_num_rows();
  ASSERT_TRUE(in.op->process(0, b, in.out).is_ok());
  ASSERT_TRUE(in.op->finish(in.out).is_ok());
  EXPECT_EQ(in.out.results, (std::vector<std::string>{"NULL", R"({"model_version":"v1","score":0.0})"}));
  EXPECT_EQ(server.requests.load(), 1);
}

TEST(ScoringOperatorTest, ASlowCallDoesNotBlockTheDataPathBelowTheLimit) {
  ModelServer server;
  ASSERT_GT(server.start(), 0);
  server.slow_id_mod = 1000;  // only row 0 is slow
  server.slow_ms = 1500;
  ScoringOptions o = options(server);
  o.max_in_flight = 8;
  o.ordered = false;
  Instance in(o);
  const auto start = std::chrono::steady_clock::now();
  // 1 slow + 6 fast rows: below the limit, process() returns at once.
  ASSERT_TRUE(in.op->process(0, rows(0, 7), in.out).is_ok());
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(took).count(), 500);
  // The fast rows come out while the slow one is still in flight.
  for (int i = 0; i < 500 && in.out.ids.size() < 6; ++i) {
    ASSERT_TRUE(in.op->poll_async(in.out).is_ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(in.out.ids.size(), 6u);
  EXPECT_TRUE(in.op->has_async_work());
  ASSERT_TRUE(in.op->finish(in.out).is_ok());
  EXPECT_EQ(in.out.ids.size(), 7u);
}

TEST(ScoringOperatorTest, AtTheLimitProcessWaitsForACallToComplete) {
  ModelServer server;
  ASSERT_GT(server.start(), 0);
  server.delay_ms = 100;
  ScoringOptions o = options(server);
  o.max_in_flight = 2;
  Instance in(o);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(in.op->process(0, rows(0, 4), in.out).is_ok());  // 4 calls, 2 at a time
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  EXPECT_GE(took.count(), 90);
  EXPECT_LE(server.max_in_flight.load(), 2);
  ASSERT_TRUE(in.op->finish(in.out).is_ok());
  EXPECT_EQ(in.out.ids.size(), 4u);
}

// Captures instance state like a checkpoint and hands it back on restore.
class BlobWriter : public StateWriter {
 public:
  bool incremental() const override { return false; }
  void put(int, std::string_view, std::string_view) override {}
  void remove(int, std::string_view) override {}
  void put_instance_state(std::string_view v) override { blob = std::string(v); }
  std::string blob;
};
class BlobRestore : public StateRestore {
 public:
  BlobRestore(std::vector<std::string> blobs, int old_parallelism) : blobs_(std::move(blobs)), old_(old_parallelism) {}
  Status scan(int, int, const std::function<Status(int, std::string_view, std::string_view)>&) override {
    return Status::ok();
  }
  const std::vector<std::string>& instance_states() const override { return blobs_; }
  int old_parallelism() const override { return old_; }

 private:
  std::vector<std::string> blobs_;
  int old_;
};

TEST(ScoringOperatorTest, ACheckpointWithCallsInFlightRestoresToTheUninterruptedOutput) {
  ModelServer server;
  ASSERT_GT(server.start(), 0);
  server.slow_id_mod = 3;
  server.slow_ms = 200;
  ScoringOptions o = options(server);
  o.max_in_flight = 64;
  // Uninterrupted.
  Instance whole(o);
  ASSERT_TRUE(whole.op->process(0, rows(0, 12), whole.out).is_ok());
  ASSERT_TRUE(whole.op->on_watermark(50, whole.out).is_ok());
  ASSERT_TRUE(whole.op->process(0, rows(12, 12), whole.out).is_ok());
  ASSERT_TRUE(whole.op->finish(whole.out).is_ok());

  // Interrupted: a checkpoint while row 0 (slow) holds everything back, then a crash.
  Instance first(o);
  ASSERT_TRUE(first.op->process(0, rows(0, 12), first.out).is_ok());
  ASSERT_TRUE(first.op->on_watermark(50, first.out).is_ok());
  ASSERT_TRUE(first.op->poll_async(first.out).is_ok());
  BlobWriter w;
  ASSERT_TRUE(first.op->snapshot(1, w).is_ok());
  const std::vector<std::string> before_barrier = first.out.events;  // what went out before the barrier
  first.op.reset();  // the crash: calls in flight are lost

  Instance second(o);
  BlobRestore restore({w.blob}, 1);
  ASSERT_TRUE(second.op->restore(1, &restore).is_ok());
  ASSERT_TRUE(second.op->process(0, rows(12, 12), second.out).is_ok());
  ASSERT_TRUE(second.op->finish(second.out).is_ok());

  std::vector<std::string> combined = before_barrier;
  combined.insert(combined.end(), second.out.events.begin(), second.out.events.end());
  EXPECT_EQ(combined, whole.out.events);
  std::vector<std::string> results = first.out.results;
  results.insert(results.end(), second.out.results.begin(), second.out.results.end());
  EXPECT_EQ(results, whole.out.results);
}

TEST(ScoringOperatorTest, RefusesBadOptions) {
  ScoringOptions o;
  o.client.url = "http://127.0.0.1:1/score";
  o.max_in_flight = 0;
  auto spec =
      std::make_shared<ScoringOperatorSpec>(o, nullptr, 0, input_schema(), scoring_output_schema(*input_schema()));
  auto op = spec->create();
  OperatorContext ctx;
  OperatorMetrics m;
  ctx.metrics = &m;
  EXPECT_FALSE(op->open(ctx).is_ok());
}

}  // namespace
}  // namespace sluice
