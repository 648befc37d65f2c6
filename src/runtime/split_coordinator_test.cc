// SplitCoordinator: splits reach their reader tasks, revoked splits move between readers,
// and every split is recorded exactly once in every checkpoint whatever the order in which
// readers reach the barrier and hand splits over.
#include "runtime/split_coordinator.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <thread>
#include <set>

namespace sluice {
namespace {

// Splits "0".."n-1"; revokes the ids it is told to on the next discover().
class TestEnumerator : public SplitEnumerator {
 public:
  explicit TestEnumerator(int splits) : splits_(splits) {}
  Result<SplitChanges> discover() override {
    SplitChanges c;
    if (!started_) {
      started_ = true;
      for (int i = 0; i < splits_; ++i) c.added.push_back(SourceSplit{std::to_string(i), i, ""});
    }
    for (const auto& id : to_revoke) c.revoked.push_back(id);
    to_revoke.clear();
    c.complete = true;
    return c;
  }
  Micros discovery_interval() const override { return 1; }  // every poll
  int assign(const SourceSplit& s, int readers) const override {
    auto it = moved.find(s.id);
    return it == moved.end() ? s.number % readers : it->second;
  }
  std::string snapshot_state() const override { return "state"; }
  std::vector<std::string> to_revoke;
  std::map<std::string, int> moved;

