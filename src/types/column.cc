#include "types/column.h"

#include <cmath>
#include <cstring>

#include "common/hash.h"
#include "common/time_util.h"

namespace sluice {

void Column::reserve(size_t rows, size_t chars) {
  valid_.reserve(rows);
  if (type_ == TypeId::kFloat64) {
    doubles_.reserve(rows);
  } else if (type_ == TypeId::kString) {
    offsets_.reserve(rows + 1);
    chars_.reserve(chars);
  } else {
    ints_.reserve(rows);
  }
}

void Column::clear() {
  ints_.clear();
  doubles_.clear();
  offsets_.clear();
  chars_.clear();
  valid_.clear();
  if (type_ == TypeId::kString) offsets_.push_back(0);
}

void Column::reset(TypeId type) {
  type_ = type;
  clear();
}

void Column::append_null() {
  switch (type_) {
    case TypeId::kFloat64: doubles_.push_back(0); break;
    case TypeId::kString: offsets_.push_back(static_cast<uint32_t>(chars_.size())); break;
    default: ints_.push_back(0); break;
  }
  valid_.push_back(0);
}

void Column::append_from(const Column& other, size_t row) {
  if (other.is_null(row)) {
    append_null();
    return;
  }
  switch (type_) {
    case TypeId::kFloat64: append_double(other.doubles_[row]); break;
    case TypeId::kString: append_string(other.string_at(row)); break;
    default: append_int(other.ints_[row]); break;
  }
}

void Column::append_gather(const Column& other, const uint32_t* indices, size_t n) {
  size_t base = valid_.size();
  valid_.resize(base + n);
  for (size_t i = 0; i < n; ++i) valid_[base + i] = other.valid_[indices[i]];
  switch (type_) {
    case TypeId::kFloat64: {
      doubles_.resize(base + n);
      for (size_t i = 0; i < n; ++i) doubles_[base + i] = other.doubles_[indices[i]];
      break;
    }
    case TypeId::kString: {
      for (size_t i = 0; i < n; ++i) {
        uint32_t r = indices[i];
        chars_.append(other.chars_.data() + other.offsets_[r], other.offsets_[r + 1] - other.offsets_[r]);
        offsets_.push_back(static_cast<uint32_t>(chars_.size()));
      }
      break;
    }
    default: {
      ints_.resize(base + n);
      for (size_t i = 0; i < n; ++i) ints_[base + i] = other.ints_[indices[i]];
      break;
    }
  }
}

void Column::append_all(const Column& other) {
  valid_.insert(valid_.end(), other.valid_.begin(), other.valid_.end());
  switch (type_) {
    case TypeId::kFloat64: doubles_.insert(doubles_.end(), other.doubles_.begin(), other.doubles_.end()); break;
    case TypeId::kString: {
      uint32_t base = static_cast<uint32_t>(chars_.size());
      chars_.append(other.chars_);
      for (size_t i = 1; i < other.offsets_.size(); ++i) offsets_.push_back(base + other.offsets_[i]);
      break;
    }
    default: ints_.insert(ints_.end(), other.ints_.begin(), other.ints_.end()); break;
  }
}

void Column::truncate(size_t rows) {
  if (rows >= valid_.size()) return;
  valid_.resize(rows);
  switch (type_) {
    case TypeId::kFloat64: doubles_.resize(rows); break;
    case TypeId::kString:
      offsets_.resize(rows + 1);
      chars_.resize(offsets_[rows]);
      break;
    default: ints_.resize(rows); break;
  }
}

void Column::resize_fixed(size_t n) {
  SLUICE_ASSERT(type_ != TypeId::kString, "resize_fixed on a string column");
  valid_.assign(n, 1);
  if (type_ == TypeId::kFloat64) {
    doubles_.resize(n);
  } else {
    ints_.resize(n);
  }
}

int Column::compare(size_t a, const Column& other, size_t b) const {
  bool na = is_null(a), nb = other.is_null(b);
  if (na || nb) return na == nb ? 0 : (na ? -1 : 1);
  switch (type_) {
    case TypeId::kFloat64: {
      double x = doubles_[a], y = other.doubles_[b];
      if (x < y) return -1;
      if (x > y) return 1;
      if (std::isnan(x) || std::isnan(y)) return std::isnan(x) == std::isnan(y) ? 0 : (std::isnan(x) ? 1 : -1);
      return 0;
    }
    case TypeId::kString: {
      int c = string_at(a).compare(other.string_at(b));
      return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    default: {
      int64_t x = ints_[a], y = other.ints_[b];
      return x < y ? -1 : (x > y ? 1 : 0);
    }
  }
}

uint64_t Column::hash_row(size_t row) const {
  if (is_null(row)) return 0x5bd1e995ULL;
  switch (type_) {
    case TypeId::kFloat64: {
      double d = doubles_[row];
      if (d == 0) d = 0;  // -0.0 and 0.0 hash alike
      if (d == static_cast<double>(static_cast<int64_t>(d))) return hash_int(static_cast<uint64_t>(static_cast<int64_t>(d)));
      uint64_t bits;
      std::memcpy(&bits, &d, sizeof bits);
      return hash_int(bits);
    }
    case TypeId::kString: return hash_string(string_at(row));
    default: return hash_int(static_cast<uint64_t>(ints_[row]));
  }
}

std::string Column::value_to_string(size_t row) const {
  if (is_null(row)) return "NULL";
  switch (type_) {
    case TypeId::kBool: return ints_[row] ? "true" : "false";
    case TypeId::kInt64: return std::to_string(ints_[row]);
    case TypeId::kFloat64: return fmt::format("{}", doubles_[row]);
    case TypeId::kString: return std::string(string_at(row));
    case TypeId::kTimestamp: return format_timestamp(ints_[row]);
    case TypeId::kInterval: return format_duration(ints_[row]);
    case TypeId::kNull: return "NULL";
  }
  return "?";
}

}  // namespace sluice
