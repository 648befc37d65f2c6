#include "formats/csv_decoder.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "common/logging.h"
#include "formats/field_convert.h"

namespace sluice {
namespace {

using formats_internal::Conv;

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

bool iequal_ascii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

class CsvDecoder final : public Decoder {
 public:
  CsvDecoder(SchemaPtr schema, char delimiter, bool header, int64_t unit_micros)
      : schema_(std::move(schema)), delimiter_(delimiter), header_(header), unit_(unit_micros) {}

  Status decode(const RawRecords& in, RecordBatch& out, std::vector<DecodeFailure>& failures,
                std::vector<uint32_t>* row_records) override;
  using Decoder::decode;
  bool changes_state(const RawRecords& in) const override {
    return header_ && std::find(in.lines.begin(), in.lines.end(), 1) != in.lines.end();
  }
  Status observe(const RawRecords& in) override;

 private:
  // Cuts the field starting at `p` (a delimiter or the record's end follows it); `text` may
  // point into unescaped_. False (error_ set) for a malformed quoted field.
  bool next_field(std::string_view record, size_t& p, size_t field_no, std::string_view* text, bool* quoted);
  bool decode_record(std::string_view record, RecordBatch& out);
  // Maps the header's field names to the declared columns; `quiet`: without the warnings
  // (observe(): the decoder that decodes the header logs them).
  Status read_header(std::string_view record, bool quiet = false);
  // The record on line 1 without its line end and byte-order mark.
  static std::string_view first_line_record(std::string_view record);

