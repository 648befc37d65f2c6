// Operator kernels: arithmetic (+ - * / % and unary neg), comparisons, || and LIKE/ILIKE.
//
// Registered in the operator registry at first use. Integer arithmetic uses the overflow
// builtins so overflow yields NULL instead of wrapping (or UB); division and modulo by zero
// yield NULL. Kernels are stateless and run on any thread.
#include <cmath>
#include <cstdint>
#include <functional>
#include <string_view>

#include "expr/expr_internal.h"

namespace sluice::expr_internal {

namespace {


// ---- integer-backed arithmetic (BIGINT, TIMESTAMP, INTERVAL share int64 storage)
bool add_i(I a, I b, I* r) { return !__builtin_add_overflow(a, b, r); }
bool sub_i(I a, I b, I* r) { return !__builtin_sub_overflow(a, b, r); }
bool mul_i(I a, I b, I* r) { return !__builtin_mul_overflow(a, b, r); }
bool div_i(I a, I b, I* r) {
  // Truncates toward zero like PostgreSQL; INT64_MIN / -1 does not fit.
  if (b == 0 || (b == -1 && a == INT64_MIN)) return false;
  *r = a / b;
  return true;
}
bool mod_i(I a, I b, I* r) {
  // Sign follows the dividend like PostgreSQL; x % -1 is 0 (the C++ form traps on INT64_MIN).
  if (b == 0) return false;
  *r = b == -1 ? 0 : a % b;
  return true;
}

// ---- doubles: IEEE semantics except that division by zero is NULL
bool add_d(D a, D b, D* r) { *r = a + b; return true; }
bool sub_d(D a, D b, D* r) { *r = a - b; return true; }
bool mul_d(D a, D b, D* r) { *r = a * b; return true; }
bool div_d(D a, D b, D* r) {
  if (b == 0) return false;
  *r = a / b;
  return true;
}
bool mod_d(D a, D b, D* r) {
  if (b == 0) return false;
  *r = std::fmod(a, b);
  return true;
}

// Rounds a double count of microseconds to an INTERVAL; NaN/out of range -> NULL.
bool to_micros(D v, I* r) {
  if (!(v >= -9223372036854775808.0 && v < 9223372036854775808.0)) return false;
  *r = std::llround(v);
  return true;
}

// PostgreSQL's float8 ordering: NaN equals NaN and sorts above every other value, so that
// comparisons are a total order (sorting, grouping and = agree).
inline int cmp_d(D a, D b) {
  if (std::isnan(a)) return std::isnan(b) ? 0 : 1;
  if (std::isnan(b)) return -1;
  return a < b ? -1 : (a > b ? 1 : 0);
}

template <typename Pred>
ScalarKernel compare_ints(Pred pred) {
  return binary_fixed<I, I, I>([pred](I a, I b, I* r) {
    *r = pred(a, b);
    return true;
  });
}
template <typename Pred>
ScalarKernel compare_doubles(Pred pred) {
  return binary_fixed<D, D, I>([pred](D a, D b, I* r) {
    *r = pred(cmp_d(a, b), 0);
    return true;
  });
}
template <typename Pred>
ScalarKernel compare_strings(Pred pred) {
  return [pred](const Column* const* args, size_t, size_t rows, Column& out) {
    const Column& a = *args[0];
    const Column& b = *args[1];
    out.resize_fixed(rows);
    I* r = out.mutable_ints();
    uint8_t* vr = out.mutable_validity();
    const uint8_t* va = a.validity();
    const uint8_t* vb = b.validity();
    for (size_t i = 0; i < rows; ++i) {
      // string_view::compare is bytewise unsigned, i.e. UTF-8 code point order.
      const int c = a.string_at(i).compare(b.string_at(i));
      r[i] = pred(c, 0);
      vr[i] = va[i] & vb[i];
    }
  };
}

template <typename Pred>
void add_comparison(FunctionRegistry& r, const char* name, Pred pred) {
  add_function(r, name, {kB, kB}, kB, compare_ints(pred));
  add_function(r, name, {kI, kI}, kB, compare_ints(pred));
  add_function(r, name, {kD, kD}, kB, compare_doubles(pred));
  add_function(r, name, {kS, kS}, kB, compare_strings(pred));
  add_function(r, name, {kTS, kTS}, kB, compare_ints(pred));
  add_function(r, name, {kIV, kIV}, kB, compare_ints(pred));
}

// Escape argument of LIKE ... ESCAPE: '' disables escaping, one byte is the escape
// character; anything longer is invalid (NULL, where PostgreSQL raises an error).
bool escape_char(std::string_view e, int* out) {
  if (e.empty()) {
    *out = -1;
    return true;
  }
  if (e.size() != 1) return false;
  *out = static_cast<unsigned char>(e[0]);
  return true;
}

ScalarKernel like_kernel(bool fold_case) {
  return [fold_case](const Column* const* args, size_t num_args, size_t rows, Column& out) {
    const Column& s = *args[0];
    const Column& p = *args[1];
    out.resize_fixed(rows);
    I* r = out.mutable_ints();
    uint8_t* vr = out.mutable_validity();
    if (num_args == 2) {
      for (size_t i = 0; i < rows; ++i) {
        vr[i] = s.validity()[i] & p.validity()[i];
        r[i] = vr[i] && like_match(s.string_at(i), p.string_at(i), '\\', fold_case);
      }
      return;
    }
    const Column& e = *args[2];
    for (size_t i = 0; i < rows; ++i) {
      int esc = -1;
      vr[i] = s.is_valid(i) && p.is_valid(i) && e.is_valid(i) && escape_char(e.string_at(i), &esc);
      r[i] = vr[i] && like_match(s.string_at(i), p.string_at(i), esc, fold_case);
    }
  };
}

void concat_kernel(const Column* const* args, size_t, size_t rows, Column& out) {
  const Column& a = *args[0];
  const Column& b = *args[1];
  for_rows(args, 2, rows, out, [&](size_t i) {
    std::string& buf = string_buffer();
    buf.append(a.string_at(i));
    buf.append(b.string_at(i));
    out.append_string(buf);
  });
}

}  // namespace

void register_operators(FunctionRegistry& r) {
  // Registration order matters for ties (see FunctionRegistry::resolve): BIGINT first.
  add_function(r, "+", {kI, kI}, kI, binary_fixed<I, I, I>(add_i));
  add_function(r, "+", {kD, kD}, kD, binary_fixed<D, D, D>(add_d));
  add_function(r, "+", {kTS, kIV}, kTS, binary_fixed<I, I, I>(add_i));
  add_function(r, "+", {kIV, kTS}, kTS, binary_fixed<I, I, I>(add_i));
  add_function(r, "+", {kIV, kIV}, kIV, binary_fixed<I, I, I>(add_i));

  add_function(r, "-", {kI, kI}, kI, binary_fixed<I, I, I>(sub_i));
  add_function(r, "-", {kD, kD}, kD, binary_fixed<D, D, D>(sub_d));
  add_function(r, "-", {kTS, kIV}, kTS, binary_fixed<I, I, I>(sub_i));
  add_function(r, "-", {kTS, kTS}, kIV, binary_fixed<I, I, I>(sub_i));
  add_function(r, "-", {kIV, kIV}, kIV, binary_fixed<I, I, I>(sub_i));

  add_function(r, "*", {kI, kI}, kI, binary_fixed<I, I, I>(mul_i));
  add_function(r, "*", {kD, kD}, kD, binary_fixed<D, D, D>(mul_d));
  add_function(r, "*", {kIV, kI}, kIV, binary_fixed<I, I, I>(mul_i));
  add_function(r, "*", {kI, kIV}, kIV, binary_fixed<I, I, I>(mul_i));
  add_function(r, "*", {kIV, kD}, kIV,
               binary_fixed<I, D, I>([](I a, D b, I* o) { return to_micros(static_cast<D>(a) * b, o); }));
  add_function(r, "*", {kD, kIV}, kIV,
               binary_fixed<D, I, I>([](D a, I b, I* o) { return to_micros(a * static_cast<D>(b), o); }));

  add_function(r, "/", {kI, kI}, kI, binary_fixed<I, I, I>(div_i));
  add_function(r, "/", {kD, kD}, kD, binary_fixed<D, D, D>(div_d));
  add_function(r, "/", {kIV, kI}, kIV, binary_fixed<I, I, I>(div_i));
  add_function(r, "/", {kIV, kD}, kIV, binary_fixed<I, D, I>([](I a, D b, I* o) {
                 return b != 0 && to_micros(static_cast<D>(a) / b, o);
               }));

  add_function(r, "%", {kI, kI}, kI, binary_fixed<I, I, I>(mod_i));
  add_function(r, "%", {kD, kD}, kD, binary_fixed<D, D, D>(mod_d));

  auto neg_i = [](I a, I* o) { return !__builtin_sub_overflow(I{0}, a, o); };
  add_function(r, "neg", {kI}, kI, unary_fixed<I, I>(neg_i));
  add_function(r, "neg", {kD}, kD, unary_fixed<D, D>([](D a, D* o) {
                 *o = -a;
                 return true;
               }));
  add_function(r, "neg", {kIV}, kIV, unary_fixed<I, I>(neg_i));

  add_comparison(r, "=", std::equal_to<>());
  add_comparison(r, "<>", std::not_equal_to<>());
  add_comparison(r, "<", std::less<>());
  add_comparison(r, "<=", std::less_equal<>());
  add_comparison(r, ">", std::greater<>());
  add_comparison(r, ">=", std::greater_equal<>());

  add_function(r, "||", {kS, kS}, kS, concat_kernel);

  add_function(r, "like", {kS, kS}, kB, like_kernel(false));
  add_function(r, "like", {kS, kS, kS}, kB, like_kernel(false));
  add_function(r, "ilike", {kS, kS}, kB, like_kernel(true));
  add_function(r, "ilike", {kS, kS, kS}, kB, like_kernel(true));
}

}  // namespace sluice::expr_internal
