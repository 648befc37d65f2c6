// Temporal and lookup joins from the C++ builder (Stream::join_versioned / join_lookup): the
// same plan shape as SQL's versioned() / lookup() (plan/shapes.h make_temporal_join_node),
// so the builder writes what the SQL job writes, and misuse is refused with the reason.
#include <gtest/gtest.h>

#include "api/api_test_util.h"
#include "sluice/pipeline.h"

namespace sluice::api {
namespace {

using testing::TempDir;

constexpr const char* kRates =
    "{\"cur\":\"EUR\",\"rate\":100,\"ts\":\"2024-01-01T00:00:00Z\"}\n"
    "{\"cur\":\"USD\",\"rate\":90,\"ts\":\"2024-01-01T00:00:01Z\"}\n"
    "{\"cur\":\"EUR\",\"rate\":110,\"ts\":\"2024-01-01T00:00:10Z\"}\n"
    "{\"cur\":\"EUR\",\"rate\":120,\"ts\":\"2024-01-01T00:00:20Z\"}\n";
constexpr const char* kOrders =
    "{\"id\":1,\"cur\":\"EUR\",\"ts\":\"2024-01-01T00:00:05Z\"}\n"
    "{\"id\":2,\"cur\":\"EUR\",\"ts\":\"2024-01-01T00:00:15Z\"}\n"
    "{\"id\":3,\"cur\":\"USD\",\"ts\":\"2024-01-01T00:00:00Z\"}\n"
    "{\"id\":4,\"cur\":\"GBP\",\"ts\":\"2024-01-01T00:00:25Z\"}\n"
    "{\"id\":5,\"cur\":\"EUR\",\"ts\":\"2024-01-01T00:00:25Z\"}\n";

struct Inputs {
  Stream orders;
  Stream rates;
};

Inputs sources(Pipeline& p, const std::string& dir, bool rates_key = true, bool rates_time = true) {
  TableOptions rates{{"connector", "file"}, {"path", dir + "/rates.jsonl"}};
  if (rates_key) rates["primary_key"] = "rate_cur";
  if (rates_time) {
    rates["event_time"] = "rate_ts";
    rates["watermark_delay"] = "5s";
  }
  return {p.source("orders", {field("id", TypeId::kInt64), field("cur", TypeId::kString), field("ts", TypeId::kTimestamp)},
                   {{"connector", "file"}, {"path", dir + "/orders.jsonl"}, {"event_time", "ts"}, {"watermark_delay", "5s"}}),
          p.source("rates",
                   {field("rate_cur", TypeId::kString), field("rate", TypeId::kInt64), field("rate_ts", TypeId::kTimestamp)},
                   rates)};
}

class TemporalJoinApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The rates with renamed columns (names both streams have are ambiguous in joins).
    std::string rates = kRates;
    rates = testing::replace_all(rates, "\"cur\"", "\"rate_cur\"");
    rates = testing::replace_all(rates, "\"ts\"", "\"rate_ts\"");
    testing::write_file(dir_.file("rates.jsonl"), rates);
    testing::write_file(dir_.file("orders.jsonl"), kOrders);
  }
  TempDir dir_;
};

TEST_F(TemporalJoinApiTest, JoinVersionedWritesWhatTheSqlJobWrites) {
  Pipeline p;
  Inputs in = sources(p, dir_.path());
  Table out = p.sink("out", {{"connector", "file"}, {"path", dir_.file("out.jsonl")}});
  in.orders.join_versioned(in.rates, col("cur") == col("rate_cur"), JoinKind::kLeft).select("id", "rate").to(out);
  auto r = p.run();
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  const std::string sql = testing::replace_all(
      "CREATE TABLE orders (id BIGINT, cur TEXT, ts TIMESTAMP) WITH (connector = 'file', path = '{DIR}/orders.jsonl', "
      "event_time = 'ts', watermark_delay = '5s');\n"
      "CREATE TABLE rates (rate_cur TEXT, rate BIGINT, rate_ts TIMESTAMP, PRIMARY KEY (rate_cur)) WITH (connector = "
      "'file', path = '{DIR}/rates.jsonl', event_time = 'rate_ts', watermark_delay = '5s');\n"
      "CREATE TABLE out2 (id BIGINT, rate BIGINT) WITH (connector = 'file', path = '{DIR}/out2.jsonl');\n"
      "INSERT INTO out2 SELECT o.id, r.rate FROM orders o LEFT JOIN versioned(rates, o.ts) AS r ON o.cur = r.rate_cur;\n",
      "{DIR}", dir_.path());
  auto s = run_sql(sql);
  ASSERT_TRUE(s.is_ok()) << s.status().message();
  const std::string want =
      "{\"id\":3,\"rate\":null}\n{\"id\":1,\"rate\":100}\n{\"id\":2,\"rate\":110}\n{\"id\":4,\"rate\":null}\n"
      "{\"id\":5,\"rate\":120}\n";
  EXPECT_EQ(testing::read_file(dir_.file("out.jsonl")), want);
  EXPECT_EQ(testing::read_file(dir_.file("out2.jsonl")), want);
}

TEST_F(TemporalJoinApiTest, JoinLookupReadsTheTableWhole) {
  Pipeline p;
  Inputs in = sources(p, dir_.path(), true, false);
  Table out = p.sink("out", {{"connector", "file"}, {"path", dir_.file("out.jsonl")}});
  // Without event time the file's rows are loaded in order: the last row of a key wins.
  in.orders.join_lookup(in.rates, col("cur") == col("rate_cur")).select("id", "rate").to(out);
  auto r = p.run();
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(testing::read_file(dir_.file("out.jsonl")),
            "{\"id\":1,\"rate\":120}\n{\"id\":2,\"rate\":120}\n{\"id\":3,\"rate\":90}\n{\"id\":5,\"rate\":120}\n");
}

TEST_F(TemporalJoinApiTest, MisuseIsRefusedWithTheReason) {
  {
    Pipeline p;
    Inputs in = sources(p, dir_.path(), false, true);
    Stream s = in.orders.join_versioned(in.rates, col("cur") == col("rate_cur"));
    ASSERT_FALSE(s.status().is_ok());
    EXPECT_NE(s.status().message().find("versioned table rates has no primary key"), std::string::npos)
        << s.status().message();
  }
  {
    Pipeline p;
    Inputs in = sources(p, dir_.path(), true, false);
    Stream s = in.orders.join_versioned(in.rates, col("cur") == col("rate_cur"));
    ASSERT_FALSE(s.status().is_ok());
    EXPECT_NE(s.status().message().find("no time attribute"), std::string::npos) << s.status().message();
  }
  {
    Pipeline p;
    Inputs in = sources(p, dir_.path());
    Stream s = in.orders.join_versioned(in.rates, col("id") == col("rate"));
    ASSERT_FALSE(s.status().is_ok());
    EXPECT_NE(s.status().message().find("must equate its primary key column 'rate_cur'"), std::string::npos)
        << s.status().message();
  }
  {
    Pipeline p;
    Inputs in = sources(p, dir_.path());
    Stream s = in.orders.join_lookup(in.rates, col("cur") == col("rate_cur"), JoinKind::kFull);
    ASSERT_FALSE(s.status().is_ok());
    EXPECT_NE(s.status().message().find("INNER or LEFT"), std::string::npos) << s.status().message();
  }
}

}  // namespace
}  // namespace sluice::api
