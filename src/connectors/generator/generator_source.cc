#include "connectors/generator/generator_source.h"

#include <algorithm>
#include <chrono>
#include <iterator>
#include <set>
#include <sstream>
#include <thread>

#include "connectors/connector_util.h"
#include "connectors/generator/clickstream.h"

namespace sluice {
namespace {

constexpr int kMaxSplits = 1024;
constexpr auto kMaxSleep = std::chrono::milliseconds(20);

class GeneratorReader : public SourceReader {
 public:
  GeneratorReader(std::shared_ptr<const Clickstream> stream, int split, int splits, uint64_t events,
                  double rate)
      : stream_(std::move(stream)),
        splits_(static_cast<uint64_t>(splits)),
        events_(events),
        next_(static_cast<uint64_t>(split)),
        split_(static_cast<uint64_t>(split)),
        split_rate_(rate / splits) {}

  Status open() override { return Status::ok(); }

  Result<PollStatus> poll(RawRecords& out, size_t max_records) override {
    uint64_t n = max_records;
    if (events_ > 0) {
      if (next_ >= events_) return PollStatus::kEnd;
      n = std::min(n, (events_ - next_ + splits_ - 1) / splits_);
    }
    if (split_rate_ > 0) {
      n = std::min(n, paced_allowance());
      if (n == 0) return PollStatus::kIdle;
    }
    out.data.reserve(out.data.size() + n * 200 + kRawPadding);
    out.ends.reserve(out.ends.size() + n);
    out.offsets.reserve(out.offsets.size() + n);
    out.lines.reserve(out.lines.size() + n);
    // Events are formatted back to back into scratch_ and appended in one copy per chunk:
    // std::string has no way (before C++23) to grow without zero-filling.
    for (uint64_t done = 0; done < n;) {
      const uint64_t chunk = std::min<uint64_t>(n - done, kChunkEvents);
      size_t used = 0;
      const uint32_t base = static_cast<uint32_t>(out.data.size());
      for (uint64_t k = 0; k < chunk; ++k) {
        used += stream_->write(next_, scratch_.get() + used, &cache_);
        out.ends.push_back(base + static_cast<uint32_t>(used));
        out.offsets.push_back(static_cast<int64_t>(next_));
        out.lines.push_back(-1);
        next_ += splits_;
      }
      out.data.append(scratch_.get(), used);
      done += chunk;
    }
    emitted_ += n;
    out.finish();
    return PollStatus::kData;
  }

  int64_t position() const override { return static_cast<int64_t>(next_); }
  // Events are a pure function of (seed, global index), so resuming is setting the index.
  Status seek(const SourcePosition& pos) override {
    if (pos.offset < 0 || static_cast<uint64_t>(pos.offset) % splits_ != split_) {
      return invalid_argument("generator: position {} does not belong to split {} of {}", pos.offset, split_, splits_);
    }
    next_ = static_cast<uint64_t>(pos.offset);
    return Status::ok();
  }

 private:
  // How many events the rate allows now; sleeps (briefly) when none is due yet.
  uint64_t paced_allowance() {
    using Clock = std::chrono::steady_clock;
    auto now = Clock::now();
    if (!started_) {
      started_ = true;
      start_ = now;
    }
    auto due = [&](Clock::time_point t) {
      double elapsed = std::chrono::duration<double>(t - start_).count();
      return static_cast<uint64_t>(elapsed * split_rate_) + 1;  // the first event is due at once
    };
    uint64_t d = due(now);
    if (d > emitted_) return d - emitted_;
    auto next_due = start_ + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(static_cast<double>(emitted_) / split_rate_));
    std::this_thread::sleep_for(std::min<Clock::duration>(next_due - now, kMaxSleep));
    d = due(Clock::now());
    return d > emitted_ ? d - emitted_ : 0;
  }

  static constexpr uint64_t kChunkEvents = 1024;

  std::shared_ptr<const Clickstream> stream_;
  Clickstream::Cache cache_;
  std::unique_ptr<char[]> scratch_ = std::make_unique<char[]>(kChunkEvents * Clickstream::kMaxEventBytes);
  uint64_t splits_;
  uint64_t events_;  // 0 = unbounded
  uint64_t next_;    // global index of the next event
  uint64_t split_;
  double split_rate_;
  uint64_t emitted_ = 0;
  bool started_ = false;
  std::chrono::steady_clock::time_point start_;
};

// Dynamic splits (a test of the split model): `initial` splits exist at the start, one more
// is added every `add_interval` until all `splits` exist, and every `rebalance_interval`
// one split is taken back from its reader and given to the next one (as a consumer-group
// rebalance would). Which events exist does not depend on when splits come or move: split
// k always emits the events i with i % splits == k.
class GeneratorEnumerator : public SplitEnumerator {
 public:
  GeneratorEnumerator(int splits, int initial, Micros add_interval, Micros rebalance_interval)
      : splits_(splits),
        initial_(initial),
        add_interval_(add_interval),
        rebalance_interval_(rebalance_interval),
        shift_(static_cast<size_t>(splits), 0) {}

