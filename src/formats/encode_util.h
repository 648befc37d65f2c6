// Value-to-text pieces shared by the JSON and CSV encoders (one implementation of how a
// number or a time is spelled, so both formats agree). Header-only, stateless.
#pragma once

#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "common/time_util.h"

namespace sluice::encode {

inline void append_int(std::string& out, int64_t v) {
  fmt::format_int f(v);
  out.append(f.data(), f.size());
}

// Shortest decimal that reads back as the same double ("0.1", "1e+20", "-0").
// Only for finite values: each format spells NaN/Inf its own way.
inline void append_finite_double(std::string& out, double v) {
  char buf[32];
  auto end = fmt::format_to(buf, "{}", v);
  out.append(buf, end);
}

// "2024-01-01T00:00:00Z" / "2024-01-01T00:00:00.123Z".
inline void append_timestamp_iso(std::string& out, Micros ts) {
  size_t start = out.size();
  append_timestamp(out, ts);
  // The date/time separator is the first space (years may have more than 4 digits or a sign).
  size_t sp = out.find(' ', start);
  if (sp != std::string::npos) out[sp] = 'T';
  out.push_back('Z');
}

}  // namespace sluice::encode
