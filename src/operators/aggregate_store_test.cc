#include "operators/aggregate_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "common/hash.h"
#include "operators/group_table.h"
#include "types/batch_serde.h"

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

namespace {

// ------------------------------------------------------------------ checkpoints
//
// The invariant: update a store with rows 0..k, serialize every slot, deserialize into a new
// store (and set its arrival counter), then feed rows k..n to both: every aggregate of every
// slot gives the same result, bit for bit.

// Input columns of the checkpoint tests.
enum Col { kI = 0, kD, kS, kT, kF, kIv, kB, kNumCols };

SchemaPtr checkpoint_schema() {
  return make_schema({{"i", TypeId::kInt64, true},
                      {"d", TypeId::kFloat64, true},
                      {"s", TypeId::kString, true},
                      {"t", TypeId::kTimestamp, true},
                      {"f", TypeId::kBool, true},
                      {"iv", TypeId::kInterval, true},
                      {"b", TypeId::kBool, true}});
}

// A UDAF whose result depends on the order rows arrive in and that keeps a heap state.
struct JoinState : AggregateState {
  std::string text;
  int64_t rows = 0;
};

AggregateFunctionDef join_udaf(TypeId arg, bool checkpointable) {
  AggregateFunctionDef def;
  def.name = checkpointable ? "join_values" : "join_values_no_serde";
  def.arg_type = arg;
  def.return_type = TypeId::kString;
  def.create = [] { return std::make_unique<JoinState>(); };
  def.accumulate = [](AggregateState* const* states, const Column& c, const uint32_t* rows, size_t n) {
    for (size_t k = 0; k < n; ++k) {
      auto* st = static_cast<JoinState*>(states[k]);
      st->text += c.value_to_string(rows[k]);
      st->text += '|';
      st->rows++;
    }
  };
  def.merge = [](AggregateState& into, const AggregateState& from) {
    auto& a = static_cast<JoinState&>(into);
    const auto& b = static_cast<const JoinState&>(from);
    a.text += b.text;
    a.rows += b.rows;
  };
  def.finish = [](const AggregateState& state, Column& out) {
    const auto& st = static_cast<const JoinState&>(state);
    out.append_string(fmt::format("{}#{}", st.text, st.rows));
  };
  if (checkpointable) {
    def.serialize = [](const AggregateState& state, std::string& out) {
      const auto& st = static_cast<const JoinState&>(state);
      ByteWriter w(&out);
      w.str(st.text);
      w.i64(st.rows);
    };
    def.deserialize = [](std::string_view in, AggregateState& into) -> Status {
      auto& st = static_cast<JoinState&>(into);
      ByteReader r(in);
      st.text = std::string(r.str());
      st.rows = r.i64();
      if (r.ok() && !r.at_end()) r.fail();
      return r.status("join_values state");
    };
  }
  return def;
}

const AggregateFunctionDef& join_udaf_string() {
  static const AggregateFunctionDef def = join_udaf(TypeId::kString, true);
  return def;
}
const AggregateFunctionDef& join_udaf_int() {
  static const AggregateFunctionDef def = join_udaf(TypeId::kInt64, true);
  return def;
}

AggregateSpec make_spec(AggKind kind, int input, TypeId type, bool distinct = false, int filter = -1,
                        int time_input = -1) {
  AggregateSpec s;
  s.kind = kind;
  s.input = input;
  s.input_type = type;
  s.result_type = aggregate_result_type(kind, type);
  s.distinct = distinct;
  s.filter = filter;
  s.time_input = time_input;
  return s;
}

// Every AggKind over every input type it accepts, with and without DISTINCT (where it
// means something) and FILTER, ordered ones by event time and by arrival.
std::vector<AggregateSpec> every_aggregate() {
  std::vector<AggregateSpec> specs;
  for (int filter : {-1, static_cast<int>(kF)}) {
    specs.push_back(make_spec(AggKind::kCountStar, -1, TypeId::kNull, false, filter));
    for (bool distinct : {false, true}) {
      for (Col c : {kI, kD, kS, kT}) {
        TypeId t = checkpoint_schema()->field(c).type;
        specs.push_back(make_spec(AggKind::kCount, c, t, distinct, filter));
        specs.push_back(make_spec(AggKind::kMin, c, t, distinct, filter));
        specs.push_back(make_spec(AggKind::kMax, c, t, distinct, filter));
      }
      for (Col c : {kI, kD, kIv}) {
        TypeId t = checkpoint_schema()->field(c).type;
        specs.push_back(make_spec(AggKind::kSum, c, t, distinct, filter));
        if (c != kIv) specs.push_back(make_spec(AggKind::kAvg, c, t, distinct, filter));
      }
    }
    for (Col c : {kI, kD, kS, kT}) {
      specs.push_back(make_spec(AggKind::kApproxCountDistinct, c, checkpoint_schema()->field(c).type, false, filter));
    }
    for (Col c : {kI, kD}) {
      TypeId t = checkpoint_schema()->field(c).type;
      for (double q : {0.0, 0.5, 0.99}) {
        AggregateSpec a = make_spec(AggKind::kApproxPercentile, c, t, false, filter);
        a.fraction = q;
        specs.push_back(a);
        AggregateSpec p = make_spec(AggKind::kPercentile, c, t, false, filter);
        p.fraction = q;
        specs.push_back(p);
      }
    }
    for (int time : {-1, static_cast<int>(kT)}) {
      for (Col c : {kI, kD, kS, kT, kIv, kB}) {
        TypeId t = checkpoint_schema()->field(c).type;
        specs.push_back(make_spec(AggKind::kFirstValue, c, t, false, filter, time));
        specs.push_back(make_spec(AggKind::kLastValue, c, t, false, filter, time));
        specs.push_back(make_spec(AggKind::kArrayAgg, c, t, false, filter, time));
      }
      AggregateSpec sa = make_spec(AggKind::kStringAgg, kS, TypeId::kString, false, filter, time);
      sa.separator = ", ";
      specs.push_back(sa);
    }
    AggregateSpec u = make_spec(AggKind::kUser, kS, TypeId::kString, false, filter);
    u.user = &join_udaf_string();
    u.result_type = TypeId::kString;
    specs.push_back(u);
    AggregateSpec ui = make_spec(AggKind::kUser, kI, TypeId::kInt64, false, filter);
    ui.user = &join_udaf_int();
    ui.result_type = TypeId::kString;
    specs.push_back(ui);
  }
  return specs;
}

// One random input batch. Event times take few values (many ties, some NULL); integers
// include values near the int64 limits (SUM overflow); doubles include -0.0 and NaN.
RecordBatch random_input(std::mt19937_64& rng, size_t rows) {
  RecordBatch b(checkpoint_schema());
  auto chance = [&](int percent) { return static_cast<int>(rng() % 100) < percent; };
  for (size_t r = 0; r < rows; ++r) {
    if (chance(15)) {
      b.columns[kI].append_null();
    } else if (chance(3)) {
      b.columns[kI].append_int(chance(50) ? std::numeric_limits<int64_t>::max() - 5 : std::numeric_limits<int64_t>::min() + 5);
    } else {
      b.columns[kI].append_int(static_cast<int64_t>(rng() % 5000) - 1000);
    }
    if (chance(15)) {
      b.columns[kD].append_null();
    } else if (chance(2)) {
      b.columns[kD].append_double(chance(50) ? -0.0 : std::numeric_limits<double>::quiet_NaN());
    } else {
      b.columns[kD].append_double(static_cast<double>(static_cast<int64_t>(rng() % 200000) - 50000) / 7.0);
    }
    if (chance(15)) {
      b.columns[kS].append_null();
    } else {
      b.columns[kS].append_string(fmt::format("s{}{}", rng() % 3000, chance(10) ? "\"\\\n" : ""));
    }
    if (chance(10)) {
      b.columns[kT].append_null();
    } else {
      b.columns[kT].append_int(static_cast<int64_t>(rng() % 8) * 1000000);
    }
    if (chance(10)) {
      b.columns[kF].append_null();
    } else {
      b.columns[kF].append_bool(chance(70));
    }
    if (chance(10)) {
      b.columns[kIv].append_null();
    } else {
      b.columns[kIv].append_int(static_cast<int64_t>(rng() % 100000));
    }
    if (chance(10)) {
      b.columns[kB].append_null();
    } else {
      b.columns[kB].append_bool(chance(50));
    }
  }
  b.num_rows = rows;
  return b;
}

// The (row, slot) pairs of one update: a random subset of the rows in random order, slot 0
// getting about half of them (so its APPROX_COUNT_DISTINCT goes dense), slot `num_slots-1`
// never touched.
struct Update {
  RecordBatch input;
  std::vector<uint32_t> rows, slots;
};

std::vector<Update> random_updates(uint64_t seed, size_t batches, uint32_t num_slots) {
  std::mt19937_64 rng(seed);
  std::vector<Update> out;
  for (size_t i = 0; i < batches; ++i) {
    Update u;
    u.input = random_input(rng, 1 + rng() % 400);
    for (uint32_t r = 0; r < u.input.num_rows; ++r) {
      if (rng() % 10 == 0) continue;  // rows of other groups/windows
      u.rows.push_back(r);
      u.slots.push_back(rng() % 2 ? 0 : static_cast<uint32_t>(1 + rng() % (num_slots - 2)));
    }
    for (size_t k = u.rows.size(); k > 1; --k) {
      size_t j = rng() % k;
      std::swap(u.rows[k - 1], u.rows[j]);
      std::swap(u.slots[k - 1], u.slots[j]);
    }
    out.push_back(std::move(u));
  }
  return out;
}

void apply(AggregateStore& store, const Update& u) {
  store.update(u.input, u.rows.data(), u.slots.data(), u.rows.size());
}

TypeId result_type_of(const AggregateSpec& spec) {
  return spec.kind == AggKind::kUser ? spec.user->return_type : aggregate_result_type(spec.kind, spec.input_type);
}

// "NULL", or the value with doubles as their bits: equal strings mean identical results.
std::string exact_value(const Column& c, size_t row) {
  if (c.is_null(row)) return "NULL";
  if (c.type() == TypeId::kFloat64) {
    uint64_t bits;
    double d = c.double_at(row);
    std::memcpy(&bits, &d, sizeof bits);
    return fmt::format("{} ({:#x})", d, bits);
  }
  return c.value_to_string(row);
}

void expect_same_results(const AggregateStore& expected, const AggregateStore& actual, uint32_t num_slots,
                         const std::string& when) {
  const auto& specs = expected.specs();
  for (size_t a = 0; a < specs.size(); ++a) {
    Column e(result_type_of(specs[a])), g(result_type_of(specs[a]));
    for (uint32_t s = 0; s < num_slots; ++s) {
      expected.append_result(a, s, e);
      actual.append_result(a, s, g);
      ASSERT_EQ(exact_value(e, s), exact_value(g, s)) << when << ": aggregate " << a << " " << specs[a].describe()
                                                      << ", slot " << s;
    }
  }
}

std::vector<std::string> serialize_all(const AggregateStore& store, uint32_t num_slots) {
  std::vector<std::string> out(num_slots);
  for (uint32_t s = 0; s < num_slots; ++s) {
    ByteWriter w(&out[s]);
    store.serialize_slot(s, w);
  }
  return out;
}

// Equal serialized slots; on a difference, names the slot and byte (not the whole bytes).
void expect_same_bytes(const std::vector<std::string>& expected, const std::vector<std::string>& actual,
                       const std::string& when) {
  ASSERT_EQ(expected.size(), actual.size());
  for (size_t s = 0; s < expected.size(); ++s) {
    if (expected[s] == actual[s]) continue;
    size_t i = 0;
    while (i < expected[s].size() && i < actual[s].size() && expected[s][i] == actual[s][i]) ++i;
    ADD_FAILURE() << when << ": slot " << s << " serializes differently from byte " << i << " (sizes "
                  << expected[s].size() << ", " << actual[s].size() << ")";
  }
}

std::unique_ptr<AggregateStore> restore_all(const std::vector<AggregateSpec>& specs, const std::vector<std::string>& slots,
                                            uint64_t arrival_counter) {
  auto store = std::make_unique<AggregateStore>(specs);
  for (uint32_t s = 0; s < slots.size(); ++s) {
    uint32_t slot = store->allocate();
    EXPECT_EQ(slot, s);
    ByteReader r(slots[s]);
    Status st = store->deserialize_slot(r, slot);
    EXPECT_TRUE(st.is_ok()) << st.message();
    EXPECT_TRUE(r.at_end());
  }
  store->set_arrival_counter(arrival_counter);
  return store;
}

TEST(AggregateStoreCheckpointTest, RestoredStoreContinuesExactlyLikeTheOriginal) {
  const std::vector<AggregateSpec> specs = every_aggregate();
  constexpr uint32_t kSlots = 6;
  for (uint64_t seed : {1, 2, 3}) {
    const std::vector<Update> updates = random_updates(seed, 24, kSlots);
    for (size_t k : {size_t{0}, size_t{1}, size_t{7}, size_t{16}, updates.size()}) {
      const std::string when = fmt::format("seed {} split after {} batches", seed, k);
      AggregateStore original(specs);
      for (uint32_t s = 0; s < kSlots; ++s) original.allocate();
      for (size_t i = 0; i < k; ++i) apply(original, updates[i]);
      ASSERT_TRUE(original.checkpointable());

      const std::vector<std::string> bytes = serialize_all(original, kSlots);
      auto restored = restore_all(specs, bytes, original.arrival_counter());
      EXPECT_EQ(restored->arrival_counter(), original.arrival_counter());
      expect_same_results(original, *restored, kSlots, when + ", at restore");
      // Equal states serialize to equal bytes.
      expect_same_bytes(bytes, serialize_all(*restored, kSlots), when);

      for (size_t i = k; i < updates.size(); ++i) {
        apply(original, updates[i]);
        apply(*restored, updates[i]);
      }
      expect_same_results(original, *restored, kSlots, when + ", at the end");
      // Session windows merging after a restore.
      original.merge(1, 0);
      restored->merge(1, 0);
      original.merge(2, kSlots - 1);
      restored->merge(2, kSlots - 1);
      expect_same_results(original, *restored, kSlots, when + ", after merge");
      expect_same_bytes(serialize_all(original, kSlots), serialize_all(*restored, kSlots), when + ", after merge");
    }
  }
}

TEST(AggregateStoreCheckpointTest, RestoredSequenceNumbersStayBelowNewRows) {
  // LAST_VALUE with equal event times keeps the last arrival: a row after the restore must
  // win over every restored row even when the operator did not restore the counter.
  std::vector<AggregateSpec> specs = {make_spec(AggKind::kLastValue, kI, TypeId::kInt64, false, -1, kT),
                                      make_spec(AggKind::kArrayAgg, kI, TypeId::kInt64, false, -1, kT)};
  AggregateStore original(specs);
  uint32_t slot = original.allocate();
  RecordBatch b(checkpoint_schema());
  for (int64_t v : {10, 20, 30}) {
    for (size_t c = 0; c < kNumCols; ++c) {
      if (c == kI) {
        b.columns[c].append_int(v);
      } else if (c == kT) {
        b.columns[c].append_int(5);
      } else {
        b.columns[c].append_null();
      }
    }
  }
  b.num_rows = 3;
  uint32_t rows[] = {0, 1, 2}, slots[] = {slot, slot, slot};
  original.update(b, rows, slots, 3);
  std::string bytes;
  ByteWriter w(&bytes);
  original.serialize_slot(slot, w);

  AggregateStore restored(specs);
  ASSERT_EQ(restored.allocate(), 0u);
  ByteReader r(bytes);
  ASSERT_TRUE(restored.deserialize_slot(r, 0).is_ok());
  EXPECT_GE(restored.arrival_counter(), 3u);
  uint32_t one_row[] = {0};
  uint32_t zero_slot[] = {0};
  restored.update(b, one_row, zero_slot, 1);  // value 10 again, arriving last
  Column last(TypeId::kInt64), array(TypeId::kString);
  restored.append_result(0, 0, last);
  restored.append_result(1, 0, array);
  EXPECT_EQ(last.int_at(0), 10);
  EXPECT_EQ(array.string_at(0), "[10,20,30,10]");
}

TEST(AggregateStoreCheckpointTest, UdafWithoutSerializationIsNotCheckpointable) {
  static const AggregateFunctionDef def = join_udaf(TypeId::kString, false);
  AggregateSpec u = make_spec(AggKind::kUser, kS, TypeId::kString);
  u.user = &def;
  AggregateStore with_udaf({make_spec(AggKind::kCountStar, -1, TypeId::kNull), u});
  std::string why;
  EXPECT_FALSE(with_udaf.checkpointable(&why));
  EXPECT_EQ(why, "aggregate function 'join_values_no_serde' has no serialize/deserialize; it cannot be checkpointed");
  EXPECT_FALSE(with_udaf.checkpointable());

  AggregateStore builtin_only(every_aggregate());
  EXPECT_TRUE(builtin_only.checkpointable(&why));
}

TEST(AggregateStoreCheckpointTest, RegistryRefusesHalfTheHooks) {
  AggregateFunctionDef def = join_udaf(TypeId::kString, true);
  def.name = "join_values_half_serde";
  def.deserialize = nullptr;
  AggregateFunctionRegistry registry;
  Status s = registry.add(std::move(def));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("serialize and deserialize go together"), std::string::npos) << s.message();
}

