// Field conversions shared by the JSON and CSV decoders: turning one field's text (a CSV
// field, a JSON string) or a JSON number into a value of the declared column type, and
// wording the failure precisely when that is impossible.
//
// Stateless functions, safe from any thread. Nothing here allocates on success, so the
// decoders' per-record hot path stays allocation free; failure messages do allocate.
//
// Rules (the same for both formats so that a schema means the same thing everywhere):
//   BOOLEAN   true/false, t/f, 1/0 (case-insensitive text); numbers 0 and 1
//   BIGINT    integer text ("42", "+7", "-3"); numbers with an exact integral value
//   DOUBLE    any decimal/exponent text, inf, nan; any number
//   TEXT      the text as is; numbers keep their JSON spelling
//   TIMESTAMP ISO-8601 text (try_parse_timestamp); a number, or numeric text, is an epoch
//             value in the timestamp unit ("s", "ms" default, "us"), fractions allowed
//   INTERVAL  a number, or numeric text, in the timestamp unit; other text goes to
//             parse_duration ("5s", "1 minute", "00:01:00")
// Text is trimmed of surrounding blanks for every type but TEXT.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "formats/raw_records.h"
#include "types/column.h"
#include "types/record_batch.h"

namespace sluice::formats_internal {

enum class Conv : uint8_t { kOk, kBadValue, kOutOfRange };

// Microseconds per unit of the FormatOptions::timestamp_unit option ("s", "ms", "us").
Result<int64_t> parse_time_unit(std::string_view unit);
// "ms" for 1000 etc., for messages.
const char* time_unit_name(int64_t unit_micros);

std::string_view trim_blanks(std::string_view s);

Conv parse_int64_text(std::string_view s, int64_t* out);
Conv parse_double_text(std::string_view s, double* out);
bool parse_bool_text(std::string_view s, bool* out);

// A double with an exact integral value in int64 range.
Conv double_to_int64(double v, int64_t* out);
// Epoch (or duration) value in units of `unit_micros` -> microseconds, range checked.
Conv units_to_micros(int64_t v, int64_t unit_micros, int64_t* out);
Conv units_to_micros(double v, int64_t unit_micros, int64_t* out);

// Converts `text` to the column's type and appends it. Appends nothing on failure.
Conv append_text(Column& column, std::string_view text, int64_t unit_micros);

// A JSON number, parsed once and then converted to whatever type the column has.
struct JsonNumber {
  bool is_int = false;       // fits int64 exactly
  bool is_big_int = false;   // integer syntax but outside int64 (d holds its value)
  int64_t i = 0;
  double d = 0;
  std::string_view text;     // the JSON spelling, for TEXT columns and messages
};
Conv append_number(Column& column, const JsonNumber& number, int64_t unit_micros);

// "field 'user_id': expected BIGINT, got string \"abc\"" (or "... (out of range)").
// `got_kind` is "string", "number", ... or empty (CSV text); `got_text` is shown
// shortened, quoted when `quote` is set, and is never cut inside a UTF-8 sequence.
std::string conversion_error(std::string_view field, TypeId type, int64_t unit_micros,
                             Conv conv, std::string_view got_kind, std::string_view got_text,
                             bool quote);

// Checks what decode() relies on and the caller guarantees: `out` has the decoder's column
// types and equal column sizes, and `in`'s record ends are ordered and inside `data`.
Status check_decode_input(const RawRecords& in, const RecordBatch& out, const Schema& schema);

// Appends at most `max_bytes` of `text` (plus "..." when cut) at a UTF-8 boundary.
void append_excerpt(std::string& out, std::string_view text, size_t max_bytes);

}  // namespace sluice::formats_internal
