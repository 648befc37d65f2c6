// Late-data output of one source table: one entry per input record that arrived behind
// every window of one or more queries, with the record's raw bytes, source, split, offset
// and line, and the queries that found it late (a record late for query A but on time for
// B is written once, naming A). The entries of a poll become one batch of
// side_output_schema(kLateData) rows, which goes either to a DeadLetterQueue destination
// (the JSON-lines / SQLite shorthands) through a writer thread, or, when the late output is
// a sink table (`late_output = 'late_rows'`), back to the submitting task, which sends it
// through its channel to that table's sink: no operator does I/O.
//
// How a late row is traced back to its record (docs/architecture.md, "Late data"):
//  - the source task decodes each poll of raw records into a batch carrying a
//    RecordOrigin (the raw records, shared by every batch derived from that poll) and, per
//    row, the index of the row's record (RecordBatch::row_records);
//  - each late filter (one slot per window query reading the source) marks the late rows of
//    its batches in the origin: batch at a time, no lock, no I/O;
//  - every source-side task that runs a pipeline over the poll (the source task itself, or
//    one reader task per pipeline when a source feeds several INSERTs) calls
//    RecordOrigin::finish_consumer() once its chain processed the poll's batch; the last one
//    calls LateOutput::submit(), which merges the slots' marks into one entry per record and
//    queues the rows for the writer thread (or returns them, for a sink table).
//
// Lifecycle: planning creates the LateOutput and registers queries (add_query); Job::run
// calls start() (after begin_run on the destination), tasks submit(), source-side tasks
// call sync() before acknowledging a checkpoint (the entries of every record before the
// checkpoint are then written and flushed: at-least-once across crashes), and Job::run
// calls stop() after all tasks ended (drains, flushes, joins). With a sink table there is
// no writer thread: the rows travel in band, before the task's next barrier, so the sink's
// transactions hold them exactly once.
// Threads: mark() only from the task thread that owns the slot for the origin's split;
// finish_consumer(), submit() and sync() from any task thread; the writer thread writes.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "common/time_util.h"
#include "formats/dead_letter.h"
#include "formats/recent_letters.h"
#include "formats/raw_records.h"
#include "metrics/registry.h"

namespace sluice {

// Why one query found one record late.
struct LateMark {
  uint32_t record = 0;     // index in the origin's raw records
  Micros event_time = 0;
  Micros watermark = 0;    // the row's watermark (its split's, just before it arrived)
  Micros window_end = 0;   // end of the row's last window (+ allowed lateness: the deadline)
};

class LateOutput;

// The raw records of one poll of one split, shared (by pointer) by the batches decoded from
// them. Created by the source task per poll when its table has a late output.
class RecordOrigin {
 public:
  // `consumers`: the number of tasks that will call finish_consumer().
  RecordOrigin(LateOutput* output, int split, int consumers);

  // The records: borrowed when every consumer finishes before the caller reuses them (a
  // source read by one pipeline runs its chain synchronously), or taken over when the
  // batches outlive the poll (a source read by several pipelines: its reader tasks run
  // later, on other threads).
  void borrow(const RawRecords& records) { records_ = &records; }
  void take(RawRecords&& records) {
    owned_ = std::move(records);
    records_ = &owned_;
  }

  void mark(int slot, const LateMark& m) { marks_[static_cast<size_t>(slot)].push_back(m); }
  // Returns true for the last consumer: it must call LateOutput::submit(*this).
  bool finish_consumer() { return pending_.fetch_sub(1, std::memory_order_acq_rel) == 1; }

  LateOutput* output() const { return output_; }
  int split() const { return split_; }
  const RawRecords& records() const { return *records_; }
  const std::vector<std::vector<LateMark>>& marks() const { return marks_; }

 private:
  LateOutput* output_;
  int split_;
  const RawRecords* records_ = nullptr;
  RawRecords owned_;
  std::atomic<int> pending_;
  std::vector<std::vector<LateMark>> marks_;  // per slot
};

class LateOutput {
 public:
  // `destination` null: the entries go to the sink table `sink_table` (see submit()).
  LateOutput(std::string source_table, std::shared_ptr<DeadLetterQueue> destination, std::string sink_table = "");
  ~LateOutput();

  // Planning: a late filter of query `query` (the sink table) reads this source; returns its
  // slot. `allowed_lateness` is named in the entries.
  // `row_time`: the query's operator needs each row before the watermark passes its own
  // event time (OVER aggregates, interval joins) rather than before its windows end;
  // entries say so.
  int add_query(std::string query, Micros allowed_lateness, bool row_time = false);
  size_t num_slots() const { return queries_.size(); }
  const std::string& source_table() const { return source_table_; }
  // Null when the late output is a sink table.
  DeadLetterQueue* destination() const { return destination_.get(); }
  const std::shared_ptr<DeadLetterQueue>& shared_destination() const { return destination_; }
  const std::string& sink_table() const { return sink_table_; }
  // "file late.jsonl", "sqlite out.db table late", "table late_rows".
  std::string describe() const { return destination_ ? destination_->describe() : "table " + sink_table_; }

  // Counts the entries written for split `split` into `entries` (the source's series in the
  // job's metrics registry). Call while the job builds its tasks, before start().
  void count_into(int split, Counter* entries);
  // Also copies every entry written into `recent` (the REST API's DLQ browser). Call while
  // the job builds its tasks, before start().
  void record_into(std::shared_ptr<RecentLetters> recent) { recent_ = std::move(recent); }

  // Runtime (see the header comment). submit() merges the origin's marks into rows (their
  // time column: `now`); it returns them when the output is a sink table (the caller sends
  // them to that sink, null when no record was late), else queues them for the writer
  // thread and returns null.
  void start();
  Result<BatchPtr> submit(const RecordOrigin& origin, Micros now);
  Status sync();
  Status stop();

 private:
  struct Query {
    std::string name;
    Micros allowed_lateness;
    bool row_time = false;
  };
  void writer_loop();
  Status write_rows(const RecordBatch& rows);
  void count(const RecordBatch& rows);

  const std::string source_table_;
  const std::shared_ptr<DeadLetterQueue> destination_;
  const std::string sink_table_;
  std::vector<Query> queries_;  // by slot; fixed after planning
  // Entries written, by split (null: not counted); fixed before start().
  std::vector<Counter*> split_entries_;
  std::shared_ptr<RecentLetters> recent_;  // may be null

  static constexpr size_t kMaxQueued = 64;  // batches of rows; submit() waits beyond
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<BatchPtr> queue_;            // guarded by mu_
  uint64_t submitted_ = 0;                // guarded by mu_: batches queued so far
  uint64_t written_ = 0;                  // guarded by mu_: batches written and flushed
  bool running_ = false;                  // guarded by mu_: start() was called, stop() not yet
  bool stopping_ = false;                 // guarded by mu_
  Status error_;                          // guarded by mu_: the first write error
  std::thread writer_;
};

}  // namespace sluice