  // State: "<splits added> <shift of split 0> <shift of split 1> ...".
  Status restore(const std::vector<SourceSplit>& recorded, std::string_view state) override {
    std::string text(state);
    std::istringstream in(text);
    int added = 0;
    if (in >> added) {
      added_ = added;
      for (size_t k = 0; k < shift_.size() && (in >> shift_[k]);) ++k;
    }
    for (const auto& s : recorded) {
      recorded_.insert(s.number);
      added_ = std::max(added_, s.number + 1);  // the recorded splits are the truth
    }
    return Status::ok();
  }
  Result<SplitChanges> discover() override {
    SplitChanges changes;
    auto now = std::chrono::steady_clock::now();
    if (!started_) {
      started_ = true;
      next_add_ = now + std::chrono::microseconds(add_interval_);
      next_rebalance_ = now + std::chrono::microseconds(rebalance_interval_);
      // The splits that exist at the start (or existed when the checkpoint was taken) and
      // are not recorded: nothing of them was read.
      added_ = std::max(added_, initial_);
      for (int k = 0; k < added_; ++k) {
        if (!recorded_.count(k)) changes.added.push_back(split(k));
      }
    } else {
      if (added_ < splits_ && now >= next_add_) {
        changes.added.push_back(split(added_++));
        next_add_ = now + std::chrono::microseconds(add_interval_);
      }
      if (rebalance_interval_ > 0 && now >= next_rebalance_ && added_ > 0) {
        int k = rebalances_++ % added_;
        ++shift_[static_cast<size_t>(k)];
        changes.revoked.push_back(std::to_string(k));
        next_rebalance_ = now + std::chrono::microseconds(rebalance_interval_);
      }
    }
    changes.complete = added_ == splits_;
    return changes;
  }
  Micros discovery_interval() const override {
    Micros i = added_ < splits_ || !started_ ? add_interval_ : 0;
    if (rebalance_interval_ > 0) i = i > 0 ? std::min(i, rebalance_interval_) : rebalance_interval_;
    return i;
  }
  int assign(const SourceSplit& s, int readers) const override {
    return (s.number + shift_[static_cast<size_t>(s.number)]) % readers;
  }
  std::string snapshot_state() const override {
    std::string out = fmt::format("{}", added_);
    for (int v : shift_) fmt::format_to(std::back_inserter(out), " {}", v);
    return out;
  }

 private:
  static SourceSplit split(int k) { return SourceSplit{std::to_string(k), k, std::string()}; }
  int splits_, initial_;
  Micros add_interval_, rebalance_interval_;
  std::vector<int> shift_;
  std::set<int> recorded_;
  int added_ = 0;
  int rebalances_ = 0;
  bool started_ = false;
  std::chrono::steady_clock::time_point next_add_, next_rebalance_;
};

class GeneratorFactory : public SourceFactory {
 public:
  GeneratorFactory(const ClickstreamConfig& config, int splits, uint64_t events, double rate, int initial_splits,
                   Micros split_interval, Micros rebalance_interval)
      : stream_(std::make_shared<const Clickstream>(config)),
        splits_(splits),
        events_(events),
        rate_(rate),
        initial_splits_(initial_splits),
        split_interval_(split_interval),
        rebalance_interval_(rebalance_interval) {
    format_.format = "json";
    format_.timestamp_unit = "ms";
  }

  int num_splits() const override { return splits_; }
  Result<std::unique_ptr<SourceReader>> create_reader(int split) override {
    if (split < 0 || split >= splits_) {
      return internal_error("generator: split {} out of range (splits = {})", split, splits_);
    }
    return std::unique_ptr<SourceReader>(std::make_unique<GeneratorReader>(stream_, split, splits_, events_, rate_));
  }
  Result<std::unique_ptr<SplitEnumerator>> create_enumerator() override {
    if (initial_splits_ == splits_ && rebalance_interval_ == 0) return SourceFactory::create_enumerator();
    return std::unique_ptr<SplitEnumerator>(
        std::make_unique<GeneratorEnumerator>(splits_, initial_splits_, split_interval_, rebalance_interval_));
  }
  const FormatOptions& format() const override { return format_; }
  bool bounded() const override { return events_ > 0; }
  std::string describe() const override {
    std::string out = fmt::format("generator (seed {}, ", stream_->config().seed);
    out += events_ > 0 ? fmt::format("{} events", events_) : std::string("unbounded");
    if (rate_ > 0) out += fmt::format(", {}/s", rate_);
    if (splits_ > 1) out += fmt::format(", {} splits", splits_);
    return out + ")";
  }
  // The options that define the event sequence (not `events`, which only ends it, nor `rate`).
  std::string identity() const override {
    const ClickstreamConfig& c = stream_->config();
    return fmt::format(
        "generator seed={} start={} interval={} out_of_order={} late={} malformed={} max_out_of_orderness={} "
        "users={} pages={} epoch_ms={} splits={}",
        c.seed, c.start, c.interval, c.out_of_order, c.late, c.malformed, c.max_out_of_orderness, c.users, c.pages,
        c.epoch_millis, splits_);
  }

