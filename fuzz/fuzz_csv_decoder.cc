// libFuzzer target for the CSV decoder. Beyond "no crash, no sanitizer report" it checks:
//  - decode() returns ok, all columns have num_rows rows, failures are in record order and
//    every record is a row, a failure, a skipped header or a blank line;
//  - differential: with an all-TEXT schema, every accepted record's values equal what a
//    small, obviously-correct character-at-a-time RFC 4180 parser (below) produces.
// The first byte picks delimiter, header option and schema; the second how records are cut:
// at '\n' (one line per record) or the whole input as one record (quoted newlines).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t flags = data[0];
  const bool whole = data[1] & 1;
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
  if (whole) {
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

  RecordBatch batch(schema);
  std::vector<DecodeFailure> failures;
  check((*made)->decode(in, batch, failures).is_ok(), "decode returned an error status");
  for (const Column& c : batch.columns) check(c.size() == batch.num_rows, "column size != num_rows");

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
      check(expected->size() == schema->size(), "decoder accepted a wrong field count");
      for (size_t c = 0; c < schema->size(); ++c) {
        const auto& want = (*expected)[c];
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
      check(!expected || expected->size() != schema->size(), "decoder rejected a well-formed record");
    }
  }
  return 0;
}
