// Specification of the HTTP ingest source's write-ahead log: framing, durability order,
// recovery of a torn tail, damage detection, retention and concurrent appends.
#include "connectors/http/ingest_wal.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <thread>

#include "connectors/test_util.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

std::vector<std::string> segment_files(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".wal") out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::unique_ptr<IngestWal> open_wal(const std::string& dir, int64_t segment_bytes = 64 << 20) {
  auto wal = IngestWal::open(IngestWalOptions{dir, segment_bytes});
  EXPECT_TRUE(wal.is_ok()) << wal.status().message();
  return wal.is_ok() ? std::move(wal).value() : nullptr;
}

Status append_events(IngestWal& wal, const std::vector<std::string>& events) {
  WalBatch b;
  for (const auto& e : events) b.add_event(e);
  return wal.append(b);
}

// Every record from `offset` on, as text; refused input as "!REASON|SIZE|PREFIX".
std::vector<std::string> read_all(const IngestWal& wal, int64_t offset, int64_t* end = nullptr) {
  IngestWalReader reader(wal, offset);
  std::vector<std::string> out;
  RawRecords raw;
  while (true) {
    raw.clear();
    auto n = reader.read(raw, 3);
    EXPECT_TRUE(n.is_ok()) << n.status().message();
    if (!n.is_ok() || n.value() == 0) break;
    for (size_t i = 0; i < raw.size(); ++i) out.emplace_back(raw.record(i));
    for (size_t k = 0; k < raw.oversized.size(); ++k) {
      out.push_back(fmt::format("!{}|{}|{}", raw.oversized_reason(k), raw.oversized[k].size_bytes,
                                raw.oversized_prefix(k)));
    }
  }
  if (end) *end = reader.offset();
  return out;
}

TEST(IngestWalTest, RecordsAreReadBackInOrderAcrossSegments) {
  TempDir dir;
  auto wal = open_wal(dir.file("wal"), /*segment_bytes=*/100);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(append_events(*wal, {fmt::format("{{\"n\":{}}}", i), fmt::format("{{\"m\":{}}}", i)}).is_ok());
  }
  EXPECT_GT(segment_files(dir.file("wal")).size(), 5u) << "segments roll over at segment_bytes";
  int64_t end = 0;
  auto records = read_all(*wal, wal->start(), &end);
  ASSERT_EQ(records.size(), 40u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(records[2 * i], fmt::format("{{\"n\":{}}}", i));
    EXPECT_EQ(records[2 * i + 1], fmt::format("{{\"m\":{}}}", i));
  }
  EXPECT_EQ(end, wal->durable_end());
  // Offsets are global: the reader's records carry them, and reading from one starts there.
  IngestWalReader reader(*wal, 0);
  RawRecords raw;
  ASSERT_TRUE(reader.read(raw, 5).is_ok());
  ASSERT_EQ(raw.size(), 5u);
  EXPECT_EQ(raw.offsets[0], 0);
  auto rest = read_all(*wal, raw.offsets[4]);
  ASSERT_EQ(rest.size(), 36u);
  EXPECT_EQ(rest[0], "{\"n\":2}");
}

TEST(IngestWalTest, RefusedBodiesComeBackAsRefusedInputWithTheirReason) {
  TempDir dir;
  auto wal = open_wal(dir.file("wal"));
  WalBatch b;
  b.add_refused(400, "line 2: not valid JSON", 7, "{\"a\":1\n{");
  b.add_event("{\"ok\":true}");
  b.add_refused(413, "too big", 1 << 30, std::string(10000, 'x'));
  ASSERT_TRUE(wal->append(b).is_ok());
  auto records = read_all(*wal, 0);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0], "{\"ok\":true}");  // events first in the test helper's listing
  EXPECT_EQ(records[1], "!HTTP 400: line 2: not valid JSON|7|{\"a\":1\n{");
  EXPECT_EQ(records[2], "!HTTP 413: too big|1073741824|" + std::string(kOversizedPrefixBytes, 'x'));
}

