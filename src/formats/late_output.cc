// Late-data output: merging the marks of all queries into one entry per record, and the
// writer thread that moves the I/O out of the task threads.
#include "formats/late_output.h"

#include <algorithm>

#include <fmt/format.h>

namespace sluice {

RecordOrigin::RecordOrigin(LateOutput* output, int split, int consumers)
    : output_(output), split_(split), pending_(consumers), marks_(output->num_slots()) {}

LateOutput::LateOutput(std::string source_table, std::shared_ptr<DeadLetterQueue> destination)
    : source_table_(std::move(source_table)), destination_(std::move(destination)) {}

LateOutput::~LateOutput() { (void)stop(); }

int LateOutput::add_query(std::string query, Micros allowed_lateness) {
  queries_.push_back(Query{std::move(query), allowed_lateness});
  return static_cast<int>(queries_.size()) - 1;
}

void LateOutput::count_into(int split, Counter* entries) {
  if (split_entries_.size() <= static_cast<size_t>(split)) split_entries_.resize(static_cast<size_t>(split) + 1);
  split_entries_[static_cast<size_t>(split)] = entries;
}

void LateOutput::start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (running_) return;
  running_ = true;
  stopping_ = false;
  writer_ = std::thread([this] { writer_loop(); });
}

Status LateOutput::submit(const RecordOrigin& origin) {
  // (record, slot) pairs in record order: one entry per record, its queries in slot order.
  std::vector<std::pair<uint32_t, int>> late;
  const auto& marks = origin.marks();
  for (size_t slot = 0; slot < marks.size(); ++slot) {
    for (size_t i = 0; i < marks[slot].size(); ++i) late.emplace_back(marks[slot][i].record, static_cast<int>(slot));
  }
  if (late.empty()) return Status::ok();
  std::sort(late.begin(), late.end());
  std::vector<size_t> next(marks.size(), 0);  // marks of each slot are in record order
  std::vector<Entry> entries;
  const RawRecords& records = origin.records();
  for (size_t i = 0; i < late.size();) {
    const uint32_t record = late[i].first;
    Entry e;
    e.split = origin.split();
    e.offset = records.offsets[record];
    e.line = records.lines[record];
    e.raw = std::string(records.record(record));
    std::string reasons;
    Micros event_time = 0, watermark = 0;
    for (; i < late.size() && late[i].first == record; ++i) {
      const int slot = late[i].second;
      const std::vector<LateMark>& slot_marks = marks[static_cast<size_t>(slot)];
      size_t& k = next[static_cast<size_t>(slot)];
      while (k < slot_marks.size() && slot_marks[k].record != record) ++k;
      const LateMark m = k < slot_marks.size() ? slot_marks[k++] : LateMark{};
      event_time = m.event_time;
      watermark = m.watermark;
      if (!e.slots.empty() && e.slots.back() == slot) continue;  // one query reading the source twice
      const Query& q = queries_[static_cast<size_t>(slot)];
      reasons += fmt::format("{}{} (its last window ended at {}{})", reasons.empty() ? "" : ", ", q.name,
                             format_timestamp(m.window_end),
                             q.allowed_lateness ? ", allowed lateness " + format_duration(q.allowed_lateness) : "");
      e.slots.push_back(slot);
    }
    e.error = fmt::format("late record: event time {} is behind watermark {} for {}", format_timestamp(event_time),
                          format_timestamp(watermark), reasons);
    entries.push_back(std::move(e));
  }
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait(lock, [&] { return queue_.size() < kMaxQueued || !running_; });
  if (!error_.is_ok()) return error_;
  if (!running_) {
    // Not started (a job driven without Job::run, e.g. a test of one operator): write here.
    lock.unlock();
    return write_entries(entries);
  }
  queue_.push_back(std::move(entries));
  ++submitted_;
  changed_.notify_all();
  return Status::ok();
}

Status LateOutput::sync() {
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t target = submitted_;
  changed_.wait(lock, [&] { return written_ >= target || !error_.is_ok() || !running_; });
  if (!error_.is_ok()) return error_;
  if (!running_) {
    lock.unlock();
    return destination_->flush();
  }
  return Status::ok();
}

Status LateOutput::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (writer_.joinable()) writer_.join();  // only Job::run, after every task ended
  std::lock_guard<std::mutex> lock(mu_);
  running_ = false;
  return error_;
}

void LateOutput::writer_loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    changed_.wait(lock, [&] { return !queue_.empty() || stopping_; });
    if (queue_.empty()) break;  // stopping, everything written
    std::deque<std::vector<Entry>> batch;
    batch.swap(queue_);
    changed_.notify_all();  // submitters waiting for room
    const bool failed = !error_.is_ok();
    lock.unlock();
    Status s;
    if (!failed) {
      for (const auto& entries : batch) {
        s = write_entries(entries);
        if (!s.is_ok()) break;
      }
      if (s.is_ok()) s = destination_->flush();
    }
    lock.lock();
    if (!s.is_ok() && error_.is_ok()) error_ = s;
    written_ += batch.size();
    changed_.notify_all();
  }
}

Status LateOutput::write_entries(const std::vector<Entry>& entries) {
  std::vector<std::string_view> names;
  for (const Entry& e : entries) {
    DeadLetter letter;
    letter.source = source_table_;
    letter.split = e.split;
    letter.offset = e.offset;
    letter.line = e.line;
    letter.error = e.error;
    letter.raw = e.raw;
    names.clear();
    for (int slot : e.slots) names.push_back(queries_[static_cast<size_t>(slot)].name);
    letter.queries = names;
    RETURN_IF_ERROR(destination_->write(letter));
    if (static_cast<size_t>(e.split) < split_entries_.size() && split_entries_[static_cast<size_t>(e.split)]) {
      split_entries_[static_cast<size_t>(e.split)]->increment();
    }
  }
  return Status::ok();
}

}  // namespace sluice
