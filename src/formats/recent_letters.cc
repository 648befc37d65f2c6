#include "formats/recent_letters.h"

#include <algorithm>

namespace sluice {

void RecentLetters::add_rows(SideOutputKind kind, const RecordBatch& rows) {
  if (rows.num_rows == 0) return;
  const SideOutputColumns c = side_output_columns(kind);
  std::vector<Entry> added(std::min(rows.num_rows, capacity_));
  const size_t first = rows.num_rows - added.size();  // the newest `capacity_` rows
  for (size_t i = 0; i < added.size(); ++i) {
    const size_t r = first + i;
    Entry& e = added[i];
    e.kind = kind;
    e.time_unix_us = rows.column(c.time).int_at(r);
    e.source = rows.column(c.source).string_at(r);
    e.split = static_cast<int>(rows.column(c.split).int_at(r));
    e.offset = rows.column(c.offset).int_at(r);
    e.line = rows.column(c.line).int_at(r);
    const std::string_view error = rows.column(c.error).string_at(r), raw = rows.column(c.raw).string_at(r);
    e.error = error.substr(0, kMaxErrorBytes);
    e.raw = raw.substr(0, kMaxRawBytes);
    e.raw_bytes = raw.size();
    if (c.queries >= 0) e.queries = rows.column(static_cast<size_t>(c.queries)).string_at(r);
  }
  std::lock_guard<std::mutex> lock(mu_);
  total_ += first;  // rows too many to keep count all the same
  for (Entry& e : added) {
    e.seq = ++total_;
    entries_.push_back(std::move(e));
    if (entries_.size() > capacity_) entries_.pop_front();
  }
}

RecentLetters::Page RecentLetters::page(size_t offset, size_t limit, const SideOutputKind* kind) const {
  Page p;
  std::lock_guard<std::mutex> lock(mu_);
  p.total = total_;
  p.retained = entries_.size();
  size_t skipped = 0;
  for (auto it = entries_.rbegin(); it != entries_.rend() && p.entries.size() < limit; ++it) {
    if (kind && it->kind != *kind) continue;
    if (skipped < offset) {
      ++skipped;
      continue;
    }
    p.entries.push_back(*it);
  }
  return p;
}

}  // namespace sluice
