// The blackhole sink (no options); registered by builtin_connectors.cc.
#include "connectors/registry.h"
#include "connectors/blackhole/blackhole_sink.h"

namespace sluice {
void register_blackhole_connector(ConnectorRegistry& r) {
  r.add_sink({"blackhole", &make_blackhole_sink_factory, {}, {}});
}

}  // namespace sluice
