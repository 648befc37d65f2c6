// Math functions: abs, round, floor, ceil, trunc, sqrt, cbrt, power, ln, log, log10, exp,
// mod, sign, pi, greatest/least; plus nullif (conditional).
//
// Domain errors that PostgreSQL reports as errors (sqrt(-1), ln(0), overflow) yield NULL.
// round(x, d) rounds the shortest decimal representation of x, so round(1.005, 2) = 1.01
// as with PostgreSQL NUMERIC literals (Sluice maps NUMERIC onto DOUBLE). Stateless.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <functional>
#include <numbers>
#include <string_view>
#include <type_traits>

#include "expr/expr_internal.h"

namespace sluice::expr_internal {

namespace {


// Rounds (or truncates) x to `digits` decimal places (negative: to tens, hundreds, ...)
// working on its shortest round-trip decimal digits, half away from zero.
D round_decimal(D x, I digits, bool truncate) {
  if (!std::isfinite(x) || x == 0) return x;
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));
  const size_t e_pos = sci.find('e');
  int exp = 0;
  std::from_chars(sci.data() + e_pos + 1 + (sci[e_pos + 1] == '+' ? 1 : 0), sci.data() + sci.size(), exp);
  const bool neg = sci[0] == '-';
  char dig[32];
  int nd = 0;
  for (char c : sci.substr(neg ? 1 : 0, e_pos - (neg ? 1 : 0))) {
    if (c != '.') dig[nd++] = c;
  }
  // Digit j has place value 10^(exp - j); keep those with place value >= 10^-digits.
  const I keep_i = static_cast<I>(exp) + std::clamp<I>(digits, -400, 400) + 1;
  if (keep_i >= nd) return x;  // already representable with that many digits
  int keep = static_cast<int>(keep_i);
  bool up = !truncate && keep >= 0 && dig[keep] >= '5';
  if (keep < 0) return 0.0;
  if (keep == 0) {
    if (!up) return 0.0;
    // Rounds up to 1 at the place of the first dropped digit's left neighbour.
    dig[0] = '1';
    keep = 1;
    ++exp;
    up = false;
  }
  if (up) {
    int j = keep - 1;
    while (j >= 0 && dig[j] == '9') dig[j--] = '0';
    if (j >= 0) {
      ++dig[j];
    } else {  // 9.99 -> 10.0: a new leading digit
      dig[0] = '1';
      ++exp;
    }
  }
  char text[64];
  int n = 0;
  if (neg) text[n++] = '-';
  text[n++] = dig[0];
  text[n++] = '.';
  for (int j = 1; j < keep; ++j) text[n++] = dig[j];
  text[n++] = '0';
  text[n++] = 'e';
  auto er = std::to_chars(text + n, text + sizeof text, exp);
  D out = 0;
  std::from_chars(text, er.ptr, out);
  return out + 0.0;  // normalizes -0.0
}

bool finite_result(D in, D out) { return std::isfinite(out) || !std::isfinite(in); }

template <typename T, typename Better>
ScalarKernel extreme_fixed(Better better) {
  // greatest/least over fixed-width columns; NULL arguments are ignored (PostgreSQL).
  return [better](const Column* const* args, size_t num_args, size_t rows, Column& out) {
    out.resize_fixed(rows);
    T* r = col_mut<T>(out);
    uint8_t* vr = out.mutable_validity();
    for (size_t i = 0; i < rows; ++i) {
      bool have = false;
      T best{};
      for (size_t k = 0; k < num_args; ++k) {
        if (args[k]->is_null(i)) continue;
        const T v = col_data<T>(*args[k])[i];
        if (!have || better(v, best)) best = v;
        have = true;
      }
      r[i] = best;
      vr[i] = have;
    }
  };
}

