#include "formats/field_convert.h"

#include <charconv>
#include <cmath>
#include <limits>

#include "common/time_util.h"
#include "types/schema.h"

namespace sluice::formats_internal {
namespace {

// 2^63 as a double: the first value that does not fit int64.
constexpr double kTwoTo63 = 9223372036854775808.0;

bool is_blank(char c) { return c == ' ' || c == '\t'; }

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

// Length of the UTF-8 sequence starting at s[i], or 0 when it is not a complete one.
size_t utf8_length(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
  }
  return n;
}

}  // namespace

Result<int64_t> parse_time_unit(std::string_view unit) {
  if (iequals(unit, "ms")) return kMicrosPerMilli;
  if (iequals(unit, "s")) return kMicrosPerSecond;
  if (iequals(unit, "us")) return int64_t{1};
  return invalid_argument("unknown timestamp unit '{}': supported units are s, ms, us", unit);
}

const char* time_unit_name(int64_t unit_micros) {
  switch (unit_micros) {
    case kMicrosPerSecond: return "s";
    case kMicrosPerMilli: return "ms";
    default: return "us";
  }
}

std::string_view trim_blanks(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

Conv parse_int64_text(std::string_view s, int64_t* out) {
  s = trim_blanks(s);
  // from_chars rejects a leading '+', which people do write ("+42").
  if (s.size() > 1 && s[0] == '+' && s[1] != '-' && s[1] != '+') s.remove_prefix(1);
  if (s.empty()) return Conv::kBadValue;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  if (ptr != s.data() + s.size()) return Conv::kBadValue;
  if (ec == std::errc::result_out_of_range) return Conv::kOutOfRange;
  return ec == std::errc() ? Conv::kOk : Conv::kBadValue;
}

Conv parse_double_text(std::string_view s, double* out) {
  s = trim_blanks(s);
  if (s.size() > 1 && s[0] == '+' && s[1] != '-' && s[1] != '+') s.remove_prefix(1);
  if (s.empty()) return Conv::kBadValue;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out, std::chars_format::general);
  if (ptr != s.data() + s.size()) return Conv::kBadValue;
  if (ec == std::errc::result_out_of_range) return Conv::kOutOfRange;
  return ec == std::errc() ? Conv::kOk : Conv::kBadValue;
}

bool parse_bool_text(std::string_view s, bool* out) {
  s = trim_blanks(s);
  if (s.size() > 5) return false;
  char buf[5];
  for (size_t i = 0; i < s.size(); ++i) buf[i] = ascii_lower(s[i]);
  std::string_view l(buf, s.size());
  if (l == "true" || l == "t" || l == "1") {
    *out = true;
    return true;
  }
  if (l == "false" || l == "f" || l == "0") {
    *out = false;
    return true;
  }
  return false;
}

Conv double_to_int64(double v, int64_t* out) {
  // Written so that NaN fails the range test too.
  if (!(v >= -kTwoTo63 && v < kTwoTo63)) return Conv::kOutOfRange;
  if (v != std::trunc(v)) return Conv::kBadValue;
  *out = static_cast<int64_t>(v);
  return Conv::kOk;
}

Conv units_to_micros(int64_t v, int64_t unit_micros, int64_t* out) {
  return __builtin_mul_overflow(v, unit_micros, out) ? Conv::kOutOfRange : Conv::kOk;
}

Conv units_to_micros(double v, int64_t unit_micros, int64_t* out) {
  if (std::isnan(v)) return Conv::kBadValue;
  double us = std::nearbyint(v * static_cast<double>(unit_micros));
  if (!(us >= -kTwoTo63 && us < kTwoTo63)) return Conv::kOutOfRange;
  *out = static_cast<int64_t>(us);
  return Conv::kOk;
}

Conv append_text(Column& column, std::string_view text, int64_t unit_micros) {
  switch (column.type()) {
    case TypeId::kString:
      column.append_string(text);
      return Conv::kOk;
    case TypeId::kBool: {
      bool b = false;
      if (!parse_bool_text(text, &b)) return Conv::kBadValue;
      column.append_bool(b);
      return Conv::kOk;
    }
    case TypeId::kInt64: {
      int64_t v = 0;
      Conv c = parse_int64_text(text, &v);
      if (c == Conv::kOk) column.append_int(v);
      return c;
    }
    case TypeId::kFloat64: {
      double v = 0;
      Conv c = parse_double_text(text, &v);
      if (c == Conv::kOk) column.append_double(v);
      return c;
    }
    case TypeId::kTimestamp:
    case TypeId::kInterval: {
      // Numeric text means the same as a JSON number: a count of timestamp units.
      int64_t us = 0;
      int64_t n = 0;
      Conv c = parse_int64_text(text, &n);
      if (c == Conv::kOk) c = units_to_micros(n, unit_micros, &us);
      if (c == Conv::kBadValue) {
        bool parsed = false;
        if (column.type() == TypeId::kTimestamp) {
          parsed = try_parse_timestamp(text, &us);
        } else {
          // Guarded because parse_duration accepts a bare number as seconds, which would
          // contradict the unit rule above; numbers are handled below.
          double d = 0;
          if (parse_double_text(text, &d) == Conv::kBadValue) {
            Result<Micros> r = parse_duration(text);
            if (r.is_ok()) {
              us = r.value();
              parsed = true;
            }
          }
        }
        if (parsed) {
          c = Conv::kOk;
        } else {
          double d = 0;
          c = parse_double_text(text, &d);
          if (c == Conv::kOk) c = units_to_micros(d, unit_micros, &us);
        }
      }
      if (c == Conv::kOk) column.append_int(us);
      return c;
    }
    case TypeId::kNull:
      column.append_null();
      return Conv::kOk;
  }
  return Conv::kBadValue;
}

