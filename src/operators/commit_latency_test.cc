// CommitLatency: what a sink observes into its latency histograms, with exact times.
#include "operators/commit_latency.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

constexpr Micros kMs = 1000;
constexpr Micros kT0 = 1'700'000'000'000'000;  // a Unix time in µs

std::vector<int64_t> bounds() { return {10 * kMs, 100 * kMs, 1000 * kMs}; }

TEST(CommitLatencyTest, ObservesCommitTimeMinusIngestionAndEventTimePerRow) {
  Histogram ingest(std::make_shared<const std::vector<int64_t>>(bounds()));
  Histogram event(std::make_shared<const std::vector<int64_t>>(bounds()));
  CommitLatency c(&ingest, &event);
  c.add({kT0, kT0 - 500 * kMs, {}}, 3);          // read at T0, events 500 ms older
  c.add({kT0 + 50 * kMs, kMinWatermark, {}}, 2);  // no event time
  c.seal(1);
  c.add({kT0 + 60 * kMs, kT0, {}}, 4);  // after the barrier: checkpoint 2
  c.committed(1, kT0 + 80 * kMs);
  EXPECT_EQ(ingest.count(), 5u);
  EXPECT_EQ(ingest.sum(), 3 * 80 * kMs + 2 * 30 * kMs);
  EXPECT_EQ(ingest.bucket_counts(), (std::vector<uint64_t>{0, 5, 0, 0}));
  EXPECT_EQ(event.count(), 3u);
  EXPECT_EQ(event.sum(), 3 * 580 * kMs);
  EXPECT_EQ(c.size(), 1u) << "checkpoint 2's rows wait for it";
  c.seal(2);
  c.committed(2, kT0 + 2060 * kMs);
  EXPECT_EQ(ingest.count(), 9u);
  EXPECT_EQ(ingest.bucket_counts(), (std::vector<uint64_t>{0, 5, 0, 4}));
  EXPECT_EQ(c.size(), 0u);
}

TEST(CommitLatencyTest, WithoutCheckpointsAFlushCommits) {
  Histogram ingest(std::make_shared<const std::vector<int64_t>>(bounds()));
  CommitLatency c(&ingest, nullptr);
  c.add({kT0, kT0, {}}, 1);
  c.add({kT0 + 5 * kMs, kT0, {}}, 1);
  c.flushed(kT0 + 7 * kMs);
  EXPECT_EQ(ingest.count(), 2u);
  EXPECT_EQ(ingest.sum(), 7 * kMs + 2 * kMs);
  EXPECT_EQ(c.size(), 0u);
}

TEST(CommitLatencyTest, BatchesCloseInTimeShareAnEntryAndMemoryIsBounded) {
  Histogram ingest(std::make_shared<const std::vector<int64_t>>(bounds()));
  CommitLatency c(&ingest, nullptr);
  for (int i = 0; i < 100; ++i) c.add({kT0 + i, kMinWatermark, {}}, 10);  // all within 1 ms
  EXPECT_EQ(c.size(), 1u);
  for (Micros i = 0; i < 100'000; ++i) c.add({kT0 + 2 * kMs * i, kMinWatermark, {}}, 1);
  EXPECT_EQ(c.size(), CommitLatency::kMaxEntries);
  c.flushed(kT0 + 300 * kMs * 1000);
  EXPECT_EQ(ingest.count(), 100'000u + 1000u) << "every row observed once";
}

TEST(CommitLatencyTest, UnknownTimesAreNotObserved) {
  Histogram ingest(std::make_shared<const std::vector<int64_t>>(bounds()));
  CommitLatency c(&ingest, nullptr);
  c.add({0, kMinWatermark, {}}, 5);
  c.flushed(kT0);
  EXPECT_EQ(ingest.count(), 0u);
}

}  // namespace
}  // namespace sluice
