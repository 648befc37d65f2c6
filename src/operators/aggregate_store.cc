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

}  // namespace sluice
