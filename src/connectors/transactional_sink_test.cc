// Specification of the transactional base's own behaviour that the real sinks cannot show on
// demand (the conformance suite covers the rest against them): commits retried on transient
// failures through the shared retry policy, failed commits kept for later, and the committer
// key carried by the checkpoint state. The target here is an in-memory system whose commits
// fail when a test says so; time is a manual clock.
#include "connectors/transactional_sink.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "connectors/test_util.h"

namespace sluice {
namespace {

SchemaPtr schema() { return make_schema({{"v", TypeId::kString}}); }

RecordBatch batch(std::initializer_list<const char*> values) {
  RecordBatch b(schema());
  for (const char* v : values) b.mutable_column(0).append_string(v);
  b.sync_num_rows();
  return b;
}

// The outside system: survives the writers (a crash destroys only the writer).
struct MemorySystem {
  std::vector<std::string> visible;
  std::map<std::string, uint64_t> committed;  // commit records by "job/sink"
  int transient_failures = 0;                 // the next commits that fail with kUnavailable
  int permanent_failures = 0;                 // ... with kIoError
  int commit_calls = 0;
  uint64_t last_skip_through = 0;
};

std::string record_key(const CommitKey& k) { return k.job_id + "/" + k.sink_id; }

class MemoryTarget : public TransactionTarget {
 public:
  explicit MemoryTarget(MemorySystem* system) : system_(system), open_(schema()) {}

  std::string describe() const override { return "memory"; }
  Status open() override { return Status::ok(); }
  Status write(const RecordBatch& b) override { return append_buffered_rows(open_, b, "memory"); }
  Status flush() override { return Status::ok(); }
  Status close() override { return Status::ok(); }
  Status begin_transactions(const CommitKey& key) override {
    key_ = key;
    return Status::ok();
  }
  Result<std::unique_ptr<PreparedTransaction>> prepare(uint64_t) override {
    if (open_.num_rows == 0) return std::unique_ptr<PreparedTransaction>();
    auto t = std::make_unique<BufferedRowsTransaction>(std::move(open_));
    open_ = RecordBatch(schema());
    return std::unique_ptr<PreparedTransaction>(std::move(t));
  }
  Result<std::unique_ptr<PreparedTransaction>> decode_transaction(uint64_t, ByteReader& r) override {
    return BufferedRowsTransaction::decode(r, schema(), "memory");
  }
  Status commit(const PreparedTransactions& transactions, uint64_t id, uint64_t skip_through) override {
    ++system_->commit_calls;
    system_->last_skip_through = skip_through;
    if (system_->transient_failures > 0) {
      --system_->transient_failures;
      return unavailable("memory: locked");
    }
    if (system_->permanent_failures > 0) {
      --system_->permanent_failures;
      return io_error("memory: disk full");
    }
    uint64_t& recorded = system_->committed[record_key(key_)];
    if (id <= recorded) return Status::ok();
    for (const auto& [txn, t] : transactions) {
      if (txn <= recorded || txn <= skip_through) continue;
      const RecordBatch& rows = static_cast<const BufferedRowsTransaction&>(*t).rows();
      for (size_t r = 0; r < rows.num_rows; ++r) system_->visible.emplace_back(rows.column(0).string_at(r));
    }
    recorded = id;
    return Status::ok();
  }
  Result<uint64_t> committed_id(const SinkIdentity&) override { return system_->committed[record_key(key_)]; }
  Result<uint64_t> foreign_committed_id(const CommitKey& other) override {
    return system_->committed[record_key(other)];
  }
  Status roll_back(uint64_t) override { return Status::ok(); }
  bool replay_is_idempotent() const override { return false; }
  Status start_fresh(const SinkIdentity&) override { return Status::ok(); }
  Status abort_uncovered(uint64_t) override {
    open_ = RecordBatch(schema());
    return Status::ok();
  }

