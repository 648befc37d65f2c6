// The Redis sink in the sink conformance suite (sink_conformance.h), against a real
// redis-server started by the test process (redis_test_server.h): upsert mode (a Redis key
// per id), as hashes.
#include <algorithm>
#include <string>

#include "connectors/redis/redis_test_server.h"
#include "connectors/sink_conformance.h"
#include "connectors/test_util.h"

namespace sluice::testing {
namespace {

SinkConformanceTarget redis_sink_conformance_target() {
  SinkConformanceTarget t;
  t.name = "Redis";
  t.modes = {SinkMode::kUpsert};
  t.spec = [](const std::string& dir, SinkMode, SchemaPtr schema) {
    // Each test (a directory of its own) starts from an empty server.
    static std::string last;
    if (last != dir) RedisTestServer::shared().command({"FLUSHALL"});
    last = dir;
    return sink_spec("redis", {{"url", RedisTestServer::shared().url()}, {"primary_key", "id"}}, std::move(schema));
  };
  t.read = [](const std::string&, SinkMode) -> std::vector<std::string> {
    auto& server = RedisTestServer::shared();
    std::vector<std::pair<int64_t, std::string>> rows;
    for (const std::string& key : server.command({"KEYS", "out:*"})) {
      const int64_t id = std::stoll(key.substr(4));
      const auto name = server.command({"HGET", key, "name"});
      rows.emplace_back(id, std::to_string(id) + "|" + (name.empty() ? "" : name[0]));
    }
    std::sort(rows.begin(), rows.end());
    std::vector<std::string> out;
    for (auto& r : rows) out.push_back(r.second);
    return out;
  };
  return t;
}

}  // namespace
}  // namespace sluice::testing

INSTANTIATE_SINK_CONFORMANCE(Redis, sluice::testing::redis_sink_conformance_target());
