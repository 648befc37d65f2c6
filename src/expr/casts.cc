// Casts: value <-> text conversions and the batch conversion behind CAST and implicit casts.
//
// Every conversion is a typed loop over the batch; a value that cannot be converted (bad
// text, out of range) becomes NULL instead of failing the query. Stateless; safe on any
// thread.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include "common/time_util.h"
#include "expr/expr.h"
#include "expr/expr_internal.h"

namespace sluice::expr_internal {

// --------------------------------------------------------------------------------------
// Text -> value

bool parse_bool_text(std::string_view text, bool* out) {
  std::string_view s = trim_ascii_space(text);
  // PostgreSQL's boolin spellings (full words and their one-letter forms).
  static constexpr std::string_view kTrue[] = {"t", "true", "y", "yes", "on", "1"};
  static constexpr std::string_view kFalse[] = {"f", "false", "n", "no", "off", "0"};
  for (std::string_view w : kTrue) {
    if (iequals_ascii(s, w)) {
      *out = true;
      return true;
    }
  }
  for (std::string_view w : kFalse) {
    if (iequals_ascii(s, w)) {
      *out = false;
      return true;
    }
  }
  return false;
}

bool parse_int_text(std::string_view text, int64_t* out) {
  std::string_view s = trim_ascii_space(text);
  if (!s.empty() && s[0] == '+') {
    s.remove_prefix(1);  // from_chars rejects a leading '+'
    if (!s.empty() && (s[0] == '+' || s[0] == '-')) return false;
  }
  if (s.empty()) return false;
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 10);
  if (ec != std::errc() || ptr != s.data() + s.size()) return false;
  *out = v;
  return true;
}

bool parse_double_text(std::string_view text, double* out) {
  std::string_view s = trim_ascii_space(text);
  if (!s.empty() && s[0] == '+') {
    s.remove_prefix(1);
    if (!s.empty() && (s[0] == '+' || s[0] == '-')) return false;
  }
  if (s.empty()) return false;
  double v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v, std::chars_format::general);
  if (ec != std::errc() || ptr != s.data() + s.size()) return false;
  *out = v;
  return true;
}

