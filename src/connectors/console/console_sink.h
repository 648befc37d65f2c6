// Console sink: prints result rows to stdout, for interactive use and demos.
//
// Options: format ('json' default or 'csv'; delimiter, header for CSV), changelog (bool,
// default false). Rows are printed as JSON lines (or CSV); each written batch is flushed
// at once, so output appears line by line as results are produced. The console accepts
// updating streams: with changelog = true every row shows its op (+I/-U/+U/-D); otherwise
// rows are plain until the first batch with an update or delete, and show the op from then on.
//
// The factory is created on the planner thread; its writer is used by one sink task.
#pragma once

#include <cstdio>
#include <memory>

#include "connectors/sink.h"

namespace sluice {

// `out` is stdout in production, a temporary file in tests.
Result<std::unique_ptr<SinkFactory>> make_console_sink_factory(const SinkSpec& spec, FILE* out = stdout);

}  // namespace sluice
