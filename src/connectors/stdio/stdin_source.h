// Stdin source: reads JSON lines or CSV from standard input (`producer | sluice ...`).
//
// Options: format ('json' default or 'csv'), delimiter, header (CSV), timestamp_unit,
// max_line_bytes (default 64 MiB; a longer record is dead-lettered).
// Bounded: ends when the writer closes the pipe. One split; the reader is owned by one
// source task and never blocks it for long (it waits for input with poll(2)).
#pragma once

#include <memory>

#include "connectors/source.h"

namespace sluice {

// `fd` is the descriptor to read: 0 in production, a pipe in tests.
Result<std::unique_ptr<SourceFactory>> make_stdin_source_factory(const SourceSpec& spec, int fd = 0);

}  // namespace sluice
