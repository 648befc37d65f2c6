// A build without the sqlite connector (SLUICE_WITH_SQLITE=OFF): the registry lists only
// what was built, and a SQLite destination is refused with one line naming the connector.
#include <gtest/gtest.h>

#include "connectors/registry.h"
#include "connectors/test_util.h"

namespace sluice {
namespace {

TEST(RegistryWithoutSqliteTest, SqliteSinkIsUnknownAndTheAvailableOnesAreListed) {
  auto f = make_sink_factory(testing::sink_spec("sqlite", {{"path", "x.db"}}, make_schema({{"a", TypeId::kInt64}})));
  ASSERT_FALSE(f.is_ok());
  std::string optional;  // the sinks of this build's optional connectors
#ifdef SLUICE_WITH_KAFKA
  optional += ", kafka";
#endif
#ifdef SLUICE_HAS_POSTGRES
  optional += ", postgres";
#endif
#ifdef SLUICE_HAS_REDIS
  optional += ", redis";
#endif
  EXPECT_EQ(f.status().message(), "table out: unknown connector 'sqlite' (available: blackhole, console, file" +
                                      optional + ")");
  for (const ConnectorInfo& c : registered_connectors()) EXPECT_NE(c.name, "sqlite");
}

TEST(RegistryWithoutSqliteTest, SqliteDeadLetterQueueIsAClearError) {
  for (SideOutputKind kind : {SideOutputKind::kDeadLetters, SideOutputKind::kLateData}) {
    auto q = make_dead_letter_queue("x.db", "", kind);
    ASSERT_FALSE(q.is_ok());
    EXPECT_NE(q.status().message().find("the sqlite connector is not in this build"), std::string::npos)
        << q.status().message();
  }
  EXPECT_FALSE(make_dead_letter_queue("x.jsonl", "dlq").is_ok());  // a table means SQLite too
  EXPECT_TRUE(make_dead_letter_queue("x.jsonl", "").is_ok());
}

}  // namespace
}  // namespace sluice
