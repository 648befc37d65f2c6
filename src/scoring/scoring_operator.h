// The scoring operator: calls an HTTP/JSON model server for every row (or every
// micro-batch of rows) and appends the response as a TEXT column — Flink's async I/O
// (AsyncWaitOperator) for SQL's score(...) function (docs/scoring.md).
//
// The data path never waits on one slow call: process() turns a batch into calls and
// submits them to the ScoringClient (scoring_client.h: deadline, retries with backoff,
// circuit breaker) while fewer than `max_in_flight` calls are in flight; it waits for a
// result only when the limit is reached (backpressure). Completed results are emitted by
// poll_async(), which the task calls when the client wakes it (runtime/operator.h):
//   ordered (default)  rows leave in input order (the completed prefix is emitted);
//   unordered          a row leaves as soon as its call completed, but never across a
//                      watermark: watermarks are held in the queue and emitted once every
//                      row before them left (Flink's unordered mode), so no row becomes late.
// A failed call (time out, HTTP error, open breaker) gives its rows the fallback JSON (or
// NULL), or sends them to the dead-letter queue when the options name one; a NULL body is not sent and gives NULL.
//
// Checkpoints (as Flink): snapshot() stores the input rows whose results have not been
// emitted, and the watermarks queued between them; restore() queues them again and the
// calls are made again, so the output equals an uninterrupted run's (for a deterministic
// model). After a change of parallelism the stored rows are spread over the new
// instances and the queued watermarks are dropped (the sources send theirs again).
//
// Threads: the operator runs on its task's thread; the client's I/O thread only touches the
// ScoringCall objects in flight and wakes the task.
#pragma once

#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "expr/expr.h"
#include "formats/dead_letter.h"
#include "runtime/operator.h"
#include "scoring/scoring_client.h"

namespace sluice {

// Where the rows of failed calls go instead of getting the fallback: a dead-letter queue
// shared by the operator's instances (a JSON-lines file or a SQLite table, at-least-once
// across crashes like a source's `dlq` shorthand). Entries name the source "score", the
// instance as split, the reason and error ("timeout: deadline passed") and the row's body.
struct ScoringDeadLetters {
  std::shared_ptr<DeadLetterQueue> queue;
  std::string path;  // as the SQL named it (EXPLAIN)
  // begin_run() once for all instances: a fresh run replaces the file, a resumed one appends.
  Status begin(bool resumed);

 private:
  std::mutex mu_;
  bool begun_ = false;
  Status begin_status_;
};

struct ScoringOptions {
  ScoringClientOptions client;  // url, timeout, retries, breaker
  int max_in_flight = 64;       // calls in flight per operator instance (>= 1)
  int batch_rows = 1;           // rows per call: > 1 sends a JSON array and expects one back
  bool ordered = true;
  std::optional<std::string> fallback;  // JSON text given to rows of a failed call; none: NULL
  std::shared_ptr<ScoringDeadLetters> dead_letters;  // set: failed rows go there (no fallback)
  std::string dead_letter_path;  // SQL's `dlq`: the planner makes dead_letters from it
  Status validate() const;
};

// The output of scoring `input`: its columns, then `result` (TEXT: the response, or the
// fallback), `ingested` (TIMESTAMP: when the source read the row's record) and `decided`
// (TIMESTAMP: processing time when the row's result was emitted, the decision time).
SchemaPtr scoring_output_schema(const Schema& input, const std::string& result = "result",
                                const std::string& ingested = "ingest_time",
                                const std::string& decided = "decision_time");

class ScoringOperatorSpec : public OperatorSpec {
 public:
  // `body`: a TEXT expression giving each row's JSON request body; null: the first
  // `row_columns` columns of the row as a JSON object (0: all). `output_schema`: as
  // scoring_output_schema(input) gives (the names may differ).
  ScoringOperatorSpec(ScoringOptions options, ExprPtr body, size_t row_columns, SchemaPtr input_schema,
                      SchemaPtr output_schema);
  std::string kind() const override { return "score"; }
  std::string describe() const override;
  std::unique_ptr<Operator> create() const override;
  bool stateful() const override { return true; }
  bool async() const override { return true; }

  const ScoringOptions& options() const { return options_; }
  const ExprPtr& body() const { return body_; }
  size_t row_columns() const { return row_columns_; }
  const SchemaPtr& input_schema() const { return input_schema_; }
  const SchemaPtr& output_schema() const { return output_schema_; }

 private:
  ScoringOptions options_;
  ExprPtr body_;
  size_t row_columns_;
  SchemaPtr input_schema_;
  SchemaPtr output_schema_;
};

}  // namespace sluice
