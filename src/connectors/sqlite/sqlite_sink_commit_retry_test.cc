// The committer retries a commit that finds the database locked (transactional_sink.h,
// retry.h), against a real SQLite database: another connection holds the write lock longer
// than the sink's busy timeout (5 s), the first attempt fails with SQLITE_BUSY
// (kUnavailable), and a retry after the backoff commits once the lock is released.
#include <sqlite3.h>

#include <chrono>
#include <future>
#include <thread>

#include "connectors/sqlite/sqlite_sink.h"
#include "connectors/sqlite/sqlite_test_util.h"
#include "connectors/test_util.h"

namespace sluice {
namespace {

using testing::query;
using testing::sink_spec;
using testing::TempDir;

SchemaPtr schema() { return make_schema({{"page", TypeId::kString}, {"views", TypeId::kInt64}}); }

RecordBatch batch(const char* page, int64_t views) {
  RecordBatch b(schema());
  b.mutable_column(0).append_string(page);
  b.mutable_column(1).append_int(views);
  b.sync_num_rows();
  return b;
}

TEST(SqliteSinkCommitRetryTest, ACommitBlockedByAnotherWriterIsRetriedUntilTheLockIsReleased) {
  TempDir dir;
  const std::string db = dir.file("out.db");
  auto factory = make_sink_factory(sink_spec("sqlite", {{"path", db}}, schema(), "views"));
  ASSERT_TRUE(factory.is_ok()) << factory.status().message();
  auto writer = std::move(factory.value()->create_writer()).value();
  ASSERT_TRUE(writer->open().is_ok());
  ASSERT_TRUE(writer->recover(testing::test_sink_identity(), 0, "").is_ok());
  ASSERT_TRUE(writer->write(batch("/a", 1)).is_ok());
  ASSERT_TRUE(writer->pre_commit(1).is_ok());

  // Another process's writer: holds the write lock for 6.5 s, past the 5 s busy timeout.
  std::promise<void> locked;
  std::thread other([&] {
    sqlite3* conn = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &conn), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(conn, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
    locked.set_value();
    std::this_thread::sleep_for(std::chrono::milliseconds(6500));
    EXPECT_EQ(sqlite3_exec(conn, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(conn);
  });
  locked.get_future().wait();
  const auto start = std::chrono::steady_clock::now();
  Status s = writer->commit(1);
  const auto waited = std::chrono::steady_clock::now() - start;
  other.join();
  ASSERT_TRUE(s.is_ok()) << s.message();
  EXPECT_GE(waited, std::chrono::milliseconds(6000));  // it did wait for the lock
  EXPECT_EQ(query(db, "SELECT page, views FROM views"), (std::vector<std::string>{"/a|1"}));
  EXPECT_EQ(query(db, "SELECT checkpoint_id FROM _sluice_commits"), (std::vector<std::string>{"1"}));
  ASSERT_TRUE(writer->close().is_ok());
}

}  // namespace
}  // namespace sluice
