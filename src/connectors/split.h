// Splits and split enumerators: how a source table is cut into independently readable
// parts, and who decides which reader task reads which part (the model of Flink's FLIP-27,
// adapted).
//
// A split is opaque to the engine: an id (unique within the table and stable across runs:
// "0" for a file read whole, a file name in a directory, "topic-3" for a Kafka partition),
// an ordinal number (shown in dead-letter and late entries) and a position: bytes whose
// encoding the connector defines (empty = the split's start). The engine stores positions
// in checkpoints as they are and hands them back to the connector on resume.
//
// A SplitEnumerator (one per source table) discovers splits and, through assign(), names
// the reader task of each. The engine calls it under its own lock (never concurrently),
// from whichever reader task thread is due to run discovery; discover() may do I/O (list a
// directory, fetch partition metadata) but should return within about 100 ms. It may add
// splits while the job runs and take splits back (`revoked`, as a consumer-group rebalance
// would): the engine then moves the split, with its position and watermark, to the reader
// that assign() names now, at a point consistent with checkpoints (runtime/
// split_coordinator.h), so nothing is read twice or skipped across a crash.
//
// Checkpointed state: the position of every split (recorded by the reader tasks, finished
// splits included) and the enumerator's own snapshot_state(), taken at the start of each
// checkpoint. On resume the enumerator gets both back (restore()) before its first
// discover(); the recorded splits are the truth about what exists and where it stands.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/time_util.h"

namespace sluice {

struct SourceSplit {
  std::string id;        // unique within the table, stable across runs
  int number = 0;        // ordinal (discovery order), for dead-letter and late entries
  std::string position;  // connector-defined bytes; empty: the start of the split
};

// What one discover() call found.
struct SplitChanges {
  std::vector<SourceSplit> added;    // new splits (positions usually empty)
  std::vector<std::string> revoked;  // ids of splits to take back from their reader and assign again
  // No split will ever be added again (a bounded source's listing is complete): reader tasks
  // of a bounded source end once their splits are read and none can come any more.
  bool complete = false;
};

class SplitEnumerator {
 public:
  virtual ~SplitEnumerator() = default;
  // Resuming: the splits recorded in the checkpoint (finished ones included) and the
  // enumerator's snapshot_state() of that checkpoint. Called once, before discover().
  virtual Status restore(const std::vector<SourceSplit>& recorded, std::string_view state) { return Status::ok(); }
  // The first call returns the initial splits (after restore(): only those not recorded);
  // later calls, every discovery_interval(), what changed since.
  virtual Result<SplitChanges> discover() = 0;
  // How often discover() runs after the first call; 0: never again.
  virtual Micros discovery_interval() const { return 0; }
  // The reader task (0 <= result < readers) that should read `split`. Called when a split
  // is added or revoked. Default: by ordinal number, round robin.
  virtual int assign(const SourceSplit& split, int readers) const { return split.number % readers; }
  // Opaque state recorded in checkpoints (e.g. a schedule's progress); empty by default.
  virtual std::string snapshot_state() const { return std::string(); }
};

// A fixed set of splits "0".."n-1" numbered 0..n-1, all known at the start (a file read
// whole, the generator's splits).
class StaticSplitEnumerator : public SplitEnumerator {
 public:
  explicit StaticSplitEnumerator(int splits) : splits_(splits) {}
  Status restore(const std::vector<SourceSplit>& recorded, std::string_view state) override;
  Result<SplitChanges> discover() override;

 private:
  int splits_;
  std::vector<bool> recorded_;
  bool done_ = false;
};

// The position encoding shared by offset-based connectors (file, generator, stdin): an
// offset (byte offset or event index), the lines consumed before it, and a fingerprint of
// what the offset points into. Connectors with other positions (Kafka offsets per
// partition, a PostgreSQL LSN) define their own bytes.
struct SourcePosition {
  int64_t offset = 0;
  int64_t line = 0;
  // What `offset` points into, for inputs that can change under the same name (a file that
  // is rewritten, truncated or rotated): written by resume_position(), checked by
  // check_position() and seek(). Empty: nothing to check.
  std::string fingerprint;
};
std::string encode_offset_position(const SourcePosition& pos);
// nullopt when `bytes` is not an encode_offset_position() result.
std::optional<SourcePosition> decode_offset_position(std::string_view bytes);

}  // namespace sluice
