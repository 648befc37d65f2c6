// CsvEncoder: turns rows of a RecordBatch into CSV lines (RFC 4180 quoting, "\n" line
// ends), columns in schema order, separated by FormatOptions::csv_delimiter.
//
//   BOOLEAN -> true/false     BIGINT -> integer
//   DOUBLE  -> shortest round-trip decimal; NaN, Infinity, -Infinity (PostgreSQL's spelling)
//   TEXT    -> as is, quoted ("...", inner quotes doubled) when it contains the delimiter,
//              a quote, CR or LF, or leading/trailing spaces; the empty string is written
//              as "" so it stays distinguishable from NULL
//   TIMESTAMP -> 2024-01-01 00:00:00[.fff|.ffffff] (UTC)
//   INTERVAL  -> 1m30s (format_duration)
//   NULL    -> empty field
// Operations: with FormatOptions::changelog, every row starts with an op column (+I/-U/+U/-D)
// and header() starts with "op". Without it, encode_row(with_op=true) still prefixes the op
// (the console uses this to show updates), which then is a column the header does not name.
//
// Created once per sink writer; stateless after construction (encode_row is const).
#pragma once

#include <string>
#include <string_view>

#include "formats/format.h"

namespace sluice {

class CsvEncoder : public Encoder {
 public:
  CsvEncoder(const FormatOptions& options, SchemaPtr schema);
  std::string header() const override;
  void encode_row(const RecordBatch& batch, size_t row, bool with_op, std::string& out) const override;

 private:
  void append_field(std::string& out, std::string_view text) const;

  SchemaPtr schema_;
  char delimiter_;
  bool changelog_;
};

}  // namespace sluice
