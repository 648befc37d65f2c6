// The blackhole sink and its options; registered by builtin_connectors.cc.
#include "connectors/registry.h"
#include "connectors/blackhole/blackhole_sink.h"

namespace sluice {
namespace {

// As docs/sql.md shows it (type, default, meaning).
constexpr OptionSpec kBlackholeSinkOptions[] = {
    {"commit_delay", "duration", "0s",
     "each commit (with checkpoints) or flush (without) takes this long: simulates a slow sink for latency and "
     "backpressure measurements"},
};

}  // namespace

void register_blackhole_connector(ConnectorRegistry& r) {
  r.add_sink({"blackhole", &make_blackhole_sink_factory, kBlackholeSinkOptions, {}});
}

}  // namespace sluice
