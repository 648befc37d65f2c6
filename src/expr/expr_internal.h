// Internal helpers shared by the src/expr implementation files; not part of the API.
//
// Holds the typed-loop kernel templates, UTF-8 stepping, text <-> value conversions used by
// casts and functions, the LIKE matcher and the registration entry points of each function
// family. Everything here is stateless or thread_local, so kernels may run concurrently on
// different threads (each with its own EvalScratch and output columns).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "expr/functions.h"
#include "types/column.h"

namespace sluice::expr_internal {

// Short names for function signatures in the registration tables.
using I = int64_t;
using D = double;
constexpr TypeId kB = TypeId::kBool;
constexpr TypeId kI = TypeId::kInt64;
constexpr TypeId kD = TypeId::kFloat64;
constexpr TypeId kS = TypeId::kString;
constexpr TypeId kTS = TypeId::kTimestamp;
constexpr TypeId kIV = TypeId::kInterval;

// Upper bound for one string result (lpad, repeat, ...). Larger results become NULL rather
// than letting one bad argument exhaust memory or the column's 32-bit offsets.
inline constexpr size_t kMaxStringResultBytes = size_t{16} << 20;

// ---------------------------------------------------------------------------------------
// Typed column access: lets kernel templates be written once for int64 and double storage.
template <typename T>
const T* col_data(const Column& c);
template <>
inline const int64_t* col_data<int64_t>(const Column& c) { return c.ints(); }
template <>
inline const double* col_data<double>(const Column& c) { return c.doubles(); }
template <typename T>
T* col_mut(Column& c);
template <>
inline int64_t* col_mut<int64_t>(Column& c) { return c.mutable_ints(); }
template <>
inline double* col_mut<double>(Column& c) { return c.mutable_doubles(); }

// Fixed-width unary map. `op(A x, R* r) -> bool` returns false to make the row NULL
// (domain error, overflow). One tight loop with no per-row branching on validity: values of
// NULL rows are computed too (they are zero-filled, so ops must merely not trap on them).
template <typename A, typename R, typename Op>
void map_fixed(const Column& in, size_t rows, Column& out, Op op) {
  out.resize_fixed(rows);
  const A* a = col_data<A>(in);
  const uint8_t* va = in.validity();
  R* r = col_mut<R>(out);
  uint8_t* vr = out.mutable_validity();
  for (size_t i = 0; i < rows; ++i) {
    R v{};
    const bool ok = op(a[i], &v);
    r[i] = v;
    vr[i] = static_cast<uint8_t>(va[i] & static_cast<uint8_t>(ok));
  }
}

// The same as a one-argument function kernel.
template <typename A, typename R, typename Op>
ScalarKernel unary_fixed(Op op) {
  return [op](const Column* const* args, size_t, size_t rows, Column& out) {
    map_fixed<A, R>(*args[0], rows, out, op);
  };
}

// Fixed-width binary kernel, same conventions as unary_fixed.
template <typename A, typename B, typename R, typename Op>
ScalarKernel binary_fixed(Op op) {
  return [op](const Column* const* args, size_t, size_t rows, Column& out) {
    out.resize_fixed(rows);
    const A* a = col_data<A>(*args[0]);
    const B* b = col_data<B>(*args[1]);
    const uint8_t* va = args[0]->validity();
    const uint8_t* vb = args[1]->validity();
    R* r = col_mut<R>(out);
    uint8_t* vr = out.mutable_validity();
    for (size_t i = 0; i < rows; ++i) {
      R v{};
      const bool ok = op(a[i], b[i], &v);
      r[i] = v;
      vr[i] = static_cast<uint8_t>(va[i] & vb[i] & static_cast<uint8_t>(ok));
    }
  };
}

// Row loop for kernels that are NULL when any argument is NULL: `fn(row)` must append
// exactly one value to the output for each row whose arguments are all non-NULL.
template <typename Fn>
void for_rows(const Column* const* args, size_t num_args, size_t rows, Column& out, Fn&& fn) {
  for (size_t i = 0; i < rows; ++i) {
    bool valid = true;
    for (size_t k = 0; k < num_args; ++k) valid = valid && args[k]->is_valid(i);
    if (valid) {
      fn(i);
    } else {
      out.append_null();
    }
  }
}

// A per-thread buffer for composing one string result before appending it to the output
// column; reused across rows and batches so steady state does no heap allocation. Kernels
// do not nest, so one buffer per thread suffices.
inline std::string& string_buffer() {
  thread_local std::string buf;
  buf.clear();
  return buf;
}

// ---------------------------------------------------------------------------------------
// UTF-8. A character starts at every byte that is not a continuation byte (10xxxxxx); this
// one definition is used for counting, stepping and slicing so that invalid input is
// handled consistently (never split, never read out of bounds).
inline bool is_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }
inline size_t next_char(std::string_view s, size_t i) {
  ++i;
  while (i < s.size() && is_continuation(s[i])) ++i;
  return i;
}
inline size_t prev_char(std::string_view s, size_t i) {
  if (i == 0) return 0;
  --i;
  while (i > 0 && is_continuation(s[i])) --i;
  return i;
}
inline int64_t char_count(std::string_view s) {
  int64_t n = 0;
  for (char c : s) n += !is_continuation(c);
  if (!s.empty() && is_continuation(s[0])) ++n;  // stray leading continuation byte
  return n;
}
// Byte offset reached by skipping `n` (>= 0) characters from byte offset `i`, clamped to the end.
inline size_t skip_chars(std::string_view s, size_t i, int64_t n) {
  while (n > 0 && i < s.size()) {
    i = next_char(s, i);
    --n;
  }
  return i;
}
// Decodes the character at byte offset i (whose end is next_char(s, i)); invalid sequences
// decode to their first byte, which never matches a real code point above 0x7F.
uint32_t decode_char(std::string_view s, size_t i, size_t end);
void append_utf8(std::string& out, uint32_t cp);