 private:
  MemorySystem* system_;
  RecordBatch open_;
  CommitKey key_;
};

using ManualClock = testing::ManualRetryClock;

RetryPolicy three_attempts() {
  RetryPolicy p;
  p.max_attempts = 3;
  p.initial_backoff_us = 1000;
  p.max_backoff_us = 10'000;
  p.jitter = 0;
  return p;
}

SinkIdentity job(const char* id) { return SinkIdentity{id, "out.sink/0"}; }

class TransactionalSinkTest : public ::testing::Test {
 protected:
  std::unique_ptr<TransactionalSinkWriter> writer() {
    auto w = std::make_unique<TransactionalSinkWriter>(std::make_unique<MemoryTarget>(&system_), "table out",
                                                       three_attempts(), clock_);
    EXPECT_TRUE(w->open().is_ok());
    return w;
  }
  std::unique_ptr<TransactionalSinkWriter> recovered(const SinkIdentity& identity, uint64_t id,
                                                     const std::string& state) {
    auto w = writer();
    Status s = w->recover(identity, id, state);
    EXPECT_TRUE(s.is_ok()) << s.message();
    return w;
  }
  static std::string pre_commit(SinkWriter& w, uint64_t id) {
    auto s = w.pre_commit(id);
    EXPECT_TRUE(s.is_ok()) << s.status().message();
    return s.is_ok() ? s.value() : std::string();
  }

  MemorySystem system_;
  ManualClock clock_;
};

TEST_F(TransactionalSinkTest, ATransientCommitFailureIsRetriedWithBackoff) {
  auto w = recovered(job("A"), 0, "");
  ASSERT_TRUE(w->write(batch({"a", "b"})).is_ok());
  pre_commit(*w, 1);
  system_.transient_failures = 2;
  Status s = w->commit(1);
  ASSERT_TRUE(s.is_ok()) << s.message();
  EXPECT_EQ(system_.commit_calls, 3);
  EXPECT_EQ(clock_.sleeps, (std::vector<Micros>{1000, 2000}));
  EXPECT_EQ(system_.visible, (std::vector<std::string>{"a", "b"}));
}

TEST_F(TransactionalSinkTest, ACommitThatKeepsFailingStaysPendingAndIsCommittedLater) {
  auto w = recovered(job("A"), 0, "");
  ASSERT_TRUE(w->write(batch({"a"})).is_ok());
  pre_commit(*w, 1);
  system_.transient_failures = 3;  // every attempt of the policy
  Status s = w->commit(1);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("gave up after 3 attempts"), std::string::npos) << s.message();
  EXPECT_TRUE(system_.visible.empty());
  // The committer still holds transaction 1: the next checkpoint's commit applies both,
  // without the writer producing the rows again.
  ASSERT_TRUE(w->write(batch({"b"})).is_ok());
  pre_commit(*w, 2);
  ASSERT_TRUE(w->commit(2).is_ok());
  EXPECT_EQ(system_.visible, (std::vector<std::string>{"a", "b"}));
}

TEST_F(TransactionalSinkTest, AFailedCommitIsInTheNextCheckpointsStateForTheRecovery) {
  std::string state2;
  {
    auto w = recovered(job("A"), 0, "");
    ASSERT_TRUE(w->write(batch({"a"})).is_ok());
    pre_commit(*w, 1);
    system_.transient_failures = 3;
    EXPECT_FALSE(w->commit(1).is_ok());
    state2 = pre_commit(*w, 2);  // no new rows, but transaction 1 is still pending
  }  // the job fails
  auto w = recovered(job("A"), 2, state2);
  EXPECT_EQ(system_.visible, (std::vector<std::string>{"a"}));
}

TEST_F(TransactionalSinkTest, ThePermanentFailureOfACommitIsNotRetried) {
  auto w = recovered(job("A"), 0, "");
  ASSERT_TRUE(w->write(batch({"a"})).is_ok());
  pre_commit(*w, 1);
  system_.permanent_failures = 1;
  EXPECT_EQ(w->commit(1).code(), StatusCode::kIoError);
  EXPECT_EQ(system_.commit_calls, 1);
  EXPECT_TRUE(clock_.sleeps.empty());
}

TEST_F(TransactionalSinkTest, TheRecoveryCommitIsRetriedToo) {
  std::string state1;
  {
    auto w = recovered(job("A"), 0, "");
    ASSERT_TRUE(w->write(batch({"a"})).is_ok());
    state1 = pre_commit(*w, 1);
  }
  system_.transient_failures = 1;
  auto w = recovered(job("A"), 1, state1);
  EXPECT_EQ(system_.visible, (std::vector<std::string>{"a"}));
  EXPECT_EQ(clock_.sleeps.size(), 1u);
}

TEST_F(TransactionalSinkTest, TheStateNamesItsCommitterAndAnotherJobSkipsWhatThatOneCommitted) {
  std::string state2;
  {
    auto w = recovered(job("A"), 0, "");
    ASSERT_TRUE(w->write(batch({"a"})).is_ok());
    pre_commit(*w, 1);
    ASSERT_TRUE(w->commit(1).is_ok());
    ASSERT_TRUE(w->write(batch({"b"})).is_ok());
    pre_commit(*w, 2);  // a savepoint whose commit job A made ...
    ASSERT_TRUE(w->write(batch({"c"})).is_ok());
    state2 = pre_commit(*w, 3);  // ... and one it did not
    ASSERT_TRUE(w->commit(2).is_ok());
  }
  // Job B starts from job A's checkpoint 3: A recorded 2, so only transaction 3 is applied.
  auto w = recovered(job("B"), 3, state2);
  EXPECT_EQ(system_.last_skip_through, 2u);
  EXPECT_EQ(system_.visible, (std::vector<std::string>{"a", "b", "c"}));
}

TEST_F(TransactionalSinkTest, AFreshStartOverCommittedOutputIsRefusedWithoutStartOver) {
  {
    auto w = recovered(job("A"), 0, "");
    ASSERT_TRUE(w->write(batch({"a"})).is_ok());
    pre_commit(*w, 1);
    ASSERT_TRUE(w->commit(1).is_ok());
  }
  auto w = writer();
  Status s = w->recover(job("A"), 0, "");
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("table out: memory holds the output this job (id A) committed up to checkpoint 1"),
            std::string::npos)
      << s.message();
}

