// Specification of the connector registry: dispatch and option errors.
#include "connectors/test_util.h"

namespace sluice {
namespace {

using testing::sink_spec;
using testing::source_spec;

TEST(RegistryTest, UnknownSourceConnectorListsTheAvailableOnes) {
  auto f = make_source_factory(source_spec("kafkaa", {}));
  ASSERT_FALSE(f.is_ok());
  std::string optional;  // the sources of this build's optional connectors
#ifdef SLUICE_WITH_KAFKA
  optional += ", kafka";
#endif
#ifdef SLUICE_HAS_NATS
  optional += ", nats";
#endif
#ifdef SLUICE_HAS_POSTGRES
  optional += ", postgres-cdc";
#endif
#ifdef SLUICE_HAS_REDIS
  optional += ", redis-stream";
#endif
  EXPECT_EQ(f.status().message(),
            "table clicks: unknown connector 'kafkaa' (available: file, generator, http" + optional + ", stdin)");
}

TEST(RegistryTest, UnknownSinkConnectorListsTheAvailableOnes) {
  auto f = make_sink_factory(sink_spec("mysql", {}, make_schema({{"a", TypeId::kInt64}})));
  ASSERT_FALSE(f.is_ok());
  std::string optional;  // the sinks of this build's optional connectors
#ifdef SLUICE_WITH_KAFKA
  optional += ", kafka";
#endif
#ifdef SLUICE_HAS_NATS
  optional += ", nats";
#endif
#ifdef SLUICE_HAS_POSTGRES
  optional += ", postgres";
#endif
#ifdef SLUICE_HAS_REDIS
  optional += ", redis";
#endif
  EXPECT_EQ(f.status().message(),
            "table out: unknown connector 'mysql' (available: blackhole, console, file" + optional + ", sqlite)");
}

TEST(RegistryTest, MisspelledOptionIsAnError) {
  auto f = make_source_factory(source_spec("generator", {{"evnets", "10"}}));
  ASSERT_FALSE(f.is_ok());
  EXPECT_NE(f.status().message().find("table clicks: unknown option 'evnets'"), std::string::npos)
      << f.status().message();
}

TEST(RegistryTest, OptionsMarkedUsedByTheEngineAreAccepted) {
  SourceSpec spec = source_spec("generator", {{"event_time", "ts"}, {"watermark_delay", "5s"}, {"events", "1"}});
  spec.options.mark_used("event_time");
  spec.options.mark_used("watermark_delay");
  EXPECT_TRUE(make_source_factory(spec).is_ok());
}

TEST(RegistryTest, MissingRequiredOptionNamesTableAndOption) {
  auto f = make_sink_factory(sink_spec("sqlite", {}, make_schema({{"a", TypeId::kInt64}})));
  ASSERT_FALSE(f.is_ok());
  EXPECT_EQ(f.status().message(), "table out: missing required option 'path'");
}

TEST(RegistryTest, GuaranteesHaveNames) {
  EXPECT_STREQ(sink_guarantee_name(SinkGuarantee::kAtLeastOnce), "at-least-once");
  EXPECT_STREQ(sink_guarantee_name(SinkGuarantee::kIdempotent), "idempotent");
  EXPECT_STREQ(sink_guarantee_name(SinkGuarantee::kExactlyOnce), "exactly-once");
}

}  // namespace
}  // namespace sluice
