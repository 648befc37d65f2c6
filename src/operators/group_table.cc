#include "operators/group_table.h"

#include <algorithm>
#include <cstring>
#include <numeric>

namespace sluice {

void encode_key(const RecordBatch& batch, const std::vector<int>& key_columns, size_t row, std::string& out) {
  out.clear();
  for (int k : key_columns) {
    const Column& c = batch.column(static_cast<size_t>(k));
    if (c.is_null(row)) {
      out.push_back('\0');
      continue;
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