namespace {

bool interval_unit(std::string_view u, int64_t* mult) {
  struct Unit {
    std::string_view name;
    int64_t micros;
  };
  static constexpr Unit kUnits[] = {
      {"us", 1}, {"usec", 1}, {"usecs", 1}, {"micro", 1}, {"micros", 1}, {"microsecond", 1},
      {"microseconds", 1}, {"ms", kMicrosPerMilli}, {"msec", kMicrosPerMilli},
      {"msecs", kMicrosPerMilli}, {"milli", kMicrosPerMilli}, {"millis", kMicrosPerMilli},
      {"millisecond", kMicrosPerMilli}, {"milliseconds", kMicrosPerMilli}, {"s", kMicrosPerSecond},
      {"sec", kMicrosPerSecond}, {"secs", kMicrosPerSecond}, {"second", kMicrosPerSecond},
      {"seconds", kMicrosPerSecond}, {"m", kMicrosPerMinute}, {"min", kMicrosPerMinute},
      {"mins", kMicrosPerMinute}, {"minute", kMicrosPerMinute}, {"minutes", kMicrosPerMinute},
      {"h", kMicrosPerHour}, {"hr", kMicrosPerHour}, {"hrs", kMicrosPerHour},
      {"hour", kMicrosPerHour}, {"hours", kMicrosPerHour}, {"d", kMicrosPerDay},
      {"day", kMicrosPerDay}, {"days", kMicrosPerDay}, {"w", 7 * kMicrosPerDay},
      {"week", 7 * kMicrosPerDay}, {"weeks", 7 * kMicrosPerDay},
  };
  for (const Unit& unit : kUnits) {
    if (iequals_ascii(u, unit.name)) {
      *mult = unit.micros;
      return true;
    }
  }
  return false;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Parses digits at s[*i...] into *v (overflow -> false); *n receives the digit count.
bool parse_uint(std::string_view s, size_t* i, int64_t* v, int* n) {
  *v = 0;
  *n = 0;
  while (*i < s.size() && is_digit(s[*i])) {
    if (__builtin_mul_overflow(*v, 10, v) || __builtin_add_overflow(*v, s[*i] - '0', v)) return false;
    ++*i;
    ++*n;
  }
  return true;
}

// Fractional digits after a '.', as micro-units of the following unit (rounded).
double parse_fraction(std::string_view s, size_t* i) {
  double frac = 0, scale = 0.1;
  while (*i < s.size() && is_digit(s[*i])) {
    frac += (s[*i] - '0') * scale;
    scale /= 10;
    ++*i;
  }
  return frac;
}

bool add_component(int64_t* total, int64_t whole, double frac, int64_t mult) {
  int64_t v = 0;
  if (__builtin_mul_overflow(whole, mult, &v)) return false;
  if (__builtin_add_overflow(v, static_cast<int64_t>(std::llround(frac * static_cast<double>(mult))), &v)) {
    return false;
  }
  return !__builtin_add_overflow(*total, v, total);
}

}  // namespace

bool parse_interval_text(std::string_view text, int64_t* out) {
  std::string_view s = trim_ascii_space(text);
  if (s.empty()) return false;
  // A leading sign applies to the whole interval, matching format_duration's "-1h30m".
  bool negative = false;
  if (s[0] == '-' || s[0] == '+') {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  int64_t total = 0;
  bool any = false;
  size_t i = 0;
  auto skip_space = [&] {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  };
  for (;;) {
    skip_space();
    if (i >= s.size()) break;
    int64_t whole = 0;
    int ndigits = 0;
    if (!parse_uint(s, &i, &whole, &ndigits)) return false;
    double frac = 0;
    int nfrac = 0;
    if (i < s.size() && s[i] == '.') {
      ++i;
      size_t before = i;
      frac = parse_fraction(s, &i);
      nfrac = static_cast<int>(i - before);
    }
    if (ndigits == 0 && nfrac == 0) return false;
    if (i < s.size() && s[i] == ':') {
      // Clock form hh:mm[:ss[.fff]] (PostgreSQL's '01:30' is an hour and a half).
      if (nfrac != 0) return false;
      ++i;
      int64_t minutes = 0, seconds = 0;
      int n = 0;
      if (!parse_uint(s, &i, &minutes, &n) || n == 0) return false;
      double sec_frac = 0;
      if (i < s.size() && s[i] == ':') {
        ++i;
        if (!parse_uint(s, &i, &seconds, &n) || n == 0) return false;
        if (i < s.size() && s[i] == '.') {
          ++i;
          sec_frac = parse_fraction(s, &i);
        }
      }
      if (!add_component(&total, whole, 0, kMicrosPerHour) ||
          !add_component(&total, minutes, 0, kMicrosPerMinute) ||
          !add_component(&total, seconds, sec_frac, kMicrosPerSecond)) {
        return false;
      }
      any = true;
      continue;
    }
    skip_space();
    size_t unit_start = i;
    while (i < s.size() && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z'))) ++i;
    int64_t mult = kMicrosPerSecond;  // a bare number is seconds, as in parse_duration()
    if (i > unit_start && !interval_unit(s.substr(unit_start, i - unit_start), &mult)) return false;
    if (!add_component(&total, whole, frac, mult)) return false;
    any = true;
  }
  if (!any) return false;
  *out = negative ? -total : total;
  return true;
}

// --------------------------------------------------------------------------------------
// INTERVAL 'text' <qualifier>, read the way PostgreSQL's DecodeInterval and
// AdjustIntervalForTypmod read it (for the exact-duration fields Sluice has).

namespace {

Status interval_error(std::string_view text, std::string_view why) {
  return invalid_argument("invalid INTERVAL literal '{}': {}", text, why);
}

Status months_have_no_fixed_length(std::string_view text) {
  return invalid_argument(
      "INTERVAL '{}': months and years have no fixed length, so such an interval can only be added to or "
      "subtracted from a TIMESTAMP (ts + INTERVAL '1' MONTH); window sizes, delays, frames and other durations "
      "must be exact: write days instead, e.g. INTERVAL '30' DAY",
      text);
}

struct IntervalToken {
  enum class Kind { kNumber, kTime, kWord, kYearMonth } kind;
  std::string_view text;
};

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Splits "1 day 02:30", "1h30m", "-1:30" into numbers, clock times and words.
bool tokenize_interval(std::string_view s, std::vector<IntervalToken>* out) {
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] == ' ' || s[i] == '\t') {
      ++i;
      continue;
    }
    size_t start = i;
    if (is_alpha(s[i])) {
      while (i < s.size() && is_alpha(s[i])) ++i;
      out->push_back({IntervalToken::Kind::kWord, s.substr(start, i - start)});
      continue;
    }
    if (s[i] == '+' || s[i] == '-') ++i;
    bool time = false, digits = false;
    while (i < s.size() && (is_digit(s[i]) || s[i] == '.' || s[i] == ':')) {
      time = time || s[i] == ':';
      digits = digits || is_digit(s[i]);
      ++i;
    }
    if (!digits) return false;
    // SQL's years-months form '1-2' (a '-' right after the digits, then digits).
    if (!time && i + 1 < s.size() && s[i] == '-' && is_digit(s[i + 1]) &&
        s.substr(start, i - start).find('.') == std::string_view::npos) {
      ++i;
      while (i < s.size() && is_digit(s[i])) ++i;
      out->push_back({IntervalToken::Kind::kYearMonth, s.substr(start, i - start)});
      continue;
    }
    out->push_back({time ? IntervalToken::Kind::kTime : IntervalToken::Kind::kNumber, s.substr(start, i - start)});
  }
  return true;
}

// "[+-]digits[.digits]" -> whole and fraction (both carrying the sign).
bool parse_signed_number(std::string_view s, int64_t* whole, double* frac) {
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  size_t i = 0;
  int n = 0;
  if (!parse_uint(s, &i, whole, &n)) return false;
  *frac = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    size_t before = i;
    *frac = parse_fraction(s, &i);
    n += static_cast<int>(i - before);
  }
  if (n == 0 || i != s.size()) return false;
  if (negative) {
    *whole = -*whole;
    *frac = -*frac;
  }
  return true;
}

