// Reader tasks with many splits: a job whose source has 64 splits runs with 2 reader tasks,
// each reading 32 splits with one watermark per split; the watermark downstream is the
// minimum over all 64 splits (not over tasks, not the newest split's). And a source of typed
// changelog rows (CDC) feeds the chain without a decoder, row kinds kept.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "connectors/retry.h"
#include "connectors/test_util.h"
#include "formats/dead_letter.h"
#include "runtime/job.h"

namespace sluice {
namespace {

constexpr int kSplits = 64;
constexpr int64_t kBaseMs = 1700000000000;

// What the downstream operator saw.
struct Seen {
  std::mutex mu;
  std::vector<Micros> watermarks;
  std::vector<std::string> rows;  // "+I 5" ...
  std::atomic<size_t> num_rows{0};
  Micros last() {
    std::lock_guard<std::mutex> lock(mu);
    return watermarks.empty() ? kMinWatermark : watermarks.back();
  }
};

class RecordingOperator : public Operator {
 public:
  explicit RecordingOperator(Seen* seen) : seen_(seen) {}
  Status process(int, const BatchPtr& batch, Output&) override {
    std::lock_guard<std::mutex> lock(seen_->mu);
    for (size_t r = 0; r < batch->num_rows; ++r) {
      seen_->rows.push_back(std::string(row_kind_short_name(batch->row_kind(r))) + " " +
                            std::to_string(batch->column(0).int_at(r)));
    }
    seen_->num_rows += batch->num_rows;
    return Status::ok();
  }
  Status on_watermark(Micros wm, Output&) override {
    std::lock_guard<std::mutex> lock(seen_->mu);
    seen_->watermarks.push_back(wm);
    return Status::ok();
  }

 private:
  Seen* seen_;
};

class RecordingSpec : public OperatorSpec {
 public:
  explicit RecordingSpec(Seen* seen) : seen_(seen) { id = "record"; }
  std::string kind() const override { return "record"; }
  std::string describe() const override { return "record"; }
  std::unique_ptr<Operator> create() const override { return std::make_unique<RecordingOperator>(seen_); }

 private:
  Seen* seen_;
};

// Split k emits one event at time_ms(k, 0), and once `phase` is 1 a second one at
// time_ms(k, 1); then it has nothing more (kIdle) until the job stops.
struct Script {
  std::atomic<int> phase{0};
  static int64_t time_ms(int split, int step) {
    // Split 17 is the slowest in step 0; in step 1 it jumps ahead and split 40 is slowest.
    if (step == 0) return kBaseMs + (split == 17 ? 1000 : 5000 + split);
    return kBaseMs + (split == 40 ? 6000 : 9000 + split);
  }
};

class ScriptedReader : public SourceReader {
 public:
  ScriptedReader(Script* script, int split) : script_(script), split_(split) {}
  Status open() override { return Status::ok(); }
  Result<PollStatus> poll(RawRecords& out, size_t) override {
    if (next_ <= script_->phase.load() && next_ < 2) {
      out.append_record(fmt::format("{{\"ts\": {}}}", Script::time_ms(split_, next_)), next_, -1);
      ++next_;
      return PollStatus::kData;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    return PollStatus::kIdle;
  }
  int64_t position() const override { return next_; }

 private:
  Script* script_;
  int split_;
  int next_ = 0;
};

class ScriptedFactory : public SourceFactory {
 public:
  explicit ScriptedFactory(Script* script) : script_(script) {
    format_.format = "json";
    format_.timestamp_unit = "ms";
  }
  int num_splits() const override { return kSplits; }
  Result<std::unique_ptr<SourceReader>> create_reader(int split) override {
    return std::unique_ptr<SourceReader>(std::make_unique<ScriptedReader>(script_, split));
  }
  const FormatOptions& format() const override { return format_; }
  bool bounded() const override { return false; }
  std::string describe() const override { return "scripted"; }

