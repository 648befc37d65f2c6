// Row-at-a-time access for user code (process functions): RowView reads one row of a
// columnar batch; Cell carries one value a process function emits.
//
// Typed access: get<T>(column) with T one of int64_t (BIGINT), double (DOUBLE), bool
// (BOOLEAN), std::string_view (TEXT), sluice::Timestamp (TIMESTAMP), sluice::Interval
// (INTERVAL); it returns std::nullopt for NULL. Asking for a type the column does not have
// is a programming error and aborts with the column's name and type (it is never caused by
// input data). Look column indices up once (index_of / Stream schema) rather than per row.
//
// A RowView (and string_views read through it) is valid only during the call it is passed
// to; copy what you need to keep into state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "common/assert.h"
#include "sluice/expression.h"
#include "types/record_batch.h"

namespace sluice::api {

// The C++ types a column value can be read as.
template <typename T>
concept ColumnValueType = std::same_as<T, int64_t> || std::same_as<T, double> || std::same_as<T, bool> ||
                          std::same_as<T, std::string_view> || std::same_as<T, Timestamp> ||
                          std::same_as<T, Interval>;

template <ColumnValueType T>
constexpr bool column_type_accepts(TypeId type) {
  if constexpr (std::same_as<T, int64_t>) return type == TypeId::kInt64;
  if constexpr (std::same_as<T, double>) return type == TypeId::kFloat64;
  if constexpr (std::same_as<T, bool>) return type == TypeId::kBool;
  if constexpr (std::same_as<T, std::string_view>) return type == TypeId::kString;
  if constexpr (std::same_as<T, Timestamp>) return type == TypeId::kTimestamp;
  if constexpr (std::same_as<T, Interval>) return type == TypeId::kInterval;
  return false;
}

class RowView {
 public:
  RowView(const RecordBatch& batch, size_t row) : batch_(&batch), row_(row) {}

  size_t size() const { return batch_->columns.size(); }
  const Schema& schema() const { return *batch_->schema; }
  // Column index by name (case-insensitive), -1 when absent.
  int index_of(std::string_view name) const { return batch_->schema->find(name); }
  bool is_null(size_t column) const { return batch_->column(column).is_null(row_); }

  template <ColumnValueType T>
  std::optional<T> get(size_t column) const {
    SLUICE_ASSERT(column < batch_->columns.size(), "RowView::get: column {} out of range ({} columns)", column,
                  batch_->columns.size());
    const Column& c = batch_->column(column);
    SLUICE_ASSERT(column_type_accepts<T>(c.type()), "RowView::get: column {} '{}' is {}, read it with the matching type",
                  column, batch_->schema->field(column).name, type_name(c.type()));
    if (c.is_null(row_)) return std::nullopt;
    if constexpr (std::same_as<T, double>) {
      return c.double_at(row_);
    } else if constexpr (std::same_as<T, std::string_view>) {
      return c.string_at(row_);
    } else if constexpr (std::same_as<T, bool>) {
      return c.int_at(row_) != 0;
    } else if constexpr (std::same_as<T, int64_t>) {
      return c.int_at(row_);
    } else {
      return T{c.int_at(row_)};
    }
  }
  // By name: aborts when the column does not exist (look names up once in open() instead).
  template <ColumnValueType T>
  std::optional<T> get(std::string_view name) const {
    int i = index_of(name);
    SLUICE_ASSERT(i >= 0, "RowView::get: no column '{}' in {}", name, batch_->schema->to_string());
    return get<T>(static_cast<size_t>(i));
  }
  // "(17, '/home', 2024-01-01 00:00:00)": for logs and messages.
  std::string to_string() const { return batch_->row_to_string(row_); }

 private:
  const RecordBatch* batch_;
  size_t row_;
};

// One value emitted by user code. Built from C++ values by to_cell(); strings are viewed,
// not copied, so a Cell must be consumed before the string it views changes.
struct Cell {
  enum class Kind : uint8_t { kNull, kInt64, kDouble, kBool, kText, kTimestamp, kInterval };
  Kind kind = Kind::kNull;
  int64_t i = 0;
  double d = 0;
  std::string_view s;
};

// The C++ types process functions may emit: the column value types, other integers,
// strings, std::nullopt, and std::optional of those.
template <typename T>
struct IsEmittableValue {
  using U = std::remove_cvref_t<T>;
  static constexpr bool value = std::integral<U> || std::floating_point<U> || std::convertible_to<T, std::string_view> ||
                                std::same_as<U, Timestamp> || std::same_as<U, Interval> ||
                                std::same_as<U, std::nullopt_t>;
};
template <typename T>
struct IsEmittableValue<std::optional<T>> : IsEmittableValue<T> {};
template <typename T>
struct IsEmittableValue<const std::optional<T>&> : IsEmittableValue<T> {};
template <typename T>
struct IsEmittableValue<std::optional<T>&> : IsEmittableValue<T> {};
template <typename T>
concept EmittableValue = IsEmittableValue<std::remove_cvref_t<T>>::value;

template <EmittableValue T>
Cell to_cell(const T& v) {
  using U = std::remove_cvref_t<T>;
  Cell c;
  if constexpr (std::same_as<U, std::nullopt_t>) {
    c.kind = Cell::Kind::kNull;
  } else if constexpr (requires { v.has_value(); *v; }) {
    if (v.has_value()) return to_cell(*v);
    c.kind = Cell::Kind::kNull;
  } else if constexpr (std::same_as<U, bool>) {
    c.kind = Cell::Kind::kBool;
    c.i = v ? 1 : 0;
  } else if constexpr (std::integral<U>) {
    c.kind = Cell::Kind::kInt64;
    c.i = static_cast<int64_t>(v);
  } else if constexpr (std::floating_point<U>) {
    c.kind = Cell::Kind::kDouble;
    c.d = static_cast<double>(v);
  } else if constexpr (std::same_as<U, Timestamp>) {
    c.kind = Cell::Kind::kTimestamp;
    c.i = v.micros;
  } else if constexpr (std::same_as<U, Interval>) {
    c.kind = Cell::Kind::kInterval;
    c.i = v.micros;
  } else {
    c.kind = Cell::Kind::kText;
    c.s = std::string_view(v);
  }
  return c;
}

}  // namespace sluice::api