TEST_F(TransactionalSinkTest, RecoverComesOnceAfterOpen) {
  auto unopened = std::make_unique<TransactionalSinkWriter>(std::make_unique<MemoryTarget>(&system_), "table out");
  EXPECT_EQ(unopened->recover(job("A"), 0, "").code(), StatusCode::kInternal);
  auto w = recovered(job("A"), 0, "");
  EXPECT_EQ(w->recover(job("A"), 0, "").code(), StatusCode::kInternal);
}

// last_change_per_key against the obvious map of encoded keys, over random changelogs with
// NULL keys, two key columns (text and double, -0.0 among them) and every row kind.
TEST(LastChangePerKey, EqualsTheLastChangeOfEachKeyAppliedOneByOne) {
  std::mt19937 rng(42);
  auto two_keys = make_schema({{"k", TypeId::kString}, {"d", TypeId::kFloat64}, {"v", TypeId::kInt64}});
  for (int round = 0; round < 200; ++round) {
    RecordBatch b(two_keys);
    const size_t n = rng() % 300;
    for (size_t r = 0; r < n; ++r) {
      if (rng() % 7 == 0) {
        b.mutable_column(0).append_null();
      } else {
        b.mutable_column(0).append_string("k" + std::to_string(rng() % 20));
      }
      const int d = static_cast<int>(rng() % 4);
      if (d == 3) {
        b.mutable_column(1).append_null();
      } else {
        b.mutable_column(1).append_double(d == 0 ? (rng() % 2 ? -0.0 : 0.0) : d * 1.5);
      }
      b.mutable_column(2).append_int(static_cast<int64_t>(r));
      b.row_kinds.push_back(static_cast<RowKind>(rng() % 4));
    }
    b.sync_num_rows();
    std::vector<uint32_t> upserts, deletes;
    last_change_per_key(b, {0, 1}, upserts, deletes);
    std::map<std::pair<std::string, std::string>, uint32_t> last;
    for (size_t r = 0; r < n; ++r) {
      if (b.row_kind(r) == RowKind::kUpdateBefore) continue;
      const auto& k = b.column(0);
      const auto& d = b.column(1);
      std::string dk = d.is_null(r) ? "null" : std::to_string(d.double_at(r) == 0 ? 0.0 : d.double_at(r));
      last[{k.is_null(r) ? std::string("\x01null") : std::string(k.string_at(r)), dk}] = static_cast<uint32_t>(r);
    }
    std::vector<uint32_t> want_upserts, want_deletes;
    for (const auto& [key, r] : last) (b.row_kind(r) == RowKind::kDelete ? want_deletes : want_upserts).push_back(r);
    std::sort(want_upserts.begin(), want_upserts.end());
    std::sort(want_deletes.begin(), want_deletes.end());
    ASSERT_EQ(upserts, want_upserts) << "round " << round;
    ASSERT_EQ(deletes, want_deletes) << "round " << round;
  }
}

}  // namespace
}  // namespace sluice
