// CSV decoder: each record is one CSV row (the reader splits lines and keeps quoted
// newlines inside a record); fields map to the declared columns by position. RFC 4180
// quoting ("" escapes a quote, quotes protect delimiters and newlines), a configurable
// delimiter and an optional header row (the record on line 1, skipped).
//
// One decoder belongs to one source split and is used by that split's task thread only;
// its scratch buffer is reused across calls, so the steady state does no heap allocation.
#pragma once

#include <cstdint>
#include <memory>

#include "formats/format.h"

namespace sluice {

// `delimiter` must not be '"', '\r' or '\n' (make_decoder checks).
std::unique_ptr<Decoder> make_csv_decoder(SchemaPtr schema, char delimiter, bool header,
                                          int64_t timestamp_unit_micros);

}  // namespace sluice