 private:
  int splits_;
  bool started_ = false;
};

std::vector<std::string> ids(const std::vector<TrackedSplit>& v) {
  std::vector<std::string> out;
  for (const auto& t : v) out.push_back(t.split.id);
  return out;
}

TEST(SplitCoordinatorTest, SplitsGoToTheReaderTheEnumeratorAssigns) {
  auto e = std::make_unique<TestEnumerator>(5);
  SplitCoordinator c("t", std::move(e), 2, true, 0);
  ASSERT_TRUE(c.start({}, std::nullopt).is_ok());
  SplitCoordinator::Update u0, u1;
  ASSERT_TRUE(c.poll(0, &u0).is_ok());
  ASSERT_TRUE(c.poll(1, &u1).is_ok());
  EXPECT_EQ(ids(u0.added), (std::vector<std::string>{"0", "2", "4"}));
  EXPECT_EQ(ids(u1.added), (std::vector<std::string>{"1", "3"}));
}

TEST(SplitCoordinatorTest, QueuedSplitsAreRecordedByTheirReaderAndTheEnumeratorStateOnce) {
  SplitCoordinator c("t", std::make_unique<TestEnumerator>(2), 2, true, 0);
  ASSERT_TRUE(c.start({}, std::nullopt).is_ok());
  std::vector<TrackedSplit> rec0, rec1;
  std::optional<std::string> st0, st1;
  c.on_barrier(0, 1, &rec0, &st0);  // reader 0 has not taken its split yet
  c.on_barrier(1, 1, &rec1, &st1);
  EXPECT_EQ(ids(rec0), std::vector<std::string>{"0"});
  EXPECT_EQ(ids(rec1), std::vector<std::string>{"1"});
  EXPECT_EQ(st0, std::optional<std::string>("state"));
  EXPECT_FALSE(st1.has_value()) << "the enumerator state is recorded once per checkpoint";
}

// Drives a revocation from reader 0 to reader 1 with the two readers at the given epochs
// and returns, per checkpoint, how often the split was recorded.
struct Handoff {
  std::vector<TrackedSplit> giver_records, receiver_records;
  bool receiver_has_it_before_barrier = false;
};

Handoff handoff(uint64_t giver_epoch, uint64_t receiver_epoch, uint64_t next_barrier) {
  auto e = std::make_unique<TestEnumerator>(1);
  TestEnumerator* en = e.get();
  SplitCoordinator c("t", std::move(e), 2, false, 0);
  EXPECT_TRUE(c.start({}, std::nullopt).is_ok());
  SplitCoordinator::Update u;
  EXPECT_TRUE(c.poll(0, &u).is_ok());
  EXPECT_EQ(ids(u.added), std::vector<std::string>{"0"});
  std::vector<TrackedSplit> ignored;
  std::optional<std::string> st;
  for (uint64_t id = 1; id <= giver_epoch; ++id) c.on_barrier(0, id, &ignored, &st);
  for (uint64_t id = 1; id <= receiver_epoch; ++id) c.on_barrier(1, id, &ignored, &st);
  en->moved["0"] = 1;
  en->to_revoke = {"0"};
  std::this_thread::sleep_for(std::chrono::milliseconds(1));  // discovery is due again
  SplitCoordinator::Update revoke;
  EXPECT_TRUE(c.poll(0, &revoke).is_ok());
  EXPECT_EQ(revoke.revoke, std::vector<std::string>{"0"});
  TrackedSplit t;
  t.split = SourceSplit{"0", 0, "pos-at-handoff"};
  c.give_back(0, t);
  Handoff h;
  SplitCoordinator::Update got;
  EXPECT_TRUE(c.poll(1, &got).is_ok());
  h.receiver_has_it_before_barrier = !got.added.empty();
  // Both readers reach `next_barrier` (those already past it record nothing more for it).
  if (giver_epoch < next_barrier) c.on_barrier(0, next_barrier, &h.giver_records, &st);
  if (receiver_epoch < next_barrier) {
    c.on_barrier(1, next_barrier, &h.receiver_records, &st);
    SplitCoordinator::Update later;
    EXPECT_TRUE(c.poll(1, &later).is_ok());
    if (!h.receiver_has_it_before_barrier) {
      EXPECT_EQ(ids(later.added), std::vector<std::string>{"0"});
    }
  }
  return h;
}

TEST(SplitCoordinatorTest, AHandoffBetweenReadersInTheSameEpochIsRecordedByTheReceiver) {
  Handoff h = handoff(3, 3, 4);
  EXPECT_TRUE(h.receiver_has_it_before_barrier);
  EXPECT_TRUE(h.giver_records.empty());
  // The receiver took it before its barrier: it records it as its own (not as queued).
  EXPECT_TRUE(h.receiver_records.empty());
}

TEST(SplitCoordinatorTest, AHandoffToAReaderPastTheBarrierIsRecordedByTheGiver) {
  // The receiver's checkpoint 4 was cut before it had the split: the giver records it there.
  Handoff h = handoff(3, 4, 4);
  EXPECT_TRUE(h.receiver_has_it_before_barrier);
  ASSERT_EQ(ids(h.giver_records), std::vector<std::string>{"0"});
  EXPECT_EQ(h.giver_records[0].split.position, "pos-at-handoff");
}

TEST(SplitCoordinatorTest, AHandoffFromAReaderPastTheBarrierWaitsUntilTheReceiverPassesIt) {
  // The giver recorded the split in checkpoint 4 (it still had it at its barrier): the
  // receiver must not read it before its own barrier 4, or those rows would count twice.
  Handoff h = handoff(4, 3, 4);
  EXPECT_FALSE(h.receiver_has_it_before_barrier);
  EXPECT_TRUE(h.receiver_records.empty()) << "the receiver does not record it in checkpoint 4";
}

TEST(SplitCoordinatorTest, RestoredSplitsGoBackToReadersWithTheirState) {
  SplitCoordinator c("t", std::make_unique<TestEnumerator>(3), 3, true, 7);
  TrackedSplit t;
  t.split = SourceSplit{"2", 2, "pos"};
  t.watermark = 1234;
  ASSERT_TRUE(c.start({t}, std::string("state")).is_ok());
  SplitCoordinator::Update u;
  ASSERT_TRUE(c.poll(2, &u).is_ok());
  ASSERT_EQ(u.added.size(), 1u) << "the enumerator's own split 2 is the restored one, not a second copy";
  EXPECT_TRUE(u.added[0].restored);
  EXPECT_EQ(u.added[0].split.position, "pos");
  EXPECT_EQ(u.added[0].watermark, 1234);
}

TEST(SplitCoordinatorTest, ABoundedReaderEndsOnlyWhenNoSplitCanComeToIt) {
  SplitCoordinator c("t", std::make_unique<TestEnumerator>(1), 2, true, 0);
  ASSERT_TRUE(c.start({}, std::nullopt).is_ok());
  EXPECT_FALSE(c.try_finish(0)) << "its split is still queued";
  EXPECT_TRUE(c.try_finish(1));
  SplitCoordinator::Update u;
  ASSERT_TRUE(c.poll(0, &u).is_ok());
  EXPECT_TRUE(c.try_finish(0));
}

}  // namespace
}  // namespace sluice