// "h:m", "h:m:s[.f]" (or "m:s[.f]" when the qualifier is MINUTE TO SECOND) -> micros.
bool parse_clock(std::string_view s, bool minutes_seconds, int64_t* out) {
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  int64_t parts[3] = {0, 0, 0};
  double sec_frac = 0;
  size_t i = 0;
  int count = 0;
  for (;;) {
    int n = 0;
    if (count == 3 || !parse_uint(s, &i, &parts[count], &n) || n == 0) return false;
    ++count;
    if (i < s.size() && s[i] == '.') {
      if (count < 2) return false;  // "1.5:30"
      ++i;
      sec_frac = parse_fraction(s, &i);
      break;
    }
    if (i >= s.size() || s[i] != ':') break;
    ++i;
  }
  if (i != s.size() || count < 2) return false;
  if (sec_frac != 0 && count == 2 && !minutes_seconds) return false;  // "1:30.5" is not hh:mm
  int64_t total = 0;
  if (count == 2 && minutes_seconds) {
    if (!add_component(&total, parts[0], 0, kMicrosPerMinute) ||
        !add_component(&total, parts[1], sec_frac, kMicrosPerSecond)) {
      return false;
    }
  } else if (!add_component(&total, parts[0], 0, kMicrosPerHour) ||
             !add_component(&total, parts[1], 0, kMicrosPerMinute) ||
             !add_component(&total, parts[2], sec_frac, kMicrosPerSecond)) {
    return false;
  }
  *out = negative ? -total : total;
  return true;
}

