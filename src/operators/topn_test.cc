// Top-N keeps its rows columnar (a per-scope row store, compacted once evicted rows
// dominate): long runs where nearly every row enters and is then evicted give the same
// result as a direct computation, in continuous and windowed mode.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "operators/checkpoint_test_util.h"
#include "operators/topn.h"

namespace sluice {
namespace {

using testing_checkpoint::StageRunner;
using testing_checkpoint::Step;

struct Row {
  int64_t partition;
  int64_t window_end;
  int64_t v;
  std::string name;
};

// Input [name, v, partition, window_end?, order v]; output [name, v, rn].
std::shared_ptr<TopNOperatorSpec> spec(int64_t limit, bool windowed) {
  TopNConfig c;
  c.visible_columns = 2;
  c.partition_columns = windowed ? std::vector<int>{2, 3} : std::vector<int>{2};
  c.order_columns = {windowed ? 4 : 3};
  c.descending = {true};
  c.nulls_first = {false};
  c.limit = limit;
  c.window_end_column = windowed ? 3 : -1;
  c.output_schema = make_schema(
      {{"name", TypeId::kString, true}, {"v", TypeId::kInt64, true}, {"rn", TypeId::kInt64, false}});
  c.batch_size = 100;
  auto s = std::make_shared<TopNOperatorSpec>(c);
  s->id = "top-n-store";
  return s;
}

SchemaPtr input_schema(bool windowed) {
  std::vector<Field> f = {{"name", TypeId::kString, true}, {"v", TypeId::kInt64, true}, {"p", TypeId::kInt64, true}};
  if (windowed) f.push_back({"window_end", TypeId::kTimestamp, true});
  f.push_back({"order_v", TypeId::kInt64, true});
  return make_schema(f);
}

BatchPtr batch_of(const std::vector<Row>& rows, size_t from, size_t to, bool windowed) {
  auto b = make_batch(input_schema(windowed));
  for (size_t i = from; i < to; ++i) {
    const Row& r = rows[i];
    size_t c = 0;
    b->columns[c++].append_string(r.name);
    b->columns[c++].append_int(r.v);
    b->columns[c++].append_int(r.partition);
    if (windowed) b->columns[c++].append_int(r.window_end);
    b->columns[c++].append_int(r.v);
    b->num_rows++;
  }
  return b;
}

// Mostly rising values: nearly every row enters the top N and evicts the last one.
std::vector<Row> rising_rows(size_t n, int partitions, int windows) {
  std::vector<Row> rows;
  uint64_t state = 12345;
  for (size_t i = 0; i < n; ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    const int64_t noise = static_cast<int64_t>((state >> 33) % 50);
    rows.push_back({static_cast<int64_t>(i % static_cast<size_t>(partitions)),
                    1'000'000 * (1 + static_cast<int64_t>(i % static_cast<size_t>(windows))),
                    static_cast<int64_t>(i) + noise, "row-" + std::to_string(i) + std::string(i % 7, 'x')});
  }
  return rows;
}

// The top `limit` names per (partition, window) by v descending, arrival breaking ties.
std::map<std::pair<int64_t, int64_t>, std::vector<std::string>> expected(const std::vector<Row>& rows, int64_t limit) {
  std::map<std::pair<int64_t, int64_t>, std::vector<size_t>> by;
  for (size_t i = 0; i < rows.size(); ++i) by[{rows[i].partition, rows[i].window_end}].push_back(i);
  std::map<std::pair<int64_t, int64_t>, std::vector<std::string>> out;
  for (auto& [key, idx] : by) {
    std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return rows[a].v > rows[b].v; });
    for (size_t k = 0; k < idx.size() && k < static_cast<size_t>(limit); ++k) {
      out[key].push_back(rows[idx[k]].name + ", " + std::to_string(rows[idx[k]].v) + ", " + std::to_string(k + 1));
    }
  }
  return out;
}

TEST(TopNRowStore, ContinuousTopNThroughManyEvictionsEqualsTheDirectResult) {
  const int64_t limit = 3;
  auto rows = rising_rows(30'000, 2, 1);
  StageRunner runner(spec(limit, false), 1, {2}, {});
  for (size_t at = 0; at < rows.size(); at += 997) {
    ASSERT_TRUE(runner.feed(Step{batch_of(rows, at, std::min(rows.size(), at + 997), false), std::nullopt}).is_ok());
  }
  ASSERT_TRUE(runner.finish().is_ok());
  // Apply the changelog (-D / +I by rank) per partition; the partition is row i % 2, which
  // the row name carries.
  std::map<std::pair<int64_t, int64_t>, std::map<std::string, std::string>> state;  // rank -> row
  for (const std::string& line : runner.all_rows(false)) {
    const std::string row = line.substr(3);
    const int64_t index = std::stoll(row.substr(4, row.find_first_not_of("0123456789", 4) - 4));
    auto& part = state[{index % 2, 1'000'000}];
    const std::string rank = row.substr(row.rfind(", ") + 2);
    if (line.rfind("+I", 0) == 0) {
      part[rank] = row;
    } else {
      ASSERT_EQ(part[rank], row) << "a retraction of a row that is not the one held at its rank";
      part.erase(rank);
    }
  }
  auto want = expected(rows, limit);
  ASSERT_EQ(state.size(), want.size());
  for (auto& [key, ranks] : state) {
    std::vector<std::string> got;
    for (auto& [rank, row] : ranks) got.push_back(row);
    EXPECT_EQ(got, want[key]);
  }
}

TEST(TopNRowStore, WindowTopNThroughManyEvictionsEqualsTheDirectResult) {
  const int64_t limit = 2;
  auto rows = rising_rows(40'000, 3, 2);
  StageRunner runner(spec(limit, true), 1, {2, 3}, {});
  for (size_t at = 0; at < rows.size(); at += 1500) {
    ASSERT_TRUE(runner.feed(Step{batch_of(rows, at, std::min(rows.size(), at + 1500), true), std::nullopt}).is_ok());
  }
  ASSERT_TRUE(runner.feed(Step{nullptr, kMaxWatermark - 1}).is_ok());
  ASSERT_TRUE(runner.finish().is_ok());
  auto want = expected(rows, limit);
  std::vector<std::string> want_rows;
  // Emitted per window end, partitions in key order, ranks ascending.
  for (int64_t end : {1'000'000, 2'000'000}) {
    for (int64_t p = 0; p < 3; ++p) {
      for (const auto& r : want[{p, end}]) want_rows.push_back("+I " + r);
    }
  }
  EXPECT_EQ(runner.all_rows(false), want_rows);
}

}  // namespace
}  // namespace sluice
