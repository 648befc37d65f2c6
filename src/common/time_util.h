// Time values in Sluice: TIMESTAMP is int64 microseconds since the Unix epoch (UTC);
// INTERVAL/durations are int64 microseconds. This header parses and formats both.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice {

using Micros = int64_t;
inline constexpr Micros kMicrosPerMilli = 1000;
inline constexpr Micros kMicrosPerSecond = 1000 * 1000;
inline constexpr Micros kMicrosPerMinute = 60 * kMicrosPerSecond;
inline constexpr Micros kMicrosPerHour = 60 * kMicrosPerMinute;
inline constexpr Micros kMicrosPerDay = 24 * kMicrosPerHour;

// Watermark sentinels: "nothing seen yet" and "input ended, every window may fire".
inline constexpr Micros kMinWatermark = std::numeric_limits<int64_t>::min();
inline constexpr Micros kMaxWatermark = std::numeric_limits<int64_t>::max();

// Parses a duration: "200ms", "5s", "1m", "2h", "1d", "5 seconds", "1 minute",
// "1 hour 30 minutes", "00:01:00", "250 milliseconds", "10 us". A bare number is seconds.
Result<Micros> parse_duration(std::string_view text);

// Formats a duration compactly ("1m", "1m30s", "200ms", "0s").
std::string format_duration(Micros duration);

// Parses an ISO-8601 / SQL timestamp: "2022-01-01T10:00:00Z", "2022-01-01 10:00:00.123",
// "2022-01-01", with an optional "Z" or "+hh:mm" offset. Naive text is UTC. Dates must
// exist in the (proleptic Gregorian) calendar: 2024-02-30 or 2023-02-29 is an error, never
// normalised into the next month.
Result<Micros> parse_timestamp(std::string_view text);

// Same as parse_timestamp but without allocating a Status on failure (hot path).
bool try_parse_timestamp(std::string_view text, Micros* out);

// Why try_parse_timestamp(text) fails when the text has the right form but names no real
// date or time, for messages: "day 30 is out of range for February 2024 (29 days)". Empty
// when `text` parses or is not timestamp-shaped at all.
std::string timestamp_range_error(std::string_view text);

// "YYYY-MM-DD HH:MM:SS[.fff|.ffffff]" (UTC), the form SQLite's date functions accept.
std::string format_timestamp(Micros ts);
// Appends format_timestamp(ts) to out (no temporary allocation).
void append_timestamp(std::string& out, Micros ts);
// ISO-8601 with a T and a Z: "2022-01-01T10:00:00.123Z".
std::string format_timestamp_iso(Micros ts);

// Days since 1970-01-01 for a civil date (proleptic Gregorian) and back.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);
void civil_from_days(int64_t z, int64_t* y, unsigned* m, unsigned* d);

// Floor division that rounds toward negative infinity (window alignment of negative times).
inline int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
inline int64_t floor_mod(int64_t a, int64_t b) { return a - floor_div(a, b) * b; }

}  // namespace sluice
