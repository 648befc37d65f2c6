// libFuzzer target for the CSV decoder and the CSV record splitter (LineReader with CSV
// quoting). Beyond "no crash, no sanitizer report" it checks:
//  - decode() returns ok (or, with the header option, a clear error for a header naming no
//    declared column), all columns have num_rows rows, failures are in record order and
//    every record is a row, a failure, a skipped header or a blank line;
//  - differential: with an all-TEXT schema, every accepted record's values equal what a
//    small, obviously-correct character-at-a-time RFC 4180 parser (below) produces, with
//    columns matched by header name when the header option is set;
//  - the splitter (mode 2) cuts records exactly where a character-at-a-time reference
//    splitter does, whatever its read chunk size, with right offsets and line numbers, and
//    sets aside records over max_line_bytes.
// The first byte picks delimiter, header option and schema; the second how records are cut:
// at '\n' (one line per record), the whole input as one record (quoted newlines), or by
// the LineReader (chunk size and max_line_bytes from the second byte).
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

#include "connectors/line_reader.h"
#include "formats/format.h"

namespace {

using namespace sluice;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_csv_decoder: invariant violated: %s\n", what);
    std::abort();
  }
}

// What the decoder strips before parsing: one line ending, and a BOM on line 1.
std::string_view strip(std::string_view r, int64_t line) {
  if (!r.empty() && r.back() == '\n') r.remove_suffix(1);
  if (!r.empty() && r.back() == '\r') r.remove_suffix(1);
  if (line == 1 && r.substr(0, 3) == "\xEF\xBB\xBF") r.remove_prefix(3);
  return r;
}

// Reference parser (input already stripped): nullopt for malformed records; std::nullopt fields mean NULL.
using Fields = std::vector<std::optional<std::string>>;
std::optional<Fields> reference_parse(std::string_view r, char delim) {
  Fields out;
  std::string cur;
  enum { kStart, kUnquoted, kQuoted, kAfterQuote } state = kStart;
  bool quoted = false;
  auto emit = [&] {
    if (!quoted && cur.empty()) {
      out.emplace_back(std::nullopt);
    } else {
      out.emplace_back(cur);
    }
    cur.clear();
    quoted = false;
  };
  for (size_t i = 0; i < r.size(); ++i) {
    char c = r[i];
    switch (state) {
      case kStart:
        if (c == '"') {
          state = kQuoted;
          quoted = true;
        } else if (c == delim) {
          emit();
        } else {
          cur.push_back(c);
          state = kUnquoted;
        }
        break;
      case kUnquoted:
        if (c == delim) {
          emit();
          state = kStart;
        } else {
          cur.push_back(c);
        }
        break;
      case kQuoted:
        if (c == '"') {
          state = kAfterQuote;
        } else {
          cur.push_back(c);
        }
        break;
      case kAfterQuote:
        if (c == '"') {
          cur.push_back('"');
          state = kQuoted;
        } else if (c == delim) {
          emit();
          state = kStart;
        } else {
          return std::nullopt;
        }
        break;
    }
  }
  if (state == kQuoted) return std::nullopt;
  emit();
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

// Header names -> column per field (-1: none), exact names first, then case-insensitive.
std::vector<int> header_mapping(const Fields& names, const Schema& schema, size_t* matched) {
  std::vector<int> field_column(names.size(), -1);
  *matched = 0;
  for (size_t c = 0; c < schema.size(); ++c) {
    int found = -1;
    for (int pass = 0; pass < 2 && found < 0; ++pass) {
      for (size_t f = 0; f < names.size() && found < 0; ++f) {
        std::string_view name = trim(names[f] ? std::string_view(*names[f]) : std::string_view());
        bool same = pass == 0 ? name == schema.field(c).name : iequal(name, schema.field(c).name);
        if (field_column[f] < 0 && same) found = static_cast<int>(f);
      }
    }
    if (found >= 0) {
      field_column[static_cast<size_t>(found)] = static_cast<int>(c);
      ++*matched;
    }
  }
  return field_column;
}

// Reference record splitter: [begin, end) of each record (line end excluded), the index of
// its first line, char at a time. A '\n' ends a record unless inside a quoted field.
struct Cut {
  size_t begin, end;
  int64_t line;
};
std::vector<Cut> reference_split(std::string_view t, char delim) {
  std::vector<Cut> out;
  enum { kStart, kUnquoted, kQuoted, kAfterQuote } state = kStart;
  size_t begin = 0;
  int64_t line = 1, record_line = 1;
  for (size_t i = 0; i < t.size(); ++i) {
    char c = t[i];
    if (c == '\n' && state != kQuoted) {
      out.push_back({begin, i, record_line});
      begin = i + 1;
      record_line = ++line;
      state = kStart;
      continue;
    }
    if (c == '\n') ++line;
    switch (state) {
      case kStart: state = c == '"' ? kQuoted : c == delim ? kStart : kUnquoted; break;
      case kUnquoted: state = c == delim ? kStart : kUnquoted; break;
      case kQuoted: state = c == '"' ? kAfterQuote : kQuoted; break;
      case kAfterQuote: state = c == '"' ? kQuoted : c == delim ? kStart : kUnquoted; break;
    }
  }
  if (begin < t.size()) out.push_back({begin, t.size(), record_line});
  return out;
}

bool blank(std::string_view r) {
  for (char c : r) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\f' && c != '\v') return false;
  }
  return true;
}