  SchemaPtr schema_;
  char delimiter_;
  bool header_;
  int64_t unit_;
  // Set once a header record was read: field index -> column (-1: not declared), the
  // header's field count, and the columns no header field names (always NULL).
  bool by_name_ = false;
  std::vector<int> field_column_;
  std::vector<size_t> unnamed_columns_;
  std::string unescaped_;  // a quoted field with "" escapes, unescaped
  std::string error_;
};

Status CsvDecoder::decode(const RawRecords& in, RecordBatch& out, std::vector<DecodeFailure>& failures,
                          std::vector<uint32_t>* row_records) {
  RETURN_IF_ERROR(formats_internal::check_decode_input(in, out, *schema_));
  size_t rows = out.num_rows;
  for (size_t i = 0; i < in.size(); ++i) {
    std::string_view record = in.record(i);
    if (!record.empty() && record.back() == '\n') record.remove_suffix(1);
    if (!record.empty() && record.back() == '\r') record.remove_suffix(1);
    const bool first_line = i < in.lines.size() && in.lines[i] == 1;
    if (first_line) {
      record = first_line_record(record);
      if (header_) {
        RETURN_IF_ERROR(read_header(record));
        continue;
      }
    }
    // A blank line is not a row (a trailing newline, a separator), so not a failure either.
    if (record.empty()) continue;
    if (decode_record(record, out)) {
      ++rows;
      if (row_records) row_records->push_back(static_cast<uint32_t>(i));
      out.num_rows = rows;
      continue;
    }
    for (Column& column : out.columns) column.truncate(rows);
    failures.push_back(DecodeFailure{static_cast<uint32_t>(i), std::move(error_)});
    error_.clear();
  }
  out.num_rows = rows;
  return Status::ok();
}

bool CsvDecoder::next_field(std::string_view record, size_t& p, size_t field_no, std::string_view* text,
                            bool* quoted) {
  const char* const data = record.data();
  const size_t n = record.size();
  *quoted = false;
  if (p < n && data[p] == '"') {
    *quoted = true;
    const size_t start = ++p;
    bool escaped = false;
    while (true) {
      const void* q = p < n ? std::memchr(data + p, '"', n - p) : nullptr;
      if (q == nullptr) {
        error_ = fmt::format("malformed CSV: unterminated quoted field {}", field_no);
        return false;
      }
      p = static_cast<size_t>(static_cast<const char*>(q) - data);
      if (p + 1 < n && data[p + 1] == '"') {
        escaped = true;
        p += 2;
        continue;
      }
      break;
    }
    *text = std::string_view(data + start, p - start);
    ++p;  // the closing quote
    if (p < n && data[p] != delimiter_) {
      error_ = fmt::format("malformed CSV: unexpected character after the closing quote of field {}", field_no);
      return false;
    }
    if (escaped) {
      unescaped_.clear();
      for (size_t k = 0; k < text->size(); ++k) {
        unescaped_.push_back((*text)[k]);
        if ((*text)[k] == '"') ++k;  // "" -> "
      }
      *text = unescaped_;
    }
    return true;
  }
  // Unquoted: everything up to the delimiter. A quote inside is kept as a literal character
  // (5'11" and the like), as most CSV readers do.
  const void* q = p < n ? std::memchr(data + p, delimiter_, n - p) : nullptr;
  const size_t end = q ? static_cast<size_t>(static_cast<const char*>(q) - data) : n;
  *text = std::string_view(data + p, end - p);
  p = end;
  return true;
}

// Parses the fields left to right, converting each into its column as it goes. After a
// conversion failure it keeps scanning without converting, so that a wrong field count,
// the more basic problem, is what gets reported.
bool CsvDecoder::decode_record(std::string_view record, RecordBatch& out) {
  const size_t num_columns = out.columns.size();
  const size_t expected = by_name_ ? field_column_.size() : num_columns;
  const size_t n = record.size();
  size_t p = 0;
  size_t fields = 0;
  bool converting = true;
  while (true) {
    std::string_view text;
    bool quoted = false;
    if (!next_field(record, p, fields + 1, &text, &quoted)) return false;
    const int c = by_name_ ? (fields < expected ? field_column_[fields] : -1)
                           : (fields < num_columns ? static_cast<int>(fields) : -1);
    if (converting && c >= 0) {
      Column& column = out.columns[static_cast<size_t>(c)];
      if (!quoted && text.empty()) {
        column.append_null();
      } else {
        Conv conv = formats_internal::append_text(column, text, unit_);
        if (conv != Conv::kOk) {
          const Field& field = schema_->field(static_cast<size_t>(c));
          error_ = formats_internal::conversion_error(field.name, field.type, unit_, conv, {}, text,
                                                      /*quote=*/true);
          converting = false;
        }
      }
    }
    ++fields;
    if (p >= n) break;
    ++p;  // the delimiter; a delimiter at the very end starts one more (empty) field
  }
  if (fields != expected) {
    error_ = by_name_ ? fmt::format("expected {} fields (as in the header), got {}", expected, fields)
                      : fmt::format("expected {} fields, got {}", expected, fields);
    return false;
  }
  if (converting) {
    for (size_t c : unnamed_columns_) out.columns[c].append_null();
  }
  return converting;
}

std::string_view CsvDecoder::first_line_record(std::string_view record) {
  // Spreadsheet exports often start with a byte-order mark; it is not data.
  if (record.substr(0, kUtf8Bom.size()) == kUtf8Bom) record.remove_prefix(kUtf8Bom.size());
  return record;
}

Status CsvDecoder::observe(const RawRecords& in) {
  if (!header_) return Status::ok();
  for (size_t i = 0; i < in.size() && i < in.lines.size(); ++i) {
    if (in.lines[i] != 1) continue;
    std::string_view record = in.record(i);
    if (!record.empty() && record.back() == '\n') record.remove_suffix(1);
    if (!record.empty() && record.back() == '\r') record.remove_suffix(1);
    RETURN_IF_ERROR(read_header(first_line_record(record), /*quiet=*/true));
  }
  return Status::ok();
}

Status CsvDecoder::read_header(std::string_view record, bool quiet) {
  // Header names, trimmed of blanks (a header is written by people: "id, name").
  std::vector<std::string> names;
  size_t p = 0;
  while (true) {
    std::string_view text;
    bool quoted = false;
    if (!next_field(record, p, names.size() + 1, &text, &quoted)) {
      std::string msg = std::move(error_);
      error_.clear();
      return invalid_argument("CSV header on line 1: {}", msg);
    }
    names.emplace_back(formats_internal::trim_blanks(text));
    if (p >= record.size()) break;
    ++p;
  }
  const Schema& schema = *schema_;
  std::vector<int> field_column(names.size(), -1);
  std::vector<size_t> unnamed;
  size_t matched = 0;
  for (size_t c = 0; c < schema.size(); ++c) {
    // An exact name wins over a case-insensitive one (the JSON decoder's rule).
    int found = -1;
    for (size_t f = 0; f < names.size() && found < 0; ++f) {
      if (field_column[f] < 0 && names[f] == schema.field(c).name) found = static_cast<int>(f);
    }
    for (size_t f = 0; f < names.size() && found < 0; ++f) {
      if (field_column[f] < 0 && iequal_ascii(names[f], schema.field(c).name)) found = static_cast<int>(f);
    }
    if (found >= 0) {
      field_column[static_cast<size_t>(found)] = static_cast<int>(c);
      ++matched;
    } else {
      unnamed.push_back(c);
    }
  }
  if (matched == 0) {
    std::string declared;
    for (size_t c = 0; c < schema.size(); ++c) declared += (c ? ", " : "") + schema.field(c).name;
    std::string header;
    formats_internal::append_excerpt(header, record, 200);
    return invalid_argument("CSV header on line 1 ({}) names none of the declared columns ({}); "
                            "with header = 'true' columns are matched by name",
                            header, declared);
  }
  if (!quiet) {
    for (size_t c : unnamed) {
      log_warn("CSV header on line 1 has no field named '{}': the column is NULL in every row",
               schema.field(c).name);
    }
  }
  field_column_ = std::move(field_column);
  unnamed_columns_ = std::move(unnamed);
  by_name_ = true;
  return Status::ok();
}

}  // namespace

std::unique_ptr<Decoder> make_csv_decoder(SchemaPtr schema, char delimiter, bool header,
                                          int64_t timestamp_unit_micros) {
  return std::make_unique<CsvDecoder>(std::move(schema), delimiter, header, timestamp_unit_micros);
}

}  // namespace sluice