// Months in one unit of `w` (month words 1, year words 12, ...), or 0 for other words.
int64_t months_of_word(std::string_view w) {
  struct Word {
    std::string_view name;
    int64_t months;
  };
  static constexpr Word kWords[] = {{"mon", 1},          {"mons", 1},        {"month", 1},     {"months", 1},
                                    {"y", 12},           {"yr", 12},         {"yrs", 12},      {"year", 12},
                                    {"years", 12},       {"decade", 120},    {"decades", 120}, {"century", 1200},
                                    {"centuries", 1200}, {"millennium", 12000}, {"millennia", 12000}};
  for (const Word& k : kWords) {
    if (iequals_ascii(w, k.name)) return k.months;
  }
  return 0;
}

// "[-]y-m" -> months.
bool parse_year_month(std::string_view s, int64_t* months) {
  bool negative = !s.empty() && s[0] == '-';
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  size_t i = 0;
  int n = 0;
  int64_t years = 0, rest = 0;
  if (!parse_uint(s, &i, &years, &n) || n == 0 || i >= s.size() || s[i] != '-') return false;
  ++i;
  if (!parse_uint(s, &i, &rest, &n) || n == 0 || i != s.size() || rest > 11) return false;
  if (__builtin_mul_overflow(years, 12, months) || __builtin_add_overflow(*months, rest, months)) return false;
  if (negative) *months = -*months;
  return true;
}

}  // namespace
}  // namespace sluice::expr_internal