 private:
  std::shared_ptr<const Clickstream> stream_;
  int splits_;
  uint64_t events_;
  double rate_;
  int initial_splits_;
  Micros split_interval_;
  Micros rebalance_interval_;
  FormatOptions format_;
};

Result<double> get_fraction(const ConnectorOptions& o, const std::string& context, const char* name) {
  ASSIGN_OR_RETURN(double v, o.get_double(name, 0));
  if (!(v >= 0 && v <= 1)) return invalid_argument("{}: option '{}' must be between 0 and 1, got {}", context, name, v);
  return v;
}

}  // namespace

Result<std::unique_ptr<SourceFactory>> make_generator_source_factory(const SourceSpec& spec) {
  const ConnectorOptions& o = spec.options;
  const std::string context = table_context(o, spec.table);
  ClickstreamConfig c;
  ASSIGN_OR_RETURN(int64_t seed, o.get_int("seed", 42));
  c.seed = static_cast<uint64_t>(seed);
  ASSIGN_OR_RETURN(int64_t events, o.get_int("events", 0));
  if (events < 0) return invalid_argument("{}: option 'events' must be >= 0, got {}", context, events);
  ASSIGN_OR_RETURN(double rate, o.get_double("rate", 0));
  if (!(rate >= 0)) return invalid_argument("{}: option 'rate' must be >= 0, got {}", context, rate);
  ASSIGN_OR_RETURN(int64_t splits, o.get_int("splits", 1));
  if (splits < 1 || splits > kMaxSplits) {
    return invalid_argument("{}: option 'splits' must be between 1 and {}, got {}", context, kMaxSplits, splits);
  }
  ASSIGN_OR_RETURN(int64_t initial_splits, o.get_int("initial_splits", splits));
  if (initial_splits < 0 || initial_splits > splits) {
    return invalid_argument("{}: option 'initial_splits' must be between 0 and splits ({}), got {}", context, splits,
                            initial_splits);
  }
  ASSIGN_OR_RETURN(Micros split_interval, o.get_duration("split_interval", kMicrosPerSecond));
  ASSIGN_OR_RETURN(Micros rebalance_interval, o.get_duration("rebalance_interval", 0));
  if (split_interval < kMicrosPerMilli || rebalance_interval < 0 ||
      (rebalance_interval > 0 && rebalance_interval < kMicrosPerMilli)) {
    return invalid_argument("{}: options 'split_interval' and 'rebalance_interval' must be at least 1ms", context);
  }
  std::string start = o.get_string("start", "2024-01-01T00:00:00Z");
  auto start_ts = parse_timestamp(start);
  if (!start_ts.is_ok()) return start_ts.status().with_context(context + ": option 'start'");
  c.start = start_ts.value();
  if (c.start < parse_timestamp("1000-01-01").value() || c.start >= parse_timestamp("9000-01-01").value()) {
    return invalid_argument("{}: option 'start' must be between the years 1000 and 9000, got '{}'", context, start);
  }
  ASSIGN_OR_RETURN(c.interval, o.get_duration("interval", 10 * kMicrosPerMilli));
  if (c.interval < 0) return invalid_argument("{}: option 'interval' must not be negative", context);
  ASSIGN_OR_RETURN(c.out_of_order, get_fraction(o, context, "out_of_order"));
  ASSIGN_OR_RETURN(c.late, get_fraction(o, context, "late"));
  ASSIGN_OR_RETURN(c.malformed, get_fraction(o, context, "malformed"));
  if (c.out_of_order + c.late > 1) {
    return invalid_argument("{}: options 'out_of_order' + 'late' must not exceed 1", context);
  }
  ASSIGN_OR_RETURN(c.max_out_of_orderness, o.get_duration("max_out_of_orderness", 5 * kMicrosPerSecond));
  if (c.max_out_of_orderness <= 0 && (c.out_of_order > 0 || c.late > 0)) {
    return invalid_argument("{}: option 'max_out_of_orderness' must be positive when out_of_order or late is set",
                            context);
  }
  ASSIGN_OR_RETURN(c.users, o.get_int("users", 1000));
  if (c.users < 1) return invalid_argument("{}: option 'users' must be >= 1, got {}", context, c.users);
  ASSIGN_OR_RETURN(c.pages, o.get_int("pages", 100));
  if (c.pages < 1) return invalid_argument("{}: option 'pages' must be >= 1, got {}", context, c.pages);
  std::string ts_format = o.get_string("timestamp_format", "iso");
  if (ts_format != "iso" && ts_format != "epoch_ms") {
    return invalid_argument("{}: option 'timestamp_format' must be 'iso' or 'epoch_ms', got '{}'", context,
                            ts_format);
  }
  c.epoch_millis = ts_format == "epoch_ms";
  std::string format = o.get_string("format", "json");
  if (format != "json") {
    return invalid_argument("{}: the generator only produces format 'json', got '{}'", context, format);
  }
  RETURN_IF_ERROR(o.check_all_used());
  return std::unique_ptr<SourceFactory>(
      std::make_unique<GeneratorFactory>(c, static_cast<int>(splits), static_cast<uint64_t>(events), rate,
                                         static_cast<int>(initial_splits), split_interval, rebalance_interval));
}

}  // namespace sluice
