// A temporal join whose versioned table is the changelog of a real PostgreSQL table
// (connector 'postgres-cdc'): the snapshot's rows and every later UPDATE become versions of
// their key, valid from the time column the application sets, and each order of a file
// joins the rate valid at its event time; a lookup join against another PostgreSQL table,
// read whole, adds each currency's name.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "connectors/postgres/pg_test_server.h"
#include "test_helpers.h"

namespace sluice {
namespace {

using testing::PgTestServer;

class TemporalJoinCdcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    slot_ = "e2e_tj_" + std::to_string(::getpid());
    dsn_ = PgTestServer::shared().fresh_database("temporal_join_cdc");
  }
  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      testing::wait_exit(pid_);
    }
    (void)PgTestServer::shared().exec(
        dsn_, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '" + slot_ + "'");
  }
  void exec(const std::string& sql) {
    Status s = PgTestServer::shared().exec(dsn_, sql);
    ASSERT_TRUE(s.is_ok()) << s.message() << "\n" << sql;
  }
  // Waits up to 60 s for `path` to hold `lines` lines.
  std::string wait_for_lines(const std::string& path, size_t lines) {
    std::string text;
    for (int i = 0; i < 600; ++i) {
      text = testing::read_file(path);
      if (static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) >= lines) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return text;
  }
  testing::TempDir dir_;
  std::string slot_;
  std::string dsn_;
  pid_t pid_ = -1;
};

TEST_F(TemporalJoinCdcTest, OrdersJoinTheRateValidAtTheirTimeFromTheTablesChanges) {
  exec("CREATE TABLE rates (cur TEXT PRIMARY KEY, rate BIGINT, ts TIMESTAMPTZ);"
       "INSERT INTO rates VALUES ('EUR', 100, '2024-01-01T00:00:00Z'), ('USD', 90, '2024-01-01T00:00:01Z');"
       "CREATE TABLE currencies (code TEXT PRIMARY KEY, name TEXT);"
       "INSERT INTO currencies VALUES ('EUR', 'euro'), ('USD', 'dollar');");
  testing::write_file(dir_.file("orders.jsonl"),
                      "{\"id\":1,\"cur\":\"EUR\",\"ts\":\"2024-01-01T00:00:05Z\"}\n"
                      "{\"id\":2,\"cur\":\"EUR\",\"ts\":\"2024-01-01T00:00:15Z\"}\n"
                      "{\"id\":3,\"cur\":\"USD\",\"ts\":\"2024-01-01T00:00:00Z\"}\n"
                      "{\"id\":4,\"cur\":\"GBP\",\"ts\":\"2024-01-01T00:00:25Z\"}\n"
                      "{\"id\":5,\"cur\":\"EUR\",\"ts\":\"2024-01-01T00:00:25Z\"}\n"
                      "{\"id\":6,\"cur\":\"USD\",\"ts\":\"2024-01-01T00:00:30Z\"}\n");
  testing::write_file(dir_.file("job.sql"),
                      "CREATE TABLE rates (cur TEXT, rate BIGINT, ts TIMESTAMP, PRIMARY KEY (cur)) WITH (connector = "
                      "'postgres-cdc', dsn = '" + dsn_ + "', table = 'public.rates', slot_name = '" + slot_ +
                      "', event_time = 'ts', watermark_delay = '5s');\n"
                      "CREATE TABLE currencies (code TEXT, name TEXT, PRIMARY KEY (code)) WITH (connector = "
                      "'postgres', dsn = '" + dsn_ + "');\n"
                      "CREATE TABLE orders (id BIGINT, cur TEXT, ts TIMESTAMP) WITH (connector = 'file', path = "
                      "'orders.jsonl', event_time = 'ts');\n"
                      "CREATE TABLE out (id BIGINT, rate BIGINT, currency TEXT) WITH (connector = 'file', path = "
                      "'out.jsonl');\n"
                      "INSERT INTO out SELECT o.id, r.rate, c.name FROM orders o LEFT JOIN versioned(rates, o.ts) AS r "
                      "ON o.cur = r.cur LEFT JOIN lookup(currencies) AS c ON o.cur = c.code;\n");
  pid_ = testing::spawn_sluice({"run", "-q", "job.sql"}, dir_.path(), dir_.file("log.txt"));
  ASSERT_GT(pid_, 0);
  // Changes after the snapshot: two new EUR rates, a USD rate, then a far later row that
  // moves the table's watermark past every order.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  exec("UPDATE rates SET rate = 110, ts = '2024-01-01T00:00:10Z' WHERE cur = 'EUR'");
  exec("UPDATE rates SET rate = 120, ts = '2024-01-01T00:00:20Z' WHERE cur = 'EUR'");
  exec("UPDATE rates SET rate = 95, ts = '2024-01-01T00:00:28Z' WHERE cur = 'USD'");
  exec("INSERT INTO rates VALUES ('ZZZ', 0, '2030-01-01T00:00:00Z')");
  const std::string out = wait_for_lines(dir_.file("out.jsonl"), 6);
  EXPECT_EQ(testing::interrupt_and_wait(pid_), 0) << testing::read_file(dir_.file("log.txt"));
  pid_ = -1;
  EXPECT_EQ(out,
            "{\"id\":3,\"rate\":null,\"currency\":\"dollar\"}\n"
            "{\"id\":1,\"rate\":100,\"currency\":\"euro\"}\n"
            "{\"id\":2,\"rate\":110,\"currency\":\"euro\"}\n"
            "{\"id\":4,\"rate\":null,\"currency\":null}\n"
            "{\"id\":5,\"rate\":120,\"currency\":\"euro\"}\n"
            "{\"id\":6,\"rate\":95,\"currency\":\"dollar\"}\n")
      << testing::read_file(dir_.file("log.txt"));
}

}  // namespace
}  // namespace sluice
