// RecentLetters: the newest dead-letter and late-data entries of a job, kept in memory for
// the REST API and the dashboard's DLQ browser (GET /api/v1/jobs/NAME/dlq).
//
// Bounded: at most `capacity` entries, each raw record cut to kMaxRawBytes and its error
// to kMaxErrorBytes; the oldest entry is dropped when full. The side outputs themselves
// (files, SQLite tables) stay the complete record: this is a window onto their tail.
//
// Threads: add_rows() is called by whoever hands a batch of entries to its side output (a
// source task once per poll for dead letters; the late output, once per batch of late
// entries): one short lock and a bounded copy per batch, never I/O; page() may be called
// from any thread.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "common/time_util.h"
#include "formats/dead_letter.h"

namespace sluice {

class RecentLetters {
 public:
  static constexpr size_t kMaxRawBytes = 1024;
  static constexpr size_t kMaxErrorBytes = 1024;

  struct Entry {
    uint64_t seq = 0;  // 1, 2, ... in the order added (dead letters and late entries together)
    SideOutputKind kind = SideOutputKind::kDeadLetters;
    Micros time_unix_us = 0;  // when it was added
    std::string source;
    int split = 0;
    int64_t offset = -1;
    int64_t line = -1;
    std::string error;
    std::string raw;             // at most kMaxRawBytes
    uint64_t raw_bytes = 0;      // the record's full size
    std::string queries;  // late entries: the queries that found it late (a JSON array)
  };
  struct Page {
    uint64_t total = 0;     // entries added since the job started
    uint64_t retained = 0;  // entries still held (<= capacity)
    std::vector<Entry> entries;  // newest first
  };

  explicit RecentLetters(size_t capacity = 1000) : capacity_(capacity) {}
  // Adds the entries of a batch of side_output_schema(kind) rows (formats/dead_letter.h).
  void add_rows(SideOutputKind kind, const RecordBatch& rows);
  // Entries newest first, skipping `offset` of them, at most `limit`; `kind` filters when
  // set (null: both kinds).
  Page page(size_t offset, size_t limit, const SideOutputKind* kind = nullptr) const;
  size_t capacity() const { return capacity_; }

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::deque<Entry> entries_;  // oldest first
  uint64_t total_ = 0;
};

}  // namespace sluice
