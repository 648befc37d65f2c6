#include "metrics/registry.h"

#include <cmath>

#include <fmt/format.h>

#include "common/assert.h"

namespace sluice {
namespace {

bool valid_name(const std::string& name, bool colon_allowed) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon_allowed && c == ':');
    const bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

// Prometheus renders floats like Go's strconv 'g' with the shortest representation.
std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

void append_escaped(std::string& out, const std::string& s, bool quotes) {
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quotes) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

// `{a="x",b="y"}` plus an optional extra label (a histogram's le); empty without labels.
void append_labels(std::string& out, const std::vector<std::string>& names, const std::vector<std::string>& values,
                   const char* extra_name = nullptr, const std::string& extra_value = "") {
  if (names.empty() && !extra_name) return;
  out += '{';
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    out += names[i];
    out += "=\"";
    append_escaped(out, values[i], true);
    out += '"';
  }
  if (extra_name) {
    if (!names.empty()) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

}  // namespace

const char* metric_type_name(MetricType type) {
  switch (type) {
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kHistogram: return "histogram";
  }
  return "untyped";
}

Histogram::Histogram(std::shared_ptr<const std::vector<int64_t>> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<uint64_t>[bounds_->size() + 1]) {
  reset();
}

std::vector<uint64_t> Histogram::bucket_counts() const {
  std::vector<uint64_t> out(bounds_->size() + 1);
  for (size_t b = 0; b < out.size(); ++b) out[b] = buckets_[b].load(std::memory_order_relaxed);
  return out;
}

void Histogram::reset() {
  for (size_t b = 0; b <= bounds_->size(); ++b) buckets_[b].store(0, std::memory_order_relaxed);
  sum_.store(0, std::memory_order_relaxed);
}

uint64_t Histogram::count() const {
  uint64_t n = 0;
  for (size_t b = 0; b <= bounds_->size(); ++b) n += buckets_[b].load(std::memory_order_relaxed);
  return n;
}

const SeriesSnapshot* FamilySnapshot::find(const std::vector<std::string>& label_values) const {
  for (const auto& s : series) {
    if (s.label_values == label_values) return &s;
  }
  return nullptr;
}

FamilyBase::FamilyBase(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
                       double divisor, std::vector<int64_t> bounds, int64_t initial)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      label_names_(std::move(label_names)),
      divisor_(divisor),
      bounds_(std::move(bounds)),
      initial_(initial) {
  SLUICE_ASSERT(valid_name(name_, true), "invalid metric name '{}'", name_);
  for (const auto& l : label_names_) {
    SLUICE_ASSERT(valid_name(l, false) && l.rfind("__", 0) != 0, "metric {}: invalid label name '{}'", name_, l);
    SLUICE_ASSERT(type_ != MetricType::kHistogram || l != "le", "histogram {} may not have a label 'le'", name_);
  }
}

void FamilyBase::check_labels(const std::vector<std::string>& values) const {
  SLUICE_ASSERT(values.size() == label_names_.size(), "metric {}: {} label values for {} label names", name_,
                values.size(), label_names_.size());
}

FamilySnapshot FamilyBase::collect() const {
  FamilySnapshot f;
  f.name = name_;
  f.help = help_;
  f.type = type_;
  f.label_names = label_names_;
  for (int64_t b : bounds_) f.bucket_bounds.push_back(static_cast<double>(b) / divisor_);
  std::lock_guard<std::mutex> lock(mu_);
  f.series.resize(label_values_.size());
  for (size_t i = 0; i < label_values_.size(); ++i) {
    f.series[i].label_values = label_values_[i];
    read_series(i, divisor_, f.series[i]);
  }
  return f;
}

template <>
void Family<Counter>::read_series(size_t index, double divisor, SeriesSnapshot& out) const {
  const uint64_t v = all_[index]->value();
  out.raw_value = static_cast<int64_t>(v);
  out.value = static_cast<double>(v) / divisor;
}

template <>
void Family<Gauge>::read_series(size_t index, double divisor, SeriesSnapshot& out) const {
  const int64_t v = all_[index]->value();
  out.raw_value = v;
  out.value = static_cast<double>(v) / divisor;
}

template <>
void Family<Histogram>::read_series(size_t index, double divisor, SeriesSnapshot& out) const {
  const Histogram& h = *all_[index];
  std::vector<uint64_t> counts = h.bucket_counts();
  uint64_t total = 0;
  for (auto& c : counts) {
    total += c;
    c = total;
  }
  out.cumulative_counts = std::move(counts);
  out.count = total;  // consistent with the +Inf bucket even while observations race
  out.sum = static_cast<double>(h.sum()) / divisor;
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

FamilyBase* MetricsRegistry::find_locked(const std::string& name, MetricType type,
                                         const std::vector<std::string>& label_names, double divisor,
                                         const std::vector<int64_t>& bounds, int64_t initial) const {
  for (const auto& f : families_) {
    if (f->name() != name) continue;
    SLUICE_ASSERT(f->type() == type && f->label_names() == label_names && f->divisor() == divisor &&
                      f->bounds() == bounds && f->initial() == initial,
                  "metric {} registered twice with different definitions", name);
    return f.get();
  }
  return nullptr;
}

void MetricsRegistry::add_locked(std::unique_ptr<FamilyBase> family) { families_.push_back(std::move(family)); }

CounterFamily& MetricsRegistry::counter(const std::string& name, const std::string& help,
                                        std::vector<std::string> label_names, double divisor) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto* f = find_locked(name, MetricType::kCounter, label_names, divisor, {}, 0)) {
    return static_cast<CounterFamily&>(*f);
  }
  auto f = std::make_unique<CounterFamily>(name, help, MetricType::kCounter, std::move(label_names), divisor,
                                           std::vector<int64_t>{}, 0, [] { return std::make_unique<Counter>(); });
  auto& out = *f;
  add_locked(std::move(f));
  return out;
}

