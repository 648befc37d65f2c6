#include "sql/intervals.h"

namespace sluice {
namespace {

// PostgreSQL's field numbers (datetime.h) and INTERVAL_MASK(b) = 1 << b.
constexpr int64_t kMonthBit = 1 << 1;
constexpr int64_t kYearBit = 1 << 2;
constexpr int64_t kDayBit = 1 << 3;
constexpr int64_t kHourBit = 1 << 10;
constexpr int64_t kMinuteBit = 1 << 11;
constexpr int64_t kSecondBit = 1 << 12;
constexpr int64_t kFullRange = 0x7FFF;
constexpr int64_t kFullPrecision = 0xFFFF;

}  // namespace

Result<IntervalQualifier> interval_qualifier_from_typmods(const std::vector<int64_t>& typmods) {
  IntervalQualifier q;
  if (typmods.empty() || typmods.size() > 2) return invalid_argument("unsupported INTERVAL type modifiers");
  const int64_t range = typmods[0];
  if (typmods.size() == 2 && typmods[1] != kFullPrecision) {
    if (typmods[1] < 0 || typmods[1] > 6) {
      return invalid_argument("INTERVAL precision must be between 0 and 6, got {}", typmods[1]);
    }
    q.precision = static_cast<int>(typmods[1]);
  }
  if (range == kFullRange) return q;  // INTERVAL(p) '...': every field, like DAY TO SECOND
  struct Bit {
    int64_t bit;
    IntervalField field;
  };
  static constexpr Bit kBits[] = {{kYearBit, IntervalField::kYear},     {kMonthBit, IntervalField::kMonth},
                                  {kDayBit, IntervalField::kDay},       {kHourBit, IntervalField::kHour},
                                  {kMinuteBit, IntervalField::kMinute}, {kSecondBit, IntervalField::kSecond}};
  bool any = false;
  int64_t seen = 0;
  for (const Bit& b : kBits) {
    if ((range & b.bit) == 0) continue;
    if (!any) q.from = b.field;
    q.to = b.field;
    any = true;
    seen |= b.bit;
  }
  if (!any || seen != range) return invalid_argument("unsupported INTERVAL qualifier (type modifier {})", range);
  return q;
}

bool qualifier_reads_like_plain_interval(const IntervalQualifier& q) {
  return q.to == IntervalField::kSecond && q.from != IntervalField::kMinute && q.precision < 0;
}

}  // namespace sluice
