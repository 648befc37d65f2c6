// Registration by name (registry.h): connectors are listed sorted whatever the order they
// register in, a second registration of a name is ignored, and a registry without a
// database backend refuses a SQLite side output by naming the missing connector.
#include <gtest/gtest.h>

#include "connectors/registry.h"
#include "connectors/test_util.h"

namespace sluice {
namespace {

Result<std::unique_ptr<SinkFactory>> no_sink(const SinkSpec&) { return invalid_argument("not built"); }

TEST(RegistryRegistrationTest, ListsSortedAndKeepsTheFirstOfTwoRegistrations) {
  ConnectorRegistry r;
  r.add_sink({"zeta", &no_sink, {}, {}});
  r.add_sink({"alpha", &no_sink, {}, {}});
  r.add_sink({"alpha", &no_sink, {}, {}});
  std::vector<ConnectorInfo> list = r.connectors();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].name, "alpha");
  EXPECT_EQ(list[1].name, "zeta");
  auto f = r.make_sink_factory(testing::sink_spec("beta", {}, make_schema({{"a", TypeId::kInt64}})));
  ASSERT_FALSE(f.is_ok());
  EXPECT_EQ(f.status().message(), "table out: unknown connector 'beta' (available: alpha, zeta)");
}

TEST(RegistryRegistrationTest, DatabaseSideOutputWithoutTheSqliteConnectorIsAOneLineError) {
  ConnectorRegistry r;
  auto q = r.make_side_output("x.db", "", SideOutputKind::kLateData);
  ASSERT_FALSE(q.is_ok());
  EXPECT_EQ(q.status().message(),
            "late-data output x.db: a SQLite destination, but the sqlite connector is not in this build");
  EXPECT_TRUE(r.make_side_output("x.jsonl", "", SideOutputKind::kDeadLetters).is_ok());
}

}  // namespace
}  // namespace sluice
