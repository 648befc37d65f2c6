// Per-operator counters: records in/out, late, dead-lettered, current watermark, time
// blocked on backpressure. Written by the owning task thread with relaxed atomics, read by
// the progress reporter (and later the /metrics endpoint) from another thread.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/time_util.h"

namespace sluice {

struct OperatorMetrics {
  std::string name;  // "window_aggregate#2 [1/4]"
  std::string operator_id;
  int instance = 0;
  std::atomic<uint64_t> records_in{0};
  std::atomic<uint64_t> records_out{0};
  std::atomic<uint64_t> late{0};
  std::atomic<uint64_t> dead_lettered{0};
  std::atomic<int64_t> watermark{kMinWatermark};
  std::atomic<uint64_t> blocked_ns{0};

  void add_in(uint64_t n) { records_in.fetch_add(n, std::memory_order_relaxed); }
  void add_out(uint64_t n) { records_out.fetch_add(n, std::memory_order_relaxed); }
};

class MetricsRegistry {
 public:
  OperatorMetrics* add(std::string operator_id, std::string name, int instance) {
    std::lock_guard<std::mutex> lock(mu_);
    auto m = std::make_unique<OperatorMetrics>();
    m->operator_id = std::move(operator_id);
    m->name = std::move(name);
    m->instance = instance;
    all_.push_back(std::move(m));
    return all_.back().get();
  }
  // Stable pointers; the registry outlives the job's tasks.
  std::vector<const OperatorMetrics*> all() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<const OperatorMetrics*> out;
    for (const auto& m : all_) out.push_back(m.get());
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<OperatorMetrics>> all_;
};

}  // namespace sluice