TEST(AggregateStoreCheckpointTest, SlotOfOtherAggregatesIsDataLoss) {
  AggregateStore sums({make_spec(AggKind::kSum, kI, TypeId::kInt64)});
  uint32_t slot = sums.allocate();
  std::string bytes;
  ByteWriter w(&bytes);
  sums.serialize_slot(slot, w);
  for (const AggregateSpec& other : {make_spec(AggKind::kAvg, kI, TypeId::kInt64),
                                     make_spec(AggKind::kSum, kD, TypeId::kFloat64),
                                     make_spec(AggKind::kSum, kI, TypeId::kInt64, true)}) {
    AggregateStore store({other});
    uint32_t s = store.allocate();
    ByteReader r(bytes);
    Status st = store.deserialize_slot(r, s);
    EXPECT_EQ(st.code(), StatusCode::kDataLoss) << other.describe();
    EXPECT_NE(st.message().find("written for another query"), std::string::npos) << st.message();
    EXPECT_FALSE(r.ok());
  }
}

// The results of a slot, as text (to compare with a fresh slot).
std::vector<std::string> results_of(const AggregateStore& store, uint32_t slot) {
  std::vector<std::string> out;
  for (size_t a = 0; a < store.specs().size(); ++a) {
    Column c(result_type_of(store.specs()[a]));
    store.append_result(a, slot, c);
    out.push_back(exact_value(c, 0));
  }
  return out;
}

