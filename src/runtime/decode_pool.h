// DecodePool: decodes the polls of one reader task on several threads, and hands them back
// in the order they were polled.
//
// Why: decoding (simdjson / CSV parsing and type conversion) is most of a source's CPU, and
// one reader task reads a file split alone; without this, `--parallelism 2` ran the decode
// of a single input file on one core. Everything that depends on order — dead-lettering,
// event time, per-row watermarks, lateness, the late-data origin, partitioning, barriers —
// stays on the reader task's thread and runs on the decoded polls strictly in poll order,
// so a job's output (and its DLQ, late output and checkpoints) is byte-identical whatever
// the number of decode threads.
//
// Unit of work: a Chunk, one poll of one split (up to batch_size records): raw records in,
// a columnar batch plus its decode failures out. Chunks live in a fixed ring of `depth`
// slots reused for the whole run (their buffers keep their capacity); threads hand over
// chunks, never records: one lock per chunk, no per-record allocation or lock.
//
// Lifecycle and threads: the owning reader task creates the pool (create()), then, on its
// own thread only: acquire() a free chunk, fill its `raw` by polling, submit() it (or
// leave it unsubmitted: the next acquire() returns it again), take the oldest chunk once
// decoded with next(), consume it and release() it. The `extra_threads` workers decode
// submitted chunks; while the owner waits in next() it decodes pending chunks itself, so
// the pool with 0 extra threads is a synchronous decoder. The destructor stops and joins
// the workers (chunks still in flight are dropped: the job is stopping).
//
// Decoders with state that later records depend on (a CSV header, Decoder::changes_state)
// get such input through share_state(), called by the owner with no chunk in flight, so
// every worker's decoder has seen it before the records after it.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/status.h"
#include "common/time_util.h"
#include "formats/format.h"
#include "formats/raw_records.h"
#include "types/record_batch.h"

namespace sluice {

class DecodePool {
 public:
  struct Chunk {
    RawRecords raw;                        // filled by the owner before submit()
    void* tag = nullptr;                   // the owner's (which split it was polled from)
    Micros polled_at_us = 0;               // the owner's (when it was polled: ingestion time)
    MutableBatchPtr batch;                 // decoded rows (a fresh batch per chunk)
    std::vector<DecodeFailure> failures;   // records that failed, in record order
    std::vector<uint32_t> row_records;     // per row: its record in `raw`
    Status status;                         // a failure that is not a record's fault
  };

  // `owner_decoder` decodes on the owner's thread (and stays the owner's); each of the
  // `extra_threads` workers gets a decoder of its own made from `format` and `schema`.
  // `depth`: chunks in flight at most (at least 1 + extra_threads is useful).
  static Result<std::unique_ptr<DecodePool>> create(const FormatOptions& format, SchemaPtr schema,
                                                    Decoder* owner_decoder, int extra_threads, size_t depth);
  ~DecodePool();
  DecodePool(const DecodePool&) = delete;
  DecodePool& operator=(const DecodePool&) = delete;

  // A free chunk to poll into (its `raw` cleared); null when `depth` chunks are in flight
  // (call next() first).
  Chunk* acquire();
  // Queues the chunk returned by the last acquire() for decoding.
  void submit(Chunk* chunk);
  // The oldest submitted chunk, once decoded (waiting, and decoding pending chunks on this
  // thread meanwhile, when `wait`); null when none is in flight or (without `wait`) the
  // oldest is not decoded yet.
  Chunk* next(bool wait);
  // Frees the chunk returned by next() (the oldest).
  void release(Chunk* chunk);
  size_t in_flight() const { return in_flight_; }
  // Lets every worker's decoder see `raw` (see the header comment). No chunk may be in
  // flight. The owner's decoder is not touched: the owner decodes `raw` itself.
  Status share_state(const RawRecords& raw);

 private:
  enum class SlotState : uint8_t { kFree, kPending, kDecoding, kDone };
  DecodePool(SchemaPtr schema, Decoder* owner_decoder, size_t depth);
  void worker_loop(Decoder* decoder);
  // The oldest pending slot (mu_ held), or -1.
  int oldest_pending() const;
  void decode(Decoder* decoder, Chunk& chunk) const;

  const SchemaPtr schema_;
  Decoder* const owner_decoder_;
  std::vector<std::unique_ptr<Decoder>> worker_decoders_;
  std::vector<Chunk> chunks_;
  // Ring positions, owner thread only: the oldest chunk in flight, and how many are.
  size_t oldest_ = 0;
  size_t in_flight_ = 0;

  mutable std::mutex mu_;
  std::condition_variable work_;     // a chunk became pending, or stopping
  std::condition_variable decoded_;  // a chunk became done
  std::vector<SlotState> states_;    // guarded by mu_
  bool stopping_ = false;            // guarded by mu_
  std::vector<std::thread> workers_;
};

}  // namespace sluice