GaugeFamily& MetricsRegistry::gauge(const std::string& name, const std::string& help,
                                    std::vector<std::string> label_names, double divisor, int64_t initial) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto* f = find_locked(name, MetricType::kGauge, label_names, divisor, {}, initial)) {
    return static_cast<GaugeFamily&>(*f);
  }
  auto f = std::make_unique<GaugeFamily>(name, help, MetricType::kGauge, std::move(label_names), divisor,
                                         std::vector<int64_t>{}, initial,
                                         [initial] { return std::make_unique<Gauge>(initial); });
  auto& out = *f;
  add_locked(std::move(f));
  return out;
}

HistogramFamily& MetricsRegistry::histogram(const std::string& name, const std::string& help,
                                            std::vector<std::string> label_names, std::vector<int64_t> bounds,
                                            double divisor) {
  for (size_t i = 1; i < bounds.size(); ++i) {
    SLUICE_ASSERT(bounds[i - 1] < bounds[i], "histogram {}: bucket bounds must ascend", name);
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (auto* f = find_locked(name, MetricType::kHistogram, label_names, divisor, bounds, 0)) {
    return static_cast<HistogramFamily&>(*f);
  }
  auto shared = std::make_shared<const std::vector<int64_t>>(bounds);
  auto f =
      std::make_unique<HistogramFamily>(name, help, MetricType::kHistogram, std::move(label_names), divisor,
                                        std::move(bounds), 0, [shared] { return std::make_unique<Histogram>(shared); });
  auto& out = *f;
  add_locked(std::move(f));
  return out;
}

std::vector<FamilySnapshot> MetricsRegistry::collect() const {
  std::vector<FamilyBase*> families;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& f : families_) families.push_back(f.get());
  }
  std::vector<FamilySnapshot> out;
  out.reserve(families.size());
  for (const FamilyBase* f : families) out.push_back(f->collect());
  return out;
}

std::string render_prometheus_text(const std::vector<FamilySnapshot>& families) {
  std::string out;
  for (const auto& f : families) {
    if (f.series.empty()) continue;
    out += "# HELP ";
    out += f.name;
    out += ' ';
    append_escaped(out, f.help, false);
    out += "\n# TYPE ";
    out += f.name;
    out += ' ';
    out += metric_type_name(f.type);
    out += '\n';
    for (const auto& s : f.series) {
      if (f.type != MetricType::kHistogram) {
        out += f.name;
        append_labels(out, f.label_names, s.label_values);
        out += ' ';
        out += format_value(s.value);
        out += '\n';
        continue;
      }
      for (size_t b = 0; b < s.cumulative_counts.size(); ++b) {
        out += f.name;
        out += "_bucket";
        append_labels(out, f.label_names, s.label_values, "le",
                      b < f.bucket_bounds.size() ? format_value(f.bucket_bounds[b]) : "+Inf");
        out += ' ';
        out += std::to_string(s.cumulative_counts[b]);
        out += '\n';
      }
      out += f.name;
      out += "_sum";
      append_labels(out, f.label_names, s.label_values);
      out += ' ';
      out += format_value(s.sum);
      out += '\n';
      out += f.name;
      out += "_count";
      append_labels(out, f.label_names, s.label_values);
      out += ' ';
      out += std::to_string(s.count);
      out += '\n';
    }
  }
  return out;
}

}  // namespace sluice
