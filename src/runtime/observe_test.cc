// The bounded views the REST API reads while a job runs: the sink tap (lossy, never
// blocks the sink), the checkpoint history ring and the ring of recent side-output entries.
#include <thread>

#include <gtest/gtest.h>

#include "formats/recent_letters.h"
#include "runtime/batch_tap.h"
#include "runtime/metrics.h"

namespace sluice {
namespace {

BatchPtr batch_of(int64_t v) {
  auto b = make_batch(make_schema({Field{"n", TypeId::kInt64, false}}));
  b->mutable_column(0).append_int(v);
  b->num_rows = 1;
  return b;
}

TEST(BatchTapTest, KeepsNothingWithoutAListener) {
  BatchTap tap("t", make_schema({Field{"n", TypeId::kInt64, false}}), 4);
  tap.offer(batch_of(1));
  BatchTap::Listener l(tap);
  uint64_t lost = 0;
  EXPECT_TRUE(l.next(std::chrono::milliseconds(1), &lost).empty());
  tap.offer(batch_of(2));
  auto got = l.next(std::chrono::milliseconds(1), &lost);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]->column(0).int_at(0), 2);
  EXPECT_EQ(lost, 0u);
}

TEST(BatchTapTest, DropsTheOldestAndCountsWhatAListenerMissed) {
  BatchTap tap("t", make_schema({Field{"n", TypeId::kInt64, false}}), 4);
  BatchTap::Listener l(tap);
  uint64_t lost = 0;
  tap.offer(batch_of(0));
  ASSERT_EQ(l.next(std::chrono::milliseconds(1), &lost).size(), 1u);
  for (int i = 1; i <= 10; ++i) tap.offer(batch_of(i));
  auto got = l.next(std::chrono::milliseconds(1), &lost);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got.front()->column(0).int_at(0), 7);
  EXPECT_EQ(got.back()->column(0).int_at(0), 10);
  EXPECT_EQ(lost, 6u);
}

TEST(BatchTapTest, AWriterNeverWaitsForAListener) {
  BatchTap tap("t", make_schema({Field{"n", TypeId::kInt64, false}}), 8);
  BatchTap::Listener l(tap);
  std::atomic<bool> done{false};
  std::thread reader([&] {
    uint64_t lost = 0, seen = 0, missed = 0;
    while (!done.load()) {
      seen += l.next(std::chrono::milliseconds(5), &lost).size();
      missed += lost;
    }
    EXPECT_LE(seen + missed, 100000u);
  });
  for (int i = 0; i < 100000; ++i) tap.offer(batch_of(i));
  done.store(true);
  reader.join();
}

TEST(CheckpointHistoryTest, KeepsTheLastAttempts) {
  CheckpointHistory h(3);
  for (uint64_t id = 1; id <= 5; ++id) {
    CheckpointRecord r;
    r.id = id;
    r.completed = id != 4;
    h.add(r);
  }
  auto all = h.snapshot();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].id, 3u);
  EXPECT_FALSE(all[1].completed);
  EXPECT_EQ(h.total(), 5u);
}

TEST(RecentLettersTest, PagesNewestFirstAndBoundsEachEntry) {
  RecentLetters ring(3);
  std::string big(5000, 'x');
  for (int i = 0; i < 5; ++i) {
    const SideOutputKind kind = i % 2 ? SideOutputKind::kLateData : SideOutputKind::kDeadLetters;
    SideOutputRows rows(kind);
    DeadLetter d;
    d.source = "src";
    d.line = i + 1;
    d.error = "bad";
    d.raw = i == 4 ? std::string_view(big) : std::string_view("r");
    std::vector<std::string_view> queries = {"q"};
    if (kind == SideOutputKind::kLateData) d.queries = queries;
    rows.add(d, 1'700'000'000'000'000 + i);
    ring.add_rows(kind, *rows.take());
  }
  auto p = ring.page(0, 10);
  EXPECT_EQ(p.total, 5u);
  ASSERT_EQ(p.entries.size(), 3u);
  EXPECT_EQ(p.entries[0].seq, 5u);
  EXPECT_EQ(p.entries[0].raw.size(), RecentLetters::kMaxRawBytes);
  EXPECT_EQ(p.entries[0].raw_bytes, 5000u);
  EXPECT_EQ(p.entries[0].source, "src");
  EXPECT_EQ(p.entries[0].time_unix_us, 1'700'000'000'000'000);
  auto older = ring.page(1, 1);
  ASSERT_EQ(older.entries.size(), 1u);
  EXPECT_EQ(older.entries[0].seq, 4u);
  const SideOutputKind late = SideOutputKind::kLateData;
  auto only_late = ring.page(0, 10, &late);
  ASSERT_EQ(only_late.entries.size(), 1u);
  EXPECT_EQ(only_late.entries[0].line, 4);
  EXPECT_EQ(only_late.entries[0].queries, "[\"q\"]");
}

TEST(RecentLettersTest, ABatchLargerThanTheRingKeepsItsNewestRowsAndCountsAll) {
  RecentLetters ring(2);
  SideOutputRows rows(SideOutputKind::kDeadLetters);
  for (int i = 1; i <= 5; ++i) {
    DeadLetter d;
    d.source = "src";
    d.line = i;
    rows.add(d, 0);
  }
  ring.add_rows(SideOutputKind::kDeadLetters, *rows.take());
  auto p = ring.page(0, 10);
  EXPECT_EQ(p.total, 5u);
  ASSERT_EQ(p.entries.size(), 2u);
  EXPECT_EQ(p.entries[0].line, 5);
  EXPECT_EQ(p.entries[0].seq, 5u);
  EXPECT_EQ(p.entries[1].line, 4);
}

}  // namespace
}  // namespace sluice
