#include "operators/aggregate_store.h"

#include <gtest/gtest.h>

namespace sluice {

TEST(AggregateStoreTest, ComputesEveryAggregateWithNulls) {
  auto schema = make_schema({{"v", TypeId::kInt64, true}, {"s", TypeId::kString, true}});
  RecordBatch b(schema);
  int64_t vals[] = {5, 3, 5, 0};
  bool nulls[] = {false, false, false, true};
  const char* strs[] = {"b", "a", "c", "z"};
  for (int i = 0; i < 4; ++i) {
    if (nulls[i]) b.columns[0].append_null(); else b.columns[0].append_int(vals[i]);
    b.columns[1].append_string(strs[i]);
  }
  b.num_rows = 4;
  std::vector<AggregateSpec> specs = {
      {AggKind::kCountStar, false, -1, TypeId::kNull, TypeId::kInt64},
      {AggKind::kCount, false, 0, TypeId::kInt64, TypeId::kInt64},
      {AggKind::kCount, true, 0, TypeId::kInt64, TypeId::kInt64},
      {AggKind::kSum, false, 0, TypeId::kInt64, TypeId::kInt64},
      {AggKind::kMin, false, 1, TypeId::kString, TypeId::kString},
      {AggKind::kMax, false, 0, TypeId::kInt64, TypeId::kInt64},
      {AggKind::kAvg, false, 0, TypeId::kInt64, TypeId::kFloat64},
  };
  AggregateStore store(specs);
  uint32_t slot = store.allocate();
  uint32_t rows[] = {0, 1, 2, 3};
  uint32_t slots[] = {slot, slot, slot, slot};
  store.update(b, rows, slots, 4);
  Column out[7] = {Column(TypeId::kInt64), Column(TypeId::kInt64), Column(TypeId::kInt64), Column(TypeId::kInt64),
                   Column(TypeId::kString), Column(TypeId::kInt64), Column(TypeId::kFloat64)};
  for (size_t a = 0; a < specs.size(); ++a) store.append_result(a, slot, out[a]);
  EXPECT_EQ(out[0].int_at(0), 4);
  EXPECT_EQ(out[1].int_at(0), 3);
  EXPECT_EQ(out[2].int_at(0), 2);
  EXPECT_EQ(out[3].int_at(0), 13);
  EXPECT_EQ(out[4].string_at(0), "a");
  EXPECT_EQ(out[5].int_at(0), 5);
  EXPECT_DOUBLE_EQ(out[6].double_at(0), 13.0 / 3);
}

TEST(AggregateStoreTest, EmptySlotGivesZeroCountAndNullOthers) {
  std::vector<AggregateSpec> specs = {{AggKind::kCountStar, false, -1, TypeId::kNull, TypeId::kInt64},
                                      {AggKind::kSum, false, 0, TypeId::kInt64, TypeId::kInt64}};
  AggregateStore store(specs);
  uint32_t slot = store.allocate();
  Column c0(TypeId::kInt64), c1(TypeId::kInt64);
  store.append_result(0, slot, c0);
  store.append_result(1, slot, c1);
  EXPECT_EQ(c0.int_at(0), 0);
  EXPECT_TRUE(c1.is_null(0));
}

TEST(AggregateStoreTest, ReleasedSlotsAreReusedClean) {
  std::vector<AggregateSpec> specs = {{AggKind::kCountStar, false, -1, TypeId::kNull, TypeId::kInt64}};
  AggregateStore store(specs);
  uint32_t a = store.allocate();
  RecordBatch empty(make_schema({}));
  uint32_t rows[] = {0};
  store.update(empty, rows, &a, 1);
  store.release(a);
  uint32_t b = store.allocate();
  EXPECT_EQ(a, b);
  Column c(TypeId::kInt64);
  store.append_result(0, b, c);
  EXPECT_EQ(c.int_at(0), 0);
  EXPECT_EQ(store.live_slots(), 1u);
}

}  // namespace sluice
