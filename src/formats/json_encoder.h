// JsonEncoder: turns rows of a RecordBatch into JSON lines, one object per row with the
// fields in schema column order: {"col": value, ...}.
//
//   BOOLEAN -> true/false          BIGINT -> integer
//   DOUBLE  -> shortest round-trip decimal; NaN and +-Inf (not representable) -> null
//   TEXT    -> JSON string; invalid UTF-8 bytes are written as \u00XX (their Latin-1
//              reading) so the output is always valid JSON and no byte is silently lost
//   TIMESTAMP -> "2024-01-01T00:00:00Z" (ISO-8601, UTC, fraction only when non-zero)
//   INTERVAL  -> "1m30s" (format_duration)
//   NULL    -> null
// With an op (encode_row's with_op, or FormatOptions::changelog), "op":"+I"/"-U"/"+U"/"-D"
// is the first field.
//
// Created once per sink writer; encode_row() is const and keeps no state, so an encoder
// may be used from any thread but is normally used by its sink task only.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "formats/format.h"

namespace sluice {

// Appends `s` as a quoted JSON string literal (escaping as described above). Shared so
// other writers of JSON (generator tests, DLQ) can produce the same, always-valid output.
void append_json_string(std::string& out, std::string_view s);

class JsonEncoder : public Encoder {
 public:
  JsonEncoder(const FormatOptions& options, SchemaPtr schema);
  void encode_row(const RecordBatch& batch, size_t row, bool with_op, std::string& out) const override;
  // Leaves column `c` out of the objects (a message sink's metadata columns: the Kafka
  // sink's _headers and _timestamp travel beside the value). Call before encoding.
  void omit_column(size_t c);

 private:
  SchemaPtr schema_;
  bool changelog_;
  std::vector<uint8_t> omit_;  // empty: every column
  // `"name":` for each column, escaped once here instead of once per row.
  std::vector<std::string> keys_;
};

}  // namespace sluice