TEST(AggregateStoreCheckpointTest, EveryPrefixOfASlotFailsAndLeavesItReset) {
  const std::vector<AggregateSpec> specs = every_aggregate();
  AggregateStore original(specs);
  for (uint32_t s = 0; s < 4; ++s) original.allocate();
  for (const Update& u : random_updates(9, 3, 4)) apply(original, u);
  AggregateStore fresh(specs);
  fresh.allocate();
  const std::vector<std::string> empty_results = results_of(fresh, 0);

  std::string bytes;
  ByteWriter w(&bytes);
  original.serialize_slot(1, w);
  AggregateStore target(specs);
  uint32_t slot = target.allocate();
  // Every prefix up to 2000 bytes, then a sample (the slot is large: it has every aggregate).
  for (size_t len = 0; len < bytes.size(); len += len < 2000 ? 1 : 97) {
    std::string prefix = bytes.substr(0, len);
    ByteReader r(prefix);
    Status st = target.deserialize_slot(r, slot);
    ASSERT_EQ(st.code(), StatusCode::kDataLoss) << "prefix " << len << " of " << bytes.size();
    ASSERT_EQ(results_of(target, slot), empty_results) << "prefix " << len;
  }
  ByteReader r(bytes);
  ASSERT_TRUE(target.deserialize_slot(r, slot).is_ok());
  EXPECT_EQ(results_of(target, slot), results_of(original, 1));
}