// Cuts `text` with a LineReader over an in-memory file and checks it against
// reference_split. Returns the records (oversized ones set aside).
RawRecords split_with_reader(std::string_view text, char delim, uint8_t knobs) {
  int fd = ::memfd_create("fuzz_csv", 0);
  check(fd >= 0, "memfd_create failed");
  check(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()), "memfd write failed");
  check(::lseek(fd, 0, SEEK_SET) == 0, "lseek failed");
  LineReader::Options o;
  o.csv_quoting = true;
  o.csv_delimiter = delim;
  o.chunk_bytes = size_t{1} << ((knobs >> 2) & 7);  // 1 .. 128 bytes
  o.max_line_bytes = size_t{8} << ((knobs >> 5) & 7);  // 8 .. 1024 bytes
  o.idle_wait_ms = 0;
  LineReader reader(fd, "fuzz", o);
  RawRecords all, batch;
  for (int polls = 0;; ++polls) {
    check(polls < 1000000, "reader does not end");
    batch.clear();
    auto st = reader.poll(batch, 7);
    check(st.is_ok(), "reader poll failed");
    for (size_t k = 0; k < batch.size(); ++k) all.append_record(batch.record(k), batch.offsets[k], batch.lines[k]);
    for (size_t k = 0; k < batch.oversized.size(); ++k) {
      const OversizedRecord& r = batch.oversized[k];
      all.append_oversized(batch.oversized_prefix(k), r.offset, r.line, r.size_bytes, r.limit_bytes);
    }
    if (st.value() == PollStatus::kEnd) break;
  }
  check(reader.position() == static_cast<int64_t>(text.size()), "reader did not consume the input");
  ::close(fd);
  // What the reader must return: the reference cuts, minus a leading byte-order mark, blank
  // records, and records over the limit set aside.
  std::string_view body = text;
  size_t shift = 0;
  if (body.substr(0, 3) == "\xEF\xBB\xBF") {
    body.remove_prefix(3);
    shift = 3;
  }
  size_t r = 0, x = 0;
  for (const Cut& cut : reference_split(body, delim)) {
    const size_t len = cut.end - cut.begin;
    std::string_view rec = body.substr(cut.begin, len);
    if (len > o.max_line_bytes) {
      check(x < all.oversized.size(), "reader missed an oversized record");
      const OversizedRecord& got = all.oversized[x];
      check(got.offset == static_cast<int64_t>(cut.begin + shift) && got.line == cut.line, "oversized origin");
      check(got.size_bytes == static_cast<int64_t>(len), "oversized size");
      check(all.oversized_prefix(x) == rec.substr(0, std::min(o.max_line_bytes, kOversizedPrefixBytes)),
            "oversized prefix");
      ++x;
      continue;
    }
    if (!rec.empty() && rec.back() == '\r') rec.remove_suffix(1);
    if (blank(rec)) continue;
    check(r < all.size(), "reader missed a record");
    check(all.record(r) == rec, "reader cut a record differently from the reference");
    check(all.offsets[r] == static_cast<int64_t>(cut.begin + shift) && all.lines[r] == cut.line, "record origin");
    ++r;
  }
  check(r == all.size() && x == all.oversized.size(), "reader returned extra records");
  return all;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t flags = data[0];
  const bool whole = data[1] & 1;
  const bool reader_cut = data[1] & 2;
  std::string_view text(reinterpret_cast<const char*>(data + 2), size - 2);

  static const char kDelims[] = {',', ';', '\t', '|'};
  FormatOptions options;
  options.format = "csv";
  options.csv_delimiter = kDelims[flags & 3];
  options.csv_header = flags & 4;
  options.timestamp_unit = (flags & 8) ? "s" : "ms";
  const bool all_text = flags & 16;
  static SchemaPtr text_schema =
      make_schema({{"a", TypeId::kString}, {"b", TypeId::kString}, {"c", TypeId::kString}});
  static SchemaPtr typed_schema = make_schema({{"b", TypeId::kBool}, {"i", TypeId::kInt64},
                                               {"d", TypeId::kFloat64}, {"s", TypeId::kString},
                                               {"t", TypeId::kTimestamp}, {"v", TypeId::kInterval}});
  SchemaPtr schema = all_text ? text_schema : typed_schema;
  auto made = make_decoder(options, schema);
  check(made.is_ok(), "make_decoder failed");

  RawRecords in;
  if (reader_cut) {
    in = split_with_reader(text, options.csv_delimiter, data[1]);
  } else if (whole) {
    in.append_record(text, 0, 1);
  } else {
    size_t start = 0;
    int64_t line = 1;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      end = end == std::string_view::npos ? text.size() : end + 1;  // keep the '\n'
      in.append_record(text.substr(start, end - start), static_cast<int64_t>(start), line++);
      start = end;
    }
  }
  in.finish();

  // The header (the record on line 1 with the header option) maps fields to columns.
  std::optional<std::vector<int>> mapping;
  bool bad_header = false;
  if (options.csv_header && !in.empty() && in.lines[0] == 1) {
    auto names = reference_parse(strip(in.record(0), 1), options.csv_delimiter);
    size_t matched = 0;
    if (names) mapping = header_mapping(*names, *schema, &matched);
    bad_header = !names || matched == 0;
  }

  RecordBatch batch(schema);
  std::vector<DecodeFailure> failures;
  Status decoded = (*made)->decode(in, batch, failures);
  if (bad_header) {
    check(!decoded.is_ok(), "decoder accepted a header that names no column or is malformed");
    check(decoded.message().find("CSV header on line 1") == 0, "header error does not say so");
    return 0;
  }
  check(decoded.is_ok(), "decode returned an error status");
  for (const Column& c : batch.columns) check(c.size() == batch.num_rows, "column size != num_rows");
  const size_t expected_fields = mapping ? mapping->size() : schema->size();

  size_t row = 0, failure = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    const bool failed = failure < failures.size() && failures[failure].record == i;
    if (failed) {
      check(!failures[failure].error.empty(), "empty failure message");
      check(failures[failure].error.find('\n') == std::string::npos, "multi-line failure message");
      ++failure;
      continue;
    }
    const bool header = options.csv_header && in.lines[i] == 1;
    std::string_view stripped = strip(in.record(i), in.lines[i]);
    if (header || stripped.empty()) continue;
    check(row < batch.num_rows, "more good records than rows");
    if (all_text) {
      auto expected = reference_parse(stripped, options.csv_delimiter);
      check(expected.has_value(), "decoder accepted a malformed record");
      check(expected->size() == expected_fields, "decoder accepted a wrong field count");
      for (size_t c = 0; c < schema->size(); ++c) {
        std::optional<std::string> want;  // NULL unless a field maps to the column
        if (!mapping) {
          want = (*expected)[c];
        } else {
          for (size_t f = 0; f < mapping->size(); ++f) {
            if ((*mapping)[f] == static_cast<int>(c)) want = (*expected)[f];
          }
        }
        const Column& col = batch.column(c);
        check(want.has_value() == col.is_valid(row), "NULL mismatch with reference parser");
        if (want) check(col.string_at(row) == *want, "value mismatch with reference parser");
      }
    }
    ++row;
  }
  check(failure == failures.size(), "failure index out of range or out of order");
  check(row == batch.num_rows, "row count != good records");
  if (all_text) {
    // Rejected records must be malformed for the reference parser too.
    for (const DecodeFailure& f : failures) {
      auto expected = reference_parse(strip(in.record(f.record), in.lines[f.record]), options.csv_delimiter);
      check(!expected || expected->size() != expected_fields, "decoder rejected a well-formed record");
    }
  }
  return 0;
}
