// IngestWal: the durable input log of an HTTP ingest source (http_source.h). Requests append
// records to it and are acknowledged once the records are on disk; the source's reader
// reads them back as its one split, and checkpoints record how far it read.
//
// Layout: DIR/WAL_ID (a random id: positions recorded for another log are refused), DIR/LOCK
// (flock: one process per log) and segment files DIR/<base, 20 digits>.wal. Offsets are
// global byte offsets over the records of all segments; a segment holds the records from
// its base offset on: a 16-byte header ("SLWAL001", base as little-endian u64), then
// records, each [u32 payload length][u64 xxHash3 of type and payload, seeded with the
// length][u8 type][payload] (little-endian). Record types: an event (a JSON object, the bytes to decode) or a
// refused request body (the status and reason, the body's size and its first bytes: a dead
// letter).
//
// Durability: append() writes a batch of records and returns once they are fdatasync'ed
// (group commit: requests that arrive while a sync runs share the next one). A new segment
// is created (and the directory fsynced) when the active one exceeds segment_bytes; the
// active one is synced before it is sealed. Readers see records up to durable_end() only,
// so nothing is processed that a crash of the machine could take back.
//
// Recovery (open()): the last segment is scanned and a torn record at its end (one that was
// being written when the process died, never acknowledged) is cut off; writing continues in
// a new segment. Records are verified (length, checksum) again when read: damage anywhere
// else is an error naming the segment and offset, never skipped.
//
// Retention: release_before(offset) deletes the sealed segments that end at or before
// `offset` (after the checkpoint covering them completed, or once read by a job without
// checkpoints). The newest segment is never deleted, so the offsets go on across runs.
//
// Threads: append() from any number of threads (the HTTP workers); one IngestWalReader per
// reader task; release_before() and the accessors from any thread.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/status.h"
#include "formats/raw_records.h"

namespace sluice {

struct IngestWalOptions {
  std::string dir;
  int64_t segment_bytes = 64ll << 20;
};

// Records framed for one append() (the records of one request).
class WalBatch {
 public:
  void add_event(std::string_view json);
  // A refused request: `status` (400, 413, 415), the one-line reason, the body's whole size
  // and its first bytes (at most kOversizedPrefixBytes are kept).
  void add_refused(int status, std::string_view reason, int64_t body_size, std::string_view body_prefix);
  const std::string& bytes() const { return bytes_; }
  size_t records() const { return records_; }
  void clear() {
    bytes_.clear();
    records_ = 0;
  }

 private:
  void add(uint8_t type, std::string_view a, std::string_view b = {});
  std::string bytes_;
  size_t records_ = 0;
};

class IngestWal {
 public:
  // Creates DIR if needed, locks it, recovers it (see above) and starts a new segment.
  static Result<std::unique_ptr<IngestWal>> open(const IngestWalOptions& options);
  ~IngestWal();
  IngestWal(const IngestWal&) = delete;
  IngestWal& operator=(const IngestWal&) = delete;

  // Appends the batch and returns once it is durable. After a failed write or sync every
  // later append fails too (the log's tail is unknown); failure() says why.
  Status append(const WalBatch& batch);

  // Records before this offset are durable and may be read.
  int64_t durable_end() const { return durable_end_.load(std::memory_order_acquire); }
  // The first offset still held (the base of the oldest segment).
  int64_t start() const;
  // Bytes held on disk: durable_end() - start().
  int64_t retained_bytes() const { return durable_end() - start(); }
  const std::string& id() const { return id_; }
  const std::string& dir() const { return options_.dir; }
  // The error that stopped appends, ok while there is none.
  Status failure() const;

  // Deletes the sealed segments whose records all lie before `offset`.
  Status release_before(int64_t offset);

  // Waits up to `timeout_ms` until durable_end() > offset (returns at once when it is).
  void wait_for_data(int64_t offset, int timeout_ms) const;

  // The segment holding `offset`: its base, file and end (-1 while it is the active one).
  struct Segment {
    int64_t base = 0;
    std::string path;
    int64_t end = -1;
  };
  Result<Segment> segment_at(int64_t offset) const;

  static constexpr size_t kSegmentHeaderBytes = 16;
  static constexpr size_t kRecordHeaderBytes = 13;
  static constexpr uint8_t kEventRecord = 1;
  static constexpr uint8_t kRefusedRecord = 2;

 private:
  struct File;
  IngestWal(IngestWalOptions options, int lock_fd);
  Status recover();
  Status start_segment_locked(int64_t base);
  Status seal_active_locked();

  IngestWalOptions options_;
  int lock_fd_ = -1;
  std::string id_;

  mutable std::mutex mu_;
  mutable std::condition_variable synced_;  // durable_end_ advanced, or a sync ended
  std::deque<Segment> segments_;            // oldest first; the last one is active
  std::shared_ptr<File> active_;
  int64_t written_end_ = 0;  // offset after the last record written (durable or not)
  bool syncing_ = false;
  Status failure_ = Status::ok();
  std::atomic<int64_t> durable_end_{0};
};

// Reads the records of a log from an offset on (one reader task's split). Events become
// records of `out` (offset = their WAL offset, line -1); refused bodies become refused input
// (RawRecords::append_refused) with "HTTP STATUS: reason" as the dead letter's error.
class IngestWalReader {
 public:
  IngestWalReader(const IngestWal& wal, int64_t offset) : wal_(wal), offset_(offset) {}
  ~IngestWalReader();
  IngestWalReader(const IngestWalReader&) = delete;
  IngestWalReader& operator=(const IngestWalReader&) = delete;

  // Appends up to `max_records` durable records; returns how many (0: none available now).
  Result<size_t> read(RawRecords& out, size_t max_records);
  // The offset of the next record to read.
  int64_t offset() const { return offset_; }
  // Moves to `offset` (a record boundary recorded earlier).
  void seek(int64_t offset);

 private:
  Status open_segment();
  // Makes buf_ hold at least `need` bytes from file position pos_ on; false when the segment
  // has fewer before `limit`.
  Result<bool> fill(size_t need, int64_t limit);
  void close_segment();

  const IngestWal& wal_;
  int64_t offset_;
  IngestWal::Segment segment_;
  int fd_ = -1;
  std::string buf_;      // segment bytes from file position buf_pos_ on
  int64_t buf_pos_ = 0;  // file position of buf_[0]
  size_t used_ = 0;      // bytes of buf_ consumed
  std::string reason_;
};

}  // namespace sluice
