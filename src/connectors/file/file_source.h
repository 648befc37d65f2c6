// File source: reads a JSON-lines or CSV file line by line (one record per line).
//
// Options (WITH (...)):
//   path            required; the file to read
//   format          'json' (default) or 'csv'; delimiter, header (CSV); timestamp_unit
//   follow          bool, default false. false: bounded, ends at EOF (the file must exist
//                   when the table is created). true: tails a growing file like `tail -f`
//                   and never ends; the file may appear later; a partial last line is
//                   held back until its newline is written.
//   rate            records per second, default 0 (as fast as possible): replays a file
//                   at a steady pace (demos, crash and recovery tests).
//
// One split. The factory is created and validated on the planner thread; its reader is
// owned by one source task (see source.h). position() is the byte offset of the next
// unread line.
#pragma once

#include <memory>

#include "connectors/source.h"

namespace sluice {

// The line splitting limit: a longer line is an error naming file and line.
inline constexpr size_t kMaxLineBytes = size_t{64} << 20;

Result<std::unique_ptr<SourceFactory>> make_file_source_factory(const SourceSpec& spec);

}  // namespace sluice