template <typename Better>
ScalarKernel extreme_string(Better better) {
  return [better](const Column* const* args, size_t num_args, size_t rows, Column& out) {
    for (size_t i = 0; i < rows; ++i) {
      bool have = false;
      std::string_view best;
      for (size_t k = 0; k < num_args; ++k) {
        if (args[k]->is_null(i)) continue;
        std::string_view v = args[k]->string_at(i);
        if (!have || better(v.compare(best), 0)) best = v;
        have = true;
      }
      if (have) {
        out.append_string(best);
      } else {
        out.append_null();
      }
    }
  };
}

// NaN is the largest double (PostgreSQL ordering), so greatest(1, 'NaN') is NaN.
bool d_greater(D a, D b) { return std::isnan(a) ? !std::isnan(b) : (!std::isnan(b) && a > b); }
bool d_less(D a, D b) { return std::isnan(b) ? !std::isnan(a) : (!std::isnan(a) && a < b); }

void add_extremes(FunctionRegistry& r, const char* name, bool greatest) {
  auto add = [&](TypeId t, ScalarKernel k) { add_function(r, name, {t}, t, std::move(k), false, true); };
  auto gt = [](I a, I b) { return a > b; };
  auto lt = [](I a, I b) { return a < b; };
  add(kI, greatest ? extreme_fixed<I>(gt) : extreme_fixed<I>(lt));
  add(kD, greatest ? extreme_fixed<D>(d_greater) : extreme_fixed<D>(d_less));
  add(kS, greatest ? extreme_string(std::greater<>()) : extreme_string(std::less<>()));
  add(kTS, greatest ? extreme_fixed<I>(gt) : extreme_fixed<I>(lt));
  add(kIV, greatest ? extreme_fixed<I>(gt) : extreme_fixed<I>(lt));
  add(kB, greatest ? extreme_fixed<I>(gt) : extreme_fixed<I>(lt));
}

bool mod_i(I a, I b, I* r) {
  if (b == 0) return false;
  *r = b == -1 ? 0 : a % b;
  return true;
}

// nullif(a, b): NULL when a = b, else a. A NULL b never equals, so a is returned.
template <typename T>
ScalarKernel nullif_fixed() {
  return [](const Column* const* args, size_t, size_t rows, Column& out) {
    const Column& a = *args[0];
    const Column& b = *args[1];
    out.resize_fixed(rows);
    const T* x = col_data<T>(a);
    const T* y = col_data<T>(b);
    T* r = col_mut<T>(out);
    uint8_t* vr = out.mutable_validity();
    for (size_t i = 0; i < rows; ++i) {
      bool equal = b.is_valid(i) && (x[i] == y[i] || (std::is_floating_point_v<T> && x[i] != x[i] && y[i] != y[i]));
      r[i] = x[i];
      vr[i] = a.validity()[i] & static_cast<uint8_t>(!equal);
    }
  };
}

void nullif_string(const Column* const* args, size_t, size_t rows, Column& out) {
  const Column& a = *args[0];
  const Column& b = *args[1];
  for (size_t i = 0; i < rows; ++i) {
    if (a.is_null(i) || (b.is_valid(i) && a.string_at(i) == b.string_at(i))) {
      out.append_null();
    } else {
      out.append_string(a.string_at(i));
    }
  }
}

}  // namespace

