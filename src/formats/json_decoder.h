// JSON-lines decoder: each record is one JSON object whose keys are matched to the
// declared columns by name (exact first, then ASCII case-insensitive); missing keys and
// nulls are NULL, extra keys are ignored but must still be valid JSON.
//
// Built on simdjson On Demand. One decoder belongs to one source split and is used by
// that split's task thread only; it keeps its parser, key-lookup cache and scratch
// buffers across decode() calls so that the steady state does no heap allocation.
#pragma once

#include <cstdint>
#include <memory>

#include "formats/format.h"

namespace sluice {

// `timestamp_unit_micros`: microseconds per unit of numeric timestamps and intervals.
std::unique_ptr<Decoder> make_json_decoder(SchemaPtr schema, int64_t timestamp_unit_micros);

}  // namespace sluice