TEST(IngestWalTest, OffsetsAndIdGoOnAfterReopening) {
  TempDir dir;
  std::string id;
  int64_t end = 0;
  {
    auto wal = open_wal(dir.file("wal"));
    ASSERT_TRUE(append_events(*wal, {"{\"a\":1}", "{\"a\":2}"}).is_ok());
    id = wal->id();
    end = wal->durable_end();
  }
  auto wal = open_wal(dir.file("wal"));
  EXPECT_EQ(wal->id(), id);
  EXPECT_EQ(wal->durable_end(), end);
  ASSERT_TRUE(append_events(*wal, {"{\"a\":3}"}).is_ok());
  EXPECT_EQ(read_all(*wal, 0), (std::vector<std::string>{"{\"a\":1}", "{\"a\":2}", "{\"a\":3}"}));
  EXPECT_EQ(read_all(*wal, end), (std::vector<std::string>{"{\"a\":3}"}));
  EXPECT_EQ(segment_files(dir.file("wal")).size(), 2u) << "a reopened log writes a new segment";
}

TEST(IngestWalTest, ATornRecordAtTheEndIsCutOffOnReopen) {
  TempDir dir;
  int64_t end = 0;
  std::string last;
  {
    auto wal = open_wal(dir.file("wal"));
    ASSERT_TRUE(append_events(*wal, {"{\"a\":1}", "{\"a\":2}"}).is_ok());
    end = wal->durable_end();
    last = dir.file("wal") + "/" + segment_files(dir.file("wal")).back();
  }
  // A record whose write was cut short by a crash: its header and part of its payload.
  WalBatch torn;
  torn.add_event("{\"never\":\"acknowledged\"}");
  testing::write_file(last, torn.bytes().substr(0, torn.bytes().size() - 5), /*append=*/true);
  auto wal = open_wal(dir.file("wal"));
  EXPECT_EQ(wal->durable_end(), end);
  EXPECT_EQ(fs::file_size(last), static_cast<uintmax_t>(end + IngestWal::kSegmentHeaderBytes));
  ASSERT_TRUE(append_events(*wal, {"{\"a\":3}"}).is_ok());
  EXPECT_EQ(read_all(*wal, 0), (std::vector<std::string>{"{\"a\":1}", "{\"a\":2}", "{\"a\":3}"}));
}

