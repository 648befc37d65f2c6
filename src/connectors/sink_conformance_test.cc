// The sink conformance suite (sink_conformance.h): the two-phase commit of sink.h as every
// exactly-once sink must keep it. A crash is the writer destroyed without a commit; the
// recovery is a new writer given the state the last completed checkpoint stored. Expected
// outputs come from a model of the rows each committed checkpoint holds, applied per mode.
#include "connectors/sink_conformance.h"

#include <iostream>
#include <map>

#include "common/serde.h"
#include "connectors/test_util.h"

namespace sluice::testing {

const char* sink_mode_name(SinkMode mode) {
  switch (mode) {
    case SinkMode::kAppend: return "Append";
    case SinkMode::kUpsert: return "Upsert";
    case SinkMode::kChangelog: return "Changelog";
  }
  return "Unknown";
}

std::vector<SinkConformanceCase> sink_conformance_cases(const SinkConformanceTarget& target) {
  std::vector<SinkConformanceCase> out;
  for (SinkMode mode : target.modes) out.push_back({target, mode});
  return out;
}

std::string sink_conformance_case_name(const ::testing::TestParamInfo<SinkConformanceCase>& info) {
  return sink_mode_name(info.param.mode);
}

namespace {

struct Row {
  int64_t id;
  const char* name;
  RowKind kind = RowKind::kInsert;
};
using Rows = std::vector<Row>;

Rows concat(std::initializer_list<Rows> parts) {
  Rows out;
  for (const Rows& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

SchemaPtr schema() { return make_schema({{"id", TypeId::kInt64}, {"name", TypeId::kString}}); }

RecordBatch batch(const Rows& rows) {
  RecordBatch b(schema());
  for (const Row& r : rows) {
    b.mutable_column(0).append_int(r.id);
    b.mutable_column(1).append_string(r.name);
    b.row_kinds.push_back(r.kind);
  }
  b.sync_num_rows();
  return b;
}

constexpr const char* kJob = "0123456789abcdef0123456789abcdef";

// The job's first run (its checkpoint directory is new) and its later runs.
SinkIdentity first_run() { return SinkIdentity{kJob, "out.sink/0", /*new_job=*/true, /*start_over=*/false}; }
SinkIdentity later_run(bool start_over = false) { return SinkIdentity{kJob, "out.sink/0", false, start_over}; }

class Harness {
 public:
  explicit Harness(const SinkConformanceCase& c) : case_(c) {}

  SinkMode mode() const { return case_.mode; }

  // An opened writer, not yet recovered (plain mode).
  std::unique_ptr<SinkWriter> writer() {
    auto factory = make_sink_factory(case_.target.spec(dir_.file(""), case_.mode, schema()));
    EXPECT_TRUE(factory.is_ok()) << factory.status().message();
    if (!factory.is_ok()) return nullptr;
    auto w = factory.value()->create_writer();
    EXPECT_TRUE(w.is_ok()) << w.status().message();
    if (!w.is_ok()) return nullptr;
    Status s = w.value()->open();
    EXPECT_TRUE(s.is_ok()) << s.message();
    return std::move(w.value());
  }

  // A writer in transactional mode, resumed from checkpoint `restored_id` (0: fresh).
  std::unique_ptr<SinkWriter> recovered(uint64_t restored_id, const std::string& state,
                                        const SinkIdentity& identity) {
    auto w = writer();
    Status s = w->recover(identity, restored_id, state);
    EXPECT_TRUE(s.is_ok()) << s.message();
    return w;
  }
  std::unique_ptr<SinkWriter> fresh() { return recovered(0, "", first_run()); }
  std::unique_ptr<SinkWriter> resumed(uint64_t restored_id, const std::string& state) {
    return recovered(restored_id, state, later_run());
  }

  void write(SinkWriter& w, const Rows& rows) {
    Status s = w.write(batch(rows));
    EXPECT_TRUE(s.is_ok()) << s.message();
  }
  std::string pre_commit(SinkWriter& w, uint64_t id) {
    auto state = w.pre_commit(id);
    EXPECT_TRUE(state.is_ok()) << state.status().message();
    return state.is_ok() ? state.value() : std::string();
  }
  void commit(SinkWriter& w, uint64_t id) {
    Status s = w.commit(id);
    EXPECT_TRUE(s.is_ok()) << s.message();
  }
  // A whole checkpoint: `rows` written, pre-committed as `id` and committed; its state.
  std::string checkpoint(SinkWriter& w, uint64_t id, const Rows& rows) {
    write(w, rows);
    std::string state = pre_commit(w, id);
    commit(w, id);
    return state;
  }

  std::vector<std::string> output() const { return case_.target.read(dir_.file(""), case_.mode); }
  const SinkConformanceTarget& target() const { return case_.target; }

  // The output is exactly `rows`; when `limitation` (a reason the target cannot do better)
  // is set, every row of `rows` is there at least as often (repeats allowed) instead.
  void expect_output(const Rows& rows, const std::string& limitation, const std::string& where = "") const {
    if (limitation.empty() || case_.mode == SinkMode::kUpsert) {
      EXPECT_EQ(output(), expected(rows)) << where;
      return;
    }
    std::cout << "[ weaker   ] " << case_.target.name << ": " << limitation << "\n";
    std::map<std::string, int> have;
    for (const auto& r : output()) ++have[r];
    std::map<std::string, int> need;
    for (const auto& r : expected(rows)) ++need[r];
    for (const auto& [row, n] : need) EXPECT_GE(have[row], n) << where << ": row " << row << " missing";
  }

  // What a reader must see once exactly `rows` (in this order) are committed.
  std::vector<std::string> expected(const Rows& rows) const {
    std::vector<std::string> out;
    if (case_.mode == SinkMode::kUpsert) {
      std::map<int64_t, std::string> table;
      for (const Row& r : rows) {
        if (r.kind == RowKind::kDelete) {
          table.erase(r.id);
        } else if (r.kind != RowKind::kUpdateBefore) {
          table[r.id] = r.name;
        }
      }
      for (const auto& [id, name] : table) out.push_back(fmt::format("{}|{}", id, name));
      return out;
    }
    for (const Row& r : rows) {
      out.push_back(case_.mode == SinkMode::kChangelog
                        ? fmt::format("{}|{}|{}", row_kind_short_name(r.kind), r.id, r.name)
                        : fmt::format("{}|{}", r.id, r.name));
    }
    return out;
  }

 private:
  SinkConformanceCase case_;
  TempDir dir_;
};

const Rows kFirst = {{1, "a"}, {2, "b"}};
const Rows kSecond = {{3, "c"}};
const Rows kThird = {{4, "d"}, {5, "e"}};

TEST_P(SinkConformanceTest, RowsAreInvisibleUntilTheirCheckpointCommits) {
  Harness h(GetParam());
  auto w = h.fresh();
  h.write(*w, kFirst);
  ASSERT_TRUE(w->flush().is_ok());  // a flush makes nothing visible in transactional mode
  EXPECT_EQ(h.output(), h.expected({}));
  h.pre_commit(*w, 1);
  h.write(*w, kSecond);
  h.pre_commit(*w, 2);
  EXPECT_EQ(h.output(), h.expected({}));  // pre-committed: durable, invisible
  h.commit(*w, 1);
  EXPECT_EQ(h.output(), h.expected(kFirst));
  h.commit(*w, 2);
  EXPECT_EQ(h.output(), h.expected(concat({kFirst, kSecond})));
  ASSERT_TRUE(w->close().is_ok());
  EXPECT_EQ(h.output(), h.expected(concat({kFirst, kSecond})));
}

TEST_P(SinkConformanceTest, CommitIsIdempotent) {
  Harness h(GetParam());
  auto w = h.fresh();
  h.checkpoint(*w, 1, kFirst);
  h.commit(*w, 1);
  h.commit(*w, 2);  // a checkpoint without rows of this sink
  h.pre_commit(*w, 3);  // no rows since: no transaction
  h.commit(*w, 3);
  EXPECT_EQ(h.output(), h.expected(kFirst));
}

TEST_P(SinkConformanceTest, ACrashDropsTheRowsNoCheckpointCovers) {
  Harness h(GetParam());
  std::string state1;
  {
    auto w = h.fresh();
    state1 = h.checkpoint(*w, 1, kFirst);
    h.write(*w, kSecond);  // after checkpoint 1: lost with the crash, read again by the job
    ASSERT_TRUE(w->flush().is_ok());
  }  // crash
  EXPECT_EQ(h.output(), h.expected(kFirst));
  auto w = h.resumed(1, state1);
  EXPECT_EQ(h.output(), h.expected(kFirst));
  h.write(*w, kSecond);  // the replay
  h.pre_commit(*w, 2);
  h.commit(*w, 2);
  EXPECT_EQ(h.output(), h.expected(concat({kFirst, kSecond})));
}

TEST_P(SinkConformanceTest, ACrashBetweenCheckpointAndCommitIsCommittedByTheRecovery) {
  Harness h(GetParam());
  std::string state2;
  {
    auto w = h.fresh();
    h.checkpoint(*w, 1, kFirst);
    h.write(*w, kSecond);
    state2 = h.pre_commit(*w, 2);  // checkpoint 2 is durable; its commit never comes
    h.write(*w, kThird);
  }  // crash
  EXPECT_EQ(h.output(), h.expected(kFirst));
  auto w = h.resumed(2, state2);
  EXPECT_EQ(h.output(), h.expected(concat({kFirst, kSecond})));
  h.checkpoint(*w, 3, kThird);
  EXPECT_EQ(h.output(), h.expected(concat({kFirst, kSecond, kThird})));
}

TEST_P(SinkConformanceTest, ReplayingACommittedCheckpointAddsNothing) {
  Harness h(GetParam());
  std::string state1;
  {
    auto w = h.fresh();
    state1 = h.checkpoint(*w, 1, kFirst);
  }  // crash after the commit, before the runtime knew
  for (int restart = 0; restart < 3; ++restart) {
    auto w = h.resumed(1, state1);  // commits checkpoint 1's transaction again: a no-op
    h.expect_output(kFirst, h.target().forgets_commits, fmt::format("restart {}", restart));
  }
}

TEST_P(SinkConformanceTest, AnUncommittedCheckpointIsCommittedWithTheNextOne) {
  Harness h(GetParam());
  auto w = h.fresh();
  h.write(*w, kFirst);
  h.pre_commit(*w, 1);  // checkpoint 1 aborted (or its completion never reached this sink)
  h.write(*w, kSecond);
  std::string state2 = h.pre_commit(*w, 2);
  h.commit(*w, 2);
  EXPECT_EQ(h.output(), h.expected(concat({kFirst, kSecond})));
  w.reset();
  // Recovering from checkpoint 2 (whose state lists both) changes nothing.
  auto again = h.resumed(2, state2);
  h.expect_output(concat({kFirst, kSecond}), h.target().forgets_commits);
}

TEST_P(SinkConformanceTest, TheStateOfACheckpointCarriesEveryUncommittedTransaction) {
  Harness h(GetParam());
  std::string state2;
  {
    auto w = h.fresh();
    h.write(*w, kFirst);
    h.pre_commit(*w, 1);
    h.write(*w, kSecond);
    state2 = h.pre_commit(*w, 2);
  }  // crash: neither committed
  EXPECT_EQ(h.output(), h.expected({}));
  auto w = h.resumed(2, state2);
  EXPECT_EQ(h.output(), h.expected(concat({kFirst, kSecond})));
}

TEST_P(SinkConformanceTest, RecoveryRollsBackCheckpointsNewerThanTheRestoredOne) {
  Harness h(GetParam());
  std::string state1;
  {
    auto w = h.fresh();
    state1 = h.checkpoint(*w, 1, kFirst);
    h.checkpoint(*w, 2, kSecond);
  }  // checkpoint 2 was committed, then lost (corrupt); the job resumes from checkpoint 1
  auto w = h.resumed(1, state1);
  if (h.mode() != SinkMode::kUpsert) {
    h.expect_output(kFirst, h.target().cannot_take_back_commits);  // checkpoint 2's rows are gone until replayed
  }
  // The replay writes checkpoint 2's rows again, under a new id (the coordinator numbers on
  // after the newest checkpoint it has seen).
  h.checkpoint(*w, 3, kSecond);
  h.expect_output(concat({kFirst, kSecond}), h.target().cannot_take_back_commits);
}

TEST_P(SinkConformanceTest, UpdatingStreams) {
  Harness h(GetParam());
  const Rows updates = {{1, "a", RowKind::kUpdateBefore},
                        {1, "z", RowKind::kUpdateAfter},
                        {2, "b", RowKind::kDelete},
                        {6, "f", RowKind::kInsert}};
  auto w = h.fresh();
  h.checkpoint(*w, 1, kFirst);
  if (h.mode() == SinkMode::kAppend) {
    // An insert-only output refuses update and delete rows (the planner never routes them here).
    EXPECT_FALSE(w->write(batch({updates[0]})).is_ok());
    EXPECT_FALSE(w->write(batch({updates[2]})).is_ok());
    EXPECT_EQ(h.output(), h.expected(kFirst));
    return;
  }
  h.write(*w, updates);
  std::string state2 = h.pre_commit(*w, 2);
  w.reset();  // crash before the commit: the recovery commits checkpoint 2
  auto resumed = h.resumed(2, state2);
  EXPECT_EQ(h.output(), h.expected(concat({kFirst, updates})));
  const Rows more = {{6, "f", RowKind::kDelete}, {1, "y", RowKind::kUpdateAfter}, {2, "b", RowKind::kInsert}};
  h.checkpoint(*resumed, 3, more);
  EXPECT_EQ(h.output(), h.expected(concat({kFirst, updates, more})));
}

TEST_P(SinkConformanceTest, AFreshStartOverCommittedOutputNeedsStartOver) {
  Harness h(GetParam());
  {
    auto w = h.fresh();
    h.checkpoint(*w, 1, kFirst);
  }  // then every checkpoint of the job is lost: the next run has nothing to resume
  auto w = h.writer();
  Status s = w->recover(later_run(), 0, "");
  if (h.mode() != SinkMode::kUpsert && !h.target().cannot_take_back_commits.empty()) {
    // The committed rows stay whatever happens; the replay must not lose any.
    if (s.code() == StatusCode::kDataLoss) {
      w.reset();
      w = h.recovered(0, "", later_run(/*start_over=*/true));
    } else {
      ASSERT_TRUE(s.is_ok()) << s.message();
    }
    h.checkpoint(*w, 1, kFirst);
    h.expect_output(concat({kFirst, kFirst}), h.target().cannot_take_back_commits);
    return;
  }
  if (h.mode() == SinkMode::kUpsert) {
    // Replaying from the beginning ends with the same table: allowed.
    ASSERT_TRUE(s.is_ok()) << s.message();
    h.checkpoint(*w, 1, kFirst);
    EXPECT_EQ(h.output(), h.expected(kFirst));
    return;
  }
  EXPECT_EQ(s.code(), StatusCode::kDataLoss) << s.message();
  EXPECT_NE(s.message().find("--start-over"), std::string::npos) << s.message();
  EXPECT_EQ(h.output(), h.expected(kFirst));  // refused: untouched
  w.reset();
  // --start-over rolls the job's output back; the replay writes it once.
  auto over = h.recovered(0, "", later_run(/*start_over=*/true));
  EXPECT_EQ(h.output(), h.expected({}));
  h.checkpoint(*over, 1, kFirst);
  EXPECT_EQ(h.output(), h.expected(kFirst));
}

TEST_P(SinkConformanceTest, CloseDropsRowsNotPreCommitted) {
  Harness h(GetParam());
  std::string state1;
  {
    auto w = h.fresh();
    state1 = h.checkpoint(*w, 1, kFirst);
    h.write(*w, kSecond);
    ASSERT_TRUE(w->close().is_ok());  // a stop: the next run resumes from checkpoint 1
  }
  EXPECT_EQ(h.output(), h.expected(kFirst));
  auto w = h.resumed(1, state1);
  EXPECT_EQ(h.output(), h.expected(kFirst));
}

TEST_P(SinkConformanceTest, PreCommitIdsMustGrow) {
  Harness h(GetParam());
  auto w = h.fresh();
  h.pre_commit(*w, 2);
  EXPECT_EQ(w->pre_commit(2).status().code(), StatusCode::kInternal);
  EXPECT_EQ(w->pre_commit(1).status().code(), StatusCode::kInternal);
}

TEST_P(SinkConformanceTest, AMalformedStateIsDataLoss) {
  Harness h(GetParam());
  EXPECT_EQ(h.writer()->recover(later_run(), 1, "garbage").code(), StatusCode::kDataLoss);
  std::string newer;  // lists transaction 7 in checkpoint 3
  ByteWriter w(&newer);
  w.u8(2);
  w.str(kJob);
  w.str("out.sink/0");
  w.varint(1);
  w.varint(7);
  EXPECT_EQ(h.writer()->recover(later_run(), 3, newer).code(), StatusCode::kDataLoss);
}

TEST_P(SinkConformanceTest, WithoutCheckpointsFlushedRowsAreVisible) {
  Harness h(GetParam());
  auto w = h.writer();  // never recovered: the job does not checkpoint
  h.write(*w, kFirst);
  ASSERT_TRUE(w->flush().is_ok());
  auto state = w->pre_commit(1);  // at-least-once: a flush, no transaction
  ASSERT_TRUE(state.is_ok());
  EXPECT_EQ(state.value(), "");
  ASSERT_TRUE(w->close().is_ok());
  EXPECT_EQ(h.output(), h.expected(kFirst));
}

}  // namespace
}  // namespace sluice::testing