TEST(AggregateStoreCheckpointTest, CorruptSlotsNeverCrash) {
  const std::vector<AggregateSpec> specs = every_aggregate();
  AggregateStore original(specs);
  for (uint32_t s = 0; s < 4; ++s) original.allocate();
  for (const Update& u : random_updates(10, 2, 4)) apply(original, u);
  std::string bytes;
  ByteWriter w(&bytes);
  original.serialize_slot(2, w);
  std::mt19937_64 rng(11);
  AggregateStore target(specs);
  uint32_t slot = target.allocate();
  const std::vector<Update> more = random_updates(12, 1, 4);
  for (int trial = 0; trial < 300; ++trial) {
    std::string corrupt = bytes;
    for (int f = 0; f < 3; ++f) corrupt[rng() % corrupt.size()] = static_cast<char>(rng());
    ByteReader r(corrupt);
    Status st = target.deserialize_slot(r, slot);
    if (!st.is_ok()) {
      EXPECT_EQ(st.code(), StatusCode::kDataLoss);
      continue;
    }
    // Whatever decoded must be usable: update, merge, results.
    std::vector<uint32_t> slots(more[0].rows.size(), slot);
    target.update(more[0].input, more[0].rows.data(), slots.data(), slots.size());
    uint32_t other = target.allocate();
    target.merge(other, slot);
    (void)results_of(target, slot);
    (void)results_of(target, other);
    target.release(other);
  }
}

