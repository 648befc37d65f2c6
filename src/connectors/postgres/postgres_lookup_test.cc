// The postgres lookup reader against a real PostgreSQL server: every row of the table in
// the declared columns (TIMESTAMP whatever the server's time zone), a changed row seen by
// the next read, and a missing table refused with its name.
#include <gtest/gtest.h>

#include "connectors/lookup.h"
#include "connectors/postgres/pg_test_server.h"

namespace sluice {
namespace {

using testing::PgTestServer;

class PostgresLookupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dsn_ = PgTestServer::shared().fresh_database(std::string("l_") + info->name());
  }
  Result<std::unique_ptr<LookupReader>> reader(const std::string& table) {
    LookupSpec spec;
    spec.table = "customers";
    spec.connector = "postgres";
    spec.schema = make_schema({{"id", TypeId::kInt64, false},
                               {"name", TypeId::kString, true},
                               {"since", TypeId::kTimestamp, true},
                               {"vip", TypeId::kBool, true},
                               {"score", TypeId::kFloat64, true}});
    spec.options = ConnectorOptions({{"dsn", dsn_}, {"table", table}}, "table customers");
    return make_lookup_reader(spec);
  }
  static std::vector<std::string> rows(const RecordBatch& b) {
    std::vector<std::string> out;
    for (size_t r = 0; r < b.num_rows; ++r) out.push_back(b.row_to_string(r));
    std::sort(out.begin(), out.end());
    return out;
  }
  std::string dsn_;
};

TEST_F(PostgresLookupTest, ReadsEveryRowAndSeesAChangeAtTheNextRead) {
  ASSERT_TRUE(PgTestServer::shared()
                  .exec(dsn_, "SET TIME ZONE 'Asia/Tokyo'; CREATE TABLE crm (id BIGINT PRIMARY KEY, name TEXT, "
                              "since TIMESTAMPTZ, vip BOOLEAN, score NUMERIC, extra TEXT);"
                              "INSERT INTO crm VALUES (1, 'ann', '2024-01-01T00:00:00Z', true, 1.5, 'x'),"
                              "(2, NULL, NULL, false, NULL, NULL);")
                  .is_ok());
  auto r = reader("public.crm");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  auto first = r.value()->read_all();
  ASSERT_TRUE(first.is_ok()) << first.status().message();
  EXPECT_EQ(rows(*first.value()), (std::vector<std::string>{"1, ann, 2024-01-01 00:00:00, true, 1.5",
                                                            "2, NULL, NULL, false, NULL"}));
  ASSERT_TRUE(PgTestServer::shared().exec(dsn_, "UPDATE crm SET name = 'anna' WHERE id = 1; DELETE FROM crm WHERE id = 2;").is_ok());
  auto second = r.value()->read_all();
  ASSERT_TRUE(second.is_ok()) << second.status().message();
  EXPECT_EQ(rows(*second.value()), (std::vector<std::string>{"1, anna, 2024-01-01 00:00:00, true, 1.5"}));
}

TEST_F(PostgresLookupTest, AMissingTableIsAnErrorNamingIt) {
  auto r = reader("nowhere");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  auto rows = r.value()->read_all();
  ASSERT_FALSE(rows.is_ok());
  EXPECT_NE(rows.status().message().find("nowhere"), std::string::npos) << rows.status().message();
}

}  // namespace
}  // namespace sluice
