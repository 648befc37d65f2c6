// File sink: writes result rows to a JSON-lines or CSV file.
//
// Options (WITH (...)):
//   path       required. The parent directory must exist (it is not created).
//   format     'json' (default) or 'csv'; delimiter, header (CSV, default true: a header
//              line is written when the file is empty).
//   mode       'overwrite' (default: the output starts empty; the file is truncated) or
//              'append' (rows are added after the existing content). With checkpoints
//              see below.
//   changelog  bool, default false. true: the file is a changelog: every row carries its
//              op (+I/-U/+U/-D; a JSON "op" field, a first CSV column), and the sink
//              accepts updating streams (capabilities().changelog_append).
//
// Output is buffered (FILE*); flush() hands it to the OS; close() flushes and closes.
// The factory is created on the planner thread; the writer is used by one sink task.
//
// Delivery guarantee: exactly-once when the job checkpoints (capabilities() says so),
// at-least-once without checkpoints (after a restart rows may repeat).
//
// Without checkpoints the rows go to `path` itself, and the file is opened (truncated or
// appended to) by the first write(), flush() or close(), not by open(): recover() may still
// switch the writer to transactional mode, and then `path` is never touched.
//
// With checkpoints (after recover()) the output is a series of part files next to `path`,
// one per checkpoint that had rows (no empty parts), named by checkpoint id (PartFiles):
//   DIR/out.part-0000000001.jsonl, DIR/out.part-0000000003.jsonl, ...   (path DIR/out.jsonl)
// Reading the output = concatenating the committed parts in name order (`cat out.part-*`);
// for CSV only the first part has the header line, so the concatenation is what a run
// without checkpoints writes (except that a run without rows leaves no part, hence no
// header). Rows are written to the hidden DIR/.out.inprogress.jsonl; pre_commit(N) fsyncs
// it and renames it to DIR/.out.part-<N>.jsonl.pending (DIR fsynced); commit(N) renames
// every pending part <= N to its committed name. The checkpoint state lists the parts
// pre-committed and not yet committed (several when a checkpoint was aborted or its commit
// came late). close() removes the in-progress file: those rows belong to no checkpoint.
// recover(N, state): commits the parts the state lists (the crash came between checkpoint
// and commit); removes the in-progress file and every other pending part (rows after the
// checkpoint are read and written again); and rolls back (deletes) every committed part
// newer than N, DIR fsynced. Such parts exist when the job resumes from a checkpoint older
// than the newest one committed (the newest was corrupt and skipped, or --from-savepoint an
// older savepoint): the replay writes their rows again under new ids (the coordinator
// numbers on after the newest checkpoint id it has seen), so the output stays exactly-once
// relative to checkpoint N. The CSV header follows: the first remaining part has it, and
// when no part remains the next part written carries it.
// The bookkeeping (pending parts by checkpoint, state, recovery order, --start-over) is the
// shared transactional base's (connectors/transactional_sink.h); this sink is its
// TransactionTarget, and its committed parts are its commit record.
// Fresh start (recover(0)): pending and in-progress leftovers are removed; 'overwrite'
// removes the committed parts of earlier runs too (the output starts empty, as the file is
// truncated without checkpoints); 'append' keeps them, but because a fresh start numbers
// its parts from checkpoint 1 again it refuses to start while parts of an earlier run exist.
#pragma once

#include <memory>

#include "connectors/sink.h"

namespace sluice {

Result<std::unique_ptr<SinkFactory>> make_file_sink_factory(const SinkSpec& spec);

}  // namespace sluice