// ------------------------------------------------------------------ GroupTable

// The hash exchange's routing hash (runtime/job.cc, ChannelEmitter::emit).
uint64_t exchange_hash(const RecordBatch& batch, const std::vector<int>& keys, size_t r) {
  uint64_t h = 0;
  for (int k : keys) h = hash_combine(h, batch.column(static_cast<size_t>(k)).hash_row(r));
  return h;
}

TEST(GroupTableTest, KeyHashIsTheHashExchangeHash) {
  std::mt19937_64 rng(21);
  std::vector<Update> updates = random_updates(22, 3, 4);
  // Keys in another order than the input's, every type, NULLs included.
  const std::vector<int> key_columns = {kS, kD, kI, kT, kB, kIv};
  std::vector<Field> key_fields;
  for (int k : key_columns) key_fields.push_back(checkpoint_schema()->field(static_cast<size_t>(k)));
  GroupTable table(make_schema(key_fields));
  AggregateStore ids({});
  std::string buffer;
  for (const Update& u : updates) {
    for (size_t r = 0; r < u.input.num_rows; ++r) {
      uint32_t g = table.find_or_insert(u.input, key_columns, r, buffer, ids);
      ASSERT_EQ(table.key_hash(g), exchange_hash(u.input, key_columns, r)) << "row " << r;
      EXPECT_EQ(key_group_of(table.key_hash(g)), key_group_of(exchange_hash(u.input, key_columns, r)));
    }
  }
  // -0.0 and 0.0 are one key and one hash.
  RecordBatch zeros(make_schema({{"d", TypeId::kFloat64, true}}));
  zeros.columns[0].append_double(0.0);
  zeros.columns[0].append_double(-0.0);
  zeros.num_rows = 2;
  GroupTable by_double(zeros.schema);
  uint32_t a = by_double.find_or_insert(zeros, {0}, 0, buffer, ids);
  uint32_t b = by_double.find_or_insert(zeros, {0}, 1, buffer, ids);
  EXPECT_EQ(a, b);
  EXPECT_EQ(by_double.key_hash(a), exchange_hash(zeros, {0}, 1));
}

