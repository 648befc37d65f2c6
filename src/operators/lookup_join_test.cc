// The processing-time lookup join against a real SQLite table: rows join the table's row of
// their key (LEFT pads, INNER drops, NULL keys match nothing), and a refresh in the
// background picks up a changed row without the operator waiting for it.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "common/scoped_temp_dir.h"
#include "operators/checkpoint_test_util.h"
#include "operators/lookup_join.h"

namespace sluice {
namespace {

void sql(const std::string& path, const std::string& statement) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, statement.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
}

SchemaPtr stream_schema() { return make_schema({{"oid", TypeId::kInt64, true}, {"cid", TypeId::kInt64, true}}); }
SchemaPtr table_schema() {
  return make_schema({{"id", TypeId::kInt64, false}, {"name", TypeId::kString, true}, {"since", TypeId::kTimestamp, true}});
}

std::shared_ptr<LookupJoinOperatorSpec> spec(JoinType type, const std::string& db, Micros refresh) {
  LookupJoinConfig c;
  c.type = type;
  c.probe_keys = {1};
  c.table_keys = {0};
  c.null_safe = {false};
  c.probe_schema = stream_schema();
  c.table_schema = table_schema();
  std::vector<Field> out = c.probe_schema->fields();
  for (const auto& f : c.table_schema->fields()) out.push_back({f.name, f.type, true});
  c.output_schema = make_schema(out);
  c.table = "customers";
  c.refresh = refresh;
  LookupSpec ls;
  ls.table = "customers";
  ls.connector = "sqlite";
  ls.schema = c.table_schema;
  ls.options = ConnectorOptions({{"path", db}}, "table customers");
  auto table = std::make_shared<LookupTable>("customers", c.table_keys, refresh, [ls] { return make_lookup_reader(ls); });
  return std::make_shared<LookupJoinOperatorSpec>(c, table);
}

BatchPtr orders(const std::vector<int64_t>& cids) {
  auto b = make_batch(stream_schema());
  for (size_t i = 0; i < cids.size(); ++i) {
    b->mutable_column(0).append_int(static_cast<int64_t>(i));
    if (cids[i] < 0) {
      b->mutable_column(1).append_null();
    } else {
      b->mutable_column(1).append_int(cids[i]);
    }
    b->num_rows++;
  }
  return b;
}

class LookupJoinTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = dir_.path() + "/ref.db";
    sql(db_, "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, since TEXT);"
             "INSERT INTO customers VALUES (1, 'ann', '2024-01-01T00:00:00Z'), (2, 'bob', NULL);");
  }
  std::vector<std::string> run(Operator& op, const std::vector<int64_t>& cids) {
    testing_checkpoint::CollectingOutput out({});
    EXPECT_TRUE(op.process(0, orders(cids), out).is_ok());
    return out.rows;
  }
  ScopedTempDir dir_;
  std::string db_;
};

// A reader that counts its calls and how many run at once (each takes a millisecond).
class CountingReader : public LookupReader {
 public:
  CountingReader(std::atomic<int>& calls, std::atomic<int>& running, std::atomic<int>& max_running)
      : calls_(calls), running_(running), max_running_(max_running) {}
  Result<MutableBatchPtr> read_all() override {
    calls_++;
    const int now = ++running_;
    for (int seen = max_running_.load(); now > seen && !max_running_.compare_exchange_weak(seen, now);) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    running_--;
    return make_batch(table_schema());
  }
  std::string describe() const override { return "counting"; }

 private:
  std::atomic<int>& calls_;
  std::atomic<int>& running_;
  std::atomic<int>& max_running_;
};

// Instances open and close at any moment (a job's instances, a restart in the process): a
// last release and a new first acquire never overlap, so one loader reads at a time and
// none outlives its last user.
TEST(LookupTableTest, AcquireAndReleaseFromManyThreadsKeepOneLoaderAndStopIt) {
  std::atomic<int> calls{0}, running{0}, max_running{0};
  LookupTable table("t", {0}, /*refresh=*/500, [&]() -> Result<std::unique_ptr<LookupReader>> {
    return std::unique_ptr<LookupReader>(new CountingReader(calls, running, max_running));
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 400; ++i) {
        ASSERT_TRUE(table.acquire().is_ok());
        if (i % 2 == 0) std::this_thread::sleep_for(std::chrono::microseconds(100 * (i % 5)));
        table.release();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(max_running.load(), 1) << "the reader is used by one thread at a time";
  const int after = calls.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(calls.load(), after) << "no loader reads after the last release";
}

TEST_F(LookupJoinTest, LeftJoinPadsRowsWithoutATableRowAndNullKeys) {
  auto s = spec(JoinType::kLeft, db_, 0);
  auto op = s->create();
  OperatorContext ctx;
  ASSERT_TRUE(op->open(ctx).is_ok());
  EXPECT_EQ(run(*op, {1, 3, -1, 2}),
            (std::vector<std::string>{"+I 0, 1, 1, ann, 2024-01-01 00:00:00", "+I 1, 3, NULL, NULL, NULL",
                                      "+I 2, NULL, NULL, NULL, NULL", "+I 3, 2, 2, bob, NULL"}));
  ASSERT_TRUE(op->close().is_ok());
}

TEST_F(LookupJoinTest, InnerJoinDropsRowsWithoutATableRow) {
  auto s = spec(JoinType::kInner, db_, 0);
  auto op = s->create();
  OperatorContext ctx;
  ASSERT_TRUE(op->open(ctx).is_ok());
  EXPECT_EQ(run(*op, {3, 2, -1}), (std::vector<std::string>{"+I 1, 2, 2, bob, NULL"}));
  ASSERT_TRUE(op->close().is_ok());
}

TEST_F(LookupJoinTest, ARefreshPicksUpAChangedRow) {
  auto s = spec(JoinType::kLeft, db_, 20 * kMicrosPerMilli);
  auto op = s->create();
  OperatorContext ctx;
  ASSERT_TRUE(op->open(ctx).is_ok());
  EXPECT_EQ(run(*op, {1, 3}),
            (std::vector<std::string>{"+I 0, 1, 1, ann, 2024-01-01 00:00:00", "+I 1, 3, NULL, NULL, NULL"}));
  sql(db_, "UPDATE customers SET name = 'anna' WHERE id = 1; INSERT INTO customers VALUES (3, 'cy', NULL);");
  // Two loads after the change: the second one started after it.
  const uint64_t seen = s->table().version();
  for (int i = 0; i < 1000 && s->table().version() < seen + 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_GE(s->table().version(), seen + 2) << "no refresh within 10 s";
  EXPECT_EQ(run(*op, {1, 3}),
            (std::vector<std::string>{"+I 0, 1, 1, anna, 2024-01-01 00:00:00", "+I 1, 3, 3, cy, NULL"}));
  ASSERT_TRUE(op->close().is_ok());
}

TEST_F(LookupJoinTest, AMissingTableFailsTheOpenWithItsName) {
  auto s = spec(JoinType::kLeft, dir_.path() + "/none.db", 0);
  auto op = s->create();
  OperatorContext ctx;
  Status st = op->open(ctx);
  ASSERT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("lookup table customers"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace sluice
