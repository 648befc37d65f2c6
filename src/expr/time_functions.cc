// Time functions: date_trunc, extract/date_part, to_timestamp, epoch_ms.
//
// All calendar arithmetic is proleptic Gregorian in UTC on int64 microseconds, with floor
// division so that timestamps before 1970 truncate downwards. The unit/field argument is
// usually a literal: it is validated at bind time (ScalarFunction::validate) and parsed once
// per run of equal values at run time. Stateless; runs on any thread.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/time_util.h"
#include "expr/expr_internal.h"

namespace sluice::expr_internal {

namespace {


enum class Field {
  kInvalid,
  kMicroseconds,
  kMilliseconds,
  kSecond,
  kMinute,
  kHour,
  kDay,
  kWeek,
  kMonth,
  kQuarter,
  kYear,
  kDow,
  kIsodow,
  kDoy,
  kIsoyear,
  kEpoch,
};

// PostgreSQL's unit spellings (a subset of its datetime keyword table).
Field parse_field(std::string_view s) {
  struct Name {
    std::string_view name;
    Field field;
  };
  static constexpr Name kNames[] = {
      {"microseconds", Field::kMicroseconds}, {"microsecond", Field::kMicroseconds},
      {"us", Field::kMicroseconds},           {"usec", Field::kMicroseconds},
      {"usecs", Field::kMicroseconds},        {"useconds", Field::kMicroseconds},
      {"milliseconds", Field::kMilliseconds}, {"millisecond", Field::kMilliseconds},
      {"ms", Field::kMilliseconds},           {"msec", Field::kMilliseconds},
      {"msecs", Field::kMilliseconds},        {"mseconds", Field::kMilliseconds},
      {"second", Field::kSecond},             {"seconds", Field::kSecond},
      {"s", Field::kSecond},                  {"sec", Field::kSecond},
      {"secs", Field::kSecond},               {"minute", Field::kMinute},
      {"minutes", Field::kMinute},            {"m", Field::kMinute},
      {"min", Field::kMinute},                {"mins", Field::kMinute},
      {"hour", Field::kHour},                 {"hours", Field::kHour},
      {"h", Field::kHour},                    {"hr", Field::kHour},
      {"hrs", Field::kHour},                  {"day", Field::kDay},
      {"days", Field::kDay},                  {"d", Field::kDay},
      {"week", Field::kWeek},                 {"weeks", Field::kWeek},
      {"w", Field::kWeek},                    {"month", Field::kMonth},
      {"months", Field::kMonth},              {"mon", Field::kMonth},
      {"mons", Field::kMonth},                {"quarter", Field::kQuarter},
      {"qtr", Field::kQuarter},               {"year", Field::kYear},
      {"years", Field::kYear},                {"y", Field::kYear},
      {"yr", Field::kYear},                   {"yrs", Field::kYear},
      {"dow", Field::kDow},                   {"isodow", Field::kIsodow},
      {"doy", Field::kDoy},                   {"isoyear", Field::kIsoyear},
      {"epoch", Field::kEpoch},
  };
  s = trim_ascii_space(s);
  for (const Name& n : kNames) {
    if (iequals_ascii(s, n.name)) return n.field;
  }
  return Field::kInvalid;
}

bool valid_trunc_unit(Field f) { return f >= Field::kMicroseconds && f <= Field::kYear; }
bool valid_interval_field(Field f) {
  return (f >= Field::kMicroseconds && f <= Field::kDay) || f == Field::kEpoch;
}

// Caches the parse of the unit column across rows: it is nearly always one literal value.
class FieldCache {
 public:
  Field get(std::string_view text) {
    if (!valid_ || text != text_) {
      text_ = text;
      field_ = parse_field(text);
      valid_ = true;
    }
    return field_;
  }