 private:
  Script* script_;
  FormatOptions format_;
};

JobSpec two_stage_job(std::shared_ptr<SourceFactory> factory, SchemaPtr schema, int event_time_column, int readers,
                      Seen* seen, const std::string& dlq_path) {
  auto src = std::make_shared<SourceStageSpec>();
  src->table = "t";
  src->factory = std::move(factory);
  src->schema = schema;
  src->event_time.column = event_time_column;
  src->event_time.watermark_delay = 100 * kMicrosPerMilli;
  src->dlq = std::shared_ptr<DeadLetterQueue>(make_file_dead_letter_queue(dlq_path, SideOutputKind::kDeadLetters).value());
  JobSpec job;
  job.name = "splits";
  StageSpec source;
  source.name = "source:t";
  source.parallelism = readers;
  source.source = src;
  source.downstream = 1;
  source.edge = EdgeKind::kGather;
  StageSpec sink;
  sink.name = "record";
  sink.chain.push_back(std::make_shared<RecordingSpec>(seen));
  job.stages.push_back(std::move(source));
  job.stages.push_back(std::move(sink));
  return job;
}

// Waits (5 s at most) until `done` holds.
template <typename F>
bool eventually(F done) {
  for (int i = 0; i < 500 && !done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return done();
}

TEST(SourceSplitsTest, SixtyFourSplitsOnTwoReaderTasksHoldTheWatermarkAtTheSlowestSplit) {
  testing::TempDir dir;
  Script script;
  Seen seen;
  auto schema = make_schema({{"ts", TypeId::kTimestamp}});
  Job job(two_stage_job(std::make_shared<ScriptedFactory>(&script), schema, 0, 2, &seen, dir.file("dlq.jsonl")));
  Status result = Status::ok();
  std::thread runner([&] { result = job.run(); });
  struct Joiner {
    Job& job;
    std::thread& t;
    ~Joiner() {
      job.request_stop();
      if (t.joinable()) t.join();
    }
  } joiner{job, runner};
  const Micros delay = 100 * kMicrosPerMilli;
  const Micros first_min = Script::time_ms(17, 0) * kMicrosPerMilli - delay;
  ASSERT_TRUE(eventually([&] { return seen.num_rows.load() == kSplits && seen.last() == first_min; }))
      << "rows " << seen.num_rows.load() << ", watermark " << seen.last() << ", want " << first_min;
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(seen.last(), first_min) << "the watermark passed the slowest split";
  // Split 17 moves ahead; split 40 is the slowest now.
  script.phase = 1;
  const Micros second_min = Script::time_ms(40, 1) * kMicrosPerMilli - delay;
  ASSERT_TRUE(eventually([&] { return seen.num_rows.load() == 2 * kSplits && seen.last() == second_min; }))
      << "rows " << seen.num_rows.load() << ", watermark " << seen.last() << ", want " << second_min;
  job.request_stop();
  runner.join();
  EXPECT_TRUE(result.is_ok() || result.code() == StatusCode::kCancelled) << result.to_string();
  std::lock_guard<std::mutex> lock(seen.mu);
  for (size_t i = 0; i < seen.watermarks.size(); ++i) {
    EXPECT_LE(seen.watermarks[i], second_min);
    if (i > 0) {
      EXPECT_GT(seen.watermarks[i], seen.watermarks[i - 1]) << "watermarks only move forward";
    }
  }
  // Two reader tasks, not 64: each counts its own records.
  auto counters = job.source_metrics();
  ASSERT_EQ(counters.size(), 2u);
  EXPECT_EQ(counters[0]->records->value() + counters[1]->records->value(), 2u * kSplits);
  EXPECT_EQ(counters[0]->records->value(), static_cast<uint64_t>(kSplits));  // 32 splits x 2 events
}

// A CDC-style source: typed rows with changelog kinds, no bytes, no decoder.
class ChangelogReader : public SourceReader {
 public:
  Status open() override { return Status::ok(); }
  Result<PollStatus> poll(RawRecords&, size_t) override { return internal_error("bytes asked of a row source"); }
  Result<PollStatus> poll_rows(RecordBatch& out, size_t) override {
    if (done_) return PollStatus::kEnd;
    done_ = true;
    const RowKind kinds[] = {RowKind::kInsert, RowKind::kUpdateBefore, RowKind::kUpdateAfter, RowKind::kDelete};
    for (int i = 0; i < 4; ++i) {
      out.mutable_column(0).append_int(i + 1);
      out.row_kinds.push_back(kinds[i]);
    }
    out.sync_num_rows();
    return PollStatus::kData;
  }
  int64_t position() const override { return done_ ? 4 : 0; }

 private:
  bool done_ = false;
};

class ChangelogFactory : public SourceFactory {
 public:
  Result<std::unique_ptr<SourceReader>> create_reader(int) override {
    return std::unique_ptr<SourceReader>(std::make_unique<ChangelogReader>());
  }
  bool produces_rows() const override { return true; }
  const FormatOptions& format() const override { return format_; }
  bool bounded() const override { return true; }
  std::string describe() const override { return "changelog"; }

 private:
  FormatOptions format_;
};

TEST(SourceSplitsTest, ASourceOfTypedChangelogRowsNeedsNoDecoderAndKeepsRowKinds) {
  testing::TempDir dir;
  Seen seen;
  auto schema = make_schema({{"id", TypeId::kInt64}});
  Job job(two_stage_job(std::make_shared<ChangelogFactory>(), schema, -1, 1, &seen, dir.file("dlq.jsonl")));
  Status s = job.run();
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  EXPECT_EQ(seen.rows, (std::vector<std::string>{"+I 1", "-U 2", "+U 3", "-D 4"}));
}

// A reader is told when a checkpoint covering what it read is durable (NATS acks, Kafka
// offset commits), the final checkpoint of a bounded run included.
std::atomic<uint64_t> g_completed{0};
std::atomic<int> g_attached_readers{0};

class AckingReader : public SourceReader {
 public:
  void attach(const SourceContext& context) override {
    if (context.table == "t" && context.readers == 1) ++g_attached_readers;
    // The job's services: its metrics registry (labelled with the job), clock and retries.
    if (context.metrics && context.clock && context.retry && !context.job.empty()) {
      polls_ = &context.metrics->counter("test_reader_polls_total", "polls of the test reader", {"job", "source"})
                    .series({context.job, context.table});
      clock_ = context.clock;
      retry_ = context.retry;
    }
  }
  Status open() override {
    if (!polls_) return internal_error("no metrics, clock or retry policy in the source context");
    // A connection that fails once and then works, through the job's retry policy.
    int attempts = 0;
    return retry(*retry_, "connect", [&] {
      return ++attempts == 1 ? Status(StatusCode::kUnavailable, "not yet") : Status::ok();
    });
  }
  Result<PollStatus> poll(RawRecords& out, size_t) override {
    polls_->increment();
    if (clock_->unix_micros() <= 0) return internal_error("the job's clock gave no time");
    if (next_ == 3) return PollStatus::kEnd;
    out.append_record("{\"ts\": 1}", next_++, -1);
    return PollStatus::kData;
  }
  int64_t position() const override { return next_; }
  Status seek(const SourcePosition& pos) override {
    next_ = pos.offset;
    return Status::ok();
  }
  Status on_checkpoint_complete(uint64_t id) override {
    g_completed = id;
    return Status::ok();
  }

 private:
  int64_t next_ = 0;
  Counter* polls_ = nullptr;
  const Clock* clock_ = nullptr;
  const RetryPolicy* retry_ = nullptr;
};

class AckingFactory : public ChangelogFactory {
 public:
  AckingFactory() { format_.format = "json"; }
  Result<std::unique_ptr<SourceReader>> create_reader(int) override {
    return std::unique_ptr<SourceReader>(std::make_unique<AckingReader>());
  }
  bool produces_rows() const override { return false; }
  const FormatOptions& format() const override { return format_; }

 private:
  FormatOptions format_;
};

TEST(SourceSplitsTest, ReadersHearOfCompletedCheckpointsIncludingTheFinalOne) {
  testing::TempDir dir;
  Seen seen;
  auto schema = make_schema({{"ts", TypeId::kInt64}});
  JobSpec spec = two_stage_job(std::make_shared<AckingFactory>(), schema, -1, 1, &seen, dir.file("dlq.jsonl"));
  spec.options.checkpoint.dir = dir.file("ck");
  auto registry = std::make_shared<MetricsRegistry>();
  spec.options.metrics = registry;
  spec.options.metrics_job = "acks";
  spec.options.source_retry.initial_backoff_us = 1000;
  Job job(std::move(spec));
  Status s = job.run();
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  EXPECT_EQ(seen.num_rows.load(), 3u);
  EXPECT_EQ(g_attached_readers.load(), 1) << "the reader got its context before open()";
  bool found = false;
  for (const FamilySnapshot& family : registry->collect()) {
    if (family.name != "test_reader_polls_total") continue;
    const SeriesSnapshot* series = family.find({"acks", "t"});
    ASSERT_NE(series, nullptr);
    EXPECT_GE(series->raw_value, 4) << "three records and the end, counted in the job's registry";
    found = true;
  }
  EXPECT_TRUE(found) << "the reader registered its counter in the job's registry";
  ASSERT_NE(job.checkpoint_metrics(), nullptr);
  EXPECT_GE(g_completed.load(), 1u);
  EXPECT_EQ(static_cast<int64_t>(g_completed.load()), job.checkpoint_metrics()->last_id->value())
      << "the final checkpoint was acknowledged";
}

}  // namespace
}  // namespace sluice
