#include "common/time_util.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>

namespace sluice {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool unit_micros(std::string_view unit, Micros* out) {
  std::string u = lower(unit);
  if (u == "us" || u == "micro" || u == "micros" || u == "microsecond" || u == "microseconds") {
    *out = 1;
  } else if (u == "ms" || u == "milli" || u == "millis" || u == "millisecond" || u == "milliseconds") {
    *out = kMicrosPerMilli;
  } else if (u == "s" || u == "sec" || u == "secs" || u == "second" || u == "seconds") {
    *out = kMicrosPerSecond;
  } else if (u == "m" || u == "min" || u == "mins" || u == "minute" || u == "minutes") {
    *out = kMicrosPerMinute;
  } else if (u == "h" || u == "hr" || u == "hrs" || u == "hour" || u == "hours") {
    *out = kMicrosPerHour;
  } else if (u == "d" || u == "day" || u == "days") {
    *out = kMicrosPerDay;
  } else if (u == "w" || u == "week" || u == "weeks") {
    *out = 7 * kMicrosPerDay;
  } else {
    return false;
  }
  return true;
}

int parse_digits(std::string_view s, size_t pos, size_t n, bool* ok) {
  if (pos + n > s.size()) {
    *ok = false;
    return 0;
  }
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') {
      *ok = false;
      return 0;
    }
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

}  // namespace

Result<Micros> parse_duration(std::string_view text) {
  std::string_view s = text;
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  if (s.empty()) return invalid_argument("empty duration");
  // hh:mm:ss form
  if (s.find(':') != std::string_view::npos) {
    int64_t parts[3] = {0, 0, 0};
    int n = 0;
    size_t start = 0;
    while (start <= s.size() && n < 3) {
      size_t end = s.find(':', start);
      if (end == std::string_view::npos) end = s.size();
      std::string piece(s.substr(start, end - start));
      char* e = nullptr;
      parts[n++] = std::strtoll(piece.c_str(), &e, 10);
      if (piece.empty() || *e != '\0') return invalid_argument("bad duration '{}'", text);
      start = end + 1;
      if (end == s.size()) break;
    }
    if (n != 3) return invalid_argument("bad duration '{}': expected hh:mm:ss", text);
    // Checked: the pieces come from user input and may be as large as strtoll allows.
    Micros h, m, sec, total;
    if (__builtin_mul_overflow(parts[0], kMicrosPerHour, &h) ||
        __builtin_mul_overflow(parts[1], kMicrosPerMinute, &m) ||
        __builtin_mul_overflow(parts[2], kMicrosPerSecond, &sec) || __builtin_add_overflow(h, m, &total) ||
        __builtin_add_overflow(total, sec, &total)) {
      return invalid_argument("bad duration '{}': out of range", text);
    }
    return total;
  }
  Micros total = 0;
  bool negative = false;
  size_t i = 0;
  if (s[0] == '-') {
    negative = true;
    i = 1;
  }
  bool any = false;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    if (i >= s.size()) break;
    size_t num_start = i;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (num_start == i) return invalid_argument("bad duration '{}': expected a number", text);
    std::string num(s.substr(num_start, i - num_start));
    double value = std::strtod(num.c_str(), nullptr);
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    size_t unit_start = i;
    while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
    std::string_view unit = s.substr(unit_start, i - unit_start);
    Micros mult = kMicrosPerSecond;
    if (!unit.empty() && !unit_micros(unit, &mult)) {
      static constexpr std::string_view kMonthWords[] = {"mon", "mons", "month", "months", "y", "yr", "yrs",
                                                         "year", "years"};
      for (std::string_view w : kMonthWords) {
        if (unit.size() == w.size() && std::equal(unit.begin(), unit.end(), w.begin(), [](char a, char b) {
              return std::tolower(static_cast<unsigned char>(a)) == b;
            })) {
          return invalid_argument("bad duration '{}': months and years have no fixed length; a duration must be "
                                  "exact, e.g. '30 days'",
                                  text);
        }
      }
      return invalid_argument("bad duration '{}': unknown unit '{}' (use ms, s, m, h, d or words)",
                              text, unit);
    }
    // Range-checked before the cast: converting an out-of-range double is undefined.
    double part = value * static_cast<double>(mult) + 0.5;
    if (!(part < 9.2e18) || __builtin_add_overflow(total, static_cast<Micros>(part), &total)) {
      return invalid_argument("bad duration '{}': out of range", text);
    }
    any = true;
  }
  if (!any) return invalid_argument("bad duration '{}'", text);
  return negative ? -total : total;
}