 private:
  bool valid_ = false;
  std::string_view text_;
  Field field_ = Field::kInvalid;
};

bool checked_days_to_micros(int64_t days, int64_t* out) { return !__builtin_mul_overflow(days, kMicrosPerDay, out); }

bool floor_to(int64_t ts, int64_t unit, int64_t* out) {
  return !__builtin_mul_overflow(floor_div(ts, unit), unit, out);
}

// Monday-based weekday (0 = Monday) of a day number; 1970-01-01 was a Thursday.
int64_t iso_weekday(int64_t days) { return floor_mod(days + 3, 7); }

// ISO 8601 week number and week-numbering year of a day number.
void iso_week(int64_t days, int64_t* week, int64_t* iso_year) {
  const int64_t thursday = days - iso_weekday(days) + 3;  // the week belongs to its Thursday's year
  int64_t y;
  unsigned m, d;
  civil_from_days(thursday, &y, &m, &d);
  *iso_year = y;
  *week = (thursday - days_from_civil(y, 1, 1)) / 7 + 1;
}

bool trunc_timestamp(Field unit, int64_t ts, int64_t* out) {
  switch (unit) {
    case Field::kMicroseconds: *out = ts; return true;
    case Field::kMilliseconds: return floor_to(ts, kMicrosPerMilli, out);
    case Field::kSecond: return floor_to(ts, kMicrosPerSecond, out);
    case Field::kMinute: return floor_to(ts, kMicrosPerMinute, out);
    case Field::kHour: return floor_to(ts, kMicrosPerHour, out);
    case Field::kDay: return floor_to(ts, kMicrosPerDay, out);
    case Field::kWeek: {
      const int64_t days = floor_div(ts, kMicrosPerDay);
      return checked_days_to_micros(days - iso_weekday(days), out);  // Monday 00:00
    }
    case Field::kMonth:
    case Field::kQuarter:
    case Field::kYear: {
      int64_t y;
      unsigned m, d;
      civil_from_days(floor_div(ts, kMicrosPerDay), &y, &m, &d);
      if (unit == Field::kYear) m = 1;
      if (unit == Field::kQuarter) m = (m - 1) / 3 * 3 + 1;
      return checked_days_to_micros(days_from_civil(y, m, 1), out);
    }
    default: return false;
  }
}

bool extract_timestamp(Field f, int64_t ts, double* out) {
  if (f == Field::kEpoch) {
    *out = static_cast<double>(ts) / 1e6;
    return true;
  }
  const int64_t days = floor_div(ts, kMicrosPerDay);
  const int64_t tod = ts - days * kMicrosPerDay;  // time of day, always >= 0
  const int64_t in_minute = tod % kMicrosPerMinute;
  int64_t y;
  unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  switch (f) {
    case Field::kMicroseconds: *out = static_cast<double>(in_minute); return true;
    case Field::kMilliseconds: *out = static_cast<double>(in_minute) / 1e3; return true;
    case Field::kSecond: *out = static_cast<double>(in_minute) / 1e6; return true;
    case Field::kMinute: *out = static_cast<double>(tod / kMicrosPerMinute % 60); return true;
    case Field::kHour: *out = static_cast<double>(tod / kMicrosPerHour); return true;
    case Field::kDay: *out = d; return true;
    case Field::kMonth: *out = m; return true;
    case Field::kQuarter: *out = (m - 1) / 3 + 1; return true;
    case Field::kYear: *out = static_cast<double>(y); return true;
    case Field::kDow: *out = static_cast<double>(floor_mod(days + 4, 7)); return true;  // 0 = Sunday
    case Field::kIsodow: *out = static_cast<double>(iso_weekday(days) + 1); return true;  // 7 = Sunday
    case Field::kDoy: *out = static_cast<double>(days - days_from_civil(y, 1, 1) + 1); return true;
    case Field::kWeek:
    case Field::kIsoyear: {
      int64_t week, iso_year;
      iso_week(days, &week, &iso_year);
      *out = static_cast<double>(f == Field::kWeek ? week : iso_year);
      return true;
    }
    default: return false;
  }
}

// Intervals are plain microseconds (no month/day parts), so fields are the normalized
// components: extract(hour from interval '25 hours') is 1 (and day is 1). Signs follow the
// interval, as in PostgreSQL.
bool extract_interval(Field f, int64_t iv, double* out) {
  const int64_t in_minute = iv % kMicrosPerMinute;
  switch (f) {
    case Field::kEpoch: *out = static_cast<double>(iv) / 1e6; return true;
    case Field::kMicroseconds: *out = static_cast<double>(in_minute); return true;
    case Field::kMilliseconds: *out = static_cast<double>(in_minute) / 1e3; return true;
    case Field::kSecond: *out = static_cast<double>(in_minute) / 1e6; return true;
    case Field::kMinute: *out = static_cast<double>(iv % kMicrosPerHour / kMicrosPerMinute); return true;
    case Field::kHour: *out = static_cast<double>(iv % kMicrosPerDay / kMicrosPerHour); return true;
    case Field::kDay: *out = static_cast<double>(iv / kMicrosPerDay); return true;
    default: return false;
  }
}

template <typename Out, typename Fn>
ScalarKernel field_kernel(Fn fn) {
  return [fn](const Column* const* args, size_t, size_t rows, Column& out) {
    const Column& unit = *args[0];
    const Column& v = *args[1];
    out.resize_fixed(rows);
    Out* r = col_mut<Out>(out);
    uint8_t* vr = out.mutable_validity();
    FieldCache cache;
    for (size_t i = 0; i < rows; ++i) {
      Out x{};
      vr[i] = unit.is_valid(i) && v.is_valid(i) && fn(cache.get(unit.string_at(i)), v.int_at(i), &x);
      r[i] = x;
    }
  };
}

// Bind-time check of a literal unit argument, so that a typo is a planning error.
std::function<Status(const std::vector<const Value*>&)> unit_validator(std::string fn, bool (*ok)(Field),
                                                                       std::string expected) {
  return [fn = std::move(fn), ok, expected = std::move(expected)](const std::vector<const Value*>& args) {
    const Value* unit = args.empty() ? nullptr : args[0];
    if (unit == nullptr || unit->is_null || unit->type != TypeId::kString) return Status::ok();
    if (ok(parse_field(unit->s))) return Status::ok();
    return invalid_argument("{}: unit '{}' not recognized (expected {})", fn, unit->s, expected);
  };
}

bool any_timestamp_field(Field f) { return f != Field::kInvalid; }

// ts moved by `months` calendar months, as PostgreSQL's timestamp + interval 'n months':
// the day of month is kept and clamped to the new month's length (2024-01-31 + 1 month is
// 2024-02-29), the time of day is kept. False on overflow.
bool add_months(int64_t ts, int64_t months, int64_t* out) {
  const int64_t days = floor_div(ts, kMicrosPerDay);
  const int64_t tod = ts - days * kMicrosPerDay;
  int64_t y;
  unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  int64_t index = 0;  // months since year 0
  if (months > (int64_t{1} << 40) || months < -(int64_t{1} << 40) ||
      __builtin_mul_overflow(y, 12, &index) || __builtin_add_overflow(index, int64_t{m} - 1 + months, &index)) {
    return false;
  }
  const int64_t ny = floor_div(index, 12);
  const auto nm = static_cast<unsigned>(index - ny * 12 + 1);
  static constexpr unsigned kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (ny % 4 == 0 && ny % 100 != 0) || ny % 400 == 0;
  const unsigned last = nm == 2 && leap ? 29 : kDays[nm - 1];
  int64_t micros = 0;
  return checked_days_to_micros(days_from_civil(ny, nm, std::min(d, last)), &micros) &&
         !__builtin_add_overflow(micros, tod, out);
}

}  // namespace

void register_time_functions(FunctionRegistry& r) {
  {
    ScalarFunction fn;
    fn.name = "date_trunc";
    fn.arg_types = {kS, kTS};
    fn.return_type = kTS;
    fn.kernel = field_kernel<int64_t>(trunc_timestamp);
    fn.validate = unit_validator("date_trunc", valid_trunc_unit,
                                 "microseconds, milliseconds, second, minute, hour, day, week, month, "
                                 "quarter or year");
    r.add(std::move(fn));
  }
  for (const char* name : {"extract", "date_part"}) {
    ScalarFunction fn;
    fn.name = name;
    fn.arg_types = {kS, kTS};
    fn.return_type = kD;
    fn.kernel = field_kernel<double>(extract_timestamp);
    fn.validate = unit_validator(name, any_timestamp_field,
                                 "year, quarter, month, week, day, dow, isodow, doy, isoyear, hour, "
                                 "minute, second, milliseconds, microseconds or epoch");
    r.add(fn);
    fn.arg_types = {kS, kIV};
    fn.kernel = field_kernel<double>(extract_interval);
    fn.validate = unit_validator(fmt::format("{} from INTERVAL", name), valid_interval_field,
                                 "day, hour, minute, second, milliseconds, microseconds or epoch");
    r.add(std::move(fn));
  }
  // Also what ts + INTERVAL '1' MONTH binds to (months have no fixed length in microseconds).
  add_function(r, "add_months", {kTS, kI}, kTS, binary_fixed<int64_t, int64_t, int64_t>(add_months));
  add_function(r, "to_timestamp", {kD}, kTS, unary_fixed<double, int64_t>([](double secs, int64_t* o) {
                 const double us = secs * 1e6;
                 if (!(us >= -9223372036854775808.0 && us < 9223372036854775808.0)) return false;
                 *o = std::llround(us);
                 return true;
               }));
  add_function(r, "epoch_ms", {kTS}, kI, unary_fixed<int64_t, int64_t>([](int64_t ts, int64_t* o) {
                 *o = floor_div(ts, kMicrosPerMilli);
                 return true;
               }));
  // epoch_ms(BIGINT milliseconds) -> TIMESTAMP, as in DuckDB: the usual way to turn an
  // epoch-millis field of a JSON record into an event time.
  add_function(r, "epoch_ms", {kI}, kTS, unary_fixed<int64_t, int64_t>([](int64_t ms, int64_t* o) {
                 return !__builtin_mul_overflow(ms, kMicrosPerMilli, o);
               }));
}

}  // namespace sluice::expr_internal
