// CSV decoder: each record is one CSV row (the reader splits records and keeps quoted
// newlines inside a record); RFC 4180 quoting ("" escapes a quote, quotes protect
// delimiters and newlines) and a configurable delimiter. A UTF-8 byte-order mark before the
// record on line 1 is dropped.
//
// Columns: without a header, fields map to the declared columns by position and a record
// must have exactly as many fields as there are columns. With the header option the record
// on line 1 is the header: columns are matched to its field names (exact, else
// case-insensitive), header fields that name no column are ignored, a column the header
// does not name is NULL (a warning is logged), and every record must have as many fields as
// the header. A header naming none of the columns is an error (decode() fails), not a
// dead letter per row.
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
