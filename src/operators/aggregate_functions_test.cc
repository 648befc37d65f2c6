// AggregateStore: the aggregates beyond COUNT/SUM/MIN/MAX/AVG (approximate distinct count
// and percentiles, exact percentile, FIRST_VALUE/LAST_VALUE, ARRAY_AGG/STRING_AGG, SUM/AVG
// DISTINCT) and FILTER, including merge() (session windows) and freeing state on release.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>
#include <random>

#include "operators/aggregate_store.h"

namespace sluice {
namespace {

// Input columns: 0 v BIGINT, 1 s TEXT, 2 ts TIMESTAMP, 3 f BOOLEAN, 4 d DOUBLE.
SchemaPtr input_schema() {
  return make_schema({{"v", TypeId::kInt64, true},
                      {"s", TypeId::kString, true},
                      {"ts", TypeId::kTimestamp, true},
                      {"f", TypeId::kBool, true},
                      {"d", TypeId::kFloat64, true}});
}

struct Row {
  std::optional<int64_t> v = std::nullopt;
  std::optional<std::string> s = std::nullopt;
  int64_t ts = 0;
  std::optional<bool> f = true;
  std::optional<double> d = std::nullopt;
};

std::string name_of(const char* prefix, int a, int b) {
  std::string out(prefix);
  out += std::to_string(a);
  out += '_';
  out += std::to_string(b);
  return out;
}

RecordBatch make_input(const std::vector<Row>& rows) {
  RecordBatch b(input_schema());
  for (const Row& r : rows) {
    if (r.v) b.columns[0].append_int(*r.v); else b.columns[0].append_null();
    if (r.s) b.columns[1].append_string(*r.s); else b.columns[1].append_null();
    b.columns[2].append_int(r.ts);
    if (r.f) b.columns[3].append_bool(*r.f); else b.columns[3].append_null();
    if (r.d) b.columns[4].append_double(*r.d); else b.columns[4].append_null();
  }
  b.num_rows = rows.size();
  return b;
}

AggregateSpec spec(AggKind kind, int input, TypeId type) {
  AggregateSpec s;
  s.kind = kind;
  s.input = input;
  s.input_type = type;
  s.result_type = aggregate_result_type(kind, type);
  return s;
}
AggregateSpec ordered(AggKind kind, int input, TypeId type, int time = 2) {
  AggregateSpec s = spec(kind, input, type);
  s.time_input = time;
  return s;
}

// Updates `slot` with every row of `batch`.
void feed(AggregateStore& store, const RecordBatch& batch, uint32_t slot) {
  std::vector<uint32_t> rows(batch.num_rows), slots(batch.num_rows, slot);
  std::iota(rows.begin(), rows.end(), 0u);
  store.update(batch, rows.data(), slots.data(), rows.size());
}

Column result(const AggregateStore& store, size_t agg, uint32_t slot) {
  Column c(store.specs()[agg].result_type);
  store.append_result(agg, slot, c);
  return c;
}
std::string text(const AggregateStore& store, size_t agg, uint32_t slot) {
  Column c = result(store, agg, slot);
  return c.is_null(0) ? "NULL" : std::string(c.string_at(0));
}

TEST(AggregateFunctionsTest, FirstAndLastValueByEventTimeTiesByArrival) {
  AggregateStore store({ordered(AggKind::kFirstValue, 1, TypeId::kString), ordered(AggKind::kLastValue, 1, TypeId::kString),
                        ordered(AggKind::kFirstValue, 0, TypeId::kInt64), ordered(AggKind::kLastValue, 4, TypeId::kFloat64),
                        ordered(AggKind::kFirstValue, 1, TypeId::kString, -1),
                        ordered(AggKind::kLastValue, 1, TypeId::kString, -1)});
  uint32_t slot = store.allocate();
  feed(store, make_input({{1, "b", 20, true, 1.5}, {2, "a", 10, true, 2.5}, {3, "a2", 10, true, 3.5}}), slot);
  feed(store, make_input({{4, "c", 30, true, 4.5}, {5, "c2", 30, true, 5.5}, {6, "late", 5, true, 6.5}}), slot);
  EXPECT_EQ(text(store, 0, slot), "late");        // smallest time
  EXPECT_EQ(text(store, 1, slot), "c2");          // largest time 30: the later arrival
  EXPECT_EQ(result(store, 2, slot).int_at(0), 6);
  EXPECT_EQ(result(store, 3, slot).double_at(0), 5.5);
  EXPECT_EQ(text(store, 4, slot), "b");           // arrival order only
  EXPECT_EQ(text(store, 5, slot), "late");
}

TEST(AggregateFunctionsTest, FirstValueKeepsANullValueOfTheFirstRow) {
  AggregateStore store({ordered(AggKind::kFirstValue, 1, TypeId::kString), ordered(AggKind::kLastValue, 1, TypeId::kString)});
  uint32_t slot = store.allocate();
  EXPECT_EQ(text(store, 0, slot), "NULL");  // no rows
  feed(store, make_input({{1, std::nullopt, 1}, {2, "x", 2}, {3, std::nullopt, 3}}), slot);
  EXPECT_EQ(text(store, 0, slot), "NULL");
  EXPECT_EQ(text(store, 1, slot), "NULL");
}

TEST(AggregateFunctionsTest, ArrayAggAndStringAggInEventTimeOrder) {
  AggregateSpec sa = ordered(AggKind::kStringAgg, 1, TypeId::kString);
  sa.separator = " > ";
  AggregateStore store({ordered(AggKind::kArrayAgg, 1, TypeId::kString), sa, ordered(AggKind::kArrayAgg, 0, TypeId::kInt64),
                        ordered(AggKind::kArrayAgg, 4, TypeId::kFloat64), ordered(AggKind::kArrayAgg, 2, TypeId::kTimestamp)});
  uint32_t slot = store.allocate();
  uint32_t empty = store.allocate();
  feed(store, make_input({{1, "/cart", 30, true, 0.5}, {2, "/home", 10, true, std::nullopt}}), slot);
  feed(store, make_input({{std::nullopt, std::nullopt, 20}, {4, "say \"hi\"", 30, true, 1e20}, {5, "/", 0, true, -2.0}}), slot);
  EXPECT_EQ(text(store, 0, slot), R"(["/","/home",null,"/cart","say \"hi\""])");
  EXPECT_EQ(text(store, 1, slot), R"(/ > /home > /cart > say "hi")");
  EXPECT_EQ(text(store, 2, slot), "[5,2,null,1,4]");
  EXPECT_EQ(text(store, 3, slot), "[-2,null,null,0.5,1e+20]");
  EXPECT_EQ(text(store, 4, slot),
            R"(["1970-01-01T00:00:00Z","1970-01-01T00:00:00.000010Z","1970-01-01T00:00:00.000020Z","1970-01-01T00:00:00.000030Z","1970-01-01T00:00:00.000030Z"])");
  EXPECT_EQ(text(store, 0, empty), "NULL");
  EXPECT_EQ(text(store, 1, empty), "NULL");
}

// Merging the state of two sessions gives what one slot fed all rows gives, including ties
// on event time decided by arrival across the two.
TEST(AggregateFunctionsTest, OrderedAggregatesMergeLikeOneSlot) {
  AggregateSpec sa = ordered(AggKind::kStringAgg, 1, TypeId::kString);
  sa.separator = ",";
  std::vector<AggregateSpec> specs = {ordered(AggKind::kArrayAgg, 1, TypeId::kString), sa,
                                      ordered(AggKind::kFirstValue, 1, TypeId::kString),
                                      ordered(AggKind::kLastValue, 1, TypeId::kString)};
  std::mt19937_64 rng(3);
  for (int trial = 0; trial < 50; ++trial) {
    AggregateStore one(specs), two(specs);
    uint32_t all = one.allocate();
    uint32_t a = two.allocate(), b = two.allocate();
    // Several batches; each row goes to session a or b; times collide often.
    for (int batch = 0; batch < 4; ++batch) {
      std::vector<Row> rows;
      for (int i = 0; i < 6; ++i) {
        rows.push_back({i, name_of("p", batch, i), static_cast<int64_t>(rng() % 5)});
      }
      RecordBatch in = make_input(rows);
      feed(one, in, all);
      std::vector<uint32_t> r(rows.size()), s(rows.size());
      std::iota(r.begin(), r.end(), 0u);
      for (size_t i = 0; i < rows.size(); ++i) s[i] = rng() % 2 ? a : b;
      two.update(in, r.data(), s.data(), r.size());
    }
    uint32_t dst = trial % 2 ? a : b, src = trial % 2 ? b : a;
    two.merge(dst, src);
    two.release(src);
    for (size_t agg = 0; agg < specs.size(); ++agg) {
      EXPECT_EQ(text(two, agg, dst), text(one, agg, all)) << "trial " << trial << " aggregate " << agg;
    }
  }
}

TEST(AggregateFunctionsTest, FilterSkipsRowsWhereTheConditionIsNotTrue) {
  AggregateSpec count_star;
  count_star.kind = AggKind::kCountStar;
  count_star.filter = 3;
  AggregateSpec sum = spec(AggKind::kSum, 0, TypeId::kInt64);
  sum.filter = 3;
  AggregateSpec arr = ordered(AggKind::kArrayAgg, 0, TypeId::kInt64);
  arr.filter = 3;
  AggregateSpec plain;
  plain.kind = AggKind::kCountStar;
  AggregateStore store({count_star, sum, plain, arr});
  uint32_t s1 = store.allocate(), s2 = store.allocate();
  RecordBatch in = make_input({{1, "a", 1, true}, {2, "a", 2, false}, {3, "a", 3, std::nullopt}, {4, "a", 4, true},
                               {5, "a", 5, false}});
  uint32_t rows[] = {0, 1, 2, 3, 4};
  uint32_t slots[] = {s1, s1, s2, s2, s2};
  store.update(in, rows, slots, 5);
  EXPECT_EQ(result(store, 0, s1).int_at(0), 1);
  EXPECT_EQ(result(store, 0, s2).int_at(0), 1);
  EXPECT_EQ(result(store, 1, s1).int_at(0), 1);
  EXPECT_EQ(result(store, 1, s2).int_at(0), 4);
  EXPECT_EQ(result(store, 2, s2).int_at(0), 3);
  EXPECT_EQ(text(store, 3, s2), "[4]");
  // No row passes: COUNT 0, others NULL.
  uint32_t s3 = store.allocate();
  uint32_t r2[] = {1};
  store.update(in, r2, &s3, 1);
  EXPECT_EQ(result(store, 0, s3).int_at(0), 0);
  EXPECT_TRUE(result(store, 1, s3).is_null(0));
  EXPECT_EQ(result(store, 2, s3).int_at(0), 1);
}

TEST(AggregateFunctionsTest, ExactPercentileInterpolates) {
  AggregateSpec p50 = spec(AggKind::kPercentile, 0, TypeId::kInt64);
  p50.fraction = 0.5;
  AggregateSpec p90 = spec(AggKind::kPercentile, 4, TypeId::kFloat64);
  p90.fraction = 0.9;
  AggregateSpec p0 = p50;
  p0.fraction = 0;
  AggregateSpec p1 = p50;
  p1.fraction = 1;
  AggregateStore store({p50, p90, p0, p1});
  uint32_t slot = store.allocate(), empty = store.allocate();
  feed(store, make_input({{4, "", 0, true, 10.0}, {1, "", 0, true, 20.0}, {std::nullopt, "", 0, true, std::nan("")}}), slot);
  feed(store, make_input({{3, "", 0, true, 30.0}, {2, "", 0, true, 40.0}, {10, "", 0, true, std::nullopt}}), slot);
  EXPECT_DOUBLE_EQ(result(store, 0, slot).double_at(0), 3.0);   // 1 2 3 4 10
  EXPECT_DOUBLE_EQ(result(store, 1, slot).double_at(0), 37.0);  // 10 20 30 40 (NaN ignored): 30 + 0.7 * 10
  EXPECT_DOUBLE_EQ(result(store, 2, slot).double_at(0), 1.0);
  EXPECT_DOUBLE_EQ(result(store, 3, slot).double_at(0), 10.0);
  EXPECT_TRUE(result(store, 0, empty).is_null(0));
  // Reading a result sorts the values; more input afterwards still counts.
  feed(store, make_input({{0, "", 0, true, 0.0}, {-5, "", 0, true, 0.0}}), slot);
  EXPECT_DOUBLE_EQ(result(store, 0, slot).double_at(0), 2.0);  // -5 0 1 2 3 4 10: rank 3
}

TEST(AggregateFunctionsTest, PercentilesAgainstExactOnRandomDataWithMerge) {
  std::vector<AggregateSpec> specs;
  const double fractions[] = {0, 0.01, 0.25, 0.5, 0.9, 0.99, 1};
  for (double q : fractions) {
    AggregateSpec a = spec(AggKind::kApproxPercentile, 4, TypeId::kFloat64);
    a.fraction = q;
    specs.push_back(a);
    AggregateSpec e = spec(AggKind::kPercentile, 4, TypeId::kFloat64);
    e.fraction = q;
    specs.push_back(e);
  }
  AggregateStore store(specs);
  uint32_t a = store.allocate(), b = store.allocate();
  std::mt19937_64 rng(11);
  std::vector<double> all;
  for (int batch = 0; batch < 20; ++batch) {
    std::vector<Row> rows;
    for (int i = 0; i < 1000; ++i) {
      double v = std::exp(static_cast<double>(rng() % 100000) / 5000.0);  // 1 .. e^20
      all.push_back(v);
      rows.push_back({0, "", 0, true, v});
    }
    feed(store, make_input(rows), batch % 2 ? a : b);
  }
  store.merge(a, b);
  std::sort(all.begin(), all.end());
  for (size_t i = 0; i < std::size(fractions); ++i) {
    const double q = fractions[i];
    const double pos = q * static_cast<double>(all.size() - 1);
    const size_t lo = static_cast<size_t>(pos);
    const double exact_lower = all[lo];
    const double exact_cont = lo + 1 < all.size() ? all[lo] + (pos - lo) * (all[lo + 1] - all[lo]) : all[lo];
    const double approx = result(store, 2 * i, a).double_at(0);
    EXPECT_LE(std::fabs(approx - exact_lower), 0.01 * exact_lower + 1e-9) << q;
    EXPECT_DOUBLE_EQ(result(store, 2 * i + 1, a).double_at(0), exact_cont) << q;
  }
}

TEST(AggregateFunctionsTest, ApproxCountDistinctWithMergeAndNulls) {
  AggregateStore store({spec(AggKind::kApproxCountDistinct, 1, TypeId::kString), spec(AggKind::kApproxCountDistinct, 0, TypeId::kInt64),
                        spec(AggKind::kApproxCountDistinct, 4, TypeId::kFloat64)});
  uint32_t a = store.allocate(), b = store.allocate(), empty = store.allocate();
  const int n = 200000;
  for (int start = 0; start < n; start += 4096) {
    std::vector<Row> rows;
    for (int i = start; i < std::min(n, start + 4096); ++i) {
      rows.push_back({i % 150000, "user" + std::to_string(i % 700), 0, true, i % 3 ? std::optional<double>(i % 500) : std::nullopt});
    }
    feed(store, make_input(rows), start % 8192 ? a : b);
  }
  store.merge(a, b);
  EXPECT_EQ(result(store, 0, a).int_at(0), 700);  // small: exact
  EXPECT_NEAR(static_cast<double>(result(store, 1, a).int_at(0)), 150000, 150000 * 3 * HyperLogLog::standard_error());
  EXPECT_EQ(result(store, 2, a).int_at(0), 500);
  EXPECT_EQ(result(store, 0, empty).int_at(0), 0);
}

TEST(AggregateFunctionsTest, SumAndAvgDistinct) {
  AggregateSpec sum = spec(AggKind::kSum, 0, TypeId::kInt64);
  sum.distinct = true;
  AggregateSpec avg = spec(AggKind::kAvg, 4, TypeId::kFloat64);
  avg.distinct = true;
  AggregateSpec max = spec(AggKind::kMax, 0, TypeId::kInt64);
  max.distinct = true;
  AggregateStore store({sum, avg, max});
  uint32_t a = store.allocate(), b = store.allocate();
  feed(store, make_input({{1, "", 0, true, 1.0}, {2, "", 0, true, 2.0}, {2, "", 0, true, 2.0}}), a);
  feed(store, make_input({{1, "", 0, true, 4.0}, {7, "", 0, true, std::nullopt}}), b);
  store.merge(a, b);
  EXPECT_EQ(result(store, 0, a).int_at(0), 10);           // 1 + 2 + 7
  EXPECT_DOUBLE_EQ(result(store, 1, a).double_at(0), 7.0 / 3);  // (1 + 2 + 4) / 3
  EXPECT_EQ(result(store, 2, a).int_at(0), 7);
  uint32_t c = store.allocate();
  EXPECT_TRUE(result(store, 0, c).is_null(0));
}

// Windows fire and release their slots: the state must not grow with the number of
// closed windows.
TEST(AggregateFunctionsTest, ReleasingSlotsFreesTheirState) {
  AggregateSpec p = spec(AggKind::kPercentile, 0, TypeId::kInt64);
  p.fraction = 0.5;
  AggregateSpec ap = spec(AggKind::kApproxPercentile, 0, TypeId::kInt64);
  ap.fraction = 0.5;
  AggregateSpec sa = ordered(AggKind::kStringAgg, 1, TypeId::kString);
  sa.separator = ",";
  AggregateSpec cd = spec(AggKind::kCount, 0, TypeId::kInt64);
  cd.distinct = true;
  AggregateStore store({spec(AggKind::kApproxCountDistinct, 0, TypeId::kInt64), ap, p,
                        ordered(AggKind::kArrayAgg, 1, TypeId::kString), sa, ordered(AggKind::kFirstValue, 1, TypeId::kString),
                        cd});
  EXPECT_EQ(store.state_bytes(), 0u);
  size_t peak_after_release = 0;
  for (int window = 0; window < 200; ++window) {
    std::vector<uint32_t> slots;
    for (int g = 0; g < 5; ++g) {
      uint32_t s = store.allocate();
      slots.push_back(s);
      std::vector<Row> rows;
      for (int i = 0; i < 2000; ++i) rows.push_back({window * 100000 + i, name_of("/page/xxxxxxxxxxxxxxxxxxxx", window, i), i});
      feed(store, make_input(rows), s);
    }
    EXPECT_GT(store.state_bytes(), 5u * 16384);
    for (uint32_t s : slots) store.release(s);
    peak_after_release = std::max(peak_after_release, store.state_bytes());
  }
  EXPECT_EQ(peak_after_release, 0u);
  EXPECT_EQ(store.live_slots(), 0u);
}

TEST(AggregateFunctionsTest, Describe) {
  AggregateSpec p = spec(AggKind::kApproxPercentile, 1, TypeId::kInt64);
  p.fraction = 0.95;
  p.filter = 3;
  EXPECT_EQ(p.describe(), "APPROX_PERCENTILE($1, 0.95) FILTER ($3)");
  AggregateSpec s = ordered(AggKind::kStringAgg, 0, TypeId::kString, 4);
  s.separator = ",";
  EXPECT_EQ(s.describe(), "STRING_AGG($0, ',' ORDER BY $4)");
  AggregateSpec c;
  EXPECT_EQ(c.describe(), "COUNT(*)");
}

}  // namespace
}  // namespace sluice
