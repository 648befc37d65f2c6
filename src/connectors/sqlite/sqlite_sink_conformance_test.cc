// The SQLite sink in the sink conformance suite (sink_conformance.h): an append table and an
// upsert table keyed by id (the SQLite sink writes no changelog column).
#include <filesystem>

#include "connectors/sink_conformance.h"
#include "connectors/sqlite/sqlite_test_util.h"
#include "connectors/test_util.h"

namespace sluice::testing {
namespace {

SinkConformanceTarget sqlite_sink_conformance_target() {
  SinkConformanceTarget t;
  t.name = "Sqlite";
  t.modes = {SinkMode::kAppend, SinkMode::kUpsert};
  t.spec = [](const std::string& dir, SinkMode mode, SchemaPtr schema) {
    std::map<std::string, std::string> options{{"path", (std::filesystem::path(dir) / "out.db").string()}};
    if (mode == SinkMode::kUpsert) options.emplace("primary_key", "id");
    return sink_spec("sqlite", std::move(options), std::move(schema));
  };
  t.read = [](const std::string& dir, SinkMode mode) -> std::vector<std::string> {
    const std::string db = (std::filesystem::path(dir) / "out.db").string();
    if (!std::filesystem::exists(db)) return {};
    if (query(db, "SELECT name FROM sqlite_master WHERE name = 'out'").empty()) return {};
    return query(db, mode == SinkMode::kUpsert ? "SELECT id, name FROM out ORDER BY id"
                                               : "SELECT id, name FROM out ORDER BY rowid");
  };
  return t;
}

}  // namespace
}  // namespace sluice::testing

INSTANTIATE_SINK_CONFORMANCE(Sqlite, sluice::testing::sqlite_sink_conformance_target());
