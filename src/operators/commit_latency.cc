#include "operators/commit_latency.h"

#include "common/clock.h"
#include "common/trace.h"

#include <algorithm>
#include <cstdlib>

namespace sluice {

void CommitLatency::add(const BatchTiming& timing, uint64_t rows) {
  if (rows == 0 || timing.ingest_us <= 0 || (!ingest_ && !event_)) return;
  if (timing.trace.sampled()) {
    entries_.push_back(Entry{timing.ingest_us, timing.event_us, rows, 0, timing.trace,
                             SystemClock::instance().unix_micros()});
    return;
  }
  if (!entries_.empty() && !entries_.back().trace.sampled()) {
    Entry& last = entries_.back();
    const bool close = last.checkpoint == 0 && std::abs(timing.ingest_us - last.ingest_us) < kMergeWithin &&
                       (timing.event_us == last.event_us ||
                        (timing.event_us != kMinWatermark && last.event_us != kMinWatermark &&
                         std::abs(timing.event_us - last.event_us) < kMergeWithin));
    if (close || (entries_.size() >= kMaxEntries && last.checkpoint == 0)) {
      last.rows += rows;
      return;
    }
  }
  entries_.push_back(Entry{timing.ingest_us, timing.event_us, rows, 0, {}, 0});
}

void CommitLatency::seal(uint64_t checkpoint_id) {
  for (auto it = entries_.rbegin(); it != entries_.rend() && it->checkpoint == 0; ++it) it->checkpoint = checkpoint_id;
}

void CommitLatency::observe(const Entry& e, Micros now) {
  if (ingest_) ingest_->observe(std::max<Micros>(0, now - e.ingest_us), e.rows);
  if (event_ && e.event_us != kMinWatermark) event_->observe(std::max<Micros>(0, now - e.event_us), e.rows);
  if (e.trace.sampled()) {
    Tracer::global().record(SpanRecord{e.trace.trace_hi, e.trace.trace_lo, Tracer::new_id(), e.trace.span,
                                       "commit " + sink_, e.received_us, std::max(now, e.received_us),
                                       {{"sluice.rows", std::to_string(e.rows)}}});
  }
}

void CommitLatency::committed(uint64_t checkpoint_id, Micros now) {
  size_t done = 0;
  while (done < entries_.size() && entries_[done].checkpoint != 0 && entries_[done].checkpoint <= checkpoint_id) {
    observe(entries_[done], now);
    ++done;
  }
  entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(done));
}

void CommitLatency::flushed(Micros now) {
  for (const Entry& e : entries_) observe(e, now);
  entries_.clear();
}

}  // namespace sluice
