// MetricsRegistry: labelled counters, gauges and histograms with fixed buckets, in the
// Prometheus data model (a family = name + help + type + label names; a series = one set of
// label values), and collect()/render_prometheus_text() to read them out.
//
// Lifecycle: a component looks its series up ONCE when it opens (Family::series() takes
// the family's mutex and may allocate) and keeps the returned reference; series live as
// long as the registry and never move. On the hot path it only calls Counter::add,
// Gauge::set or Histogram::observe: one relaxed atomic add/store per call, no lock, no
// allocation, no map lookup. Callers update per batch, not per record.
//
// Values are integers in a base unit (records, bytes, microseconds, nanoseconds): integer
// atomics are exact and cheaper than the CAS loop a double needs. A family's `divisor`
// (base units per exposed unit) converts them to the Prometheus unit when collected (e.g.
// 1e6 for microseconds -> `_seconds`), so names and exposed values follow Prometheus conventions.
//
// Threads: every method is thread-safe. Updates are relaxed: a collect() concurrent with
// updates sees each series at some recent value (a histogram's buckets may be one
// observation apart from its sum), which is all a scrape needs.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace sluice {

enum class MetricType { kCounter, kGauge, kHistogram };
const char* metric_type_name(MetricType type);  // "counter", "gauge", "histogram"