std::string format_duration(Micros d) {
  if (d == 0) return "0s";
  std::string out;
  if (d < 0) {
    out = "-";
    d = -d;
  }
  struct Unit {
    Micros size;
    const char* name;
  } units[] = {{kMicrosPerDay, "d"}, {kMicrosPerHour, "h"}, {kMicrosPerMinute, "m"},
               {kMicrosPerSecond, "s"}, {kMicrosPerMilli, "ms"}, {1, "us"}};
  for (const auto& u : units) {
    if (d >= u.size) {
      out += fmt::format("{}{}", d / u.size, u.name);
      d %= u.size;
    }
  }
  return out;
}

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civil_from_days(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t yy = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = yy + (*m <= 2);
}

namespace {

// Why a text is not a timestamp. Only calendar errors get a specific message: everything
// else is a syntax error, explained by the expected form.
enum class TimestampError { kNone, kSyntax, kMonth, kDay, kTime };

struct CalendarDetail {
  int64_t year = 0;
  int month = 0;
  int day = 0;
};

bool is_leap_year(int64_t y) { return floor_mod(y, 4) == 0 && (floor_mod(y, 100) != 0 || floor_mod(y, 400) == 0); }

int days_in_month(int64_t year, int month) {
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap_year(year) ? 29 : kDays[month - 1];
}

// The parser behind try_parse_timestamp and the error messages. Calendar dates are checked,
// not normalised: 2024-02-30 is an error (PostgreSQL: "date/time field value out of range"),
// never silently March 1st.
TimestampError parse_timestamp_impl(std::string_view s, Micros* out, CalendarDetail* detail) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  bool ok = true;
  size_t p = 0;
  bool neg_year = false;
  if (!s.empty() && s[0] == '-') {
    neg_year = true;
    p = 1;
  }
  int year = parse_digits(s, p, 4, &ok);
  if (!ok || p + 4 >= s.size() || s[p + 4] != '-') return TimestampError::kSyntax;
  int month = parse_digits(s, p + 5, 2, &ok);
  if (!ok || p + 7 >= s.size() || s[p + 7] != '-') return TimestampError::kSyntax;
  int day = parse_digits(s, p + 8, 2, &ok);
  if (!ok) return TimestampError::kSyntax;
  const int64_t signed_year = neg_year ? -year : year;
  if (detail != nullptr) *detail = CalendarDetail{signed_year, month, day};
  if (month < 1 || month > 12) return TimestampError::kMonth;
  if (day < 1 || day > days_in_month(signed_year, month)) return TimestampError::kDay;
  p += 10;
  int hour = 0, minute = 0, second = 0;
  int64_t frac_us = 0;
  if (p < s.size() && (s[p] == 'T' || s[p] == 't' || s[p] == ' ')) {
    ++p;
    hour = parse_digits(s, p, 2, &ok);
    if (!ok || p + 2 >= s.size() || s[p + 2] != ':') return TimestampError::kSyntax;
    minute = parse_digits(s, p + 3, 2, &ok);
    if (!ok) return TimestampError::kSyntax;
    p += 5;
    if (p < s.size() && s[p] == ':') {
      second = parse_digits(s, p + 1, 2, &ok);
      if (!ok) return TimestampError::kSyntax;
      p += 3;
      if (p < s.size() && (s[p] == '.' || s[p] == ',')) {
        ++p;
        int digits = 0;
        while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
          if (digits < 6) frac_us = frac_us * 10 + (s[p] - '0');
          ++digits;
          ++p;
        }
        if (digits == 0) return TimestampError::kSyntax;
        for (int k = digits; k < 6; ++k) frac_us *= 10;
      }
    }
    // Second 60 is a leap second (as in PostgreSQL it rolls over into the next minute).
    if (hour > 23 || minute > 59 || second > 60) return TimestampError::kTime;
  }
  int64_t offset_us = 0;
  if (p < s.size()) {
    std::string_view tz = s.substr(p);
    while (!tz.empty() && tz.front() == ' ') tz.remove_prefix(1);
    if (tz == "Z" || tz == "z" || tz == "UTC" || tz.empty()) {
      // UTC
    } else if (tz[0] == '+' || tz[0] == '-') {
      int sign = tz[0] == '-' ? -1 : 1;
      int oh = parse_digits(tz, 1, 2, &ok);
      if (!ok) return TimestampError::kSyntax;
      int om = 0;
      size_t q = 3;
      if (q < tz.size() && tz[q] == ':') ++q;
      if (q < tz.size()) {
        om = parse_digits(tz, q, 2, &ok);
        if (!ok || q + 2 != tz.size()) return TimestampError::kSyntax;
      } else if (tz.size() != 3) {
        return TimestampError::kSyntax;
      }
      offset_us = sign * (oh * kMicrosPerHour + om * kMicrosPerMinute);
    } else {
      return TimestampError::kSyntax;
    }
  }
  int64_t days = days_from_civil(signed_year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  *out = days * kMicrosPerDay + hour * kMicrosPerHour + minute * kMicrosPerMinute +
         second * kMicrosPerSecond + frac_us - offset_us;
  return TimestampError::kNone;
}

}  // namespace

