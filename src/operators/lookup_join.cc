#include "operators/lookup_join.h"

#include <absl/container/flat_hash_map.h>

#include <fmt/format.h>

#include "common/logging.h"
#include "operators/enrichment.h"
#include "operators/group_table.h"

namespace sluice {

struct LookupSnapshot {
  MutableBatchPtr rows;
  absl::flat_hash_map<std::string, uint32_t> index;
};

LookupTable::~LookupTable() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (loader_.joinable()) loader_.join();
}

Result<std::shared_ptr<const LookupSnapshot>> LookupTable::read_snapshot() {
  ASSIGN_OR_RETURN(MutableBatchPtr rows, reader_->read_all());
  auto snap = std::make_shared<LookupSnapshot>();
  std::string key;
  for (size_t r = 0; r < rows->num_rows; ++r) {
    encode_key(*rows, keys_, r, key);
    snap->index[key] = static_cast<uint32_t>(r);
  }
  snap->rows = std::move(rows);
  return std::shared_ptr<const LookupSnapshot>(std::move(snap));
}

void LookupTable::install(std::shared_ptr<const LookupSnapshot> snapshot) {
  current_ = std::move(snapshot);
  version_.fetch_add(1, std::memory_order_release);
}

Status LookupTable::acquire() {
  // The first load happens under the lock: every instance opens with a snapshot.
  std::lock_guard<std::mutex> life(lifecycle_);
  std::lock_guard<std::mutex> lock(mu_);
  if (users_ > 0) {
    ++users_;
    return Status::ok();
  }
  Status s = [&]() -> Status {
    if (!reader_) {
      ASSIGN_OR_RETURN(reader_, make_reader_());
    }
    ASSIGN_OR_RETURN(auto snapshot, read_snapshot());
    install(std::move(snapshot));
    return Status::ok();
  }();
  if (!s.is_ok()) return Status(s.code(), fmt::format("lookup table {}: {}", name_, s.message()));
  users_ = 1;
  stop_ = false;
  if (refresh_ > 0) loader_ = std::thread([this] { loader_loop(); });
  return Status::ok();
}

void LookupTable::release() {
  std::lock_guard<std::mutex> life(lifecycle_);
  std::unique_lock<std::mutex> lock(mu_);
  if (--users_ > 0) return;
  stop_ = true;
  std::thread loader = std::move(loader_);
  lock.unlock();
  wake_.notify_all();
  if (loader.joinable()) loader.join();
}

std::shared_ptr<const LookupSnapshot> LookupTable::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

void LookupTable::loader_loop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait_for(lock, std::chrono::microseconds(refresh_), [&] { return stop_; });
      if (stop_) return;
    }
    // Read without the lock (task threads keep using the previous snapshot meanwhile).
    auto snapshot = read_snapshot();
    if (!snapshot.is_ok()) {
      log_warn("lookup table {}: refresh failed, the previous rows stay in use: {}", name_, snapshot.status().message());
      continue;
    }
    std::lock_guard<std::mutex> lock(mu_);
    install(std::move(snapshot).value());
  }
}

namespace {

class LookupJoin : public Operator {
 public:
  LookupJoin(const LookupJoinConfig& c, LookupTable& table)
      : c_(c), table_(table), output_(c.type, c.residual, c.output_schema) {}

  Status open(const OperatorContext& ctx) override {
    ctx_ = ctx;
    RETURN_IF_ERROR(table_.acquire());
    acquired_ = true;
    return Status::ok();
  }
  Status close() override {
    if (acquired_) table_.release();
    acquired_ = false;
    return Status::ok();
  }
  ~LookupJoin() override { (void)close(); }

  Status process(int, const BatchPtr& batch, Output& out) override {
    const uint64_t v = table_.version();
    if (v != version_ || !snapshot_) {  // a new load: take it (rarely; the mutex is held for a pointer copy)
      snapshot_ = table_.snapshot();
      version_ = v;
    }
    const RecordBatch& in = *batch;
    const size_t width = c_.batch_size;
    for (size_t begin = 0; begin < in.num_rows; begin += width) {
      const size_t end = std::min(in.num_rows, begin + width);
      probe_rows_.clear();
      table_rows_.clear();
      for (size_t r = begin; r < end; ++r) {
        probe_rows_.push_back(static_cast<uint32_t>(r));
        table_rows_.push_back(find(in, r));
      }
      RETURN_IF_ERROR(output_.emit(in, probe_rows_, *snapshot_->rows, table_rows_, out));
    }
    return Status::ok();
  }

 private:
  uint32_t find(const RecordBatch& in, size_t row) {
    for (size_t k = 0; k < c_.probe_keys.size(); ++k) {
      if (!c_.null_safe[k] && in.column(static_cast<size_t>(c_.probe_keys[k])).is_null(row)) return kNoPartner;
    }
    encode_key(in, c_.probe_keys, row, key_);
    auto it = snapshot_->index.find(key_);
    return it == snapshot_->index.end() ? kNoPartner : it->second;
  }

  const LookupJoinConfig& c_;
  LookupTable& table_;
  bool acquired_ = false;
  uint64_t version_ = 0;
  std::shared_ptr<const LookupSnapshot> snapshot_;
  EnrichmentOutput output_;
  std::string key_;
  std::vector<uint32_t> probe_rows_, table_rows_;
};

}  // namespace

std::string LookupJoinOperatorSpec::describe() const {
  const auto& c = config_;
  std::string keys;
  for (size_t k = 0; k < c.probe_keys.size(); ++k) {
    keys += fmt::format("{}L${} {} {}${}", k ? ", " : "", c.probe_keys[k], c.null_safe[k] ? "IS NOT DISTINCT FROM" : "=",
                        c.table, c.table_keys[k]);
  }
  return fmt::format("{} lookup join of {} on [{}]{}{}", join_type_name(c.type), c.table, keys,
                     c.residual ? " and " + c.residual->to_string() : "",
                     c.refresh > 0 ? ", reloaded every " + format_duration(c.refresh) : ", loaded once");
}

std::unique_ptr<Operator> LookupJoinOperatorSpec::create() const {
  return std::make_unique<LookupJoin>(config_, *table_);
}

}  // namespace sluice