namespace sluice {

Result<CalendarInterval> parse_calendar_interval(std::string_view text, const IntervalQualifier& q) {
  using namespace expr_internal;  // NOLINT: the text helpers above
  using F = IntervalField;
  if (q.from > q.to) return invalid_argument("INTERVAL qualifier: the leading field must come before the trailing one");
  if (q.precision > 6) return invalid_argument("INTERVAL(p): the precision must be between 0 and 6, got {}", q.precision);
  std::vector<IntervalToken> tokens;
  if (!tokenize_interval(text, &tokens) || tokens.empty()) return interval_error(text, "expected numbers, units or hh:mm[:ss]");
  bool ago = false;
  if (tokens.back().kind == IntervalToken::Kind::kWord && iequals_ascii(tokens.back().text, "ago")) {
    ago = true;
    tokens.pop_back();
    if (tokens.empty()) return interval_error(text, "nothing before 'ago'");
  }
  // A bare number means the qualifier's trailing field (INTERVAL '90' MINUTE is 90 minutes).
  // Units of months are kept as negative numbers of months (-12: a year) so that the
  // micro-second units and they never collide.
  const int64_t trailing_unit = q.to == F::kYear     ? -12
                                : q.to == F::kMonth  ? -1
                                : q.to == F::kDay    ? kMicrosPerDay
                                : q.to == F::kHour   ? kMicrosPerHour
                                : q.to == F::kMinute ? kMicrosPerMinute
                                                     : kMicrosPerSecond;
  const bool minutes_seconds = q.from == F::kMinute && q.to == F::kSecond;
  // PostgreSQL keeps days apart from the time of day: truncation below the trailing field
  // applies to the time part only (INTERVAL '1 day 1:30' HOUR is 1 day 1 hour).
  int64_t months = 0, days = 0, time = 0;
  int64_t unit = 0;  // unit for the next number (read right to left), 0: none yet
  bool unit_pending = false, have_clock = false;
  std::vector<int64_t> seen_units;
  for (size_t k = tokens.size(); k-- > 0;) {
    const IntervalToken& t = tokens[k];
    if (t.kind == IntervalToken::Kind::kWord) {
      if (unit_pending) return interval_error(text, fmt::format("unit '{}' has no number", tokens[k + 1].text));
      if (int64_t m = months_of_word(t.text); m != 0) {
        unit = -m;
      } else if (!interval_unit(t.text, &unit)) {
        return interval_error(text, fmt::format("unknown unit '{}'", t.text));
      }
      unit_pending = true;
      continue;
    }
    if (t.kind == IntervalToken::Kind::kTime) {
      if (unit_pending) return interval_error(text, fmt::format("unit '{}' after hh:mm", tokens[k + 1].text));
      if (have_clock) return interval_error(text, "two hh:mm fields");
      int64_t clock = 0;
      if (!parse_clock(t.text, minutes_seconds, &clock)) return interval_error(text, fmt::format("bad time '{}'", t.text));
      if (__builtin_add_overflow(time, clock, &time)) return interval_error(text, "out of range");
      have_clock = true;
      unit = kMicrosPerDay;  // a number before hh:mm counts days ('1 2:00')
      continue;
    }
    if (t.kind == IntervalToken::Kind::kYearMonth) {
      if (unit_pending) return interval_error(text, fmt::format("unit '{}' after years-months", tokens[k + 1].text));
      int64_t ym = 0;
      if (!parse_year_month(t.text, &ym)) return interval_error(text, fmt::format("bad years-months '{}'", t.text));
      if (months != 0) return interval_error(text, "the same field is given twice");
      months = ym;
      continue;
    }
    int64_t whole = 0;
    double frac = 0;
    if (!parse_signed_number(t.text, &whole, &frac)) return interval_error(text, fmt::format("bad number '{}'", t.text));
    int64_t mult = unit != 0 ? unit : trailing_unit;
    if (std::find(seen_units.begin(), seen_units.end(), mult) != seen_units.end()) {
      return interval_error(text, "the same field is given twice");
    }
    seen_units.push_back(mult);
    if (mult < 0) {
      // As PostgreSQL: a fraction of a year is rounded to months, a fraction of a month is
      // days of 30 (and the rest time).
      int64_t m = 0;
      const double frac_months = frac * static_cast<double>(-mult);
      const int64_t extra = mult == -1 ? 0 : static_cast<int64_t>(std::llround(frac_months));
      if (__builtin_mul_overflow(whole, -mult, &m) || __builtin_add_overflow(m, extra, &m) ||
          __builtin_add_overflow(months, m, &months) ||
          (mult == -1 && !add_component(&time, 0, frac * 30, kMicrosPerDay))) {
        return interval_error(text, "out of range");
      }
    } else if (mult % kMicrosPerDay == 0) {
      int64_t d = 0;
      if (__builtin_mul_overflow(whole, mult / kMicrosPerDay, &d) || __builtin_add_overflow(days, d, &days) ||
          !add_component(&time, 0, frac, mult)) {
        return interval_error(text, "out of range");
      }
    } else if (!add_component(&time, whole, frac, mult)) {
      return interval_error(text, "out of range");
    }
    unit_pending = false;
    // As in PostgreSQL, a number of hours makes a preceding bare number days ('1 2' DAY TO HOUR).
    unit = mult == kMicrosPerHour ? kMicrosPerDay : unit;
  }
  if (unit_pending) return interval_error(text, fmt::format("unit '{}' has no number", tokens.front().text));
  // Drop the fields below the trailing one (PostgreSQL truncates toward zero), then round
  // the seconds to the precision.
  switch (q.to) {
    case F::kYear: months = months / 12 * 12; days = time = 0; break;
    case F::kMonth: days = time = 0; break;
    case F::kDay: time = 0; break;
    case F::kHour: time = time / kMicrosPerHour * kMicrosPerHour; break;
    case F::kMinute: time = time / kMicrosPerMinute * kMicrosPerMinute; break;
    default: break;
  }
  if (q.precision >= 0) {
    int64_t scale = 1;
    for (int p = q.precision; p < 6; ++p) scale *= 10;
    int64_t magnitude = time < 0 ? -time : time;
    magnitude = (magnitude + scale / 2) / scale * scale;
    time = time < 0 ? -magnitude : magnitude;
  }
  int64_t total = 0;
  if (__builtin_mul_overflow(days, kMicrosPerDay, &total) || __builtin_add_overflow(total, time, &total)) {
    return interval_error(text, "out of range");
  }
  return ago ? CalendarInterval{-months, -total} : CalendarInterval{months, total};
}

Result<int64_t> parse_qualified_interval(std::string_view text, const IntervalQualifier& q) {
  ASSIGN_OR_RETURN(CalendarInterval c, parse_calendar_interval(text, q));
  if (c.months != 0) return expr_internal::months_have_no_fixed_length(text);
  return c.micros;
}

}  // namespace sluice

