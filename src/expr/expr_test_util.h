// Test helpers shared by the src/expr tests: terse literal/column builders, a batch builder
// and evaluation to readable strings. Test-only; single-threaded.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/time_util.h"
#include "expr/expr.h"
#include "expr/expr_internal.h"

namespace sluice::expr_test {

inline ExprPtr I(int64_t v) { return make_literal(Value::int64(v)); }
inline ExprPtr D(double v) { return make_literal(Value::float64(v)); }
inline ExprPtr S(std::string v) { return make_literal(Value::string(std::move(v))); }
inline ExprPtr B(bool v) { return make_literal(Value::boolean(v)); }
inline ExprPtr Null() { return make_literal(Value::null()); }
inline ExprPtr NullOf(TypeId t) { return make_literal(Value::null(t)); }
inline ExprPtr TS(std::string_view text) { return make_literal(Value::timestamp(parse_timestamp(text).value())); }
inline ExprPtr IV(std::string_view text) { return make_literal(Value::interval(parse_duration(text).value())); }
inline ExprPtr Col(int index, TypeId t, std::string name = "") { return make_column_ref(index, t, std::move(name)); }

// Unwraps a builder result; on failure records a test failure and returns a NULL literal so
// the test can continue without crashing.
inline ExprPtr ok(Result<ExprPtr> r) {
  if (!r.is_ok()) {
    ADD_FAILURE() << "unexpected error: " << r.status().message();
    return Null();
  }
  return std::move(r).value();
}
inline ExprPtr call(const std::string& name, std::vector<ExprPtr> args) { return ok(make_call(name, std::move(args))); }
inline ExprPtr cast(ExprPtr e, TypeId t) { return ok(make_cast(std::move(e), t)); }

// The error message of a builder that must fail.
inline std::string error_of(Result<ExprPtr> r) {
  if (r.is_ok()) {
    ADD_FAILURE() << "expected an error, got " << r.value()->to_string();
    return "";
  }
  return r.status().message();
}

// Readable rendering: NULL, true/false, integers, shortest doubles, quoted strings,
// timestamps as format_timestamp(), intervals as format_duration().
inline std::string show(const Value& v) {
  if (v.is_null) return "NULL";
  switch (v.type) {
    case TypeId::kBool: return v.i ? "true" : "false";
    case TypeId::kInt64: return std::to_string(v.i);
    case TypeId::kFloat64: {
      std::string out;
      expr_internal::append_double_text(out, v.d);
      return out;
    }
    case TypeId::kString: return "'" + v.s + "'";
    case TypeId::kTimestamp: return format_timestamp(v.i);
    case TypeId::kInterval: return format_duration(v.i);
    case TypeId::kNull: return "NULL";
  }
  return "?";
}

inline Value value_of(const Column& c, size_t row) {
  if (c.is_null(row)) return Value::null(c.type());
  switch (c.type()) {
    case TypeId::kBool: return Value::boolean(c.int_at(row) != 0);
    case TypeId::kInt64: return Value::int64(c.int_at(row));
    case TypeId::kFloat64: return Value::float64(c.double_at(row));
    case TypeId::kString: return Value::string(std::string(c.string_at(row)));
    case TypeId::kTimestamp: return Value::timestamp(c.int_at(row));
    case TypeId::kInterval: return Value::interval(c.int_at(row));
    case TypeId::kNull: return Value::null();
  }
  return Value::null();
}

// Evaluates a constant expression and renders the result.
inline std::string eval(const ExprPtr& e) {
  auto r = evaluate_constant(e);
  if (!r.is_ok()) return "error: " + r.status().message();
  return show(r.value());
}
inline std::string eval(const std::string& fn, std::vector<ExprPtr> args) {
  auto r = make_call(fn, std::move(args));
  if (!r.is_ok()) return "error: " + r.status().message();
  return eval(r.value());
}

inline Column column_of(TypeId t, const std::vector<Value>& values) {
  Column c(t);
  for (const Value& v : values) {
    if (v.is_null) {
      c.append_null();
    } else if (t == TypeId::kFloat64) {
      c.append_double(v.d);
    } else if (t == TypeId::kString) {
      c.append_string(v.s);
    } else {
      c.append_int(v.i);
    }
  }
  return c;
}

inline RecordBatch batch_of(std::vector<Column> columns) {
  std::vector<Field> fields;
  for (size_t i = 0; i < columns.size(); ++i) fields.push_back({fmt::format("c{}", i), columns[i].type(), true});
  RecordBatch b(make_schema(std::move(fields)));
  b.num_rows = columns.empty() ? 0 : columns[0].size();
  b.columns = std::move(columns);
  return b;
}

// Evaluates over a batch and renders every row.
inline std::vector<std::string> eval_rows(const ExprPtr& e, const RecordBatch& batch) {
  EvalScratch scratch;
  const Column& c = e->eval(batch, scratch);
  EXPECT_EQ(c.size(), batch.num_rows);
  EXPECT_EQ(c.type(), e->type());
  std::vector<std::string> out;
  for (size_t i = 0; i < c.size(); ++i) out.push_back(show(value_of(c, i)));
  return out;
}

using Rows = std::vector<std::string>;

}  // namespace sluice::expr_test
