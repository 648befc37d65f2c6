// HTTP ingest source (`connector = 'http'`): a listener of its own (option `listen`, apart
// from `sluice run --http`) that accepts JSON events by POST on `path` and writes them to a
// local write-ahead log (ingest_wal.h) before answering; the log is the source's one split.
//
// A request body is one JSON object, an array of objects (Content-Type application/json) or
// newline-delimited objects (application/x-ndjson). Answers:
//   202 {"accepted":N}   the N events are durable in the log (fdatasync'ed; group commit)
//   400 / 413 / 415      bad JSON, a body over max_body_bytes, another Content-Type: the
//                        body (its first 4 KiB) is recorded in the log as a dead letter, and
//                        the reader task writes it to the table's DLQ like any other
//   401                  token_file is set and the request lacks `Authorization: Bearer T`
//   429 + Retry-After    the job is behind: more than max_pending_bytes acknowledged, unread
//   503 + Retry-After    the log holds more than max_wal_bytes not yet released (no
//                        checkpoint completed), the job is stopping, or the log failed
// A request is accepted or refused whole.
//
// Reading: the reader reads records up to the log's durable end; its position is the log
// offset (encode_offset_position, fingerprint = the log's id). With checkpoints the log
// lives in CHECKPOINT_DIR/http-wal/<table> (or `wal_dir`), and segments are deleted once a
// completed checkpoint covers them (on_checkpoint_complete), so an acknowledged event is
// never lost: a restart resumes at the checkpoint's position and reads what was
// acknowledged after it. Without checkpoints `wal_dir` is required and segments are deleted
// once read. The source is unbounded; the listener binds when the reader opens (not for
// `sluice explain`/`validate`) and stops when the job's source factory is destroyed.
//
// Threads: the factory is built on the planner thread; HTTP requests are served by a small
// pool of cpp-httplib workers; the reader is called on its reader task's thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "connectors/http/ingest_wal.h"
#include "connectors/source.h"

namespace sluice {

Result<std::unique_ptr<SourceFactory>> make_http_source_factory(const SourceSpec& spec);

// How a request body's events are framed (from its Content-Type).
enum class HttpBodyKind { kJson, kNdjson };

// Splits a request body into events (JSON objects, their bytes as sent) and adds them to
// `out`. An error (one line: what is wrong and where, e.g. "line 3: not a JSON object")
// leaves `out` without any of the body's events. Exposed for tests.
Status split_http_body(std::string_view body, HttpBodyKind kind, WalBatch& out);

}  // namespace sluice
