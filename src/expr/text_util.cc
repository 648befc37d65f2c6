// Text helpers for expression kernels: UTF-8 decoding/encoding, ASCII case-insensitive
// comparison and the LIKE matcher. Pure functions, safe on any thread.
#include <cstdint>
#include <string>
#include <string_view>

#include "expr/expr_internal.h"

namespace sluice::expr_internal {

// Marker range for bytes that are not a valid UTF-8 sequence: above any Unicode code point,
// so an invalid byte never equals a real character.
inline constexpr uint32_t kInvalidBase = 0x110000;

uint32_t decode_char(std::string_view s, size_t i, size_t end) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  const size_t len = end - i;
  if (b0 < 0x80) return b0;
  auto cont = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(s[i + k]) & 0x3F); };
  if (len == 2 && (b0 & 0xE0) == 0xC0) return ((b0 & 0x1Fu) << 6) | cont(1);
  if (len == 3 && (b0 & 0xF0) == 0xE0) return ((b0 & 0x0Fu) << 12) | (cont(1) << 6) | cont(2);
  if (len == 4 && (b0 & 0xF8) == 0xF0) {
    return ((b0 & 0x07u) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3);
  }
  return kInvalidBase + b0;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < kInvalidBase) {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(cp - kInvalidBase));  // an invalid byte passes through
  }
}

bool iequals_ascii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

std::string to_lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

bool like_match(std::string_view s, std::string_view p, int escape, bool fold_case) {
  constexpr size_t kNone = static_cast<size_t>(-1);
  size_t si = 0, pi = 0;
  size_t star_p = kNone, star_s = 0;  // pattern position after the last %, and where it began matching
  while (si < s.size()) {
    if (pi < p.size()) {
      char c = p[pi];
      size_t plen = 1;
      bool literal = false;
      if (escape >= 0 && static_cast<unsigned char>(c) == escape) {
        // A trailing escape character has nothing to escape: it matches itself.
        if (pi + 1 < p.size()) {
          c = p[pi + 1];
          plen = 2;
        }
        literal = true;
      }
      if (!literal && c == '%') {
        while (pi < p.size() && p[pi] == '%') ++pi;
        if (pi == p.size()) return true;  // trailing % matches the rest
        star_p = pi;
        star_s = si;
        continue;
      }
      if (!literal && c == '_') {
        si = next_char(s, si);
        ++pi;
        continue;
      }
      const bool eq = fold_case ? ascii_lower(c) == ascii_lower(s[si]) : c == s[si];
      if (eq) {
        ++si;
        pi += plen;
        continue;
      }
    }
    // Mismatch: let the last % absorb one more character and retry from there. Only the
    // last % needs revisiting: earlier ones can only absorb more by moving this one too.
    if (star_p == kNone) return false;
    star_s = next_char(s, star_s);
    si = star_s;
    pi = star_p;
  }
  while (pi < p.size() && p[pi] == '%') ++pi;
  return pi == p.size();
}

}  // namespace sluice::expr_internal