// Own cache line each: series of different task threads must not share one.
class alignas(64) Counter {
 public:
  void add(uint64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
  void increment() { add(1); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }
  // Back to 0 (a new run of a job taking over its series; Prometheus sees a counter reset).
  void reset() { value_.store(0, std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class alignas(64) Gauge {
 public:
  explicit Gauge(int64_t initial = 0) : initial_(initial), value_(initial) {}
  void set(int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void add(int64_t d) { value_.fetch_add(d, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }
  // Back to the family's initial value.
  void reset() { set(initial_); }

 private:
  const int64_t initial_;
  std::atomic<int64_t> value_;
};

// Buckets are fixed when the family is created: `bounds` are the inclusive upper bounds in
// the base unit, ascending; an implicit +Inf bucket follows.
class alignas(64) Histogram {
 public:
  explicit Histogram(std::shared_ptr<const std::vector<int64_t>> bounds);
  void observe(int64_t v) { observe(v, 1); }
  // `count` observations of the same value at once (the rows of one batch).
  void observe(int64_t v, uint64_t count) {
    size_t b = 0;
    const size_t n = bounds_->size();
    while (b < n && v > (*bounds_)[b]) ++b;  // a handful of buckets: a scan beats a search
    buckets_[b].fetch_add(count, std::memory_order_relaxed);
    sum_.fetch_add(v * static_cast<int64_t>(count), std::memory_order_relaxed);
  }
  // Observations per bucket (not cumulative; the last is +Inf), their sum and count.
  std::vector<uint64_t> bucket_counts() const;
  int64_t sum() const { return sum_.load(std::memory_order_relaxed); }
  uint64_t count() const;
  const std::vector<int64_t>& bounds() const { return *bounds_; }
  // No observations. Not atomic as a whole: call it when nobody observes.
  void reset();

 private:
  std::shared_ptr<const std::vector<int64_t>> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<int64_t> sum_{0};
};

// What collect() returns: one family, its series in the order they were first looked up.
struct SeriesSnapshot {
  std::vector<std::string> label_values;  // parallel to FamilySnapshot::label_names
  double value = 0;                       // counter/gauge in the exposed unit (raw / divisor)
  int64_t raw_value = 0;                  // counter/gauge in the base unit (exact)
  // Histograms: cumulative counts per bucket (parallel to FamilySnapshot::bucket_bounds,
  // then +Inf), the sum in the exposed unit and the count.
  std::vector<uint64_t> cumulative_counts;
  double sum = 0;
  uint64_t count = 0;
};

struct FamilySnapshot {
  std::string name;
  std::string help;
  MetricType type = MetricType::kCounter;
  std::vector<std::string> label_names;
  std::vector<double> bucket_bounds;  // histograms: upper bounds in the exposed unit (without +Inf)
  std::vector<SeriesSnapshot> series;
  // The series with exactly these label values, or null.
  const SeriesSnapshot* find(const std::vector<std::string>& label_values) const;
};

class FamilyBase {
 public:
  // `bounds`: a histogram's bucket bounds; `initial`: a gauge's initial value.
  FamilyBase(std::string name, std::string help, MetricType type, std::vector<std::string> label_names, double divisor,
             std::vector<int64_t> bounds, int64_t initial);
  virtual ~FamilyBase() = default;
  const std::string& name() const { return name_; }
  MetricType type() const { return type_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  double divisor() const { return divisor_; }
  const std::vector<int64_t>& bounds() const { return bounds_; }
  int64_t initial() const { return initial_; }
  FamilySnapshot collect() const;

 protected:
  // Appends the series' values to `out` (label values are filled in by collect()).
  virtual void read_series(size_t index, double divisor, SeriesSnapshot& out) const = 0;
  void check_labels(const std::vector<std::string>& values) const;
  mutable std::mutex mu_;
  std::vector<std::vector<std::string>> label_values_;  // per series, in creation order

 private:
  std::string name_;
  std::string help_;
  MetricType type_;
  std::vector<std::string> label_names_;
  double divisor_;
  std::vector<int64_t> bounds_;
  int64_t initial_;
};

template <class T>
class Family : public FamilyBase {
 public:
  Family(std::string name, std::string help, MetricType type, std::vector<std::string> label_names, double divisor,
         std::vector<int64_t> bounds, int64_t initial, std::function<std::unique_ptr<T>()> make)
      : FamilyBase(std::move(name), std::move(help), type, std::move(label_names), divisor, std::move(bounds), initial),
        make_(std::move(make)) {}

  // The series with these label values (one per label name), created on first use. The
  // reference stays valid for the registry's lifetime. Takes a lock: call at open time.
  T& series(std::vector<std::string> label_values) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = index_.find(label_values);
    if (it != index_.end()) return *all_[it->second];
    check_labels(label_values);
    index_.emplace(label_values, all_.size());
    label_values_.push_back(std::move(label_values));
    all_.push_back(make_());
    return *all_.back();
  }
  // The series with these label values, or null (does not create it).
  const T* find(const std::vector<std::string>& label_values) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = index_.find(label_values);
    return it == index_.end() ? nullptr : all_[it->second].get();
  }

 protected:
  void read_series(size_t index, double divisor, SeriesSnapshot& out) const override;

 private:
  std::function<std::unique_ptr<T>()> make_;
  std::map<std::vector<std::string>, size_t> index_;
  std::vector<std::unique_ptr<T>> all_;
};

template <>
void Family<Counter>::read_series(size_t index, double divisor, SeriesSnapshot& out) const;
template <>
void Family<Gauge>::read_series(size_t index, double divisor, SeriesSnapshot& out) const;
template <>
void Family<Histogram>::read_series(size_t index, double divisor, SeriesSnapshot& out) const;
extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

class MetricsRegistry {
 public:
  // Get-or-create a family. Names follow Prometheus conventions ([a-zA-Z_:][a-zA-Z0-9_:]*,
  // counters end in _total, units as suffixes); label names [a-zA-Z_][a-zA-Z0-9_]*, not
  // "le". Asking again for a name returns the same family; asking with another type, label
  // names, divisor or buckets is a bug (asserts). `divisor` divides base-unit values when
  // collected; a gauge's series start at `initial`.
  CounterFamily& counter(const std::string& name, const std::string& help, std::vector<std::string> label_names,
                         double divisor = 1.0);
  GaugeFamily& gauge(const std::string& name, const std::string& help, std::vector<std::string> label_names,
                     double divisor = 1.0, int64_t initial = 0);
  HistogramFamily& histogram(const std::string& name, const std::string& help, std::vector<std::string> label_names,
                             std::vector<int64_t> bounds, double divisor = 1.0);

  // Every family in registration order with every series (those without series too).
  std::vector<FamilySnapshot> collect() const;

 private:
  // The family named `name` (checked to match the rest), or null.
  FamilyBase* find_locked(const std::string& name, MetricType type, const std::vector<std::string>& label_names,
                          double divisor, const std::vector<int64_t>& bounds, int64_t initial) const;
  void add_locked(std::unique_ptr<FamilyBase> family);
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<FamilyBase>> families_;
};

// The Prometheus text exposition format (version 0.0.4): # HELP / # TYPE lines, one line
// per series (histograms: _bucket{le=...}, _sum, _count). Families without series are left
// out. Serve it as `Content-Type: text/plain; version=0.0.4; charset=utf-8`.
std::string render_prometheus_text(const std::vector<FamilySnapshot>& families);

}  // namespace sluice