namespace sluice::expr_internal {

// --------------------------------------------------------------------------------------
// Value -> text

void append_int_text(std::string& out, int64_t v) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<size_t>(res.ptr - buf));
}

void append_double_text(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    out += v < 0 ? "-Infinity" : "Infinity";
    return;
  }
  // Shortest round-trip digits in scientific form, then laid out the way PostgreSQL's
  // float8out does: plain notation for exponents in [-4, 15), exponent form otherwise.
  char buf[48];
  auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));
  size_t e_pos = sci.find('e');
  int exp = 0;
  std::from_chars(sci.data() + e_pos + 1 + (sci[e_pos + 1] == '+' ? 1 : 0), sci.data() + sci.size(), exp);
  if (exp < -4 || exp >= 15) {
    out.append(sci);
    return;
  }
  std::string_view mant = sci.substr(0, e_pos);
  if (!mant.empty() && mant[0] == '-') {
    out.push_back('-');
    mant.remove_prefix(1);
  }
  char digits[24];
  size_t nd = 0;
  for (char c : mant) {
    if (c != '.') digits[nd++] = c;
  }
  if (exp < 0) {
    out += "0.";
    out.append(static_cast<size_t>(-exp - 1), '0');
    out.append(digits, nd);
    return;
  }
  const size_t int_digits = static_cast<size_t>(exp) + 1;
  if (nd <= int_digits) {
    out.append(digits, nd);
    out.append(int_digits - nd, '0');
  } else {
    out.append(digits, int_digits);
    out.push_back('.');
    out.append(digits + int_digits, nd - int_digits);
  }
}

void append_interval_text(std::string& out, int64_t micros) {
  if (micros == 0) {
    out += "0s";
    return;
  }
  uint64_t d = static_cast<uint64_t>(micros);
  if (micros < 0) {
    out.push_back('-');
    d = ~d + 1;  // magnitude, well-defined even for INT64_MIN
  }
  struct Unit {
    uint64_t size;
    const char* name;
  };
  static constexpr Unit kUnits[] = {{kMicrosPerDay, "d"},    {kMicrosPerHour, "h"},  {kMicrosPerMinute, "m"},
                                    {kMicrosPerSecond, "s"}, {kMicrosPerMilli, "ms"}, {1, "us"}};
  for (const Unit& u : kUnits) {
    if (d >= u.size) {
      char buf[24];
      auto res = std::to_chars(buf, buf + sizeof buf, d / u.size);
      out.append(buf, static_cast<size_t>(res.ptr - buf));
      out += u.name;
      d %= u.size;
    }
  }
}

// --------------------------------------------------------------------------------------
// Casts

bool cast_supported(TypeId from, TypeId to) {
  if (from == to || from == TypeId::kNull || to == TypeId::kString) return true;
  if (to == TypeId::kNull) return false;
  if (from == TypeId::kString) return true;  // parse; failures are NULL
  auto pair = [&](TypeId a, TypeId b) { return (from == a && to == b) || (from == b && to == a); };
  return pair(TypeId::kInt64, TypeId::kFloat64) || pair(TypeId::kInt64, TypeId::kBool);
}

