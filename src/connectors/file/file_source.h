// File source: reads a JSON-lines or CSV file line by line (one record per line).
//
// Options (WITH (...)):
//   path            required; the file to read
//   format          'json' (default) or 'csv'; delimiter, header (CSV); timestamp_unit
//   follow          bool, default false. false: bounded, ends at EOF (the file must exist
//                   when the table is created). true: tails a growing file like `tail -F`
//                   and never ends; the file may appear later; a partial last line is
//                   held back until its newline is written. A rotated file (the path names
//                   a new file) is read to its end, then the new file from its start; a
//                   truncated one (copytruncate) is read again from its start.
//   rate            records per second, default 0 (as fast as possible): replays a file
//                   at a steady pace (demos, crash and recovery tests).
//   max_line_bytes  default 64 MiB: a longer record goes to the dead-letter queue (its
//                   first 4 KiB) and reading goes on (see line_reader.h).
//   discovery_interval  default 1s: follow mode, directory or glob: how often new files
//                   are looked for.
//
// A path naming a directory ('dir/') or a glob in the file name ('logs/*.jsonl') reads
// every matching file: one split per file (id: the file name), found by a split enumerator
// (listed once; in follow mode again every discovery_interval, new files added), read one
// after the other in name order (followed: side by side). A single file is one split.
// The factory is created and validated on the planner thread; each split's reader is
// owned by one reader task (see source.h). position() is the byte offset of the next
// unread line; resume_position() adds a fingerprint of the file it points into (device,
// inode, size, hashes of the bytes at its start and before the offset), so a resume into a
// rewritten file is refused and one into a rotated file finds it again.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "connectors/connector_util.h"
#include "connectors/source.h"

namespace sluice {

Result<std::unique_ptr<SourceFactory>> make_file_source_factory(const SourceSpec& spec);


}  // namespace sluice
