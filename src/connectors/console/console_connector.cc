// The console sink and its options; registered by builtin_connectors.cc.
#include "connectors/registry.h"
#include "connectors/console/console_sink.h"

namespace sluice {
namespace {

// As docs/sql.md shows it (type, default, meaning). Paths are relative to the working
// directory of `sluice run`.
constexpr OptionSpec kConsoleSinkOptions[] = {
    {"changelog", "bool", "false", "show every row's op (+I/-U/+U/-D)"},
};

}  // namespace

void register_console_connector(ConnectorRegistry& r) {
  r.add_sink({"console", [](const SinkSpec& s) { return make_console_sink_factory(s); }, kConsoleSinkOptions,
              sink_format_options()});
}

}  // namespace sluice
