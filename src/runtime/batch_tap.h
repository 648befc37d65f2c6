// BatchTap: a lossy window onto the rows a sink receives, for the REST API's live stream
// (GET /api/v1/jobs/NAME/stream?table=T, server-sent events feeding the dashboard's chart).
//
// The sink task offers every input batch. With nobody listening that is one relaxed atomic
// load. With a listener it keeps a reference to the batch (batches are immutable once
// emitted: no copy) in a ring of `capacity` batches; the oldest is dropped when full and a
// batch is dropped when a listener holds the ring's lock at that moment (try_lock): the tap
// loses data rather than ever slowing or blocking the job. Listeners see what was dropped
// as a gap in the sequence numbers.
//
// Threads: offer() from the sink task threads of the table (several instances: the lock
// orders them); listen()/next() from any thread (HTTP workers), each listener with its own
// cursor.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "types/record_batch.h"

namespace sluice {

class BatchTap {
 public:
  BatchTap(std::string table, SchemaPtr schema, size_t capacity = 64)
      : table_(std::move(table)), schema_(std::move(schema)), capacity_(capacity) {}

  const std::string& table() const { return table_; }
  // The sink table's columns (a batch may carry hidden trailing columns after them).
  const SchemaPtr& schema() const { return schema_; }

  void offer(const BatchPtr& batch) {
    if (listeners_.load(std::memory_order_relaxed) == 0 || batch->num_rows == 0) return;
    {
      std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
      if (!lock.owns_lock()) {
        skipped_.fetch_add(1, std::memory_order_relaxed);  // a gap before the next batch that gets in
        return;
      }
      next_seq_ += 1 + skipped_.exchange(0, std::memory_order_relaxed);
      ring_.push_back({next_seq_, batch});
      if (ring_.size() > capacity_) ring_.pop_front();
    }
    ready_.notify_all();
  }

  struct Item {
    uint64_t seq;
    BatchPtr batch;
  };
  // A listener's registration (RAII): while one exists the tap keeps batches.
  class Listener {
   public:
    explicit Listener(BatchTap& tap) : tap_(tap) { tap_.listeners_.fetch_add(1); }
    ~Listener() { tap_.listeners_.fetch_sub(1); }
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;
    // Batches offered since the last call (at most the ring's capacity), waiting up to
    // `wait` for the first. `lost` is set to the number of batches the listener missed
    // (ring overflow or a busy lock).
    std::vector<BatchPtr> next(std::chrono::milliseconds wait, uint64_t* lost) {
      std::unique_lock<std::mutex> lock(tap_.mu_);
      tap_.ready_.wait_for(lock, wait, [&] { return !tap_.ring_.empty() && tap_.ring_.back().seq > seen_; });
      std::vector<BatchPtr> out;
      uint64_t expected = seen_ + 1;
      *lost = 0;
      for (const Item& it : tap_.ring_) {
        if (it.seq <= seen_) continue;
        if (seen_ != 0 || started_) *lost += it.seq - expected;
        expected = it.seq + 1;
        out.push_back(it.batch);
      }
      if (!tap_.ring_.empty()) seen_ = std::max(seen_, tap_.ring_.back().seq);
      started_ = true;
      return out;
    }

   private:
    BatchTap& tap_;
    uint64_t seen_ = 0;
    bool started_ = false;
  };

 private:
  const std::string table_;
  const SchemaPtr schema_;
  const size_t capacity_;
  std::atomic<int> listeners_{0};
  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<Item> ring_;  // guarded by mu_
  uint64_t next_seq_ = 0;  // guarded by mu_
  std::atomic<uint64_t> skipped_{0};  // batches offer() could not take (busy lock)
};

}  // namespace sluice
