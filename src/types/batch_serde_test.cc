#include "types/batch_serde.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

namespace sluice {
namespace {

constexpr TypeId kAllTypes[] = {TypeId::kNull,   TypeId::kBool,      TypeId::kInt64,   TypeId::kFloat64,
                                TypeId::kString, TypeId::kTimestamp, TypeId::kInterval};

uint64_t bits_of(double d) {
  uint64_t b;
  std::memcpy(&b, &d, sizeof b);
  return b;
}

// A column of `type` with a NULL and edge values (extremes, -0.0, NaN, empty and binary text).
Column sample_column(TypeId type) {
  Column c(type);
  switch (type) {
    case TypeId::kNull: break;
    case TypeId::kBool:
      c.append_bool(true);
      c.append_bool(false);
      break;
    case TypeId::kFloat64:
      c.append_double(1.5);
      c.append_double(-0.0);
      c.append_double(std::numeric_limits<double>::quiet_NaN());
      c.append_double(-std::numeric_limits<double>::infinity());
      c.append_double(std::numeric_limits<double>::denorm_min());
      break;
    case TypeId::kString:
      c.append_string("hello");
      c.append_string("");
      c.append_string(std::string_view("a\0b\xff", 4));
      c.append_string(std::string(300, 'x'));  // a length that needs a two-byte varint
      break;
    default:
      c.append_int(0);
      c.append_int(std::numeric_limits<int64_t>::min());
      c.append_int(std::numeric_limits<int64_t>::max());
      c.append_int(-1);
      break;
  }
  c.append_null();
  if (type != TypeId::kNull) {
    // A value after the NULL, so a NULL that swallowed bytes would show.
    if (type == TypeId::kString) {
      c.append_string("after");
    } else if (type == TypeId::kFloat64) {
      c.append_double(2.25);
    } else {
      c.append_int(1);
    }
  }
  return c;
}

// Same type, same NULLs, same values (doubles bit for bit, so -0.0 and NaN count).
void expect_same_column(const Column& expected, const Column& actual) {
  ASSERT_EQ(expected.type(), actual.type());
  ASSERT_EQ(expected.size(), actual.size());
  for (size_t r = 0; r < expected.size(); ++r) {
    ASSERT_EQ(expected.is_null(r), actual.is_null(r)) << "row " << r;
    if (expected.is_null(r)) continue;
    switch (expected.type()) {
      case TypeId::kFloat64: EXPECT_EQ(bits_of(expected.double_at(r)), bits_of(actual.double_at(r))) << "row " << r; break;
      case TypeId::kString: EXPECT_EQ(expected.string_at(r), actual.string_at(r)) << "row " << r; break;
      default: EXPECT_EQ(expected.int_at(r), actual.int_at(r)) << "row " << r; break;
    }
  }
}

SchemaPtr all_types_schema() {
  std::vector<Field> fields;
  for (TypeId t : kAllTypes) fields.push_back({std::string("c_") + type_name(t), t, true});
  return make_schema(std::move(fields));
}

// A batch over all_types_schema() with `rows` rows, about a third NULL.
RecordBatch random_batch(size_t rows, uint32_t seed, bool kinds, bool watermarks) {
  std::mt19937 rng(seed);
  RecordBatch b(all_types_schema());
  for (size_t r = 0; r < rows; ++r) {
    for (Column& c : b.columns) {
      if (c.type() == TypeId::kNull || rng() % 3 == 0) {
        c.append_null();
        continue;
      }
      switch (c.type()) {
        case TypeId::kBool: c.append_bool(rng() % 2); break;
        case TypeId::kFloat64: c.append_double(static_cast<double>(rng()) / 7.0 - 1e6); break;
        case TypeId::kString: c.append_string(std::string(rng() % 20, static_cast<char>('a' + rng() % 26))); break;
        default: c.append_int(static_cast<int64_t>(rng()) * 1000003 - (int64_t{1} << 40)); break;
      }
    }
    if (kinds) b.row_kinds.push_back(static_cast<RowKind>(rng() % 4));
    if (watermarks) b.row_watermarks.push_back(static_cast<int64_t>(rng()) - 5);
  }
  b.num_rows = rows;
  return b;
}

void expect_same_batch(const RecordBatch& expected, const RecordBatch& actual) {
  ASSERT_EQ(expected.num_rows, actual.num_rows);
  ASSERT_EQ(expected.columns.size(), actual.columns.size());
  for (size_t c = 0; c < expected.columns.size(); ++c) {
    SCOPED_TRACE("column " + std::to_string(c));
    expect_same_column(expected.columns[c], actual.columns[c]);
  }
  EXPECT_EQ(expected.row_kinds, actual.row_kinds);
  EXPECT_EQ(expected.row_watermarks, actual.row_watermarks);
}

std::string encode(const RecordBatch& b) {
  std::string bytes;
  ByteWriter w(&bytes);
  write_batch(w, b);
  return bytes;
}

TEST(BatchSerdeTest, ValueRoundTripsForEveryTypeIncludingNull) {
  for (TypeId type : kAllTypes) {
    SCOPED_TRACE(type_name(type));
    Column in = sample_column(type);
    std::string bytes;
    ByteWriter w(&bytes);
    for (size_t r = 0; r < in.size(); ++r) write_column_value(w, in, r);
    ByteReader reader(bytes);
    Column out(type);
    for (size_t r = 0; r < in.size(); ++r) ASSERT_TRUE(read_column_value(reader, out).is_ok()) << "row " << r;
    EXPECT_TRUE(reader.at_end());
    expect_same_column(in, out);
  }
}

TEST(BatchSerdeTest, ValueOfAnotherTypeIsRejected) {
  Column in(TypeId::kInt64);
  in.append_int(7);
  in.append_null();
  std::string bytes;
  ByteWriter w(&bytes);
  write_column_value(w, in, 0);
  write_column_value(w, in, 1);
  for (TypeId other : {TypeId::kString, TypeId::kTimestamp, TypeId::kFloat64}) {
    ByteReader reader(bytes);
    Column out(other);
    Status s = read_column_value(reader, out);
    EXPECT_EQ(s.code(), StatusCode::kDataLoss);
    EXPECT_NE(s.message().find("expected"), std::string::npos) << s.message();
    EXPECT_FALSE(reader.ok());
    EXPECT_EQ(out.size(), 0u);
  }
}

TEST(BatchSerdeTest, EveryPrefixOfAValueFailsCleanly) {
  for (TypeId type : kAllTypes) {
    Column in = sample_column(type);
    for (size_t r = 0; r < in.size(); ++r) {
      std::string bytes;
      ByteWriter w(&bytes);
      write_column_value(w, in, r);
      for (size_t len = 0; len < bytes.size(); ++len) {
        ByteReader reader(std::string_view(bytes.data(), len));
        Column out(type);
        Status s = read_column_value(reader, out);
        EXPECT_EQ(s.code(), StatusCode::kDataLoss) << type_name(type) << " row " << r << " prefix " << len;
        EXPECT_EQ(out.size(), 0u);
      }
    }
  }
}

TEST(BatchSerdeTest, BooleanValueOtherThanZeroOrOneIsRejected) {
  std::string bytes;
  ByteWriter w(&bytes);
  w.u8(0x80 | static_cast<uint8_t>(TypeId::kBool));
  w.i64(2);
  ByteReader reader(bytes);
  Column out(TypeId::kBool);
  EXPECT_EQ(read_column_value(reader, out).code(), StatusCode::kDataLoss);
}

TEST(BatchSerdeTest, BatchRoundTripsEveryTypeWithNullsAndSideVectors) {
  for (bool kinds : {false, true}) {
    for (bool watermarks : {false, true}) {
      SCOPED_TRACE(fmt::format("kinds={} watermarks={}", kinds, watermarks));
      RecordBatch in = random_batch(257, 42, kinds, watermarks);
      std::string bytes = encode(in);
      ByteReader reader(bytes);
      auto out = read_batch(reader, in.schema);
      ASSERT_TRUE(out.is_ok()) << out.status().message();
      EXPECT_TRUE(reader.at_end());
      EXPECT_EQ(out.value()->schema, in.schema);
      expect_same_batch(in, *out.value());
    }
  }
}

TEST(BatchSerdeTest, SampleValuesRoundTripInABatch) {
  // The edge values of every type (NaN, -0.0, extremes, binary text), one column each.
  std::vector<Field> fields;
  std::vector<Column> columns;
  for (TypeId t : kAllTypes) {
    fields.push_back({type_name(t), t, true});
    columns.push_back(sample_column(t));
  }
  RecordBatch in(make_schema(fields));
  size_t rows = 0;
  for (const Column& c : columns) rows = std::max(rows, c.size());
  for (size_t c = 0; c < columns.size(); ++c) {
    for (size_t r = 0; r < rows; ++r) {
      if (r < columns[c].size()) {
        in.columns[c].append_from(columns[c], r);
      } else {
        in.columns[c].append_null();
      }
    }
  }
  in.num_rows = rows;
  std::string bytes = encode(in);
  ByteReader reader(bytes);
  auto out = read_batch(reader, in.schema);
  ASSERT_TRUE(out.is_ok()) << out.status().message();
  expect_same_batch(in, *out.value());
}

TEST(BatchSerdeTest, EmptyBatchesRoundTrip) {
  RecordBatch empty(all_types_schema());
  std::string bytes = encode(empty);
  ByteReader reader(bytes);
  auto out = read_batch(reader, empty.schema);
  ASSERT_TRUE(out.is_ok()) << out.status().message();
  EXPECT_EQ(out.value()->num_rows, 0u);
  EXPECT_EQ(out.value()->columns.size(), empty.columns.size());
  EXPECT_TRUE(reader.at_end());

  // No columns but rows (COUNT(*) over a projection of nothing).
  RecordBatch no_columns(make_schema({}));
  no_columns.num_rows = 5;
  bytes = encode(no_columns);
  ByteReader reader2(bytes);
  auto out2 = read_batch(reader2, no_columns.schema);
  ASSERT_TRUE(out2.is_ok()) << out2.status().message();
  EXPECT_EQ(out2.value()->num_rows, 5u);
}

TEST(BatchSerdeTest, BatchesFollowEachOtherInOneBuffer) {
  RecordBatch a = random_batch(10, 1, false, false);
  RecordBatch b = random_batch(3, 2, true, true);
  std::string bytes;
  ByteWriter w(&bytes);
  write_batch(w, a);
  w.u64(0xfeedface);
  write_batch(w, b);
  ByteReader reader(bytes);
  auto out_a = read_batch(reader, a.schema);
  ASSERT_TRUE(out_a.is_ok());
  EXPECT_EQ(reader.u64(), 0xfeedfaceu);
  auto out_b = read_batch(reader, b.schema);
  ASSERT_TRUE(out_b.is_ok());
  EXPECT_TRUE(reader.at_end());
  expect_same_batch(a, *out_a.value());
  expect_same_batch(b, *out_b.value());
}

TEST(BatchSerdeTest, ColumnCountMismatchIsDataLoss) {
  RecordBatch in = random_batch(4, 3, false, false);
  std::string bytes = encode(in);
  ByteReader reader(bytes);
  auto out = read_batch(reader, make_schema({{"a", TypeId::kInt64, true}}));
  ASSERT_FALSE(out.is_ok());
  EXPECT_EQ(out.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(out.status().message().find("7 columns, expected 1"), std::string::npos) << out.status().message();
  EXPECT_FALSE(reader.ok());
}

TEST(BatchSerdeTest, ColumnTypeMismatchIsDataLoss) {
  RecordBatch in = random_batch(4, 3, false, false);
  std::string bytes = encode(in);
  std::vector<Field> fields = in.schema->fields();
  fields[4].type = TypeId::kInt64;  // TEXT in the checkpoint
  ByteReader reader(bytes);
  auto out = read_batch(reader, make_schema(fields));
  ASSERT_FALSE(out.is_ok());
  EXPECT_EQ(out.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(out.status().message().find("column 4 is TEXT, expected BIGINT"), std::string::npos)
      << out.status().message();
}

TEST(BatchSerdeTest, EveryPrefixOfABatchFailsCleanly) {
  for (bool side : {false, true}) {
    RecordBatch in = random_batch(9, 5, side, side);
    std::string bytes = encode(in);
    for (size_t len = 0; len < bytes.size(); ++len) {
      // A copy of exactly `len` bytes, so that reading past it is caught by ASan.
      std::string prefix = bytes.substr(0, len);
      ByteReader reader(prefix);
      auto out = read_batch(reader, in.schema);
      ASSERT_FALSE(out.is_ok()) << "prefix " << len << " of " << bytes.size();
      EXPECT_EQ(out.status().code(), StatusCode::kDataLoss) << out.status().message();
      EXPECT_FALSE(reader.ok());
    }
  }
}

TEST(BatchSerdeTest, CorruptBytesNeverCrash) {
  // Flipped bytes either decode (to some batch of the right shape) or fail with kDataLoss.
  RecordBatch in = random_batch(20, 6, true, true);
  const std::string bytes = encode(in);
  std::mt19937 rng(7);
  for (int trial = 0; trial < 3000; ++trial) {
    std::string corrupt = bytes;
    const int flips = 1 + static_cast<int>(rng() % 3);
    for (int f = 0; f < flips; ++f) corrupt[rng() % corrupt.size()] = static_cast<char>(rng());
    ByteReader reader(corrupt);
    auto out = read_batch(reader, in.schema);
    if (out.is_ok()) {
      EXPECT_EQ(out.value()->columns.size(), in.columns.size());
      for (const Column& c : out.value()->columns) EXPECT_EQ(c.size(), out.value()->num_rows);
    } else {
      EXPECT_EQ(out.status().code(), StatusCode::kDataLoss);
    }
  }
}

TEST(BatchSerdeTest, HugeRowCountIsRejectedBeforeAllocating) {
  std::string bytes;
  ByteWriter w(&bytes);
  w.varint(1);
  w.u8(static_cast<uint8_t>(TypeId::kInt64));
  w.u8(0);
  w.varint(uint64_t{1} << 60);
  ByteReader reader(bytes);
  auto out = read_batch(reader, make_schema({{"a", TypeId::kInt64, true}}));
  EXPECT_EQ(out.status().code(), StatusCode::kDataLoss);
}

TEST(BatchSerdeTest, UnknownRowKindAndBadValidityAreRejected) {
  RecordBatch in = random_batch(3, 8, true, false);
  std::string bytes = encode(in);
  {
    std::string bad = bytes;
    bad[bad.size() - 1] = 9;  // the last row kind
    ByteReader reader(bad);
    auto out = read_batch(reader, in.schema);
    ASSERT_FALSE(out.is_ok());
    EXPECT_NE(out.status().message().find("row kind"), std::string::npos) << out.status().message();
  }
  {
    // Header: column count (1 byte), 7 type bytes, flags, row count; then column 0's validity.
    std::string bad = bytes;
    bad[1 + 7 + 1 + 1] = 2;
    ByteReader reader(bad);
    auto out = read_batch(reader, in.schema);
    ASSERT_FALSE(out.is_ok());
    EXPECT_NE(out.status().message().find("validity"), std::string::npos) << out.status().message();
  }
}

}  // namespace
}  // namespace sluice
