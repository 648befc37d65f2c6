// SplitCoordinator: the engine side of a source table's split enumerator. It runs the
// enumerator (connectors/split.h), hands splits to the table's reader tasks, moves revoked
// splits between them and says what each reader must record in a checkpoint, so that every
// split appears in every checkpoint exactly once, at a position consistent with the
// barriers.
//
// Why hand-offs need care: a checkpoint cuts each reader's stream at its own barrier, and
// the readers of a table reach barrier N at different times. A split revoked from reader A
// and given to reader B belongs to A's cut up to the hand-off and to B's after it, so:
//  - A and B between the same two barriers (same epoch): B gets it at once and records it
//    (queued or reading) at its next barrier; A no longer records it.
//  - B already past barrier N, A not: B gets it at once, and A still records it (at the
//    hand-off position) at its barrier N, since B's N was cut before B had it.
//  - A already past barrier N, B not: A recorded it at N; B gets it only once B passed N.
// New splits (start position) go to their reader at once; a reader records the splits
// queued for it. The enumerator's own state is taken when the first reader of the table
// reaches a barrier, before any reader's cut, so anything it knew then is in some
// reader's record (recorded splits are the truth on resume; the state adds to them).
//
// Threads: every method is thread-safe (one mutex); discover() of the enumerator runs under
// it, called by the reader task that finds discovery due.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/time_util.h"
#include "connectors/split.h"

namespace sluice {

// A split as the engine tracks it: where it resumes and its event-time progress.
struct TrackedSplit {
  SourceSplit split;
  Micros watermark = kMinWatermark;
  Micros max_event_time = kMinWatermark;
  bool finished = false;  // read to its end (bounded input) in this run
  // Restored from a checkpoint that recorded it read to its end: it is opened again at its
  // end (a file appended to since is read on, as a rerun of a bounded job reads new lines),
  // but an input that no longer exists is skipped instead of failing the job.
  bool finished_before = false;
  bool restored = false;  // the position comes from a checkpoint: check it before seeking
};

class SplitCoordinator {
 public:
  SplitCoordinator(std::string table, std::unique_ptr<SplitEnumerator> enumerator, int readers, bool bounded,
                   uint64_t restored_checkpoint);

  // Before the reader tasks start: restores the enumerator (when resuming), runs the first
  // discovery and assigns the restored and discovered splits.
  Status start(std::vector<TrackedSplit> restored, std::optional<std::string> enumerator_state);

  // What reader `reader` must do now: take `added`, give back the splits named in `revoke`
  // (give_back()). Runs discovery when it is due.
  struct Update {
    std::vector<TrackedSplit> added;
    std::vector<std::string> revoke;
    bool empty() const { return added.empty() && revoke.empty(); }
  };
  Status poll(int reader, Update* out);
  // A revoked split, as the reader stood when it let it go.
  void give_back(int reader, TrackedSplit split);
  // Reader `reader` takes part in checkpoint `id`: appends the splits it must record besides
  // its own (queued for it, or handed off by it to a reader past the barrier) and, for the
  // first reader of the table at `id`, the enumerator's state.
  void on_barrier(int reader, uint64_t id, std::vector<TrackedSplit>* also_record,
                  std::optional<std::string>* enumerator_state);
  // A bounded source's reader with nothing left to read: true (and it is marked ended, no
  // split goes to it any more) when no split can come to it.
  bool try_finish(int reader);

  // The highest watermark any reader task of the table emitted: where a split added to an
  // idle reader starts (its rows must not be behind what operators downstream saw).
  Micros max_emitted_watermark() const { return max_emitted_.load(std::memory_order_relaxed); }
  void on_emitted_watermark(Micros wm);

  const std::string& table() const { return table_; }
  int readers() const { return readers_; }

 private:
  Status discover_locked();
  int target_locked(const SourceSplit& split) const;
  void deliver_locked(int reader, TrackedSplit split);

  const std::string table_;
  std::unique_ptr<SplitEnumerator> enumerator_;
  const int readers_;
  const bool bounded_;
  std::mutex mu_;
  std::vector<uint64_t> epoch_;                    // last checkpoint each reader took part in
  std::vector<std::vector<TrackedSplit>> queue_;   // to take now
  struct Deferred {
    TrackedSplit split;
    uint64_t epoch;  // deliverable once the reader passed this checkpoint
  };
  std::vector<std::vector<Deferred>> deferred_;
  std::vector<std::vector<TrackedSplit>> released_;  // record at the next barrier, then forget
  std::vector<std::vector<std::string>> revoke_;
  std::vector<uint8_t> ended_;
  std::map<std::string, int> owner_;  // split id -> reader it was last given to
  bool complete_ = false;             // the enumerator adds no more splits
  uint64_t enumerator_epoch_ = 0;     // newest checkpoint whose enumerator state was taken
  std::chrono::steady_clock::time_point next_discovery_{};
  Micros interval_ = 0;
  std::atomic<Micros> max_emitted_{kMinWatermark};
};

}  // namespace sluice
