#include "formats/csv_encoder.h"

#include <cmath>

#include "formats/encode_util.h"

namespace sluice {

CsvEncoder::CsvEncoder(const FormatOptions& options, SchemaPtr schema)
    : schema_(std::move(schema)), delimiter_(options.csv_delimiter), changelog_(options.changelog) {}

void CsvEncoder::append_field(std::string& out, std::string_view text) const {
  bool quote = text.empty() || text.front() == ' ' || text.back() == ' ';
  for (char c : text) {
    if (c == delimiter_ || c == '"' || c == '\n' || c == '\r') {
      quote = true;
      break;
    }
  }
  if (!quote) {
    out.append(text);
    return;
  }
  out.push_back('"');
  for (char c : text) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

std::string CsvEncoder::header() const {
  std::string out;
  if (changelog_) {
    out.append("op");
    if (schema_->size() > 0) out.push_back(delimiter_);
  }
  for (size_t c = 0; c < schema_->size(); ++c) {
    if (c) out.push_back(delimiter_);
    append_field(out, schema_->field(c).name);
  }
  out.push_back('\n');
  return out;
}

void CsvEncoder::encode_row(const RecordBatch& batch, size_t row, bool with_op, std::string& out) const {
  bool first = true;
  if (with_op || changelog_) {
    out.append(row_kind_short_name(batch.row_kind(row)));
    first = false;
  }
  for (size_t c = 0; c < schema_->size(); ++c) {
    if (!first) out.push_back(delimiter_);
    first = false;
    const Column& col = batch.column(c);
    if (col.is_null(row)) continue;  // NULL is the empty field
    switch (col.type()) {
      case TypeId::kBool: out.append(col.int_at(row) ? "true" : "false"); break;
      case TypeId::kInt64: encode::append_int(out, col.int_at(row)); break;
      case TypeId::kFloat64: {
        double d = col.double_at(row);
        if (std::isnan(d)) {
          out.append("NaN");
        } else if (std::isinf(d)) {
          out.append(d > 0 ? "Infinity" : "-Infinity");
        } else {
          encode::append_finite_double(out, d);
        }
        break;
      }
      case TypeId::kString: append_field(out, col.string_at(row)); break;
      case TypeId::kTimestamp: append_timestamp(out, col.int_at(row)); break;
      case TypeId::kInterval: out.append(format_duration(col.int_at(row))); break;
      case TypeId::kNull: break;
    }
  }
  out.push_back('\n');
}

}  // namespace sluice
