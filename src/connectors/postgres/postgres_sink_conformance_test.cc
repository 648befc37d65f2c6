// The PostgreSQL sink in the sink conformance suite (sink_conformance.h), against a real
// PostgreSQL server started by the test (pg_test_server.h): an append table and an upsert
// table keyed by id, each test in a database of its own.
#include <functional>

#include <fmt/format.h>

#include "connectors/postgres/pg_test_server.h"
#include "connectors/sink_conformance.h"
#include "connectors/test_util.h"

namespace sluice::testing {
namespace {

std::string database_for(const std::string& dir) {
  return fmt::format("conf_{:x}", std::hash<std::string>{}(dir));
}

SinkConformanceTarget postgres_sink_conformance_target() {
  SinkConformanceTarget t;
  t.name = "Postgres";
  t.modes = {SinkMode::kAppend, SinkMode::kUpsert};
  t.spec = [](const std::string& dir, SinkMode mode, SchemaPtr schema) {
    PgTestServer& server = PgTestServer::shared();
    const std::string db = database_for(dir);
    // One database per test directory: the first spec of a test makes it fresh.
    static std::string last;
    const std::string dsn = last == db ? server.dsn(db) : server.fresh_database(db);
    last = db;
    std::map<std::string, std::string> options{{"dsn", dsn}, {"create_table", "true"}};
    if (mode == SinkMode::kUpsert) options.emplace("primary_key", "id");
    return sink_spec("postgres", std::move(options), std::move(schema));
  };
  t.read = [](const std::string& dir, SinkMode mode) -> std::vector<std::string> {
    PgTestServer& server = PgTestServer::shared();
    const std::string dsn = server.dsn(database_for(dir));
    auto exists = server.query(dsn, "SELECT to_regclass('out') IS NOT NULL");
    if (exists.empty() || exists[0] != "t") return {};
    // Append: in write order (a heap table only appended to keeps insertion order in ctid).
    return server.query(dsn, mode == SinkMode::kUpsert ? "SELECT id, name FROM out ORDER BY id"
                                                       : "SELECT id, name FROM out ORDER BY ctid");
  };
  return t;
}

}  // namespace
}  // namespace sluice::testing

INSTANTIATE_SINK_CONFORMANCE(Postgres, sluice::testing::postgres_sink_conformance_target());