inline char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }
inline char ascii_upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c; }
inline std::string_view trim_ascii_space(std::string_view s) {
  auto sp = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  while (!s.empty() && sp(s.front())) s.remove_prefix(1);
  while (!s.empty() && sp(s.back())) s.remove_suffix(1);
  return s;
}
bool iequals_ascii(std::string_view a, std::string_view b);
std::string to_lower_ascii(std::string_view s);

// ---------------------------------------------------------------------------------------
// Text conversions (casts.cc). Parsers accept surrounding whitespace and return false on
// malformed or out-of-range input (the cast then yields NULL); none allocates.
bool parse_bool_text(std::string_view s, bool* out);
bool parse_int_text(std::string_view s, int64_t* out);
bool parse_double_text(std::string_view s, double* out);
// A superset of parse_duration(): "1h30m", "90 seconds", "1 day 02:00:00", "00:01:30.5",
// "-5m", a bare number of seconds. Months and years are rejected (not a fixed length).
bool parse_interval_text(std::string_view s, int64_t* out);
// PostgreSQL float8 output: shortest round-trip digits, exponent form below 1e-4 and from
// 1e15, "NaN", "Infinity", "-Infinity".
void append_double_text(std::string& out, double v);
// Same text as format_duration() (common/time_util.h) without temporary strings.
void append_interval_text(std::string& out, int64_t micros);
void append_int_text(std::string& out, int64_t v);

// Whether an explicit CAST from -> to exists, and the batch conversion itself.
bool cast_supported(TypeId from, TypeId to);
void cast_column(const Column& in, TypeId to, size_t rows, Column& out);

// ---------------------------------------------------------------------------------------
// LIKE: % matches any run of characters, _ exactly one (UTF-8) character; `escape` (or -1
// for none) makes the next pattern character literal. `fold_case` compares ASCII letters
// case-insensitively (ILIKE). Iterative with single-star backtracking: O(|s|*|p|) worst
// case, no allocation.
bool like_match(std::string_view s, std::string_view pattern, int escape, bool fold_case);

// ---------------------------------------------------------------------------------------
// Registration of each family (operators.cc, string_functions.cc, math_functions.cc,
// time_functions.cc).
void register_operators(FunctionRegistry& r);
void register_string_functions(FunctionRegistry& r);
void register_math_functions(FunctionRegistry& r);
void register_time_functions(FunctionRegistry& r);
void register_conditional_functions(FunctionRegistry& r);
void register_json_functions(FunctionRegistry& r);  // json_functions.cc

// Operators live in their own registry so that function_names() lists only callable names.
const FunctionRegistry& operator_registry();

// Convenience for registration code.
inline void add_function(FunctionRegistry& r, std::string name, std::vector<TypeId> args, TypeId ret,
                         ScalarKernel kernel, bool null_on_null = true, bool variadic = false) {
  ScalarFunction fn;
  fn.name = std::move(name);
  fn.arg_types = std::move(args);
  fn.return_type = ret;
  fn.kernel = std::move(kernel);
  fn.null_on_null_input = null_on_null;
  fn.variadic = variadic;
  r.add(std::move(fn));
}

}  // namespace sluice::expr_internal
