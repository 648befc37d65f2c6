#include "types/record_batch.h"

#include <gtest/gtest.h>

namespace sluice {

TEST(ColumnTest, AppendsGathersAndKeepsNulls) {
  Column c(TypeId::kString);
  c.append_string("a");
  c.append_null();
  c.append_string("ccc");
  ASSERT_EQ(c.size(), 3u);
  EXPECT_TRUE(c.is_null(1));
  EXPECT_EQ(c.string_at(2), "ccc");
  Column g(TypeId::kString);
  uint32_t idx[] = {2, 0, 1};
  g.append_gather(c, idx, 3);
  EXPECT_EQ(g.string_at(0), "ccc");
  EXPECT_EQ(g.string_at(1), "a");
  EXPECT_TRUE(g.is_null(2));
}

TEST(ColumnTest, ComparesWithNullsFirst) {
  Column c(TypeId::kInt64);
  c.append_int(5);
  c.append_null();
  c.append_int(3);
  EXPECT_GT(c.compare(0, c, 2), 0);
  EXPECT_LT(c.compare(1, c, 2), 0);
  EXPECT_EQ(c.compare(1, c, 1), 0);
}

TEST(RecordBatchTest, GatherCarriesSideVectors) {
  auto schema = make_schema({{"k", TypeId::kInt64, true}});
  RecordBatch b(schema);
  b.columns[0].append_int(1);
  b.columns[0].append_int(2);
  b.num_rows = 2;
  b.row_watermarks = {10, 20};
  RecordBatch out(schema);
  uint32_t idx[] = {1};
  out.append_gather(b, idx, 1);
  ASSERT_EQ(out.num_rows, 1u);
  EXPECT_EQ(out.row_watermarks.at(0), 20);
  EXPECT_EQ(out.columns[0].int_at(0), 2);
}

}  // namespace sluice
