// make_decoder(): validates the format options once, at source creation, so that a bad
// option fails the job up front instead of every record failing later.
#include "formats/csv_decoder.h"
#include "formats/field_convert.h"
#include "formats/format.h"
#include "formats/json_decoder.h"
#include "formats/metadata_columns.h"

namespace sluice {

Result<std::unique_ptr<Decoder>> make_decoder(const FormatOptions& options, SchemaPtr schema) {
  if (!schema) return invalid_argument("decoder for format '{}' needs a schema", options.format);
  if (!options.metadata.empty()) {
    FormatOptions payload = options;
    payload.metadata.clear();
    return make_metadata_decoder(schema, options.metadata, payload);
  }
  ASSIGN_OR_RETURN(int64_t unit, formats_internal::parse_time_unit(options.timestamp_unit));
  if (iequals(options.format, "json")) {
    return make_json_decoder(std::move(schema), unit);
  }
  if (iequals(options.format, "csv")) {
    char d = options.csv_delimiter;
    if (d == '"' || d == '\r' || d == '\n' || d == '\0') {
      return invalid_argument("csv delimiter cannot be {}",
                              d == '"' ? "a double quote" : d == '\0' ? "NUL" : "a line break");
    }
    return make_csv_decoder(std::move(schema), d, options.csv_header, unit);
  }
  return unsupported("unknown format '{}': supported formats are json, csv", options.format);
}

}  // namespace sluice