void register_math_functions(FunctionRegistry& r) {
  add_function(r, "abs", {kI}, kI, unary_fixed<I, I>([](I a, I* o) {
                 if (a == INT64_MIN) return false;
                 *o = a < 0 ? -a : a;
                 return true;
               }));
  add_function(r, "abs", {kD}, kD, unary_fixed<D, D>([](D a, D* o) {
                 *o = std::fabs(a);
                 return true;
               }));
  add_function(r, "round", {kD}, kD, unary_fixed<D, D>([](D a, D* o) {
                 *o = std::round(a) + 0.0;  // half away from zero, like NUMERIC
                 return true;
               }));
  add_function(r, "round", {kD, kI}, kD, binary_fixed<D, I, D>([](D a, I d, D* o) {
                 *o = round_decimal(a, d, false);
                 return true;
               }));
  add_function(r, "trunc", {kD}, kD, unary_fixed<D, D>([](D a, D* o) {
                 *o = std::trunc(a) + 0.0;
                 return true;
               }));
  add_function(r, "trunc", {kD, kI}, kD, binary_fixed<D, I, D>([](D a, I d, D* o) {
                 *o = round_decimal(a, d, true);
                 return true;
               }));
  add_function(r, "floor", {kD}, kD, unary_fixed<D, D>([](D a, D* o) {
                 *o = std::floor(a) + 0.0;
                 return true;
               }));
  for (const char* name : {"ceil", "ceiling"}) {
    add_function(r, name, {kD}, kD, unary_fixed<D, D>([](D a, D* o) {
                   *o = std::ceil(a) + 0.0;
                   return true;
                 }));
  }
  add_function(r, "sqrt", {kD}, kD, unary_fixed<D, D>([](D a, D* o) {
                 if (a < 0) return false;
                 *o = std::sqrt(a);
                 return true;
               }));
  add_function(r, "cbrt", {kD}, kD, unary_fixed<D, D>([](D a, D* o) {
                 *o = std::cbrt(a);
                 return true;
               }));
  for (const char* name : {"power", "pow"}) {
    add_function(r, name, {kD, kD}, kD, binary_fixed<D, D, D>([](D a, D b, D* o) {
                   if (a == 0 && b < 0) return false;                 // division by zero
                   if (a < 0 && b != std::floor(b)) return false;    // complex result
                   *o = std::pow(a, b);
                   return std::isfinite(*o) || !std::isfinite(a) || !std::isfinite(b);
                 }));
  }
  add_function(r, "ln", {kD}, kD, unary_fixed<D, D>([](D a, D* o) {
                 if (!(a > 0)) return false;
                 *o = std::log(a);
                 return true;
               }));
  // log(x) is the base-10 logarithm in PostgreSQL (ln is the natural one).
  for (const char* name : {"log", "log10"}) {
    add_function(r, name, {kD}, kD, unary_fixed<D, D>([](D a, D* o) {
                   if (!(a > 0)) return false;
                   *o = std::log10(a);
                   return true;
                 }));
  }
  add_function(r, "log", {kD, kD}, kD, binary_fixed<D, D, D>([](D base, D x, D* o) {
                 if (!(base > 0) || !(x > 0) || base == 1) return false;
                 *o = std::log(x) / std::log(base);
                 return true;
               }));
  add_function(r, "exp", {kD}, kD, unary_fixed<D, D>([](D a, D* o) {
                 *o = std::exp(a);
                 return finite_result(a, *o);
               }));
  add_function(r, "mod", {kI, kI}, kI, binary_fixed<I, I, I>(mod_i));
  add_function(r, "mod", {kD, kD}, kD, binary_fixed<D, D, D>([](D a, D b, D* o) {
                 if (b == 0) return false;
                 *o = std::fmod(a, b);
                 return true;
               }));
  add_function(r, "sign", {kI}, kI, unary_fixed<I, I>([](I a, I* o) {
                 *o = (a > 0) - (a < 0);
                 return true;
               }));
  add_function(r, "sign", {kD}, kD, unary_fixed<D, D>([](D a, D* o) {
                 *o = std::isnan(a) ? a : static_cast<D>((a > 0) - (a < 0));
                 return true;
               }));
  add_function(r, "pi", {}, kD, [](const Column* const*, size_t, size_t rows, Column& out) {
    out.resize_fixed(rows);
    std::fill(out.mutable_doubles(), out.mutable_doubles() + rows, std::numbers::pi);
  });
  add_extremes(r, "greatest", true);
  add_extremes(r, "least", false);
}

void register_conditional_functions(FunctionRegistry& r) {
  auto add = [&](TypeId t, ScalarKernel k) { add_function(r, "nullif", {t, t}, t, std::move(k), false); };
  add(kI, nullif_fixed<I>());
  add(kD, nullif_fixed<D>());
  add(kS, nullif_string);
  add(kTS, nullif_fixed<I>());
  add(kIV, nullif_fixed<I>());
  add(kB, nullif_fixed<I>());
}

}  // namespace sluice::expr_internal