namespace {

// Fixed-width text parse loop shared by the TEXT -> x casts.
template <typename T, typename Parse>
void parse_column(const Column& in, size_t rows, Column& out, Parse parse) {
  out.resize_fixed(rows);
  T* r = col_mut<T>(out);
  uint8_t* vr = out.mutable_validity();
  for (size_t i = 0; i < rows; ++i) {
    T v{};
    vr[i] = static_cast<uint8_t>(in.is_valid(i) && parse(in.string_at(i), &v));
    r[i] = v;
  }
}

// Writes text for every row; `fmt(buf, row)` appends the text of a non-NULL row.
template <typename Fmt>
void format_column(const Column& in, size_t rows, Column& out, Fmt fmt) {
  out.reserve(rows, rows * 8);
  for (size_t i = 0; i < rows; ++i) {
    if (in.is_null(i)) {
      out.append_null();
      continue;
    }
    std::string& buf = string_buffer();
    fmt(buf, i);
    out.append_string(buf);
  }
}

void cast_to_text(const Column& in, size_t rows, Column& out) {
  switch (in.type()) {
    case TypeId::kBool:
      for (size_t i = 0; i < rows; ++i) {
        if (in.is_null(i)) {
          out.append_null();
        } else {
          out.append_string(in.int_at(i) ? "true" : "false");
        }
      }
      return;
    case TypeId::kInt64:
      format_column(in, rows, out, [&](std::string& b, size_t i) { append_int_text(b, in.int_at(i)); });
      return;
    case TypeId::kFloat64:
      format_column(in, rows, out, [&](std::string& b, size_t i) { append_double_text(b, in.double_at(i)); });
      return;
    case TypeId::kTimestamp:
      format_column(in, rows, out, [&](std::string& b, size_t i) { append_timestamp(b, in.int_at(i)); });
      return;
    case TypeId::kInterval:
      format_column(in, rows, out, [&](std::string& b, size_t i) { append_interval_text(b, in.int_at(i)); });
      return;
    case TypeId::kString:
    case TypeId::kNull:
      break;
  }
  SLUICE_ASSERT(false, "cast_to_text from {}", type_name(in.type()));
}

}  // namespace

void cast_column(const Column& in, TypeId to, size_t rows, Column& out) {
  const TypeId from = in.type();
  if (from == to) {
    out.append_all(in);
    return;
  }
  if (from == TypeId::kNull) {
    // An untyped NULL: every row is NULL whatever the target type.
    for (size_t i = 0; i < rows; ++i) out.append_null();
    return;
  }
  if (to == TypeId::kString) {
    cast_to_text(in, rows, out);
    return;
  }
  if (from == TypeId::kString) {
    switch (to) {
      case TypeId::kBool:
        parse_column<int64_t>(in, rows, out, [](std::string_view s, int64_t* v) {
          bool b = false;
          if (!parse_bool_text(s, &b)) return false;
          *v = b;
          return true;
        });
        return;
      case TypeId::kInt64: parse_column<int64_t>(in, rows, out, parse_int_text); return;
      case TypeId::kFloat64: parse_column<double>(in, rows, out, parse_double_text); return;
      case TypeId::kTimestamp:
        parse_column<int64_t>(in, rows, out, [](std::string_view s, int64_t* v) { return try_parse_timestamp(s, v); });
        return;
      case TypeId::kInterval: parse_column<int64_t>(in, rows, out, parse_interval_text); return;
      default: break;
    }
  }
  if (from == TypeId::kInt64 && to == TypeId::kFloat64) {
    map_fixed<int64_t, double>(in, rows, out, [](int64_t x, double* r) {
      *r = static_cast<double>(x);
      return true;
    });
    return;
  }
  if (from == TypeId::kFloat64 && to == TypeId::kInt64) {
    // Rounds half away from zero like PostgreSQL; NaN and out-of-range values are NULL.
    map_fixed<double, int64_t>(in, rows, out, [](double x, int64_t* r) {
      const double v = std::round(x);
      if (!(v >= -9223372036854775808.0 && v < 9223372036854775808.0)) return false;
      *r = static_cast<int64_t>(v);
      return true;
    });
    return;
  }
  if ((from == TypeId::kInt64 && to == TypeId::kBool) || (from == TypeId::kBool && to == TypeId::kInt64)) {
    map_fixed<int64_t, int64_t>(in, rows, out, [](int64_t x, int64_t* r) {
      *r = x != 0;
      return true;
    });
    return;
  }
  SLUICE_ASSERT(false, "unsupported cast {} -> {}", type_name(from), type_name(to));
}

}  // namespace sluice::expr_internal
