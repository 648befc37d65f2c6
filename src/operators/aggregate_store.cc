#include "operators/aggregate_store.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "common/hash.h"
#include "common/time_util.h"
#include "formats/encode_util.h"
#include "formats/json_encoder.h"

namespace sluice {

const char* agg_kind_name(AggKind kind) {
  switch (kind) {
    case AggKind::kCountStar: return "COUNT(*)";
    case AggKind::kCount: return "COUNT";
    case AggKind::kSum: return "SUM";
    case AggKind::kMin: return "MIN";
    case AggKind::kMax: return "MAX";
    case AggKind::kAvg: return "AVG";
    case AggKind::kApproxCountDistinct: return "APPROX_COUNT_DISTINCT";
    case AggKind::kApproxPercentile: return "APPROX_PERCENTILE";
    case AggKind::kPercentile: return "PERCENTILE";
    case AggKind::kFirstValue: return "FIRST_VALUE";
    case AggKind::kLastValue: return "LAST_VALUE";
    case AggKind::kArrayAgg: return "ARRAY_AGG";
    case AggKind::kStringAgg: return "STRING_AGG";
    case AggKind::kUser: return "UDAF";
  }
  return "?";
}

bool agg_kind_is_ordered(AggKind kind) {
  return kind == AggKind::kFirstValue || kind == AggKind::kLastValue || kind == AggKind::kArrayAgg ||
         kind == AggKind::kStringAgg;
}

std::string AggregateSpec::describe() const {
  std::string out;
  if (kind == AggKind::kCountStar) {
    out = "COUNT(*)";
  } else {
    out = fmt::format("{}({}${}", kind == AggKind::kUser && user ? user->name : agg_kind_name(kind),
                      distinct ? "DISTINCT " : "", input);
    if (kind == AggKind::kApproxPercentile || kind == AggKind::kPercentile) out += fmt::format(", {}", fraction);
    if (kind == AggKind::kStringAgg) out += fmt::format(", '{}'", separator);
    if (agg_kind_is_ordered(kind) && time_input >= 0) out += fmt::format(" ORDER BY ${}", time_input);
    out += ")";
  }
  if (filter >= 0) out += fmt::format(" FILTER (${})", filter);
  return out;
}

TypeId aggregate_result_type(AggKind kind, TypeId input) {
  switch (kind) {
    case AggKind::kCountStar:
    case AggKind::kCount:
    case AggKind::kApproxCountDistinct: return TypeId::kInt64;
    case AggKind::kAvg:
    case AggKind::kApproxPercentile:
    case AggKind::kPercentile: return TypeId::kFloat64;
    case AggKind::kSum: return input == TypeId::kInt64 ? TypeId::kInt64 : (input == TypeId::kInterval ? TypeId::kInterval : TypeId::kFloat64);
    case AggKind::kMin:
    case AggKind::kMax:
    case AggKind::kFirstValue:
    case AggKind::kLastValue: return input;
    case AggKind::kArrayAgg:
    case AggKind::kStringAgg: return TypeId::kString;
    case AggKind::kUser: return TypeId::kNull;  // from the function's definition
  }
  return TypeId::kNull;
}

// ------------------------------------------------------------------ per-slot containers

namespace {
// COUNT/SUM/AVG(DISTINCT x) keep the distinct values (MIN/MAX(DISTINCT x) = MIN/MAX(x)).
inline bool uses_set(const AggregateSpec& spec) {
  return spec.distinct && (spec.kind == AggKind::kCount || spec.kind == AggKind::kSum || spec.kind == AggKind::kAvg);
}

inline bool entry_less(const AggregateStore::OrderedList::Entry& a, const AggregateStore::OrderedList::Entry& b) {
  return a.time != b.time ? a.time < b.time : a.seq < b.seq;
}
}  // namespace

void AggregateStore::OrderedList::add(int64_t time, uint64_t seq, std::string_view text) {
  const size_t start = bytes.size();
  bytes.append(text.data(), text.size());
  end_entry(time, seq, start);
}

void AggregateStore::OrderedList::end_entry(int64_t time, uint64_t seq, size_t start) {
  Entry e{time, seq, start, bytes.size() - start};
  if (sorted && !entries.empty() && entry_less(e, entries.back())) sorted = false;
  entries.push_back(e);
}

void AggregateStore::OrderedList::merge(const OrderedList& other) {
  const size_t base = bytes.size();
  const size_t mid = entries.size();
  entries.reserve(entries.size() + other.entries.size());
  for (Entry e : other.entries) {
    e.offset += base;
    entries.push_back(e);
  }
  bytes.append(other.bytes);
  if (sorted && other.sorted) {
    std::inplace_merge(entries.begin(), entries.begin() + static_cast<std::ptrdiff_t>(mid), entries.end(), entry_less);
  } else {
    sorted = false;
  }
}

void AggregateStore::OrderedList::sort() {
  if (!sorted) std::sort(entries.begin(), entries.end(), entry_less);
  sorted = true;
}

// ------------------------------------------------------------------ slots

AggregateStore::AggregateStore(std::vector<AggregateSpec> specs) : specs_(std::move(specs)), states_(specs_.size()) {}
AggregateStore::~AggregateStore() = default;

uint32_t AggregateStore::allocate() {
  if (!free_.empty()) {
    uint32_t slot = free_.back();
    free_.pop_back();
    return slot;
  }
  uint32_t slot = static_cast<uint32_t>(capacity_++);
  for (size_t a = 0; a < specs_.size(); ++a) {
    const AggregateSpec& spec = specs_[a];
    State& st = states_[a];
    st.i.push_back(0);
    st.d.push_back(0);
    st.has.push_back(0);
    const bool first_last = spec.kind == AggKind::kFirstValue || spec.kind == AggKind::kLastValue;
    if (spec.input_type == TypeId::kString &&
        (spec.kind == AggKind::kMin || spec.kind == AggKind::kMax || first_last)) {
      st.s.emplace_back();
    }
    if (first_last) {
      st.t.push_back(0);
      st.seq.push_back(0);
    }
    if (uses_set(spec)) st.sets.emplace_back();
    if (spec.kind == AggKind::kApproxCountDistinct) st.hll.emplace_back();
    if (spec.kind == AggKind::kApproxPercentile) st.sketch.emplace_back();
    if (spec.kind == AggKind::kPercentile) st.bags.emplace_back();
    if (spec.kind == AggKind::kArrayAgg || spec.kind == AggKind::kStringAgg) st.lists.emplace_back();
    if (spec.kind == AggKind::kUser) st.user.emplace_back();
  }
  return slot;
}

void AggregateStore::reset_slot(uint32_t slot) {
  for (size_t a = 0; a < specs_.size(); ++a) {
    State& st = states_[a];
    st.i[slot] = 0;
    st.d[slot] = 0;
    st.has[slot] = 0;
    if (!st.s.empty()) std::string().swap(st.s[slot]);
    if (!st.t.empty()) st.t[slot] = 0;
    if (!st.seq.empty()) st.seq[slot] = 0;
    if (!st.sets.empty()) st.sets[slot].reset();
    if (!st.hll.empty()) st.hll[slot].reset();
    if (!st.sketch.empty()) st.sketch[slot].reset();
    if (!st.bags.empty()) st.bags[slot].reset();
    if (!st.lists.empty()) st.lists[slot].reset();
    if (!st.user.empty()) st.user[slot].reset();
  }
}

void AggregateStore::release(uint32_t slot) {
  reset_slot(slot);
  free_.push_back(slot);
}

size_t AggregateStore::state_bytes() const {
  size_t total = 0;
  for (const State& st : states_) {
    for (const auto& s : st.s) total += s.capacity() > 15 ? s.capacity() : 0;
    for (const auto& set : st.sets) {
      if (!set) continue;
      total += set->ints.capacity() * (sizeof(int64_t) + 1) + set->strings.capacity() * (sizeof(std::string) + 1);
      for (const auto& v : set->strings) total += v.capacity() > 15 ? v.capacity() : 0;
    }
    for (const auto& h : st.hll) total += h ? sizeof(HyperLogLog) + h->memory_bytes() : 0;
    for (const auto& k : st.sketch) total += k ? sizeof(DDSketch) + k->memory_bytes() : 0;
    for (const auto& b : st.bags) total += b ? sizeof(ValueBag) + b->values.capacity() * sizeof(double) : 0;
    for (const auto& l : st.lists) {
      if (l) total += sizeof(OrderedList) + l->entries.capacity() * sizeof(OrderedList::Entry) + l->bytes.capacity();
    }
  }
  return total;
}

// ------------------------------------------------------------------ update

namespace {

inline int64_t double_bits(double v) {
  if (v == 0) v = 0;  // -0.0 == 0.0
  int64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  return bits;
}
inline double bits_double(int64_t bits) {
  double v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

// Hash of a value for APPROX_COUNT_DISTINCT (XXH3, as for keys).
inline uint64_t hash_value(int64_t v) { return hash_bytes(&v, sizeof v); }
inline uint64_t hash_value(double v) {
  int64_t bits = double_bits(v);
  return hash_bytes(&bits, sizeof bits);
}

// The event time of a row for the ordered aggregates (0 for all rows when ordering by
// arrival only; a NULL time sorts first).
struct TimeOf {
  const int64_t* values = nullptr;
  const uint8_t* valid = nullptr;
  TimeOf(const RecordBatch& input, int column) {
    if (column < 0) return;
    const Column& c = input.column(static_cast<size_t>(column));
    values = c.ints();
    valid = c.validity();
  }
  int64_t operator()(uint32_t r) const {
    if (!values) return 0;
    return valid[r] ? values[r] : std::numeric_limits<int64_t>::min();
  }
};

template <bool kFirst>
inline bool precedes(int64_t t, uint64_t q, int64_t best_t, uint64_t best_q) {
  if (kFirst) return t != best_t ? t < best_t : q < best_q;
  return t != best_t ? t > best_t : q > best_q;
}

// Appends `v` as an element of a JSON array (as the JSON encoder writes a column value).
void append_json_int(std::string& out, int64_t v) { encode::append_int(out, v); }
void append_json_double(std::string& out, double v) {
  if (std::isfinite(v)) {
    encode::append_finite_double(out, v);
  } else {
    out.append("null");
  }
}
void append_json_bool(std::string& out, int64_t v) { out.append(v ? "true" : "false"); }
void append_json_timestamp(std::string& out, int64_t v) {
  out.push_back('"');
  encode::append_timestamp_iso(out, v);
  out.push_back('"');
}
void append_json_interval(std::string& out, int64_t v) {
  out.push_back('"');
  out.append(format_duration(v));
  out.push_back('"');
}

}  // namespace

size_t AggregateStore::select_rows(const AggregateSpec& spec, const RecordBatch& input, const uint32_t*& rows,
                                   const uint32_t*& slots, size_t n) {
  if (spec.filter < 0) return n;
  if (filtered_for_ != spec.filter) {
    const Column& f = input.column(static_cast<size_t>(spec.filter));
    const uint8_t* valid = f.validity();
    const int64_t* v = f.ints();
    filtered_rows_.resize(n);
    filtered_slots_.resize(n);
    size_t m = 0;
    for (size_t k = 0; k < n; ++k) {
      const uint32_t r = rows[k];
      filtered_rows_[m] = r;
      filtered_slots_[m] = slots[k];
      m += static_cast<size_t>(valid[r] != 0 && v[r] != 0);  // NULL and FALSE are skipped
    }
    filtered_count_ = m;
    filtered_for_ = spec.filter;
  }
  rows = filtered_rows_.data();
  slots = filtered_slots_.data();
  return filtered_count_;
}

void AggregateStore::update(const RecordBatch& input, const uint32_t* rows, const uint32_t* slots, size_t n) {
  filtered_for_ = -1;
  for (size_t a = 0; a < specs_.size(); ++a) {
    const uint32_t* r = rows;
    const uint32_t* s = slots;
    size_t m = select_rows(specs_[a], input, r, s, n);
    if (m) update_one(a, input, r, s, m);
  }
  seq_base_ += input.num_rows;
}

void AggregateStore::update_one(size_t a, const RecordBatch& input, const uint32_t* rows, const uint32_t* slots,
                                size_t n) {
  const AggregateSpec& spec = specs_[a];
  State& st = states_[a];
  if (spec.kind == AggKind::kCountStar) {
    for (size_t k = 0; k < n; ++k) st.i[slots[k]] += 1;
    return;
  }
  if (spec.kind == AggKind::kUser) {
    // One call per batch into the UDAF with the state of each row's group.
    user_scratch_.resize(n);
    for (size_t k = 0; k < n; ++k) {
      auto& state = st.user[slots[k]];
      if (!state) state = spec.user->create();
      user_scratch_[k] = state.get();
    }
    if (n > 0) spec.user->accumulate(user_scratch_.data(), input.column(static_cast<size_t>(spec.input)), rows, n);
    return;
  }
  const Column& col = input.column(static_cast<size_t>(spec.input));
  const uint8_t* valid = col.validity();
  const bool is_double = col.type() == TypeId::kFloat64;
  const bool is_string = col.type() == TypeId::kString;
  if (uses_set(spec)) {
    for (size_t k = 0; k < n; ++k) {
      uint32_t r = rows[k];
      if (!valid[r]) continue;
      auto& set = st.sets[slots[k]];
      if (!set) set = std::make_unique<DistinctSet>();
      if (is_string) {
        std::string_view sv = col.string_at(r);
        absl::string_view v(sv.data(), sv.size());
        if (set->strings.find(v) == set->strings.end()) set->strings.emplace(sv);
      } else if (is_double) {
        set->ints.insert(double_bits(col.double_at(r)));
      } else {
        set->ints.insert(col.int_at(r));
      }
    }
    return;
  }
  switch (spec.kind) {
    case AggKind::kUser:  // handled before the switch
    case AggKind::kCountStar: break;
    case AggKind::kCount:
      for (size_t k = 0; k < n; ++k) st.i[slots[k]] += valid[rows[k]];
      break;
    case AggKind::kSum:
    case AggKind::kAvg:
      if (is_double) {
        const double* v = col.doubles();
        for (size_t k = 0; k < n; ++k) {
          uint32_t r = rows[k];
          if (!valid[r]) continue;
          st.d[slots[k]] += v[r];
          st.i[slots[k]] += 1;
          st.has[slots[k]] = 1;
        }
      } else if (spec.kind == AggKind::kAvg) {
        const int64_t* v = col.ints();
        for (size_t k = 0; k < n; ++k) {
          uint32_t r = rows[k];
          if (!valid[r]) continue;
          st.d[slots[k]] += static_cast<double>(v[r]);
          st.i[slots[k]] += 1;
          st.has[slots[k]] = 1;
        }
      } else {
        // Integer SUM: exact in int64; on overflow the sum continues in the double
        // accumulator (d holds the overflowed part) — see append_result.
        const int64_t* v = col.ints();
        for (size_t k = 0; k < n; ++k) {
          uint32_t r = rows[k];
          if (!valid[r]) continue;
          uint32_t s = slots[k];
          int64_t out;
          if (__builtin_add_overflow(st.i[s], v[r], &out)) {
            st.d[s] += static_cast<double>(st.i[s]) + static_cast<double>(v[r]);
            st.i[s] = 0;
          } else {
            st.i[s] = out;
          }
          st.has[s] = 1;
        }
      }
      break;
    case AggKind::kMin:
    case AggKind::kMax: {
      const bool is_min = spec.kind == AggKind::kMin;
      if (is_string) {
        for (size_t k = 0; k < n; ++k) {
          uint32_t r = rows[k];
          if (!valid[r]) continue;
          uint32_t s = slots[k];
          std::string_view v = col.string_at(r);
          if (!st.has[s] || (is_min ? v < st.s[s] : v > st.s[s])) {
            st.s[s].assign(v.data(), v.size());
            st.has[s] = 1;
          }
        }
      } else if (is_double) {
        const double* v = col.doubles();
        for (size_t k = 0; k < n; ++k) {
          uint32_t r = rows[k];
          if (!valid[r]) continue;
          uint32_t s = slots[k];
          if (!st.has[s] || (is_min ? v[r] < st.d[s] : v[r] > st.d[s])) {
            st.d[s] = v[r];
            st.has[s] = 1;
          }
        }
      } else {
        const int64_t* v = col.ints();
        for (size_t k = 0; k < n; ++k) {
          uint32_t r = rows[k];
          if (!valid[r]) continue;
          uint32_t s = slots[k];
          if (!st.has[s] || (is_min ? v[r] < st.i[s] : v[r] > st.i[s])) {
            st.i[s] = v[r];
            st.has[s] = 1;
          }
        }
      }
      break;
    }
    case AggKind::kApproxCountDistinct: {
      auto sketch_of = [&](uint32_t s) -> HyperLogLog& {
        auto& h = st.hll[s];
        if (!h) h = std::make_unique<HyperLogLog>();
        return *h;
      };
      if (is_string) {
        for (size_t k = 0; k < n; ++k) {
          uint32_t r = rows[k];
          if (valid[r]) sketch_of(slots[k]).add_hash(hash_string(col.string_at(r)));
        }
      } else if (is_double) {
        const double* v = col.doubles();
        for (size_t k = 0; k < n; ++k) {
          uint32_t r = rows[k];
          if (valid[r]) sketch_of(slots[k]).add_hash(hash_value(v[r]));
        }
      } else {
        const int64_t* v = col.ints();
        for (size_t k = 0; k < n; ++k) {
          uint32_t r = rows[k];
          if (valid[r]) sketch_of(slots[k]).add_hash(hash_value(v[r]));
        }
      }
      break;
    }
    case AggKind::kApproxPercentile: {
      auto sketch_of = [&](uint32_t s) -> DDSketch& {
        auto& d = st.sketch[s];
        if (!d) d = std::make_unique<DDSketch>();
        return *d;
      };
      if (is_double) {
        const double* v = col.doubles();
        for (size_t k = 0; k < n; ++k) {
          uint32_t r = rows[k];
          if (valid[r]) sketch_of(slots[k]).add(v[r]);
        }
      } else {
        const int64_t* v = col.ints();
        for (size_t k = 0; k < n; ++k) {
          uint32_t r = rows[k];
          if (valid[r]) sketch_of(slots[k]).add(static_cast<double>(v[r]));
        }
      }
      break;
    }
    case AggKind::kPercentile: {
      auto bag_of = [&](uint32_t s) -> ValueBag& {
        auto& b = st.bags[s];
        if (!b) b = std::make_unique<ValueBag>();
        return *b;
      };
      auto add = [&](uint32_t s, double x) {
        if (std::isnan(x)) return;
        ValueBag& b = bag_of(s);
        if (b.sorted && !b.values.empty() && x < b.values.back()) b.sorted = false;
        b.values.push_back(x);
      };
      if (is_double) {
        const double* v = col.doubles();
        for (size_t k = 0; k < n; ++k) {
          uint32_t r = rows[k];
          if (valid[r]) add(slots[k], v[r]);
        }
      } else {
        const int64_t* v = col.ints();
        for (size_t k = 0; k < n; ++k) {
          uint32_t r = rows[k];
          if (valid[r]) add(slots[k], static_cast<double>(v[r]));
        }
      }
      break;
    }
    case AggKind::kFirstValue:
    case AggKind::kLastValue: {
      const TimeOf time_of(input, spec.time_input);
      // One loop per (first/last, value type); `take` copies the row's value into the slot.
      auto run = [&](auto first_tag, auto take) {
        constexpr bool kFirst = decltype(first_tag)::value;
        for (size_t k = 0; k < n; ++k) {
          const uint32_t r = rows[k], s = slots[k];
          const int64_t t = time_of(r);
          const uint64_t q = seq_base_ + r;
          if (st.has[s] && !precedes<kFirst>(t, q, st.t[s], st.seq[s])) continue;
          st.t[s] = t;
          st.seq[s] = q;
          st.has[s] = valid[r] ? 1 : 2;
          if (valid[r]) take(s, r);
        }
      };
      auto dispatch = [&](auto take) {
        if (spec.kind == AggKind::kFirstValue) {
          run(std::true_type{}, take);
        } else {
          run(std::false_type{}, take);
        }
      };
      if (is_string) {
        dispatch([&](uint32_t s, uint32_t r) {
          std::string_view v = col.string_at(r);
          st.s[s].assign(v.data(), v.size());
        });
      } else if (is_double) {
        const double* v = col.doubles();
        dispatch([&](uint32_t s, uint32_t r) { st.d[s] = v[r]; });
      } else {
        const int64_t* v = col.ints();
        dispatch([&](uint32_t s, uint32_t r) { st.i[s] = v[r]; });
      }
      break;
    }
    case AggKind::kArrayAgg:
    case AggKind::kStringAgg: {
      const TimeOf time_of(input, spec.time_input);
      const bool keep_nulls = spec.kind == AggKind::kArrayAgg;  // JSON null; STRING_AGG skips NULLs
      // One loop per value type; `render` appends the row's contribution (a JSON literal for
      // ARRAY_AGG, the text for STRING_AGG) straight to the list's byte buffer.
      auto run = [&](auto render) {
        for (size_t k = 0; k < n; ++k) {
          const uint32_t r = rows[k], s = slots[k];
          if (!valid[r] && !keep_nulls) continue;
          auto& list = st.lists[s];
          if (!list) list = std::make_unique<OrderedList>();
          const size_t start = list->bytes.size();
          if (valid[r]) {
            render(list->bytes, r);
          } else {
            list->bytes.append("null");
          }
          list->end_entry(time_of(r), seq_base_ + r, start);
        }
      };
      if (spec.kind == AggKind::kStringAgg) {
        run([&](std::string& out, uint32_t r) {
          std::string_view v = col.string_at(r);
          out.append(v.data(), v.size());
        });
        break;
      }
      switch (col.type()) {
        case TypeId::kString: run([&](std::string& out, uint32_t r) { append_json_string(out, col.string_at(r)); }); break;
        case TypeId::kFloat64: run([&](std::string& out, uint32_t r) { append_json_double(out, col.double_at(r)); }); break;
        case TypeId::kBool: run([&](std::string& out, uint32_t r) { append_json_bool(out, col.int_at(r)); }); break;
        case TypeId::kTimestamp:
          run([&](std::string& out, uint32_t r) { append_json_timestamp(out, col.int_at(r)); });
          break;
        case TypeId::kInterval:
          run([&](std::string& out, uint32_t r) { append_json_interval(out, col.int_at(r)); });
          break;
        case TypeId::kInt64: run([&](std::string& out, uint32_t r) { append_json_int(out, col.int_at(r)); }); break;
        case TypeId::kNull: run([&](std::string& out, uint32_t) { out.append("null"); }); break;
      }
      break;
    }
  }
}

// ------------------------------------------------------------------ merge

void AggregateStore::merge(uint32_t dst, uint32_t src) {
  for (size_t a = 0; a < specs_.size(); ++a) {
    const AggregateSpec& spec = specs_[a];
    State& st = states_[a];
    if (spec.kind == AggKind::kUser) {
      if (!st.user[src]) continue;
      if (!st.user[dst]) st.user[dst] = spec.user->create();
      spec.user->merge(*st.user[dst], *st.user[src]);
      continue;
    }
    if (uses_set(spec)) {
      auto& from = st.sets[src];
      if (!from) continue;
      auto& to = st.sets[dst];
      if (!to) to = std::make_unique<DistinctSet>();
      to->ints.insert(from->ints.begin(), from->ints.end());
      to->strings.insert(from->strings.begin(), from->strings.end());
      continue;
    }
    switch (spec.kind) {
      case AggKind::kUser:  // handled before the switch
      case AggKind::kCountStar:
      case AggKind::kCount: st.i[dst] += st.i[src]; break;
      case AggKind::kSum:
      case AggKind::kAvg: {
        int64_t out;
        if (spec.kind == AggKind::kSum && spec.input_type != TypeId::kFloat64 &&
            __builtin_add_overflow(st.i[dst], st.i[src], &out)) {
          st.d[dst] += static_cast<double>(st.i[dst]) + static_cast<double>(st.i[src]);
          st.i[dst] = 0;
        } else {
          st.i[dst] += st.i[src];
        }
        st.d[dst] += st.d[src];
        st.has[dst] |= st.has[src];
        break;
      }
      case AggKind::kMin:
      case AggKind::kMax: {
        if (!st.has[src]) break;
        const bool is_min = spec.kind == AggKind::kMin;
        bool take = !st.has[dst];
        if (!take) {
          if (spec.input_type == TypeId::kString) take = is_min ? st.s[src] < st.s[dst] : st.s[src] > st.s[dst];
          else if (spec.input_type == TypeId::kFloat64) take = is_min ? st.d[src] < st.d[dst] : st.d[src] > st.d[dst];
          else take = is_min ? st.i[src] < st.i[dst] : st.i[src] > st.i[dst];
        }
        if (take) {
          st.i[dst] = st.i[src];
          st.d[dst] = st.d[src];
          if (!st.s.empty()) st.s[dst] = st.s[src];
          st.has[dst] = 1;
        }
        break;
      }
      case AggKind::kApproxCountDistinct: {
        if (!st.hll[src]) break;
        if (!st.hll[dst]) st.hll[dst] = std::make_unique<HyperLogLog>();
        st.hll[dst]->merge(*st.hll[src]);
        break;
      }
      case AggKind::kApproxPercentile: {
        if (!st.sketch[src]) break;
        if (!st.sketch[dst]) st.sketch[dst] = std::make_unique<DDSketch>();
        st.sketch[dst]->merge(*st.sketch[src]);
        break;
      }
      case AggKind::kPercentile: {
        if (!st.bags[src]) break;
        if (!st.bags[dst]) st.bags[dst] = std::make_unique<ValueBag>();
        ValueBag& to = *st.bags[dst];
        const ValueBag& from = *st.bags[src];
        to.values.insert(to.values.end(), from.values.begin(), from.values.end());
        to.sorted = false;
        break;
      }
      case AggKind::kFirstValue:
      case AggKind::kLastValue: {
        if (!st.has[src]) break;
        const bool take = !st.has[dst] || (spec.kind == AggKind::kFirstValue
                                               ? precedes<true>(st.t[src], st.seq[src], st.t[dst], st.seq[dst])
                                               : precedes<false>(st.t[src], st.seq[src], st.t[dst], st.seq[dst]));
        if (take) {
          st.i[dst] = st.i[src];
          st.d[dst] = st.d[src];
          if (!st.s.empty()) st.s[dst] = st.s[src];
          st.t[dst] = st.t[src];
          st.seq[dst] = st.seq[src];
          st.has[dst] = st.has[src];
        }
        break;
      }
      case AggKind::kArrayAgg:
      case AggKind::kStringAgg: {
        if (!st.lists[src]) break;
        if (!st.lists[dst]) st.lists[dst] = std::make_unique<OrderedList>();
        st.lists[dst]->merge(*st.lists[src]);
        break;
      }
    }
  }
}

// ------------------------------------------------------------------ results

void AggregateStore::append_result(size_t a, uint32_t slot, Column& out) const {
  const AggregateSpec& spec = specs_[a];
  const State& st = states_[a];
  if (spec.kind == AggKind::kUser) {
    if (st.user[slot]) return spec.user->finish(*st.user[slot], out);
    // A group that received no row (a global aggregate over no input): a fresh state.
    auto empty = spec.user->create();
    return spec.user->finish(*empty, out);
  }
  if (uses_set(spec)) {
    const auto& set = st.sets[slot];
    if (spec.kind == AggKind::kCount) {
      out.append_int(set ? static_cast<int64_t>(set->ints.size() + set->strings.size()) : 0);
      return;
    }
    // SUM/AVG(DISTINCT x): summed in a fixed order so the result never depends on the
    // hash set's iteration order.
    if (!set || set->ints.empty()) return out.append_null();
    const double count = static_cast<double>(set->ints.size());
    if (spec.input_type == TypeId::kFloat64) {
      std::vector<double> values;
      values.reserve(set->ints.size());
      for (int64_t bits : set->ints) values.push_back(bits_double(bits));
      std::sort(values.begin(), values.end());
      double sum = 0;
      for (double v : values) sum += v;
      return out.append_double(spec.kind == AggKind::kSum ? sum : sum / count);
    }
    __int128 sum = 0;
    for (int64_t v : set->ints) sum += v;
    if (spec.kind == AggKind::kAvg) return out.append_double(static_cast<double>(sum) / count);
    if (sum > std::numeric_limits<int64_t>::max() || sum < std::numeric_limits<int64_t>::min()) return out.append_null();
    return out.append_int(static_cast<int64_t>(sum));
  }
  switch (spec.kind) {
    case AggKind::kUser:  // handled before the switch
    case AggKind::kCountStar:
    case AggKind::kCount: out.append_int(st.i[slot]); return;
    case AggKind::kAvg:
      if (!st.has[slot]) return out.append_null();
      out.append_double(st.d[slot] / static_cast<double>(st.i[slot]));
      return;
    case AggKind::kSum:
      if (!st.has[slot]) return out.append_null();
      if (spec.input_type == TypeId::kFloat64) return out.append_double(st.d[slot]);
      if (st.d[slot] != 0) {
        // The integer sum overflowed int64: SQL would raise; we return NULL rather than a
        // wrong number (documented in docs/sql.md).
        return out.append_null();
      }
      out.append_int(st.i[slot]);
      return;
    case AggKind::kMin:
    case AggKind::kMax:
    case AggKind::kFirstValue:
    case AggKind::kLastValue:
      if (st.has[slot] != 1) return out.append_null();
      if (spec.input_type == TypeId::kString) return out.append_string(st.s[slot]);
      if (spec.input_type == TypeId::kFloat64) return out.append_double(st.d[slot]);
      out.append_int(st.i[slot]);
      return;
    case AggKind::kApproxCountDistinct: {
      const auto& h = st.hll[slot];
      out.append_int(h ? std::llround(h->estimate()) : 0);
      return;
    }
    case AggKind::kApproxPercentile: {
      const auto& d = st.sketch[slot];
      if (!d || d->count() == 0) return out.append_null();
      out.append_double(d->quantile(spec.fraction));
      return;
    }
    case AggKind::kPercentile: {
      // Exact, interpolated between the two closest ranks (PostgreSQL's percentile_cont).
      // Sorting is a cache of the order: the bag's contents are unchanged (hence const).
      const auto& b = st.bags[slot];
      if (!b || b->values.empty()) return out.append_null();
      std::vector<double>& v = b->values;
      if (!b->sorted) {
        std::sort(v.begin(), v.end());
        b->sorted = true;
      }
      const double pos = spec.fraction * static_cast<double>(v.size() - 1);
      const size_t lo = static_cast<size_t>(std::floor(pos));
      const size_t hi = std::min(lo + 1, v.size() - 1);
      const double frac = pos - static_cast<double>(lo);
      out.append_double(frac == 0 ? v[lo] : v[lo] + frac * (v[hi] - v[lo]));
      return;
    }
    case AggKind::kArrayAgg:
    case AggKind::kStringAgg: {
      const auto& l = st.lists[slot];
      if (!l || l->entries.empty()) return out.append_null();
      l->sort();  // a cache of the order, as above
      std::string text;
      const bool array = spec.kind == AggKind::kArrayAgg;
      if (array) text.push_back('[');
      for (size_t e = 0; e < l->entries.size(); ++e) {
        if (e) {
          if (array) {
            text.push_back(',');
          } else {
            text.append(spec.separator);
          }
        }
        text.append(l->bytes, l->entries[e].offset, l->entries[e].length);
      }
      if (array) text.push_back(']');
      out.append_string(text);
      return;
    }
  }
}

// ------------------------------------------------------------------ checkpoints
//
// A slot is the concatenation of its aggregates, each as
//   u8 kind (bit 7: DISTINCT), u8 input type, then by kind:
//   UDAF                      u8 present [str: the function's serialize() bytes]
//   COUNT/SUM/AVG(DISTINCT)   u8 present [varint n, n x i64 sorted; varint m, m x str sorted]
//   COUNT(*), COUNT           zigzag count
//   SUM, AVG                  u8 has, zigzag i, f64 d (d: the double sum, or the overflowed part)
//   MIN, MAX                  u8 has [value]
//   FIRST_VALUE, LAST_VALUE   u8 has (0 none, 1 value, 2 NULL) [zigzag time, varint seq [value]]
//   APPROX_COUNT_DISTINCT     u8 present [HyperLogLog]
//   APPROX_PERCENTILE         u8 present [DDSketch]
//   PERCENTILE                u8 present [varint n, n x f64 ascending]
//   ARRAY_AGG, STRING_AGG     u8 present [varint n, n x (zigzag time, varint seq, str text)]
//                             in (time, seq) order
// where value is i64, f64 or str by the input type. Containers and UDAF states that were
// never created stay absent ("present" 0), as in the live store.

namespace {

constexpr uint8_t kDistinctBit = 0x80;

inline uint64_t zigzag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
inline int64_t unzigzag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

Status slot_data_loss(ByteReader& r, size_t a, const AggregateSpec& spec, std::string_view why) {
  r.fail();
  return Status(StatusCode::kDataLoss,
                fmt::format("checkpointed state of aggregate {} ({}) is malformed: {}", a, spec.describe(), why));
}

void write_value(ByteWriter& w, TypeId type, int64_t i, double d, const std::string* s) {
  if (type == TypeId::kString) {
    w.str(*s);
  } else if (type == TypeId::kFloat64) {
    w.f64(d);
  } else {
    w.i64(i);
  }
}

}  // namespace

bool AggregateStore::checkpointable(std::string* why) const {
  for (const AggregateSpec& spec : specs_) {
    if (spec.kind != AggKind::kUser) continue;
    if (spec.user && spec.user->serialize && spec.user->deserialize) continue;
    if (why) {
      *why = fmt::format("aggregate function '{}' has no serialize/deserialize; it cannot be checkpointed",
                         spec.user ? spec.user->name : std::string("?"));
    }
    return false;
  }
  return true;
}

void AggregateStore::serialize_slot(uint32_t slot, ByteWriter& writer) const {
  SLUICE_ASSERT(slot < capacity_, "serialize_slot: slot {} of {}", slot, capacity_);
  for (size_t a = 0; a < specs_.size(); ++a) serialize_aggregate(a, slot, writer);
}

void AggregateStore::serialize_aggregate(size_t a, uint32_t slot, ByteWriter& w) const {
  const AggregateSpec& spec = specs_[a];
  const State& st = states_[a];
  w.u8(static_cast<uint8_t>(static_cast<uint8_t>(spec.kind) | (spec.distinct ? kDistinctBit : 0)));
  w.u8(static_cast<uint8_t>(spec.input_type));
  if (spec.kind == AggKind::kUser) {
    const auto& state = st.user[slot];
    w.u8(state ? 1 : 0);
    if (!state) return;
    SLUICE_ASSERT(spec.user->serialize, "serialize_slot: aggregate function '{}' has no serialize (check checkpointable())",
                  spec.user->name);
    std::string bytes;
    spec.user->serialize(*state, bytes);
    w.str(bytes);
    return;
  }
  if (uses_set(spec)) {
    const auto& set = st.sets[slot];
    w.u8(set ? 1 : 0);
    if (!set) return;
    // Sorted: the hash sets' iteration order is not stable, the checkpoint bytes are.
    std::vector<int64_t> ints(set->ints.begin(), set->ints.end());
    std::sort(ints.begin(), ints.end());
    w.varint(ints.size());
    for (int64_t v : ints) w.i64(v);
    std::vector<const std::string*> strings;
    strings.reserve(set->strings.size());
    for (const auto& v : set->strings) strings.push_back(&v);
    std::sort(strings.begin(), strings.end(), [](const std::string* x, const std::string* y) { return *x < *y; });
    w.varint(strings.size());
    for (const std::string* v : strings) w.str(*v);
    return;
  }
  const std::string* text = st.s.empty() ? nullptr : &st.s[slot];
  switch (spec.kind) {
    case AggKind::kUser:  // handled before the switch
    case AggKind::kCountStar:
    case AggKind::kCount: w.varint(zigzag(st.i[slot])); return;
    case AggKind::kSum:
    case AggKind::kAvg:
      w.u8(st.has[slot]);
      w.varint(zigzag(st.i[slot]));
      w.f64(st.d[slot]);
      return;
    case AggKind::kMin:
    case AggKind::kMax:
      w.u8(st.has[slot]);
      if (st.has[slot]) write_value(w, spec.input_type, st.i[slot], st.d[slot], text);
      return;
    case AggKind::kFirstValue:
    case AggKind::kLastValue:
      w.u8(st.has[slot]);
      if (!st.has[slot]) return;
      w.varint(zigzag(st.t[slot]));
      w.varint(st.seq[slot]);
      if (st.has[slot] == 1) write_value(w, spec.input_type, st.i[slot], st.d[slot], text);
      return;
    case AggKind::kApproxCountDistinct: {
      const auto& h = st.hll[slot];
      w.u8(h ? 1 : 0);
      if (h) h->serialize(w);
      return;
    }
    case AggKind::kApproxPercentile: {
      const auto& d = st.sketch[slot];
      w.u8(d ? 1 : 0);
      if (d) d->serialize(w);
      return;
    }
    case AggKind::kPercentile: {
      const auto& b = st.bags[slot];
      w.u8(b ? 1 : 0);
      if (!b) return;
      // Sorted first (as append_result does: a cache of the order), so that the bytes do
      // not depend on whether a result was read before the checkpoint.
      if (!b->sorted) {
        std::sort(b->values.begin(), b->values.end());
        b->sorted = true;
      }
      w.varint(b->values.size());
      if (!b->values.empty()) w.raw(b->values.data(), b->values.size() * sizeof(double));
      return;
    }
    case AggKind::kArrayAgg:
    case AggKind::kStringAgg: {
      const auto& l = st.lists[slot];
      w.u8(l ? 1 : 0);
      if (!l) return;
      l->sort();  // as for PERCENTILE
      w.varint(l->entries.size());
      for (const OrderedList::Entry& e : l->entries) {
        w.varint(zigzag(e.time));
        w.varint(e.seq);
        w.str(std::string_view(l->bytes).substr(e.offset, e.length));
      }
      return;
    }
  }
}

Status AggregateStore::deserialize_slot(ByteReader& reader, uint32_t slot) {
  SLUICE_ASSERT(slot < capacity_, "deserialize_slot: slot {} of {}", slot, capacity_);
  reset_slot(slot);
  uint64_t next_seq = 0;
  for (size_t a = 0; a < specs_.size(); ++a) {
    Status s = deserialize_aggregate(a, slot, reader, next_seq);
    if (s.is_ok()) s = reader.status("aggregate state");
    if (!s.is_ok()) {
      reader.fail();
      reset_slot(slot);
      return s;
    }
  }
  seq_base_ = std::max(seq_base_, next_seq);
  return Status::ok();
}

Status AggregateStore::deserialize_aggregate(size_t a, uint32_t slot, ByteReader& r, uint64_t& next_seq) {
  const AggregateSpec& spec = specs_[a];
  State& st = states_[a];
  auto malformed = [&](std::string_view why) { return slot_data_loss(r, a, spec, why); };
  auto note_seq = [&](uint64_t seq) -> bool {
    if (seq == std::numeric_limits<uint64_t>::max()) return false;
    next_seq = std::max(next_seq, seq + 1);
    return true;
  };
  // Reads a u8 flag in [0, max]; -1 when malformed or truncated.
  auto flag = [&](uint8_t max) -> int {
    const uint8_t v = r.u8();
    return r.ok() && v <= max ? v : -1;
  };
  auto read_value = [&](int64_t& i, double& d, std::string* s) {
    if (spec.input_type == TypeId::kString) {
      std::string_view v = r.str();
      s->assign(v.data(), v.size());
    } else if (spec.input_type == TypeId::kFloat64) {
      d = r.f64();
    } else {
      i = r.i64();
    }
  };

  const uint8_t kind_byte = r.u8();
  const uint8_t type_byte = r.u8();
  if (!r.ok()) return r.status("aggregate state");
  const uint8_t expected_kind = static_cast<uint8_t>(static_cast<uint8_t>(spec.kind) | (spec.distinct ? kDistinctBit : 0));
  if (kind_byte != expected_kind || type_byte != static_cast<uint8_t>(spec.input_type)) {
    const uint8_t k = kind_byte & static_cast<uint8_t>(~kDistinctBit);
    const char* stored = k <= static_cast<uint8_t>(AggKind::kUser) ? agg_kind_name(static_cast<AggKind>(k)) : "unknown";
    const char* stored_type = type_byte <= static_cast<uint8_t>(TypeId::kInterval) ? type_name(static_cast<TypeId>(type_byte)) : "unknown";
    return malformed(fmt::format("the checkpoint holds {}{} of {} here (written for another query?)", stored,
                                 (kind_byte & kDistinctBit) ? " DISTINCT" : "", stored_type));
  }

  if (spec.kind == AggKind::kUser) {
    const int present = flag(1);
    if (present < 0) return malformed("bad presence flag");
    if (!present) return Status::ok();
    std::string_view bytes = r.str();
    if (!r.ok()) return r.status("aggregate state");
    if (!spec.user->deserialize) {
      return malformed(fmt::format("aggregate function '{}' has no deserialize", spec.user->name));
    }
    std::unique_ptr<AggregateState> state = spec.user->create();
    Status s = spec.user->deserialize(bytes, *state);
    if (!s.is_ok()) return malformed(fmt::format("aggregate function '{}': {}", spec.user->name, s.message()));
    st.user[slot] = std::move(state);
    return Status::ok();
  }
  if (uses_set(spec)) {
    const int present = flag(1);
    if (present < 0) return malformed("bad presence flag");
    if (!present) return Status::ok();
    auto set = std::make_unique<DistinctSet>();
    const uint64_t n = r.count(sizeof(int64_t));
    set->ints.reserve(n);
    for (uint64_t k = 0; k < n && r.ok(); ++k) set->ints.insert(r.i64());
    const uint64_t m = r.count(1);
    set->strings.reserve(m);
    for (uint64_t k = 0; k < m && r.ok(); ++k) set->strings.emplace(r.str());
    if (!r.ok()) return r.status("aggregate state");
    if (set->ints.size() != n || set->strings.size() != m) return malformed("duplicate distinct values");
    st.sets[slot] = std::move(set);
    return Status::ok();
  }
  switch (spec.kind) {
    case AggKind::kUser:  // handled before the switch
    case AggKind::kCountStar:
    case AggKind::kCount: {
      const int64_t count = unzigzag(r.varint());
      if (!r.ok()) return r.status("aggregate state");
      if (count < 0) return malformed("negative count");
      st.i[slot] = count;
      return Status::ok();
    }
    case AggKind::kSum:
    case AggKind::kAvg: {
      const int has = flag(1);
      const int64_t i = unzigzag(r.varint());
      const double d = r.f64();
      if (!r.ok()) return r.status("aggregate state");
      if (has < 0) return malformed("bad presence flag");
      st.has[slot] = static_cast<uint8_t>(has);
      st.i[slot] = i;
      st.d[slot] = d;
      return Status::ok();
    }
    case AggKind::kMin:
    case AggKind::kMax: {
      const int has = flag(1);
      if (has < 0) return malformed("bad presence flag");
      if (!has) return Status::ok();
      read_value(st.i[slot], st.d[slot], st.s.empty() ? nullptr : &st.s[slot]);
      if (!r.ok()) return r.status("aggregate state");
      st.has[slot] = 1;
      return Status::ok();
    }
    case AggKind::kFirstValue:
    case AggKind::kLastValue: {
      const int has = flag(2);
      if (has < 0) return malformed("bad presence flag");
      if (!has) return Status::ok();
      const int64_t t = unzigzag(r.varint());
      const uint64_t seq = r.varint();
      if (has == 1) read_value(st.i[slot], st.d[slot], st.s.empty() ? nullptr : &st.s[slot]);
      if (!r.ok()) return r.status("aggregate state");
      if (!note_seq(seq)) return malformed("arrival number out of range");
      st.t[slot] = t;
      st.seq[slot] = seq;
      st.has[slot] = static_cast<uint8_t>(has);
      return Status::ok();
    }
    case AggKind::kApproxCountDistinct: {
      const int present = flag(1);
      if (present < 0) return malformed("bad presence flag");
      if (!present) return Status::ok();
      auto h = std::make_unique<HyperLogLog>();
      RETURN_IF_ERROR(h->deserialize(r));
      st.hll[slot] = std::move(h);
      return Status::ok();
    }
    case AggKind::kApproxPercentile: {
      const int present = flag(1);
      if (present < 0) return malformed("bad presence flag");
      if (!present) return Status::ok();
      auto d = std::make_unique<DDSketch>();
      RETURN_IF_ERROR(d->deserialize(r));
      st.sketch[slot] = std::move(d);
      return Status::ok();
    }
    case AggKind::kPercentile: {
      const int present = flag(1);
      if (present < 0) return malformed("bad presence flag");
      if (!present) return Status::ok();
      auto bag = std::make_unique<ValueBag>();
      const uint64_t n = r.count(sizeof(double));
      if (!r.ok()) return r.status("aggregate state");
      bag->values.resize(n);
      if (n > 0) r.raw(bag->values.data(), n * sizeof(double));
      if (!r.ok()) return r.status("aggregate state");
      for (double v : bag->values) {
        if (std::isnan(v)) return malformed("NaN in PERCENTILE values");
      }
      bag->sorted = std::is_sorted(bag->values.begin(), bag->values.end());
      st.bags[slot] = std::move(bag);
      return Status::ok();
    }
    case AggKind::kArrayAgg:
    case AggKind::kStringAgg: {
      const int present = flag(1);
      if (present < 0) return malformed("bad presence flag");
      if (!present) return Status::ok();
      auto list = std::make_unique<OrderedList>();
      const uint64_t n = r.count(3);  // each entry: time, seq and length take a byte at least
      list->entries.reserve(n);
      for (uint64_t k = 0; k < n && r.ok(); ++k) {
        const int64_t time = unzigzag(r.varint());
        const uint64_t seq = r.varint();
        std::string_view text = r.str();
        if (!r.ok()) break;
        if (!note_seq(seq)) return malformed("arrival number out of range");
        list->add(time, seq, text);
      }
      if (!r.ok()) return r.status("aggregate state");
      st.lists[slot] = std::move(list);
      return Status::ok();
    }
  }
  return malformed("unknown aggregate kind");
}

}  // namespace sluice