TEST(IngestWalTest, DamageBeforeTheEndIsAnErrorNotSkipped) {
  TempDir dir;
  std::string first;
  {
    auto wal = open_wal(dir.file("wal"));
    ASSERT_TRUE(append_events(*wal, {"{\"a\":1}", "{\"a\":2}", "{\"a\":3}"}).is_ok());
    first = dir.file("wal") + "/" + segment_files(dir.file("wal")).front();
  }
  // Flip a payload byte of the second record.
  int fd = ::open(first.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  const off_t at = IngestWal::kSegmentHeaderBytes + (IngestWal::kRecordHeaderBytes + 7) + IngestWal::kRecordHeaderBytes + 2;
  ASSERT_EQ(::pwrite(fd, "X", 1, at), 1);
  ::close(fd);
  auto reopened = IngestWal::open(IngestWalOptions{dir.file("wal"), 64 << 20});
  ASSERT_FALSE(reopened.is_ok()) << "a damaged record with records after it is not a torn tail";
  EXPECT_NE(reopened.status().message().find("fails its checksum"), std::string::npos) << reopened.status().message();
}

TEST(IngestWalTest, DamageInASealedSegmentFailsTheReader) {
  TempDir dir;
  auto wal = open_wal(dir.file("wal"), /*segment_bytes=*/10);
  ASSERT_TRUE(append_events(*wal, {"{\"a\":1}"}).is_ok());
  ASSERT_TRUE(append_events(*wal, {"{\"a\":2}"}).is_ok());
  const std::string first = dir.file("wal") + "/" + segment_files(dir.file("wal")).front();
  int fd = ::open(first.c_str(), O_RDWR);
  ASSERT_TRUE(::pwrite(fd, "X", 1, IngestWal::kSegmentHeaderBytes + IngestWal::kRecordHeaderBytes + 1) == 1);
  ::close(fd);
  IngestWalReader reader(*wal, 0);
  RawRecords raw;
  auto n = reader.read(raw, 10);
  ASSERT_FALSE(n.is_ok());
  EXPECT_EQ(n.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(n.status().message().find(first + "' offset 0: a record fails its checksum"), std::string::npos)
      << n.status().message();
}

TEST(IngestWalTest, ReleaseDeletesOnlySealedSegmentsWhollyBeforeTheOffset) {
  TempDir dir;
  auto wal = open_wal(dir.file("wal"), /*segment_bytes=*/10);
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(append_events(*wal, {fmt::format("{{\"i\":{}}}", i)}).is_ok());
  const size_t before = segment_files(dir.file("wal")).size();
  ASSERT_GE(before, 6u);
  // Offset in the middle of the third record: its segment stays.
  IngestWalReader reader(*wal, 0);
  RawRecords raw;
  ASSERT_TRUE(reader.read(raw, 3).is_ok());
  const int64_t third = raw.offsets[2];
  ASSERT_TRUE(wal->release_before(third + 1).is_ok());
  EXPECT_EQ(wal->start(), third);
  EXPECT_EQ(read_all(*wal, wal->start()).front(), "{\"i\":2}");
  ASSERT_TRUE(wal->release_before(wal->durable_end()).is_ok());
  EXPECT_EQ(segment_files(dir.file("wal")).size(), 1u) << "the active segment is never deleted";
  EXPECT_EQ(wal->start(), wal->durable_end());
  IngestWalReader gone(*wal, 0);
  auto n = gone.read(raw, 1);
  ASSERT_FALSE(n.is_ok());
  EXPECT_NE(n.status().message().find("was deleted"), std::string::npos) << n.status().message();
}

TEST(IngestWalTest, ASecondOpenOfTheSameLogIsRefused) {
  TempDir dir;
  auto wal = open_wal(dir.file("wal"));
  auto second = IngestWal::open(IngestWalOptions{dir.file("wal"), 64 << 20});
  ASSERT_FALSE(second.is_ok());
  EXPECT_NE(second.status().message().find("in use by another process"), std::string::npos);
}

TEST(IngestWalTest, ConcurrentAppendsAreAllDurableAndReadOnce) {
  TempDir dir;
  auto wal = open_wal(dir.file("wal"), /*segment_bytes=*/4096);
  constexpr int kThreads = 8, kAppends = 100;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kAppends; ++i) {
        const int64_t before = wal->durable_end();
        EXPECT_TRUE(append_events(*wal, {fmt::format("{{\"t\":{},\"i\":{}}}", t, i)}).is_ok());
        EXPECT_GT(wal->durable_end(), before) << "append returns once its record is durable";
      }
    });
  }
  // A reader follows while the appends run.
  std::set<std::string> seen;
  IngestWalReader reader(*wal, 0);
  RawRecords raw;
  for (int rounds = 0; seen.size() < kThreads * kAppends && rounds < 100000; ++rounds) {
    raw.clear();
    auto n = reader.read(raw, 64);
    ASSERT_TRUE(n.is_ok()) << n.status().message();
    for (size_t i = 0; i < raw.size(); ++i) EXPECT_TRUE(seen.insert(std::string(raw.record(i))).second);
    if (n.value() == 0) wal->wait_for_data(reader.offset(), 10);
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(seen.size(), static_cast<size_t>(kThreads * kAppends));
}

}  // namespace
}  // namespace sluice
