// Source connectors.
//
// A source table is read by one or more splits (a file is one split; a generator may have
// several; a Kafka topic later has one per partition). Each split is a SourceReader owned
// by one source task and called only from that task's thread: open(), then poll() in a
// loop until it returns kEnd (bounded input) or the job stops, then close().
//
// Readers return raw bytes (RawRecords); decoding, dead-lettering, event-time extraction
// and watermarks are done by the source task, the same way for every connector.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "connectors/options.h"
#include "formats/format.h"
#include "formats/raw_records.h"
#include "types/schema.h"

namespace sluice {

// Where a reader is, as recorded in a checkpoint: an offset (byte offset or event index)
// and, for line-based sources, the number of lines consumed before it.
struct SourcePosition {
  int64_t offset = 0;
  int64_t line = 0;
  // What `offset` points into, for inputs that can change under the same name (a file that
  // is rewritten, truncated or rotated): written by resume_position(), checked by
  // check_position() and seek(), stored in checkpoints as is. Empty: nothing to check.
  std::string fingerprint;
};

enum class PollStatus {
  kData,  // `out` holds at least one record
  kIdle,  // nothing available now (an unbounded source); the task may wait briefly
  kEnd,   // the split is exhausted; no more records will come
};

class SourceReader {
 public:
  virtual ~SourceReader() = default;
  virtual Status open() = 0;
  // Appends up to `max_records` records to `out` (which the caller cleared). Must not block
  // longer than about 100 ms: return kIdle instead so the task can check for stop requests.
  virtual Result<PollStatus> poll(RawRecords& out, size_t max_records) = 0;
  virtual Status close() { return Status::ok(); }
  // Where the reader is (byte offset / sequence number); checkpoints record it later.
  virtual int64_t position() const = 0;
  // The position to record in a checkpoint: resuming there reads exactly the records not
  // yet returned. Default: position() with no line count.
  virtual SourcePosition resume_position() const { return {position(), 0, {}}; }
  // Whether `pos` (a resume_position() of an earlier reader of the same split) still refers
  // to the input this reader would read, e.g. that a file's bytes before the offset are the
  // ones read then. The error says in one line what changed. Called on an opened reader,
  // before seek(); the default accepts every position.
  virtual Status check_position(const SourcePosition& pos) { return Status::ok(); }
  // Moves a freshly opened reader to `pos` (a resume_position() of an earlier reader of the
  // same split). Sources that cannot resume say so.
  virtual Status seek(const SourcePosition& pos) { return unsupported("this source cannot resume from a position"); }
};

// Everything needed to create the readers of one source table.
struct SourceSpec {
  std::string table;       // table name, for errors and the DLQ
  std::string connector;   // "file", "generator", "stdin"
  SchemaPtr schema;        // declared columns
  ConnectorOptions options;
};

class SourceFactory {
 public:
  virtual ~SourceFactory() = default;
  virtual int num_splits() const = 0;
  virtual Result<std::unique_ptr<SourceReader>> create_reader(int split) = 0;
  // The format of the raw records the readers produce.
  virtual const FormatOptions& format() const = 0;
  // Bounded sources end (kEnd); unbounded ones run until the job stops.
  virtual bool bounded() const = 0;
  virtual std::string describe() const = 0;
  // What the source reads, recorded with its positions in checkpoints, e.g. "file
  // /data/in.jsonl" (the path as resolved) or a generator's sequence options. A checkpoint
  // taken while the table read something else is not resumed (its positions belong to
  // another input). Options that do not change what is read (pacing, format) are left out.
  virtual std::string identity() const { return describe(); }
};

// Validates the options of `spec` (unknown options are errors) and creates the factory.
// Options read by the engine itself (event_time, watermark_delay, allowed_lateness,
// idle_timeout, dlq, dlq_table) are marked used by the caller before this is called.
Result<std::unique_ptr<SourceFactory>> make_source_factory(const SourceSpec& spec);

}  // namespace sluice
