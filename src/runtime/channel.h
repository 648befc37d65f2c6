// BoundedChannel: the input queue of one task, fed by one or more upstream task instances.
//
// Bounded in elements: a producer that finds it full blocks (backpressure) and the time it
// spends blocked is counted, so slow consumers are visible in metrics. One mutex and two
// condition variables; the lock is taken once per batch (not per record). Producers and
// the consumer re-check a stop flag every 50 ms so a stopping job never hangs on a full or
// empty queue.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>

#include "metrics/registry.h"
#include "runtime/stream_element.h"

namespace sluice {

class BoundedChannel {
 public:
  BoundedChannel(size_t capacity, const std::atomic<bool>* stop) : capacity_(capacity), stop_(stop) {}

  // Blocks while full. Returns false if the job is stopping (element dropped).
  // `blocked_ns` (may be null): the producer's backpressure counter, in nanoseconds.
  bool push(StreamElement element, Counter* blocked_ns) {
    std::unique_lock<std::mutex> lock(mu_);
    if (queue_.size() >= capacity_ && element.kind == ElementKind::kBatch) {
      auto start = std::chrono::steady_clock::now();
      while (queue_.size() >= capacity_) {
        if (stop_->load(std::memory_order_relaxed)) return false;
        not_full_.wait_for(lock, std::chrono::milliseconds(50));
      }
      if (blocked_ns) {
        blocked_ns->add(static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count()));
      }
    }
    // Control elements are never blocked: they are tiny and must not deadlock cycles.
    queue_.push_back(std::move(element));
    lock.unlock();
    not_empty_.notify_one();
    return true;
  }

  enum class PopResult { kElement, kTimeout, kStopped, kWoken };
  // Waits up to `timeout` for an element. kWoken: wake() was called since the last pop that
  // returned kWoken and the queue is empty (the consumer has async work to poll).
  PopResult pop_for(StreamElement* out, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (queue_.empty()) {
      if (stop_->load(std::memory_order_relaxed)) return PopResult::kStopped;
      if (woken_) {
        woken_ = false;
        return PopResult::kWoken;
      }
      if (not_empty_.wait_until(lock, deadline) == std::cv_status::timeout && queue_.empty()) {
        return stop_->load(std::memory_order_relaxed) ? PopResult::kStopped : PopResult::kTimeout;
      }
    }
    *out = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    not_full_.notify_one();
    return PopResult::kElement;
  }

  // Blocks until an element is available. Returns false if the job is stopping.
  bool pop(StreamElement* out) {
    std::unique_lock<std::mutex> lock(mu_);
    while (queue_.empty()) {
      if (stop_->load(std::memory_order_relaxed)) return false;
      not_empty_.wait_for(lock, std::chrono::milliseconds(50));
    }
    *out = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    not_full_.notify_one();
    return true;
  }

  // Ends the consumer's pop_for() wait early (async results are ready). Any thread.
  void wake() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      woken_ = true;
    }
    not_empty_.notify_one();
  }

  size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return queue_.size();
  }
  size_t capacity() const { return capacity_; }

 private:
  const size_t capacity_;
  const std::atomic<bool>* stop_;
  mutable std::mutex mu_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::deque<StreamElement> queue_;
  bool woken_ = false;
};

}  // namespace sluice
