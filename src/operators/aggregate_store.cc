#include "operators/aggregate_store.h"

#include <cstring>

#include <fmt/format.h>

namespace sluice {

const char* agg_kind_name(AggKind kind) {
  switch (kind) {
    case AggKind::kCountStar: return "COUNT(*)";
    case AggKind::kCount: return "COUNT";
    case AggKind::kSum: return "SUM";
    case AggKind::kMin: return "MIN";
    case AggKind::kMax: return "MAX";
    case AggKind::kAvg: return "AVG";
  }
  return "?";
}

std::string AggregateSpec::describe() const {
  if (kind == AggKind::kCountStar) return "COUNT(*)";
  return fmt::format("{}({}${})", agg_kind_name(kind), distinct ? "DISTINCT " : "", input);
}

TypeId aggregate_result_type(AggKind kind, TypeId input) {
  switch (kind) {
    case AggKind::kCountStar:
    case AggKind::kCount: return TypeId::kInt64;
    case AggKind::kAvg: return TypeId::kFloat64;
    case AggKind::kSum: return input == TypeId::kInt64 ? TypeId::kInt64 : (input == TypeId::kInterval ? TypeId::kInterval : TypeId::kFloat64);
    case AggKind::kMin:
    case AggKind::kMax: return input;
  }
  return TypeId::kNull;
}

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
    State& st = states_[a];
    st.i.push_back(0);
    st.d.push_back(0);
    st.has.push_back(0);
    if (specs_[a].input_type == TypeId::kString && (specs_[a].kind == AggKind::kMin || specs_[a].kind == AggKind::kMax)) {
      st.s.emplace_back();
    }
    if (specs_[a].distinct) st.sets.emplace_back();
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
    if (!st.sets.empty()) st.sets[slot].reset();
  }
}

void AggregateStore::release(uint32_t slot) {
  reset_slot(slot);
  free_.push_back(slot);
}

namespace {
inline int64_t double_bits(double v) {
  if (v == 0) v = 0;  // -0.0 == 0.0
  int64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  return bits;
}
}  // namespace

void AggregateStore::update(const RecordBatch& input, const uint32_t* rows, const uint32_t* slots, size_t n) {
  for (size_t a = 0; a < specs_.size(); ++a) {
    const AggregateSpec& spec = specs_[a];
    State& st = states_[a];
    if (spec.kind == AggKind::kCountStar) {
      for (size_t k = 0; k < n; ++k) st.i[slots[k]] += 1;
      continue;
    }
    const Column& col = input.column(static_cast<size_t>(spec.input));
    const uint8_t* valid = col.validity();
    if (spec.distinct) {
      for (size_t k = 0; k < n; ++k) {
        uint32_t r = rows[k];
        if (!valid[r]) continue;
        auto& set = st.sets[slots[k]];
        if (!set) set = std::make_unique<DistinctSet>();
        if (col.type() == TypeId::kString) {
          std::string_view sv = col.string_at(r);
          absl::string_view v(sv.data(), sv.size());
          if (set->strings.find(v) == set->strings.end()) set->strings.emplace(sv);
        } else if (col.type() == TypeId::kFloat64) {
          set->ints.insert(double_bits(col.double_at(r)));
        } else {
          set->ints.insert(col.int_at(r));
        }
      }
      continue;
    }
    const bool is_double = col.type() == TypeId::kFloat64;
    const bool is_string = col.type() == TypeId::kString;
    switch (spec.kind) {
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
          // accumulator (d holds the overflowed part) — see finalize.
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
      case AggKind::kCountStar: break;
    }
  }
}

void AggregateStore::merge(uint32_t dst, uint32_t src) {
  for (size_t a = 0; a < specs_.size(); ++a) {
    const AggregateSpec& spec = specs_[a];
    State& st = states_[a];
    if (spec.distinct) {
      auto& from = st.sets[src];
      if (!from) continue;
      auto& to = st.sets[dst];
      if (!to) to = std::make_unique<DistinctSet>();
      to->ints.insert(from->ints.begin(), from->ints.end());
      to->strings.insert(from->strings.begin(), from->strings.end());
      continue;
    }
    switch (spec.kind) {
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
    }
  }
}

void AggregateStore::append_result(size_t a, uint32_t slot, Column& out) const {
  const AggregateSpec& spec = specs_[a];
  const State& st = states_[a];
  if (spec.distinct) {
    const auto& set = st.sets[slot];
    int64_t count = set ? static_cast<int64_t>(set->ints.size() + set->strings.size()) : 0;
    out.append_int(count);
    return;
  }
  switch (spec.kind) {
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
      if (!st.has[slot]) return out.append_null();
      if (spec.input_type == TypeId::kString) return out.append_string(st.s[slot]);
      if (spec.input_type == TypeId::kFloat64) return out.append_double(st.d[slot]);
      out.append_int(st.i[slot]);
      return;
  }
}

}  // namespace sluice
