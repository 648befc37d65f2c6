// Column: one typed vector of a columnar RecordBatch.
//
// Physical layout by type:
//   kBool, kInt64, kTimestamp, kInterval -> `ints` (int64; bools are 0/1)
//   kFloat64                             -> `doubles`
//   kString                              -> `offsets` (size()+1 entries) into `chars`
// `valid` holds one byte per row (1 = value present, 0 = NULL). A byte map instead of a
// bit map keeps appends and gathers branch-free; see docs/architecture.md.
//
// A Column is filled by one thread (the builder) and read-only once its batch is sent.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/assert.h"
#include "types/data_type.h"

namespace sluice {

class Column {
 public:
  Column() = default;
  explicit Column(TypeId type) : type_(type) {
    if (type_ == TypeId::kString) offsets_.push_back(0);
  }

  TypeId type() const { return type_; }
  size_t size() const { return valid_.size(); }
  bool is_null(size_t row) const { return valid_[row] == 0; }
  bool is_valid(size_t row) const { return valid_[row] != 0; }
  const uint8_t* validity() const { return valid_.data(); }
  uint8_t* mutable_validity() { return valid_.data(); }

  int64_t int_at(size_t row) const { return ints_[row]; }
  double double_at(size_t row) const { return doubles_[row]; }
  std::string_view string_at(size_t row) const {
    return std::string_view(chars_.data() + offsets_[row], offsets_[row + 1] - offsets_[row]);
  }
  const int64_t* ints() const { return ints_.data(); }
  int64_t* mutable_ints() { return ints_.data(); }
  const double* doubles() const { return doubles_.data(); }
  double* mutable_doubles() { return doubles_.data(); }

  void reserve(size_t rows, size_t chars = 0);
  void clear();
  // Resets to an empty column of another type, keeping allocated capacity when possible.
  void reset(TypeId type);

  void append_null();
  void append_int(int64_t v) {
    ints_.push_back(v);
    valid_.push_back(1);
  }
  void append_bool(bool v) { append_int(v ? 1 : 0); }
  void append_double(double v) {
    doubles_.push_back(v);
    valid_.push_back(1);
  }
  void append_string(std::string_view v) {
    chars_.append(v.data(), v.size());
    offsets_.push_back(static_cast<uint32_t>(chars_.size()));
    valid_.push_back(1);
  }
  // Appends row `row` of `other` (same type).
  void append_from(const Column& other, size_t row);
  // Appends other[indices[i]] for i in [0, n).
  void append_gather(const Column& other, const uint32_t* indices, size_t n);
  // Appends all rows of `other`.
  void append_all(const Column& other);

  // Drops rows from `rows` on (rolls back a partially decoded record).
  void truncate(size_t rows);

  // Resizes a fixed-width column to n rows, all valid, values left for the caller to write.
  void resize_fixed(size_t n);

  // Compares row a of this with row b of other (same type); NULLs sort first.
  int compare(size_t a, const Column& other, size_t b) const;
  bool equals(size_t a, const Column& other, size_t b) const { return compare(a, other, b) == 0; }
  uint64_t hash_row(size_t row) const;

  // Debug/console rendering of one value ("NULL" for nulls).
  std::string value_to_string(size_t row) const;

  size_t memory_bytes() const {
    return ints_.capacity() * 8 + doubles_.capacity() * 8 + offsets_.capacity() * 4 +
           chars_.capacity() + valid_.capacity();
  }

 private:
  TypeId type_ = TypeId::kNull;
  std::vector<int64_t> ints_;
  std::vector<double> doubles_;
  std::vector<uint32_t> offsets_;
  std::string chars_;
  std::vector<uint8_t> valid_;
};

}  // namespace sluice
