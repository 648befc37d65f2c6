// String functions: lower/upper/initcap, lengths, substr, concat, trim family, replace,
// split_part, strpos, starts_with/ends_with, left/right, lpad/rpad, reverse, repeat, md5.
//
// Positions and lengths count UTF-8 characters (code points) like PostgreSQL with a UTF-8
// database; octet_length counts bytes. Results are appended straight into the output column
// or composed in the per-thread string_buffer(), so steady state does no heap allocation.
// Stateless; runs on any thread.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "expr/expr_internal.h"

namespace sluice::expr_internal {

namespace {


// ---- case mapping
//
// Simple one-to-one mappings for ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic. All
// mapped code points lie in U+0080..U+07FF on both sides (except ASCII), so the UTF-8 length
// never changes and the mapping can run in place. Other scripts are left unchanged (full
// Unicode case mapping would need the ICU tables).
uint32_t lower_cp(uint32_t c) {
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 0x20;
  if (c >= 0x100 && c <= 0x17F) {
    if ((c <= 0x12F || (c >= 0x132 && c <= 0x137) || (c >= 0x14A && c <= 0x177)) && c % 2 == 0) return c + 1;
    if (((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) && c % 2 == 1) return c + 1;
    if (c == 0x178) return 0xFF;
    return c;
  }
  if (c == 0x386) return 0x3AC;
  if (c >= 0x388 && c <= 0x38A) return c + 37;
  if (c == 0x38C) return 0x3CC;
  if (c == 0x38E || c == 0x38F) return c + 63;
  if (c >= 0x391 && c <= 0x3AB && c != 0x3A2) return c + 0x20;
  if (c >= 0x400 && c <= 0x40F) return c + 0x50;
  if (c >= 0x410 && c <= 0x42F) return c + 0x20;
  if (((c >= 0x460 && c <= 0x481) || (c >= 0x48A && c <= 0x4BF)) && c % 2 == 0) return c + 1;
  return c;
}

uint32_t upper_cp(uint32_t c) {
  if (c >= 0xE0 && c <= 0xFE && c != 0xF7) return c - 0x20;
  if (c == 0xFF) return 0x178;
  if (c >= 0x100 && c <= 0x17F) {
    if ((c <= 0x12F || (c >= 0x132 && c <= 0x137) || (c >= 0x14A && c <= 0x177)) && c % 2 == 1) return c - 1;
    if (((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) && c % 2 == 0) return c - 1;
    return c;
  }
  if (c == 0x3AC) return 0x386;
  if (c >= 0x3AD && c <= 0x3AF) return c - 37;
  if (c == 0x3CC) return 0x38C;
  if (c == 0x3CD || c == 0x3CE) return c - 63;
  if (c == 0x3C2) return 0x3A3;  // final sigma
  if (c >= 0x3B1 && c <= 0x3CB) return c - 0x20;
  if (c >= 0x450 && c <= 0x45F) return c - 0x50;
  if (c >= 0x430 && c <= 0x44F) return c - 0x20;
  if (((c >= 0x460 && c <= 0x481) || (c >= 0x48A && c <= 0x4BF)) && c % 2 == 1) return c - 1;
  return c;
}

// Maps the character at buf[i] (UTF-8, `len` bytes) in place; only 1- and 2-byte characters
// have mappings.
inline void map_char_in_place(std::string& buf, size_t i, size_t len, bool upper) {
  if (len == 1) {
    buf[i] = upper ? ascii_upper(buf[i]) : ascii_lower(buf[i]);
    return;
  }
  if (len != 2) return;
  const uint32_t c = decode_char(buf, i, i + 2);
  if (c < 0x80 || c >= 0x800) return;  // invalid sequence
  const uint32_t m = upper ? upper_cp(c) : lower_cp(c);
  buf[i] = static_cast<char>(0xC0 | (m >> 6));
  buf[i + 1] = static_cast<char>(0x80 | (m & 0x3F));
}

ScalarKernel case_kernel(bool upper) {
  return [upper](const Column* const* args, size_t, size_t rows, Column& out) {
    const Column& a = *args[0];
    for_rows(args, 1, rows, out, [&](size_t row) {
      std::string& buf = string_buffer();
      buf.append(a.string_at(row));
      for (size_t i = 0; i < buf.size();) {
        const auto b = static_cast<unsigned char>(buf[i]);
        if (b < 0x80) {  // ASCII fast path
          buf[i] = upper ? ascii_upper(buf[i]) : ascii_lower(buf[i]);
          ++i;
          continue;
        }
        const size_t end = next_char(buf, i);
        map_char_in_place(buf, i, end - i, upper);
        i = end;
      }
      out.append_string(buf);
    });
  };
}

bool is_word_char(std::string_view s, size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  if (b >= 0x80) return true;  // non-ASCII letters count as word characters
  return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9');
}

void initcap_kernel(const Column* const* args, size_t, size_t rows, Column& out) {
  const Column& a = *args[0];
  for_rows(args, 1, rows, out, [&](size_t row) {
    std::string& buf = string_buffer();
    buf.append(a.string_at(row));
    bool in_word = false;
    for (size_t i = 0; i < buf.size();) {
      const size_t end = next_char(buf, i);
      const bool word = is_word_char(buf, i);
      if (word) map_char_in_place(buf, i, end - i, /*upper=*/!in_word);
      in_word = word;
      i = end;
    }
    out.append_string(buf);
  });
}

// ---- substrings

// PostgreSQL substr(s, start, count): the characters at positions [start, start + count)
// intersected with [1, length]; positions before 1 simply shorten the result.
void substr_kernel(const Column* const* args, size_t num_args, size_t rows, Column& out) {
  const Column& s = *args[0];
  const Column& st = *args[1];
  for_rows(args, num_args, rows, out, [&](size_t row) {
    std::string_view v = s.string_at(row);
    const int64_t start = st.int_at(row);
    const int64_t first = std::max<int64_t>(start, 1);
    const size_t b = skip_chars(v, 0, first - 1);
    if (num_args == 2) {
      out.append_string(v.substr(b));
      return;
    }
    const int64_t count = args[2]->int_at(row);
    if (count < 0) {  // PostgreSQL: "negative substring length not allowed"
      out.append_null();
      return;
    }
    int64_t end = 0;
    if (__builtin_add_overflow(start, count, &end)) end = INT64_MAX;
    if (end <= first) {
      out.append_string({});
      return;
    }
    const size_t e = skip_chars(v, b, end - first);
    out.append_string(v.substr(b, e - b));
  });
}

void left_kernel(const Column* const* args, size_t, size_t rows, Column& out) {
  const Column& s = *args[0];
  const Column& n = *args[1];
  for_rows(args, 2, rows, out, [&](size_t row) {
    std::string_view v = s.string_at(row);
    int64_t k = n.int_at(row);
    if (k < 0) k = std::max<int64_t>(char_count(v) + k, 0);  // all but the last |n|
    out.append_string(v.substr(0, skip_chars(v, 0, k)));
  });
}

void right_kernel(const Column* const* args, size_t, size_t rows, Column& out) {
  const Column& s = *args[0];
  const Column& n = *args[1];
  for_rows(args, 2, rows, out, [&](size_t row) {
    std::string_view v = s.string_at(row);
    const int64_t k = n.int_at(row);
    // n >= 0: the last n characters; n < 0: all but the first |n|.
    const int64_t skip = k >= 0 ? std::max<int64_t>(char_count(v) - k, 0) : (k == INT64_MIN ? INT64_MAX : -k);
    out.append_string(v.substr(skip_chars(v, 0, skip)));
  });
}

// ---- trimming

// Whether the character `ch` (its bytes) is one of the characters of `set`.
bool in_char_set(std::string_view set, std::string_view ch) {
  if (ch.size() == 1) return set.find(ch[0]) != std::string_view::npos;
  for (size_t i = 0; i < set.size();) {
    const size_t e = next_char(set, i);
    if (set.substr(i, e - i) == ch) return true;
    i = e;
  }
  return false;
}

std::string_view trim_chars(std::string_view v, std::string_view set, bool left, bool right) {
  size_t b = 0, e = v.size();
  if (left) {
    while (b < e) {
      const size_t n = next_char(v, b);
      if (!in_char_set(set, v.substr(b, n - b))) break;
      b = n;
    }
  }
  if (right) {
    while (e > b) {
      const size_t p = std::max(prev_char(v, e), b);
      if (!in_char_set(set, v.substr(p, e - p))) break;
      e = p;
    }
  }
  return v.substr(b, e - b);
}

ScalarKernel trim_kernel(bool left, bool right) {
  return [left, right](const Column* const* args, size_t num_args, size_t rows, Column& out) {
    const Column& s = *args[0];
    for_rows(args, num_args, rows, out, [&](size_t row) {
      std::string_view set = num_args > 1 ? args[1]->string_at(row) : std::string_view(" ");
      out.append_string(trim_chars(s.string_at(row), set, left, right));
    });
  };
}

// ---- search and replace

void replace_kernel(const Column* const* args, size_t, size_t rows, Column& out) {
  const Column& s = *args[0];
  const Column& from = *args[1];
  const Column& to = *args[2];
  for_rows(args, 3, rows, out, [&](size_t row) {
    std::string_view v = s.string_at(row), f = from.string_at(row), t = to.string_at(row);
    if (f.empty()) {
      out.append_string(v);
      return;
    }
    std::string& buf = string_buffer();
    size_t pos = 0;
    for (size_t hit; (hit = v.find(f, pos)) != std::string_view::npos; pos = hit + f.size()) {
      buf.append(v.substr(pos, hit - pos));
      buf.append(t);
      if (buf.size() > kMaxStringResultBytes) break;
    }
    if (buf.size() > kMaxStringResultBytes) {
      out.append_null();
      return;
    }
    buf.append(v.substr(pos));
    out.append_string(buf);
  });
}

// split_part(s, delimiter, n): the n-th field (1-based; negative counts from the end,
// PostgreSQL 14+). Fields past the end are ''. n = 0 is NULL (an error in PostgreSQL).
void split_part_kernel(const Column* const* args, size_t, size_t rows, Column& out) {
  const Column& s = *args[0];
  const Column& d = *args[1];
  const Column& n = *args[2];
  for_rows(args, 3, rows, out, [&](size_t row) {
    std::string_view v = s.string_at(row), delim = d.string_at(row);
    const int64_t k = n.int_at(row);
    if (k == 0) {
      out.append_null();
      return;
    }
    if (delim.empty()) {  // the whole string is the only field
      out.append_string(k == 1 || k == -1 ? v : std::string_view());
      return;
    }
    if (k > 0) {
      size_t start = 0;
      for (int64_t field = 1; field < k; ++field) {
        const size_t hit = v.find(delim, start);
        if (hit == std::string_view::npos) {
          out.append_string({});
          return;
        }
        start = hit + delim.size();
      }
      const size_t end = v.find(delim, start);
      out.append_string(v.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
      return;
    }
    size_t end = v.size();
    for (int64_t field = -1; field > k; --field) {
      if (end < delim.size()) {
        out.append_string({});
        return;
      }
      const size_t hit = v.rfind(delim, end - delim.size());
      if (hit == std::string_view::npos) {
        out.append_string({});
        return;
      }
      end = hit;
    }
    size_t start = 0;
    if (end >= delim.size()) {
      const size_t hit = v.rfind(delim, end - delim.size());
      if (hit != std::string_view::npos) start = hit + delim.size();
    }
    out.append_string(v.substr(start, end - start));
  });
}

void strpos_kernel(const Column* const* args, size_t, size_t rows, Column& out) {
  const Column& s = *args[0];
  const Column& sub = *args[1];
  out.resize_fixed(rows);
  int64_t* r = out.mutable_ints();
  uint8_t* vr = out.mutable_validity();
  for (size_t i = 0; i < rows; ++i) {
    vr[i] = s.validity()[i] & sub.validity()[i];
    if (!vr[i]) continue;
    std::string_view v = s.string_at(i);
    const size_t hit = v.find(sub.string_at(i));
    r[i] = hit == std::string_view::npos ? 0 : char_count(v.substr(0, hit)) + 1;
  }
}

ScalarKernel affix_kernel(bool prefix) {
  return [prefix](const Column* const* args, size_t, size_t rows, Column& out) {
    const Column& s = *args[0];
    const Column& a = *args[1];
    out.resize_fixed(rows);
    int64_t* r = out.mutable_ints();
    uint8_t* vr = out.mutable_validity();
    for (size_t i = 0; i < rows; ++i) {
      vr[i] = s.validity()[i] & a.validity()[i];
      std::string_view v = s.string_at(i), x = a.string_at(i);
      r[i] = v.size() >= x.size() &&
             std::memcmp(v.data() + (prefix ? 0 : v.size() - x.size()), x.data(), x.size()) == 0;
    }
  };
}

// ---- padding and repetition

ScalarKernel pad_kernel(bool left) {
  return [left](const Column* const* args, size_t num_args, size_t rows, Column& out) {
    const Column& s = *args[0];
    const Column& len = *args[1];
    for_rows(args, num_args, rows, out, [&](size_t row) {
      std::string_view v = s.string_at(row);
      std::string_view fill = num_args > 2 ? args[2]->string_at(row) : std::string_view(" ");
      const int64_t target = len.int_at(row);
      if (target <= 0) {
        out.append_string({});
        return;
      }
      const int64_t have = char_count(v);
      if (have >= target) {  // PostgreSQL truncates (on the right) to the target length
        out.append_string(v.substr(0, skip_chars(v, 0, target)));
        return;
      }
      if (fill.empty()) {
        out.append_string(v);
        return;
      }
      const int64_t pad = target - have;
      if (static_cast<uint64_t>(pad) > kMaxStringResultBytes / 4) {
        out.append_null();
        return;
      }
      std::string& buf = string_buffer();
      if (!left) buf.append(v);
      size_t fpos = 0;
      for (int64_t k = 0; k < pad; ++k) {
        if (fpos >= fill.size()) fpos = 0;
        const size_t e = next_char(fill, fpos);
        buf.append(fill.substr(fpos, e - fpos));
        fpos = e;
      }
      if (left) buf.append(v);
      out.append_string(buf);
    });
  };
}

void repeat_kernel(const Column* const* args, size_t, size_t rows, Column& out) {
  const Column& s = *args[0];
  const Column& n = *args[1];
  for_rows(args, 2, rows, out, [&](size_t row) {
    std::string_view v = s.string_at(row);
    const int64_t k = n.int_at(row);
    if (k <= 0 || v.empty()) {
      out.append_string({});
      return;
    }
    if (static_cast<uint64_t>(k) > kMaxStringResultBytes / v.size()) {
      out.append_null();
      return;
    }
    std::string& buf = string_buffer();
    for (int64_t i = 0; i < k; ++i) buf.append(v);
    out.append_string(buf);
  });
}

void reverse_kernel(const Column* const* args, size_t, size_t rows, Column& out) {
  const Column& s = *args[0];
  for_rows(args, 1, rows, out, [&](size_t row) {
    std::string_view v = s.string_at(row);
    std::string& buf = string_buffer();
    for (size_t e = v.size(); e > 0;) {  // whole characters, so UTF-8 stays valid
      const size_t b = prev_char(v, e);
      buf.append(v.substr(b, e - b));
      e = b;
    }
    out.append_string(buf);
  });
}

// ---- lengths

void char_length_kernel(const Column* const* args, size_t, size_t rows, Column& out) {
  const Column& s = *args[0];
  out.resize_fixed(rows);
  int64_t* r = out.mutable_ints();
  uint8_t* vr = out.mutable_validity();
  for (size_t i = 0; i < rows; ++i) {
    vr[i] = s.validity()[i];
    r[i] = char_count(s.string_at(i));
  }
}

void octet_length_kernel(const Column* const* args, size_t, size_t rows, Column& out) {
  const Column& s = *args[0];
  out.resize_fixed(rows);
  int64_t* r = out.mutable_ints();
  uint8_t* vr = out.mutable_validity();
  for (size_t i = 0; i < rows; ++i) {
    vr[i] = s.validity()[i];
    r[i] = static_cast<int64_t>(s.string_at(i).size());
  }
}

// ---- concatenation (arguments arrive as TEXT: make_call casts them, see any_args_as_text)

void concat_fn_kernel(const Column* const* args, size_t num_args, size_t rows, Column& out) {
  for (size_t row = 0; row < rows; ++row) {
    std::string& buf = string_buffer();
    for (size_t k = 0; k < num_args; ++k) {
      if (args[k]->is_valid(row)) buf.append(args[k]->string_at(row));
    }
    out.append_string(buf);
  }
}

void concat_ws_kernel(const Column* const* args, size_t num_args, size_t rows, Column& out) {
  const Column& sep = *args[0];
  for (size_t row = 0; row < rows; ++row) {
    if (sep.is_null(row)) {
      out.append_null();
      continue;
    }
    std::string& buf = string_buffer();
    bool first = true;
    for (size_t k = 1; k < num_args; ++k) {
      if (args[k]->is_null(row)) continue;
      if (!first) buf.append(sep.string_at(row));
      buf.append(args[k]->string_at(row));
      first = false;
    }
    out.append_string(buf);
  }
}

// ---- like_escape(pattern, escape)
//
// Rewrites a LIKE pattern written with a custom escape character into the same pattern with
// the default backslash escape. PostgreSQL's parser turns `s LIKE p ESCAPE e` into
// `s LIKE like_escape(p, e)`, and pg_query hands the binder exactly that. An empty escape
// disables escaping; an escape of more than one character is NULL (an error in PostgreSQL).
void like_escape_kernel(const Column* const* args, size_t, size_t rows, Column& out) {
  const Column& pat = *args[0];
  const Column& esc = *args[1];
  for_rows(args, 2, rows, out, [&](size_t row) {
    std::string_view p = pat.string_at(row), e = esc.string_at(row);
    if (!e.empty() && next_char(e, 0) != e.size()) {
      out.append_null();
      return;
    }
    std::string& buf = string_buffer();
    auto append_literal = [&](std::string_view ch) {
      if (ch == "%" || ch == "_" || ch == "\\") buf.push_back('\\');
      buf.append(ch);
    };
    for (size_t i = 0; i < p.size();) {
      const size_t end = next_char(p, i);
      std::string_view ch = p.substr(i, end - i);
      i = end;
      if (!e.empty() && ch == e) {
        if (i < p.size()) {  // the escaped character is literal
          const size_t e2 = next_char(p, i);
          append_literal(p.substr(i, e2 - i));
          i = e2;
        } else {  // a trailing escape matches itself
          append_literal(ch);
        }
      } else if (ch == "\\") {
        buf.append("\\\\");  // not the escape here, so a literal backslash
      } else {
        buf.append(ch);
      }
    }
    out.append_string(buf);
  });
}

// ---- md5 (RFC 1321), hex digest as in PostgreSQL

struct Md5 {
  uint32_t a = 0x67452301, b = 0xefcdab89, c = 0x98badcfe, d = 0x10325476;

  static uint32_t rotl(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

  void block(const unsigned char* p) {
    static constexpr uint32_t kK[64] = {
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
        0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
        0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
        0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
        0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
        0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
        0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
        0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};
    static constexpr int kS[64] = {7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                                   5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
                                   4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                                   6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21};
    uint32_t m[16];
    for (int i = 0; i < 16; ++i) {
      m[i] = static_cast<uint32_t>(p[i * 4]) | (static_cast<uint32_t>(p[i * 4 + 1]) << 8) |
             (static_cast<uint32_t>(p[i * 4 + 2]) << 16) | (static_cast<uint32_t>(p[i * 4 + 3]) << 24);
    }
    uint32_t A = a, B = b, C = c, D = d;
    for (int i = 0; i < 64; ++i) {
      uint32_t f;
      int g;
      if (i < 16) {
        f = (B & C) | (~B & D);
        g = i;
      } else if (i < 32) {
        f = (D & B) | (~D & C);
        g = (5 * i + 1) % 16;
      } else if (i < 48) {
        f = B ^ C ^ D;
        g = (3 * i + 5) % 16;
      } else {
        f = C ^ (B | ~D);
        g = (7 * i) % 16;
      }
      const uint32_t tmp = D;
      D = C;
      C = B;
      B = B + rotl(A + f + kK[i] + m[g], kS[i]);
      A = tmp;
    }
    a += A;
    b += B;
    c += C;
    d += D;
  }

  void hex(std::string_view data, char* out32) {
    const auto* p = reinterpret_cast<const unsigned char*>(data.data());
    size_t n = data.size();
    size_t full = n / 64;
    for (size_t i = 0; i < full; ++i) block(p + i * 64);
    unsigned char tail[128] = {};
    const size_t rem = n - full * 64;
    std::memcpy(tail, p + full * 64, rem);
    tail[rem] = 0x80;
    const size_t tail_len = rem < 56 ? 64 : 128;
    const uint64_t bits = static_cast<uint64_t>(n) * 8;
    for (int i = 0; i < 8; ++i) tail[tail_len - 8 + i] = static_cast<unsigned char>(bits >> (8 * i));
    block(tail);
    if (tail_len == 128) block(tail + 64);
    static constexpr char kHex[] = "0123456789abcdef";
    const uint32_t words[4] = {a, b, c, d};
    for (int w = 0; w < 4; ++w) {
      for (int k = 0; k < 4; ++k) {
        const unsigned byte = (words[w] >> (8 * k)) & 0xFF;
        out32[w * 8 + k * 2] = kHex[byte >> 4];
        out32[w * 8 + k * 2 + 1] = kHex[byte & 15];
      }
    }
  }
};

void md5_kernel(const Column* const* args, size_t, size_t rows, Column& out) {
  const Column& s = *args[0];
  for_rows(args, 1, rows, out, [&](size_t row) {
    char hex[32];
    Md5().hex(s.string_at(row), hex);
    out.append_string(std::string_view(hex, 32));
  });
}

}  // namespace

void register_string_functions(FunctionRegistry& r) {
  add_function(r, "lower", {kS}, kS, case_kernel(false));
  add_function(r, "upper", {kS}, kS, case_kernel(true));
  add_function(r, "initcap", {kS}, kS, initcap_kernel);
  for (const char* name : {"length", "char_length", "character_length"}) {
    add_function(r, name, {kS}, kI, char_length_kernel);
  }
  add_function(r, "octet_length", {kS}, kI, octet_length_kernel);
  for (const char* name : {"substr", "substring"}) {
    add_function(r, name, {kS, kI}, kS, substr_kernel);
    add_function(r, name, {kS, kI, kI}, kS, substr_kernel);
  }
  {
    ScalarFunction fn;
    fn.name = "concat";
    fn.arg_types = {kS};
    fn.variadic = true;
    fn.return_type = kS;
    fn.null_on_null_input = false;
    fn.any_args_as_text = true;
    fn.kernel = concat_fn_kernel;
    r.add(fn);
    fn.name = "concat_ws";
    fn.arg_types = {kS, kS};
    fn.kernel = concat_ws_kernel;
    r.add(fn);
  }
  for (const char* name : {"trim", "btrim"}) {
    add_function(r, name, {kS}, kS, trim_kernel(true, true));
    add_function(r, name, {kS, kS}, kS, trim_kernel(true, true));
  }
  add_function(r, "ltrim", {kS}, kS, trim_kernel(true, false));
  add_function(r, "ltrim", {kS, kS}, kS, trim_kernel(true, false));
  add_function(r, "rtrim", {kS}, kS, trim_kernel(false, true));
  add_function(r, "rtrim", {kS, kS}, kS, trim_kernel(false, true));
  add_function(r, "replace", {kS, kS, kS}, kS, replace_kernel);
  add_function(r, "split_part", {kS, kS, kI}, kS, split_part_kernel);
  // position(string, substring): the binder rewrites POSITION(sub IN s) to this order, as
  // PostgreSQL's grammar does.
  add_function(r, "strpos", {kS, kS}, kI, strpos_kernel);
  add_function(r, "position", {kS, kS}, kI, strpos_kernel);
  add_function(r, "starts_with", {kS, kS}, kB, affix_kernel(true));
  add_function(r, "ends_with", {kS, kS}, kB, affix_kernel(false));
  add_function(r, "left", {kS, kI}, kS, left_kernel);
  add_function(r, "right", {kS, kI}, kS, right_kernel);
  add_function(r, "lpad", {kS, kI}, kS, pad_kernel(true));
  add_function(r, "lpad", {kS, kI, kS}, kS, pad_kernel(true));
  add_function(r, "rpad", {kS, kI}, kS, pad_kernel(false));
  add_function(r, "rpad", {kS, kI, kS}, kS, pad_kernel(false));
  add_function(r, "reverse", {kS}, kS, reverse_kernel);
  add_function(r, "repeat", {kS, kI}, kS, repeat_kernel);
  add_function(r, "md5", {kS}, kS, md5_kernel);
  add_function(r, "like_escape", {kS, kS}, kS, like_escape_kernel);
}

}  // namespace sluice::expr_internal
