// DecodePool: chunks come back in submission order whatever thread decoded them, each
// chunk's failures and row-to-record map belong to it, a decoder's state-changing input
// (a CSV header) reaches every decoder, and a decode error is reported with its chunk.
#include "runtime/decode_pool.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace sluice {
namespace {

SchemaPtr schema() { return make_schema({{"a", TypeId::kInt64}, {"b", TypeId::kString}}); }

// Fills `raw` with JSON records a = first..first+n-1 (every 5th malformed), lines from `line`.
void json_chunk(RawRecords& raw, int first, int n) {
  for (int i = first; i < first + n; ++i) {
    std::string rec = i % 5 == 4 ? "{\"a\": " : "{\"a\": " + std::to_string(i) + ", \"b\": \"x\"}";
    raw.append_record(rec, i * 100, i + 1);
  }
  raw.finish();
}

TEST(DecodePoolTest, ChunksComeBackInSubmissionOrderWithTheirOwnFailures) {
  FormatOptions json;
  json.format = "json";
  auto owner = make_decoder(json, schema());
  ASSERT_TRUE(owner.is_ok());
  auto made = DecodePool::create(json, schema(), owner.value().get(), /*extra_threads=*/3, /*depth=*/4);
  ASSERT_TRUE(made.is_ok()) << made.status().message();
  DecodePool& pool = *made.value();
  constexpr int kChunks = 200, kPerChunk = 7;
  int next_expected = 0;  // the next chunk to come back
  auto check = [&](DecodePool::Chunk* c) {
    ASSERT_TRUE(c->status.is_ok());
    ASSERT_EQ(c->tag, reinterpret_cast<void*>(static_cast<intptr_t>(next_expected + 1)));
    const int first = next_expected * kPerChunk;
    size_t row = 0, failure = 0;
    for (int i = first; i < first + kPerChunk; ++i) {
      const uint32_t record = static_cast<uint32_t>(i - first);
      if (i % 5 == 4) {
        ASSERT_LT(failure, c->failures.size());
        EXPECT_EQ(c->failures[failure++].record, record);
      } else {
        ASSERT_LT(row, c->batch->num_rows);
        EXPECT_EQ(c->batch->column(0).int_at(row), i);
        EXPECT_EQ(c->row_records[row++], record);
      }
    }
    EXPECT_EQ(row, c->batch->num_rows);
    EXPECT_EQ(failure, c->failures.size());
    ++next_expected;
    pool.release(c);
  };
  for (int k = 0; k < kChunks; ++k) {
    DecodePool::Chunk* c = pool.acquire();
    if (c == nullptr) {
      check(pool.next(/*wait=*/true));
      c = pool.acquire();
    }
    ASSERT_NE(c, nullptr);
    json_chunk(c->raw, k * kPerChunk, kPerChunk);
    c->tag = reinterpret_cast<void*>(static_cast<intptr_t>(k + 1));
    pool.submit(c);
    while (DecodePool::Chunk* done = pool.next(/*wait=*/false)) check(done);
  }
  while (DecodePool::Chunk* done = pool.next(/*wait=*/true)) check(done);
  EXPECT_EQ(next_expected, kChunks);
  EXPECT_EQ(pool.in_flight(), 0u);
}

TEST(DecodePoolTest, WithoutExtraThreadsTheOwnerDecodesWhileItWaits) {
  FormatOptions json;
  json.format = "json";
  auto owner = make_decoder(json, schema());
  auto made = DecodePool::create(json, schema(), owner.value().get(), 0, 2);
  ASSERT_TRUE(made.is_ok());
  DecodePool& pool = *made.value();
  DecodePool::Chunk* c = pool.acquire();
  json_chunk(c->raw, 0, 3);
  pool.submit(c);
  EXPECT_EQ(pool.next(/*wait=*/false), nullptr);  // nobody decoded it yet
  DecodePool::Chunk* done = pool.next(/*wait=*/true);
  ASSERT_EQ(done, c);
  EXPECT_EQ(done->batch->num_rows, 3u);
  pool.release(done);
}

// A CSV header shared with every decoder: the columns in the header's order (b before a).
TEST(DecodePoolTest, SharedStateReachesEveryDecoder) {
  FormatOptions csv;
  csv.format = "csv";
  csv.csv_header = true;
  auto owner = make_decoder(csv, schema());
  auto made = DecodePool::create(csv, schema(), owner.value().get(), 3, 8);
  ASSERT_TRUE(made.is_ok());
  DecodePool& pool = *made.value();
  RawRecords header;
  header.append_record("b,a", 0, 1);
  header.finish();
  ASSERT_TRUE(owner.value()->changes_state(header));
  ASSERT_TRUE(pool.share_state(header).is_ok());
  // Eight chunks in flight at once: every decoder (four threads) decodes some.
  for (int k = 0; k < 8; ++k) {
    DecodePool::Chunk* c = pool.acquire();
    ASSERT_NE(c, nullptr);
    c->raw.append_record("y," + std::to_string(k), 10 + k, 2 + k);
    c->raw.finish();
    EXPECT_FALSE(owner.value()->changes_state(c->raw));
    pool.submit(c);
  }
  for (int k = 0; k < 8; ++k) {
    DecodePool::Chunk* c = pool.next(/*wait=*/true);
    ASSERT_NE(c, nullptr);
    ASSERT_TRUE(c->status.is_ok());
    ASSERT_EQ(c->batch->num_rows, 1u) << (c->failures.empty() ? "" : c->failures[0].error);
    EXPECT_EQ(c->batch->column(0).int_at(0), k);
    EXPECT_EQ(c->batch->column(1).string_at(0), "y");
    pool.release(c);
  }
}

TEST(DecodePoolTest, AnErrorThatIsNoRecordsFaultComesBackWithItsChunk) {
  FormatOptions csv;
  csv.format = "csv";
  csv.csv_header = true;
  auto owner = make_decoder(csv, schema());
  auto made = DecodePool::create(csv, schema(), owner.value().get(), 1, 2);
  ASSERT_TRUE(made.is_ok());
  DecodePool& pool = *made.value();
  DecodePool::Chunk* c = pool.acquire();
  c->raw.append_record("x,y", 0, 1);  // a header naming none of the columns
  c->raw.finish();
  EXPECT_FALSE(pool.share_state(c->raw).is_ok());
  pool.submit(c);
  DecodePool::Chunk* done = pool.next(/*wait=*/true);
  ASSERT_EQ(done, c);
  EXPECT_FALSE(done->status.is_ok());
  EXPECT_NE(done->status.message().find("names none of the declared columns"), std::string::npos)
      << done->status.message();
  pool.release(done);
}

}  // namespace
}  // namespace sluice
