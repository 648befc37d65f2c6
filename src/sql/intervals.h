// INTERVAL qualifiers in the parse tree: libpg_query gives `INTERVAL '1' MINUTE` as a cast
// of the text '1' to interval with typmods [range mask] or [range mask, precision], where
// the mask has PostgreSQL's INTERVAL_MASK bits (src/include/utils/datetime.h). This maps
// them onto the engine's IntervalQualifier (expr/expr.h). Stateless; any thread.
#pragma once

#include <cstdint>
#include <vector>

#include "common/status.h"
#include "expr/expr.h"

namespace sluice {

// typmods as libpg_query gives them (INTERVAL(3) '1' is [full range, 3]).
Result<IntervalQualifier> interval_qualifier_from_typmods(const std::vector<int64_t>& typmods);

// Whether values read from input text for a column declared with this qualifier would be
// read the same as for a plain INTERVAL (a qualifier ending in SECOND, other than MINUTE TO
// SECOND, and without precision): only such column declarations are accepted.
bool qualifier_reads_like_plain_interval(const IntervalQualifier& q);

}  // namespace sluice
