// make_encoder: picks the encoder for FormatOptions::format.
#include "formats/csv_encoder.h"
#include "formats/format.h"
#include "formats/json_encoder.h"

namespace sluice {

Result<std::unique_ptr<Encoder>> make_encoder(const FormatOptions& options, SchemaPtr schema) {
  if (!schema) return internal_error("make_encoder: no schema");
  if (options.format == "json" || options.format.empty()) {
    return std::unique_ptr<Encoder>(std::make_unique<JsonEncoder>(options, std::move(schema)));
  }
  if (options.format == "csv") {
    return std::unique_ptr<Encoder>(std::make_unique<CsvEncoder>(options, std::move(schema)));
  }
  return invalid_argument("unknown output format '{}' (available: json, csv)", options.format);
}

}  // namespace sluice
