#include "operators/group_table.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "common/hash.h"

namespace sluice {

namespace {

inline void append_key_value(const Column& c, size_t row, std::string& out) {
  if (c.is_null(row)) {
    out.push_back('\0');
    return;
  }
  out.push_back('\1');
  if (c.type() == TypeId::kString) {
    std::string_view v = c.string_at(row);
    uint32_t len = static_cast<uint32_t>(v.size());
    out.append(reinterpret_cast<const char*>(&len), sizeof len);
    out.append(v.data(), v.size());
  } else if (c.type() == TypeId::kFloat64) {
    double d = c.double_at(row);
    if (d == 0) d = 0;
    out.append(reinterpret_cast<const char*>(&d), sizeof d);
  } else {
    int64_t v = c.int_at(row);
    out.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
}

}  // namespace

void encode_key(const RecordBatch& batch, const std::vector<int>& key_columns, size_t row, std::string& out) {
  out.clear();
  for (int k : key_columns) append_key_value(batch.column(static_cast<size_t>(k)), row, out);
}

uint32_t GroupTable::insert_key(const RecordBatch& keys, size_t row, std::string& key_buffer, AggregateStore& store) {
  SLUICE_ASSERT(keys.columns.size() == keys_.columns.size(), "insert_key: {} key columns, the table has {}",
                keys.columns.size(), keys_.columns.size());
  key_buffer.clear();
  for (size_t k = 0; k < keys.columns.size(); ++k) {
    SLUICE_ASSERT(keys.columns[k].type() == keys_.columns[k].type(), "insert_key: key column {} is {}, the table's is {}",
                  k, type_name(keys.columns[k].type()), type_name(keys_.columns[k].type()));
    append_key_value(keys.columns[k], row, key_buffer);
  }
  auto it = index_.find(absl::string_view(key_buffer.data(), key_buffer.size()));
  if (it != index_.end()) return it->second;
  uint32_t group = static_cast<uint32_t>(slots_.size());
  index_.emplace(key_buffer, group);
  slots_.push_back(store.allocate());
  for (size_t k = 0; k < keys.columns.size(); ++k) keys_.columns[k].append_from(keys.columns[k], row);
  keys_.num_rows++;
  return group;
}

uint64_t GroupTable::key_hash(uint32_t group) const {
  uint64_t hash = 0;
  for (const Column& c : keys_.columns) hash = hash_combine(hash, c.hash_row(group));
  return hash;
}

std::vector<uint32_t> GroupTable::sorted_groups() const {
  std::vector<uint32_t> order(slots_.size());
  std::iota(order.begin(), order.end(), 0u);
  const auto& cols = keys_.columns;
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    for (const auto& c : cols) {
      int r = c.compare(a, c, b);
      if (r != 0) return r < 0;
    }
    return a < b;
  });
  return order;
}

}  // namespace sluice
