#include "runtime/split_coordinator.h"

#include <algorithm>

#include "common/logging.h"

namespace sluice {

SplitCoordinator::SplitCoordinator(std::string table, std::unique_ptr<SplitEnumerator> enumerator, int readers,
                                   bool bounded, uint64_t restored_checkpoint)
    : table_(std::move(table)),
      enumerator_(std::move(enumerator)),
      readers_(readers),
      bounded_(bounded),
      epoch_(static_cast<size_t>(readers), restored_checkpoint),
      queue_(static_cast<size_t>(readers)),
      deferred_(static_cast<size_t>(readers)),
      released_(static_cast<size_t>(readers)),
      revoke_(static_cast<size_t>(readers)),
      ended_(static_cast<size_t>(readers), 0),
      enumerator_epoch_(restored_checkpoint) {}

Status SplitCoordinator::start(std::vector<TrackedSplit> restored, std::optional<std::string> enumerator_state) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!restored.empty() || enumerator_state) {
    std::vector<SourceSplit> recorded;
    for (const auto& t : restored) recorded.push_back(t.split);
    RETURN_IF_ERROR(enumerator_->restore(recorded, enumerator_state.value_or(std::string()))
                        .with_context(fmt::format("table {}: restoring its split enumerator", table_)));
  }
  // Restored splits in ordinal order, so each reader takes its splits in a stable order.
  std::sort(restored.begin(), restored.end(),
            [](const TrackedSplit& a, const TrackedSplit& b) { return a.split.number < b.split.number; });
  for (auto& t : restored) {
    t.restored = true;
    int r = target_locked(t.split);
    deliver_locked(r, std::move(t));
  }
  interval_ = enumerator_->discovery_interval();
  return discover_locked();
}

int SplitCoordinator::target_locked(const SourceSplit& split) const {
  int r = enumerator_->assign(split, readers_);
  if (r < 0 || r >= readers_) r = ((r % readers_) + readers_) % readers_;
  // A reader that ended takes nothing more: the next one that did not.
  for (int k = 0; k < readers_; ++k) {
    int c = (r + k) % readers_;
    if (!ended_[static_cast<size_t>(c)]) return c;
  }
  return r;
}

void SplitCoordinator::deliver_locked(int reader, TrackedSplit split) {
  owner_[split.split.id] = reader;
  queue_[static_cast<size_t>(reader)].push_back(std::move(split));
}

Status SplitCoordinator::discover_locked() {
  auto changes = enumerator_->discover();
  if (!changes.is_ok()) return changes.status().with_context(fmt::format("table {}: discovering splits", table_));
  SplitChanges& c = changes.value();
  for (auto& s : c.added) {
    if (owner_.count(s.id)) continue;  // known already (restored)
    int r = target_locked(s);
    TrackedSplit t;
    t.split = std::move(s);
    deliver_locked(r, std::move(t));
  }
  for (const auto& id : c.revoked) {
    auto it = owner_.find(id);
    if (it != owner_.end()) revoke_[static_cast<size_t>(it->second)].push_back(id);
  }
  if (c.complete) complete_ = true;
  interval_ = enumerator_->discovery_interval();
  next_discovery_ = std::chrono::steady_clock::now() + std::chrono::microseconds(interval_);
  return Status::ok();
}

Status SplitCoordinator::poll(int reader, Update* out) {
  std::lock_guard<std::mutex> lock(mu_);
  if (interval_ > 0 && std::chrono::steady_clock::now() >= next_discovery_) {
    RETURN_IF_ERROR(discover_locked());
  }
  auto& q = queue_[static_cast<size_t>(reader)];
  for (auto& t : q) out->added.push_back(std::move(t));
  q.clear();
  auto& rv = revoke_[static_cast<size_t>(reader)];
  for (auto& id : rv) out->revoke.push_back(std::move(id));
  rv.clear();
  return Status::ok();
}

void SplitCoordinator::give_back(int reader, TrackedSplit split) {
  std::lock_guard<std::mutex> lock(mu_);
  split.restored = false;  // a live position, no longer checked against a checkpoint
  int to = target_locked(split.split);
  const uint64_t from_epoch = epoch_[static_cast<size_t>(reader)];
  const uint64_t to_epoch = epoch_[static_cast<size_t>(to)];
  log_debug("table {}: split {} moves from reader {} to reader {}", table_, split.split.id, reader, to);
  if (to_epoch < from_epoch) {
    // The giver recorded the split at a barrier the receiver has not reached.
    owner_[split.split.id] = to;
    deferred_[static_cast<size_t>(to)].push_back(Deferred{std::move(split), from_epoch});
    return;
  }
  if (to_epoch > from_epoch) released_[static_cast<size_t>(reader)].push_back(split);
  deliver_locked(to, std::move(split));
}

void SplitCoordinator::on_barrier(int reader, uint64_t id, std::vector<TrackedSplit>* also_record,
                                  std::optional<std::string>* enumerator_state) {
  std::lock_guard<std::mutex> lock(mu_);
  const size_t r = static_cast<size_t>(reader);
  if (id > enumerator_epoch_) {
    enumerator_epoch_ = id;
    *enumerator_state = enumerator_->snapshot_state();
  }
  for (const auto& t : queue_[r]) also_record->push_back(t);
  for (auto& t : released_[r]) also_record->push_back(std::move(t));
  released_[r].clear();
  epoch_[r] = id;
  auto& d = deferred_[r];
  for (auto it = d.begin(); it != d.end();) {
    if (it->epoch <= id) {
      queue_[r].push_back(std::move(it->split));
      it = d.erase(it);
    } else {
      ++it;
    }
  }
}

bool SplitCoordinator::try_finish(int reader) {
  std::lock_guard<std::mutex> lock(mu_);
  const size_t r = static_cast<size_t>(reader);
  if (!bounded_ || !complete_ || !queue_[r].empty() || !deferred_[r].empty()) return false;
  ended_[r] = 1;
  return true;
}

void SplitCoordinator::on_emitted_watermark(Micros wm) {
  Micros have = max_emitted_.load(std::memory_order_relaxed);
  while (wm > have && !max_emitted_.compare_exchange_weak(have, wm, std::memory_order_relaxed)) {
  }
}

}  // namespace sluice
