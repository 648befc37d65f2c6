// File sink: writes result rows to a JSON-lines or CSV file.
//
// Options (WITH (...)):
//   path       required. The parent directory must exist (it is not created).
//   format     'json' (default) or 'csv'; delimiter, header (CSV, default true: a header
//              line is written when the file is empty).
//   mode       'overwrite' (default: the file is truncated when the writer opens) or
//              'append' (rows are added after the existing content).
//   changelog  bool, default false. true: the file is a changelog: every row carries its
//              op (+I/-U/+U/-D; a JSON "op" field, a first CSV column), and the sink
//              accepts updating streams (capabilities().changelog_append).
//
// Output is buffered (FILE*); flush() hands it to the OS; close() flushes and closes.
// Guarantee: at-least-once (after a restart rows may repeat). The factory is created on
// the planner thread; the writer is used by one sink task.
#pragma once

#include <memory>

#include "connectors/sink.h"

namespace sluice {

Result<std::unique_ptr<SinkFactory>> make_file_sink_factory(const SinkSpec& spec);

}  // namespace sluice
