#include "formats/csv_decoder.h"

#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "formats/field_convert.h"

namespace sluice {
namespace {

using formats_internal::Conv;

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

class CsvDecoder final : public Decoder {
 public:
  CsvDecoder(SchemaPtr schema, char delimiter, bool header, int64_t unit_micros)
      : schema_(std::move(schema)), delimiter_(delimiter), header_(header), unit_(unit_micros) {}

  Status decode(const RawRecords& in, RecordBatch& out, std::vector<DecodeFailure>& failures,
                std::vector<uint32_t>* row_records) override;
  using Decoder::decode;

 private:
  bool decode_record(std::string_view record, RecordBatch& out);

  SchemaPtr schema_;
  char delimiter_;
  bool header_;
  int64_t unit_;
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
      if (header_) continue;
      // Spreadsheet exports often start with a byte-order mark; it is not data.
      if (record.substr(0, kUtf8Bom.size()) == kUtf8Bom) record.remove_prefix(kUtf8Bom.size());
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

// Parses the fields left to right, converting each into its column as it goes. After a
// conversion failure it keeps scanning without converting, so that a wrong field count,
// the more basic problem, is what gets reported.
bool CsvDecoder::decode_record(std::string_view record, RecordBatch& out) {
  const size_t num_columns = out.columns.size();
  const char* const data = record.data();
  const size_t n = record.size();
  size_t p = 0;
  size_t fields = 0;
  bool converting = true;
  while (true) {
    std::string_view text;
    bool quoted = false;
    if (p < n && data[p] == '"') {
      quoted = true;
      const size_t start = ++p;
      bool escaped = false;
      while (true) {
        const void* q = p < n ? std::memchr(data + p, '"', n - p) : nullptr;
        if (q == nullptr) {
          error_ = fmt::format("malformed CSV: unterminated quoted field {}", fields + 1);
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
      text = std::string_view(data + start, p - start);
      ++p;  // the closing quote
      if (p < n && data[p] != delimiter_) {
        error_ = fmt::format("malformed CSV: unexpected character after the closing quote of field {}",
                             fields + 1);
        return false;
      }
      if (escaped) {
        unescaped_.clear();
        for (size_t k = 0; k < text.size(); ++k) {
          unescaped_.push_back(text[k]);
          if (text[k] == '"') ++k;  // "" -> "
        }
        text = unescaped_;
      }
    } else {
      // Unquoted: everything up to the delimiter. A quote inside is kept as a literal
      // character (5'11" and the like), as most CSV readers do.
      const void* q = p < n ? std::memchr(data + p, delimiter_, n - p) : nullptr;
      const size_t end = q ? static_cast<size_t>(static_cast<const char*>(q) - data) : n;
      text = std::string_view(data + p, end - p);
      p = end;
    }
    if (converting && fields < num_columns) {
      Column& column = out.columns[fields];
      if (!quoted && text.empty()) {
        column.append_null();
      } else {
        Conv conv = formats_internal::append_text(column, text, unit_);
        if (conv != Conv::kOk) {
          const Field& field = schema_->field(fields);
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
  if (fields != num_columns) {
    error_ = fmt::format("expected {} fields, got {}", num_columns, fields);
    return false;
  }
  return converting;
}

}  // namespace

std::unique_ptr<Decoder> make_csv_decoder(SchemaPtr schema, char delimiter, bool header,
                                          int64_t timestamp_unit_micros) {
  return std::make_unique<CsvDecoder>(std::move(schema), delimiter, header, timestamp_unit_micros);
}

}  // namespace sluice
