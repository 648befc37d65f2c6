// The sink operator flushes a non-transactional writer at most every flush_interval of the
// injected clock: with a ManualClock the test decides when the interval has passed.
#include <gtest/gtest.h>

#include <memory>

#include "common/clock.h"
#include "operators/sink_operator.h"

namespace sluice {
namespace {

struct Calls {
  int writes = 0;
  int flushes = 0;
};

class RecordingWriter : public SinkWriter {
 public:
  explicit RecordingWriter(std::shared_ptr<Calls> calls) : calls_(std::move(calls)) {}
  Status open() override { return Status::ok(); }
  Status write(const RecordBatch&) override {
    ++calls_->writes;
    return Status::ok();
  }
  Status flush() override {
    ++calls_->flushes;
    return Status::ok();
  }
  Status close() override { return Status::ok(); }

 private:
  std::shared_ptr<Calls> calls_;
};

class RecordingFactory : public SinkFactory {
 public:
  explicit RecordingFactory(std::shared_ptr<Calls> calls) : calls_(std::move(calls)) {}
  SinkCapabilities capabilities() const override { return {}; }
  Result<std::unique_ptr<SinkWriter>> create_writer() override {
    return std::unique_ptr<SinkWriter>(std::make_unique<RecordingWriter>(calls_));
  }
  std::string describe() const override { return "recording"; }

 private:
  std::shared_ptr<Calls> calls_;
};

class Discard : public Output {
 public:
  Status emit(BatchPtr) override { return Status::ok(); }
  Status emit_watermark(Micros) override { return Status::ok(); }
};

BatchPtr one_row(const SchemaPtr& schema, int64_t v) {
  auto b = make_batch(schema);
  b->mutable_column(0).append_int(v);
  b->sync_num_rows();
  return b;
}

TEST(SinkFlushClockTest, FlushIntervalFollowsTheInjectedClock) {
  auto calls = std::make_shared<Calls>();
  SchemaPtr schema = make_schema({{"v", TypeId::kInt64}});
  SinkOperatorSpec spec("out", std::make_shared<RecordingFactory>(calls), schema, /*order_column=*/-1,
                        /*checkpointing=*/false, /*flush_interval=*/kMicrosPerSecond);
  auto op = spec.create();
  ManualClock clock;
  OperatorMetrics metrics;
  OperatorContext ctx;
  ctx.metrics = &metrics;
  ctx.clock = &clock;
  ASSERT_TRUE(op->open(ctx).is_ok());
  Discard out;

  ASSERT_TRUE(op->process(0, one_row(schema, 1), out).is_ok());
  ASSERT_TRUE(op->on_idle_tick(out).is_ok());
  EXPECT_EQ(calls->flushes, 0) << "no clock time has passed";
  clock.advance(999 * kMicrosPerMilli);
  ASSERT_TRUE(op->on_idle_tick(out).is_ok());
  EXPECT_EQ(calls->flushes, 0);
  clock.advance(kMicrosPerMilli);
  ASSERT_TRUE(op->on_idle_tick(out).is_ok());
  EXPECT_EQ(calls->flushes, 1) << "the interval has passed";
  clock.advance(kMicrosPerSecond);
  ASSERT_TRUE(op->on_idle_tick(out).is_ok());
  EXPECT_EQ(calls->flushes, 1) << "nothing written since the last flush";

  // A watermark flushes too, once the interval since the last flush (at 1 s) has passed.
  ASSERT_TRUE(op->process(0, one_row(schema, 2), out).is_ok());
  ASSERT_TRUE(op->on_watermark(50, out).is_ok());
  EXPECT_EQ(calls->flushes, 2) << "2 s since the last flush";
  ASSERT_TRUE(op->process(0, one_row(schema, 3), out).is_ok());
  ASSERT_TRUE(op->on_watermark(100, out).is_ok());
  EXPECT_EQ(calls->flushes, 2) << "no clock time since the last flush";
  clock.advance(kMicrosPerSecond);
  ASSERT_TRUE(op->on_watermark(200, out).is_ok());
  EXPECT_EQ(calls->flushes, 3);

  EXPECT_EQ(calls->writes, 3);
  EXPECT_EQ(metrics.records_out->value(), 3u) << "a sink counts the rows it wrote";
  ASSERT_TRUE(op->close().is_ok());
}

}  // namespace
}  // namespace sluice