Conv append_number(Column& column, const JsonNumber& n, int64_t unit_micros) {
  switch (column.type()) {
    case TypeId::kString:
      column.append_string(n.text);
      return Conv::kOk;
    case TypeId::kBool: {
      double v = n.is_int ? static_cast<double>(n.i) : n.d;
      if (n.is_big_int || (v != 0 && v != 1)) return Conv::kBadValue;
      column.append_bool(v == 1);
      return Conv::kOk;
    }
    case TypeId::kInt64: {
      int64_t v = n.i;
      Conv c = n.is_int ? Conv::kOk : n.is_big_int ? Conv::kOutOfRange : double_to_int64(n.d, &v);
      if (c == Conv::kOk) column.append_int(v);
      return c;
    }
    case TypeId::kFloat64:
      column.append_double(n.is_int ? static_cast<double>(n.i) : n.d);
      return Conv::kOk;
    case TypeId::kTimestamp:
    case TypeId::kInterval: {
      int64_t us = 0;
      Conv c = n.is_int ? units_to_micros(n.i, unit_micros, &us) : units_to_micros(n.d, unit_micros, &us);
      if (c == Conv::kOk) column.append_int(us);
      return c;
    }
    case TypeId::kNull:
      column.append_null();
      return Conv::kOk;
  }
  return Conv::kBadValue;
}

Status check_decode_input(const RawRecords& in, const RecordBatch& out, const Schema& schema) {
  if (out.columns.size() != schema.size()) {
    return internal_error("decode: batch has {} columns, schema {} has {}", out.columns.size(),
                          schema.to_string(), schema.size());
  }
  for (size_t c = 0; c < out.columns.size(); ++c) {
    if (out.columns[c].type() != schema.field(c).type) {
      return internal_error("decode: batch column {} is {}, schema says {}", c,
                            type_name(out.columns[c].type()), type_name(schema.field(c).type));
    }
    if (out.columns[c].size() != out.num_rows) {
      return internal_error("decode: batch column {} has {} rows, batch has {}", c,
                            out.columns[c].size(), out.num_rows);
    }
  }
  uint32_t prev = 0;
  for (uint32_t end : in.ends) {
    if (end < prev || end > in.data.size()) {
      return internal_error("decode: raw records are corrupt (record end {} after {}, data size {})",
                            end, prev, in.data.size());
    }
    prev = end;
  }
  return Status::ok();
}

void append_excerpt(std::string& out, std::string_view text, size_t max_bytes) {
  size_t end = text.size();
  bool cut = false;
  if (end > max_bytes) {
    end = max_bytes;
    // Back off to the start of a UTF-8 sequence so the message stays valid text.
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
    cut = true;
  }
  size_t i = 0;
  while (i < end) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7F) {
      // Keep the reason on one line.
      if (c == '\n') {
        out += "\\n";
      } else if (c == '\r') {
        out += "\\r";
      } else if (c == '\t') {
        out += "\\t";
      } else {
        out += fmt::format("\\x{:02x}", c);
      }
      ++i;
      continue;
    }
    size_t n = utf8_length(text, i);
    if (n == 0) {
      out += fmt::format("\\x{:02x}", c);
      ++i;
      continue;
    }
    out.append(text.data() + i, n);
    i += n;
  }
  if (cut) out += "...";
}

std::string conversion_error(std::string_view field, TypeId type, int64_t unit_micros,
                             Conv conv, std::string_view got_kind, std::string_view got_text,
                             bool quote) {
  std::string out = "field '";
  append_excerpt(out, field, 128);
  out += "': expected ";
  out += type_name(type);
  if (type == TypeId::kTimestamp) {
    out += fmt::format(" (ISO-8601 text or epoch number in {})", time_unit_name(unit_micros));
  } else if (type == TypeId::kInterval) {
    out += fmt::format(" (duration text like '5s' or number in {})", time_unit_name(unit_micros));
  }
  out += ", got ";
  if (!got_kind.empty()) {
    out += got_kind;
    if (!got_text.empty()) out += ' ';
  }
  if (quote) out += '"';
  append_excerpt(out, got_text, 96);
  if (quote) out += '"';
  if (conv == Conv::kOutOfRange) {
    out += " (out of range)";
  } else if (type == TypeId::kTimestamp) {
    // Timestamp-shaped text naming a date that does not exist: say which part is wrong.
    std::string_view probe = got_text;  // a JSON string token comes with its quotes
    if (!quote && probe.size() >= 2 && probe.front() == '"' && probe.back() == '"') probe = probe.substr(1, probe.size() - 2);
    std::string reason = timestamp_range_error(probe);
    if (!reason.empty()) out += fmt::format(" ({})", reason);
  }
  return out;
}

}  // namespace sluice::formats_internal