TEST(GroupTableTest, InsertKeyRebuildsGroupsFromSerializedKeys) {
  std::vector<Update> updates = random_updates(23, 2, 4);
  const std::vector<int> key_columns = {kS, kT, kB};
  std::vector<Field> key_fields;
  for (int k : key_columns) key_fields.push_back(checkpoint_schema()->field(static_cast<size_t>(k)));
  SchemaPtr key_schema = make_schema(key_fields);
  GroupTable table(key_schema);
  AggregateStore store({make_spec(AggKind::kCountStar, -1, TypeId::kNull)});
  std::string buffer;
  for (const Update& u : updates) {
    std::vector<uint32_t> slots;
    for (uint32_t r : u.rows) slots.push_back(table.slot(table.find_or_insert(u.input, key_columns, r, buffer, store)));
    store.update(u.input, u.rows.data(), slots.data(), slots.size());
  }
  ASSERT_GT(table.size(), 10u);
  // Snapshot as an operator would: per group, the key values and the slot.
  std::vector<std::string> entries(table.size());
  for (uint32_t g = 0; g < table.size(); ++g) {
    ByteWriter w(&entries[g]);
    for (const Column& c : table.keys().columns) write_column_value(w, c, g);
    store.serialize_slot(table.slot(g), w);
  }
  // Restore in reverse order: group ids differ, keys, hashes and results do not.
  GroupTable restored(key_schema);
  AggregateStore restored_store(store.specs());
  RecordBatch scratch(key_schema);
  for (size_t e = entries.size(); e-- > 0;) {
    ByteReader r(entries[e]);
    scratch.clear();
    for (Column& c : scratch.columns) ASSERT_TRUE(read_column_value(r, c).is_ok());
    scratch.num_rows = 1;
    const size_t before = restored.size();
    uint32_t g = restored.insert_key(scratch, 0, buffer, restored_store);
    EXPECT_EQ(restored.size(), before + 1);
    ASSERT_TRUE(restored_store.deserialize_slot(r, restored.slot(g)).is_ok());
    EXPECT_TRUE(r.at_end());
    EXPECT_EQ(restored.key_hash(g), table.key_hash(static_cast<uint32_t>(e)));
    // The same key again finds the group.
    EXPECT_EQ(restored.insert_key(scratch, 0, buffer, restored_store), g);
    EXPECT_EQ(restored.size(), before + 1);
  }
  // Live rows find the restored groups, and the counts match.
  for (const Update& u : updates) {
    for (uint32_t r : u.rows) {
      uint32_t g = table.find_or_insert(u.input, key_columns, r, buffer, store);
      const size_t before = restored.size();
      uint32_t h = restored.find_or_insert(u.input, key_columns, r, buffer, restored_store);
      ASSERT_EQ(restored.size(), before);
      Column a(TypeId::kInt64), b(TypeId::kInt64);
      store.append_result(0, table.slot(g), a);
      restored_store.append_result(0, restored.slot(h), b);
      ASSERT_EQ(a.int_at(0), b.int_at(0));
    }
  }
}

}  // namespace
}  // namespace sluice