bool try_parse_timestamp(std::string_view s, Micros* out) {
  return parse_timestamp_impl(s, out, nullptr) == TimestampError::kNone;
}

std::string timestamp_range_error(std::string_view text) {
  static constexpr const char* kMonthNames[12] = {"January", "February", "March",     "April",   "May",      "June",
                                                  "July",    "August",   "September", "October", "November", "December"};
  Micros ignored = 0;
  CalendarDetail d;
  switch (parse_timestamp_impl(text, &ignored, &d)) {
    case TimestampError::kNone:
    case TimestampError::kSyntax:
      return {};
    case TimestampError::kMonth:
      return fmt::format("month {} is out of range (1-12)", d.month);
    case TimestampError::kDay:
      return fmt::format("day {} is out of range for {} {} ({} days)", d.day, kMonthNames[d.month - 1], d.year,
                         days_in_month(d.year, d.month));
    case TimestampError::kTime:
      return "time of day out of range (hours 00-23, minutes 00-59, seconds 00-60)";
  }
  return {};
}

Result<Micros> parse_timestamp(std::string_view text) {
  Micros out = 0;
  if (!try_parse_timestamp(text, &out)) {
    std::string reason = timestamp_range_error(text);
    if (reason.empty()) reason = "expected ISO-8601 like 2024-01-31T12:00:00Z";
    return invalid_argument("bad timestamp '{}': {}", text, reason);
  }
  return out;
}

namespace {
inline char* put2(char* p, int64_t v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
  return p + 2;
}
}  // namespace

void append_timestamp(std::string& out, Micros ts) {
  // Hand-rolled: this runs per row in sinks and the generator, where snprintf showed up
  // in profiles.
  int64_t days = floor_div(ts, kMicrosPerDay);
  int64_t rem = ts - days * kMicrosPerDay;
  int64_t y;
  unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  int64_t secs = rem / kMicrosPerSecond;
  int64_t frac = rem % kMicrosPerSecond;
  char buf[48];
  char* p = buf;
  if (y < 0 || y > 9999) {
    p += std::snprintf(p, 24, "%04lld", static_cast<long long>(y));
  } else {
    p = put2(p, y / 100);
    p = put2(p, y % 100);
  }
  *p++ = '-';
  p = put2(p, m);
  *p++ = '-';
  p = put2(p, d);
  *p++ = ' ';
  p = put2(p, secs / 3600);
  *p++ = ':';
  p = put2(p, (secs / 60) % 60);
  *p++ = ':';
  p = put2(p, secs % 60);
  if (frac != 0) {
    *p++ = '.';
    int digits = frac % 1000 == 0 ? 3 : 6;
    int64_t v = digits == 3 ? frac / 1000 : frac;
    for (int i = digits - 1; i >= 0; --i) {
      p[i] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
    p += digits;
  }
  out.append(buf, static_cast<size_t>(p - buf));
}

std::string format_timestamp(Micros ts) {
  std::string out;
  append_timestamp(out, ts);
  return out;
}

std::string format_timestamp_iso(Micros ts) {
  std::string out = format_timestamp(ts);
  if (out.size() > 10) out[10] = 'T';
  out.push_back('Z');
  return out;
}

}  // namespace sluice
