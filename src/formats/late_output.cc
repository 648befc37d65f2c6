// Late-data output: merging the marks of all queries into one entry per record, and the
// writer thread that moves the I/O out of the task threads.
#include "formats/late_output.h"

#include <algorithm>

#include <fmt/format.h>

namespace sluice {

RecordOrigin::RecordOrigin(LateOutput* output, int split, int consumers)
    : output_(output), split_(split), pending_(consumers), marks_(output->num_slots()) {}

LateOutput::LateOutput(std::string source_table, std::shared_ptr<DeadLetterQueue> destination,
                       std::string sink_table)
    : source_table_(std::move(source_table)), destination_(std::move(destination)), sink_table_(std::move(sink_table)) {}

LateOutput::~LateOutput() { (void)stop(); }

int LateOutput::add_query(std::string query, Micros allowed_lateness, bool row_time) {
  queries_.push_back(Query{std::move(query), allowed_lateness, row_time});
  return static_cast<int>(queries_.size()) - 1;
}

void LateOutput::count_into(int split, Counter* entries) {
  if (split_entries_.size() <= static_cast<size_t>(split)) split_entries_.resize(static_cast<size_t>(split) + 1);
  split_entries_[static_cast<size_t>(split)] = entries;
}

void LateOutput::start() {
  if (!destination_) return;  // a sink table: the tasks send the rows themselves
  std::lock_guard<std::mutex> lock(mu_);
  if (running_) return;
  running_ = true;
  stopping_ = false;
  writer_ = std::thread([this] { writer_loop(); });
}

Result<BatchPtr> LateOutput::submit(const RecordOrigin& origin, Micros now) {
  // (record, slot) pairs in record order: one entry per record, its queries in slot order.
  std::vector<std::pair<uint32_t, int>> late;
  const auto& marks = origin.marks();
  for (size_t slot = 0; slot < marks.size(); ++slot) {
    for (size_t i = 0; i < marks[slot].size(); ++i) late.emplace_back(marks[slot][i].record, static_cast<int>(slot));
  }
  if (late.empty()) return BatchPtr();
  std::sort(late.begin(), late.end());
  std::vector<size_t> next(marks.size(), 0);  // marks of each slot are in record order
  SideOutputRows rows(SideOutputKind::kLateData);
  const RawRecords& records = origin.records();
  std::vector<std::string_view> names;
  std::string reasons, error;
  for (size_t i = 0; i < late.size();) {
    const uint32_t record = late[i].first;
    DeadLetter letter;
    letter.source = source_table_;
    letter.split = origin.split();
    letter.offset = records.offsets[record];
    letter.line = records.lines[record];
    letter.raw = records.record(record);
    names.clear();
    reasons.clear();
    int last_slot = -1;
    Micros event_time = 0, watermark = 0;
    for (; i < late.size() && late[i].first == record; ++i) {
      const int slot = late[i].second;
      const std::vector<LateMark>& slot_marks = marks[static_cast<size_t>(slot)];
      size_t& k = next[static_cast<size_t>(slot)];
      while (k < slot_marks.size() && slot_marks[k].record != record) ++k;
      const LateMark m = k < slot_marks.size() ? slot_marks[k++] : LateMark{};
      event_time = m.event_time;
      watermark = m.watermark;
      if (last_slot == slot) continue;  // one query reading the source twice
      last_slot = slot;
      const Query& q = queries_[static_cast<size_t>(slot)];
      if (q.row_time) {
        // OVER aggregates and interval joins: each row is needed before the watermark passes
        // its own event time.
        reasons += fmt::format("{}{} (an OVER aggregate or interval join: it needs each row before the watermark "
                               "passes the row's event time{})",
                               reasons.empty() ? "" : ", ", q.name,
                               q.allowed_lateness ? " + allowed lateness " + format_duration(q.allowed_lateness) : "");
      } else {
        reasons += fmt::format("{}{} (its last window ended at {}{})", reasons.empty() ? "" : ", ", q.name,
                               format_timestamp(m.window_end),
                               q.allowed_lateness ? ", allowed lateness " + format_duration(q.allowed_lateness) : "");
      }
      names.push_back(q.name);
    }
    error = fmt::format("late record: event time {} is behind watermark {} for {}", format_timestamp(event_time),
                        format_timestamp(watermark), reasons);
    letter.error = error;
    letter.queries = names;
    rows.add(letter, now);
  }
  BatchPtr batch = rows.take();
  if (!destination_) {
    count(*batch);
    return batch;
  }
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait(lock, [&] { return queue_.size() < kMaxQueued || !running_; });
  if (!error_.is_ok()) return error_;
  if (!running_) {
    // Not started (a job driven without Job::run, e.g. a test of one operator): write here.
    lock.unlock();
    RETURN_IF_ERROR(write_rows(*batch));
    return BatchPtr();
  }
  queue_.push_back(std::move(batch));
  ++submitted_;
  changed_.notify_all();
  return BatchPtr();
}

Status LateOutput::sync() {
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t target = submitted_;
  changed_.wait(lock, [&] { return written_ >= target || !error_.is_ok() || !running_; });
  if (!error_.is_ok()) return error_;
  if (!running_) {
    lock.unlock();
    return destination_ ? destination_->flush() : Status::ok();
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
    std::deque<BatchPtr> batch;
    batch.swap(queue_);
    changed_.notify_all();  // submitters waiting for room
    const bool failed = !error_.is_ok();
    lock.unlock();
    Status s;
    if (!failed) {
      for (const auto& rows : batch) {
        s = write_rows(*rows);
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

Status LateOutput::write_rows(const RecordBatch& rows) {
  RETURN_IF_ERROR(destination_->write_rows(rows));
  count(rows);
  return Status::ok();
}

void LateOutput::count(const RecordBatch& rows) {
  const Column& split = rows.column(side_output_columns(SideOutputKind::kLateData).split);
  for (size_t r = 0; r < rows.num_rows; ++r) {
    const auto s = static_cast<size_t>(split.int_at(r));
    if (s < split_entries_.size() && split_entries_[s]) split_entries_[s]->increment();
  }
  if (recent_) recent_->add_rows(SideOutputKind::kLateData, rows);
}

}  // namespace sluice
