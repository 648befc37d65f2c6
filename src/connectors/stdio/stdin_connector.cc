// The stdin source and its options; registered by builtin_connectors.cc.
#include "connectors/registry.h"
#include "connectors/stdio/stdin_source.h"

namespace sluice {
namespace {

// As docs/sql.md shows it (type, default, meaning). Paths are relative to the working
// directory of `sluice run`.
constexpr OptionSpec kStdinSourceOptions[] = {
    {"max_line_bytes", "integer", "67108864", "the longest record; a longer one goes to the DLQ"},
};

}  // namespace

void register_stdin_connector(ConnectorRegistry& r) {
  r.add_source({"stdin", [](const SourceSpec& s) { return make_stdin_source_factory(s); }, kStdinSourceOptions,
                source_format_options()});
}

}  // namespace sluice
