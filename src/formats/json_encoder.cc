#include "formats/json_encoder.h"

#include <cmath>

#include "formats/encode_util.h"

namespace sluice {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void append_u00(std::string& out, unsigned char c) {
  const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
  out.append(esc, 6);
}

// Length of the valid UTF-8 sequence starting at s[0] (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF), or 0 when s[0] does not start one.
size_t utf8_sequence_length(const unsigned char* s, size_t n) {
  unsigned char c = s[0];
  auto cont = [&](size_t i) { return i < n && (s[i] & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && s[1] < 0xA0) return 0;  // overlong
    if (c == 0xED && s[1] > 0x9F) return 0;  // UTF-16 surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && s[1] < 0x90) return 0;  // overlong
    if (c == 0xF4 && s[1] > 0x8F) return 0;  // > U+10FFFF
    return 4;
  }
  return 0;
}

}  // namespace

void append_json_string(std::string& out, std::string_view sv) {
  const auto* s = reinterpret_cast<const unsigned char*>(sv.data());
  const size_t n = sv.size();
  out.push_back('"');
  size_t i = 0;
  while (i < n) {
    // Copy the longest run that needs no escaping in one append (the common case: all of it).
    size_t run = i;
    while (run < n && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '"' && s[run] != '\\') ++run;
    out.append(sv.data() + i, run - i);
    i = run;
    if (i >= n) break;
    unsigned char c = s[i];
    if (c >= 0x80) {
      size_t len = utf8_sequence_length(s + i, n - i);
      if (len == 0) {
        append_u00(out, c);
        ++i;
      } else {
        out.append(sv.data() + i, len);
        i += len;
      }
      continue;
    }
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\b': out.append("\\b"); break;
      case '\f': out.append("\\f"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default: append_u00(out, c); break;
    }
    ++i;
  }
  out.push_back('"');
}

JsonEncoder::JsonEncoder(const FormatOptions& options, SchemaPtr schema)
    : schema_(std::move(schema)), changelog_(options.changelog) {
  keys_.reserve(schema_->size());
  for (const auto& f : schema_->fields()) {
    std::string key;
    append_json_string(key, f.name);
    key.push_back(':');
    keys_.push_back(std::move(key));
  }
}

void JsonEncoder::omit_column(size_t c) {
  omit_.resize(keys_.size(), 0);
  if (c < omit_.size()) omit_[c] = 1;
}

void JsonEncoder::encode_row(const RecordBatch& batch, size_t row, bool with_op, std::string& out) const {
  out.push_back('{');
  bool first = true;
  if (with_op || changelog_) {
    out.append("\"op\":\"");
    out.append(row_kind_short_name(batch.row_kind(row)));
    out.push_back('"');
    first = false;
  }
  for (size_t c = 0; c < keys_.size(); ++c) {
    if (!omit_.empty() && omit_[c]) continue;
    if (!first) out.push_back(',');
    first = false;
    out.append(keys_[c]);
    const Column& col = batch.column(c);
    if (col.is_null(row)) {
      out.append("null");
      continue;
    }
    switch (col.type()) {
      case TypeId::kBool: out.append(col.int_at(row) ? "true" : "false"); break;
      case TypeId::kInt64: encode::append_int(out, col.int_at(row)); break;
      case TypeId::kFloat64: {
        double d = col.double_at(row);
        if (std::isfinite(d)) {
          encode::append_finite_double(out, d);
        } else {
          out.append("null");
        }
        break;
      }
      case TypeId::kString: append_json_string(out, col.string_at(row)); break;
      case TypeId::kTimestamp:
        out.push_back('"');
        encode::append_timestamp_iso(out, col.int_at(row));
        out.push_back('"');
        break;
      case TypeId::kInterval:
        out.push_back('"');
        out.append(format_duration(col.int_at(row)));
        out.push_back('"');
        break;
      case TypeId::kNull: out.append("null"); break;
    }
  }
  out.append("}\n");
}

}  // namespace sluice
