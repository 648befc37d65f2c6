// The connector registry: which connectors exist and which WITH options each accepts.
//
// Every connector declares its options (name, type, default, meaning) in one list in
// registry.cc. The same list decides which options a table may give (anything else is an
// "unknown option" error before the connector runs; a connector that reads an option its
// list lacks fails with an internal error) and is what docs/sql.md documents: a test
// (registry_options_test.cc) enumerates these lists and fails when docs/sql.md lacks an
// option or shows another default, or when a declared default is not the one the
// connector's code falls back to. Adding an option = one line in registry.cc plus one
// row in docs/sql.md.
//
// make_source_factory / make_sink_factory (source.h, sink.h) dispatch through it. Static
// data; safe from any thread.
#pragma once

#include <string_view>
#include <vector>

#include "connectors/options.h"

namespace sluice {

struct ConnectorInfo {
  std::string_view kind;            // "source" or "sink"
  std::string_view name;            // the `connector` option's value
  std::vector<OptionSpec> options;  // every option it accepts (its own and format options)
};

// Every registered connector, sources first, each group sorted by name.
std::vector<ConnectorInfo> registered_connectors();

// Options every source table accepts, read by the planner rather than the connector
// (event time, watermarks, lateness, dead-letter and late-data outputs).
OptionList common_source_options();
bool is_common_source_option(std::string_view name);

}  // namespace sluice
