// Source connectors.
//
// A source table is cut into splits (connectors/split.h: a file, a file of a directory, a
// generator's share of the events, later a Kafka partition). A split enumerator (one per
// table) discovers them and assigns them to the table's reader tasks; the number of reader
// tasks is a setting (`readers`), not the split count. Each split is read by a
// SourceReader owned by the reader task it is assigned to and called only from that task's
// thread: attach(), open(), seek_checkpoint_position() when resuming, then poll() in a
// loop until it returns kEnd (bounded input), the split is revoked or the job stops, then
// close(). One reader task polls all its splits in turn and keeps one watermark per split.
//
// Readers return raw bytes (RawRecords, optionally with per-record key, headers, broker
// timestamp and partition/offset metadata); decoding, dead-lettering, event-time extraction
// and watermarks are done by the reader task, the same way for every connector. A source of
// typed changelog rows (CDC) sets SourceFactory::produces_rows() and fills batches through
// poll_rows() instead: no decoder runs.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "connectors/options.h"
#include "connectors/split.h"
#include "formats/format.h"
#include "formats/raw_records.h"
#include "types/record_batch.h"
#include "types/schema.h"

namespace sluice {

class Clock;               // common/clock.h
class MetricsRegistry;     // the labelled metrics registry
struct RetryPolicy;        // connectors/retry.h

// What a reader task hands each of its split readers: who it is, and the shared services of
// the job. Pointers may be null (no registry, the system clock, no retries): readers must
// cope. A small struct on purpose, so services can be added without touching every reader.
struct SourceContext {
  std::string table;
  std::string job;  // the `job` label of the job's metrics (MetricsRegistry series)
  int reader = 0;   // index of the reader task
  int readers = 1;  // number of reader tasks of the table
  MetricsRegistry* metrics = nullptr;
  const Clock* clock = nullptr;
  const RetryPolicy* retry = nullptr;
  // The job takes checkpoints: on_checkpoint_complete() will acknowledge what was read.
  // Without them a reader that acknowledges upstream does so as it reads.
  bool checkpoints = false;
};

enum class PollStatus {
  kData,  // `out` holds at least one record
  kIdle,  // nothing available now (an unbounded source); the task may wait briefly
  kEnd,   // the split is exhausted; no more records will come
};

class SourceReader {
 public:
  virtual ~SourceReader() = default;
  // Called once before open().
  virtual void attach(const SourceContext& context) {}
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

  // The engine's view of positions: opaque bytes (SourceSplit::position). Offset-based
  // readers keep the defaults (encode_offset_position() of the SourcePosition calls above);
  // others override these three with their own encoding.
  virtual std::string checkpoint_position() const { return encode_offset_position(resume_position()); }
  virtual Status check_checkpoint_position(std::string_view bytes);
  virtual Status seek_checkpoint_position(std::string_view bytes);

  // Checkpoint `id` is being taken: the next checkpoint_position() call is the position it
  // records. Readers that acknowledge upstream (on_checkpoint_complete) remember it, so they
  // acknowledge what a completed checkpoint covers, not what was read since.
  virtual void note_checkpoint(uint64_t id) {}
  // Whether a checkpoint may record this reader's position now. A reader in a phase that no
  // position can resume (the initial snapshot of a CDC source: the database snapshot it
  // reads dies with its connection) returns false, and its reader task holds the
  // checkpoint's barrier back until it returns true: the checkpoint waits, and a crash
  // meanwhile resumes from the checkpoint before, where that phase starts again. Asked
  // between two polls.
  virtual bool can_checkpoint() const { return true; }
  // Checkpoint `id` is durable: acknowledge upstream what it covers (NATS acks, Kafka group
  // offset commits, Redis XACK): the records before the checkpoint_position() taken for
  // `id`, not everything polled since (with parallel decoding, runtime/decode_pool.h, later
  // polls may still be in flight, not yet emitted). The sinks commit `id` on their own threads, not
  // necessarily before this call; a commit not done yet is done by the recovery from `id`.
  // Called on the reader task's thread between two polls, for ids in increasing order
  // (some may be skipped).
  virtual Status on_checkpoint_complete(uint64_t id) { return Status::ok(); }

  // Typed changelog rows (SourceFactory::produces_rows()): appends up to `max_rows` rows to
  // `out` (built on the table's schema; out.row_kinds set for non-insert rows). Same
  // contract as poll() otherwise.
  virtual Result<PollStatus> poll_rows(RecordBatch& out, size_t max_rows) {
    return unsupported("this source does not produce rows");
  }
};

// Everything needed to create the readers of one source table.
struct SourceSpec {
  std::string table;       // table name, for errors and the DLQ
  std::string connector;   // "file", "generator", "stdin"
  SchemaPtr schema;        // declared columns
  ConnectorOptions options;
  // The job's checkpoint directory, "" when it does not checkpoint: a source that keeps its
  // own durable state (the HTTP ingest source's write-ahead log) keeps it there, and knows
  // whether completed checkpoints will acknowledge what it read.
  std::string checkpoint_dir;
};

class SourceFactory {
 public:
  virtual ~SourceFactory() = default;
  // Static splits "0".."n-1" (the default enumerator). Connectors with dynamic splits
  // override create_enumerator() and create_split_reader() instead.
  virtual int num_splits() const { return 1; }
  virtual Result<std::unique_ptr<SourceReader>> create_reader(int split) {
    return internal_error("this source has no static splits");
  }
  // The table's split enumerator; one per run, owned by the engine.
  virtual Result<std::unique_ptr<SplitEnumerator>> create_enumerator() {
    return std::unique_ptr<SplitEnumerator>(std::make_unique<StaticSplitEnumerator>(num_splits()));
  }
  // A reader of `split` (its position is applied by the engine through
  // seek_checkpoint_position()). Thread-safe: reader tasks call it concurrently.
  virtual Result<std::unique_ptr<SourceReader>> create_split_reader(const SourceSplit& split);
  // Reader tasks when the table does not set `readers`: one per static split by default.
  virtual int default_readers() const { return num_splits(); }
  // Whether a reader task reads its splits one after the other, in assignment order (a
  // directory's files in name order), instead of polling them all in turn. A split then
  // starts once the one before it ended.
  virtual bool reads_splits_in_order() const { return false; }
  // Whether readers produce typed rows (poll_rows(), CDC) rather than bytes to decode.
  virtual bool produces_rows() const { return false; }
  // A source of changes (CDC): the columns (schema indexes) of the key its rows are updated
  // by. Its rows are then an upsert stream by that key, as the planner treats the result
  // of a GROUP BY: +I/+U carry the new row, -D the row it deletes (the key columns at
  // least), -U (when present) the row before an update and is not needed downstream.
  // nullopt: inserts only.
  virtual std::optional<std::vector<int>> changelog_key() const { return std::nullopt; }
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
// The options every source accepts (registry.h common_source_options(): event_time,
// watermark_delay, idle_timeout, readers, dlq, late_output, ...) are read by the planner
// and left out of `spec.options`; options marked used before this call count as consumed
// elsewhere.
Result<std::unique_ptr<SourceFactory>> make_source_factory(const SourceSpec& spec);

}  // namespace sluice
