// ChangeSet: the dense ids (groups, keys, partitions) changed since the last checkpoint
// snapshot, so an incremental snapshot (RocksDB backend) writes only those. mark() is O(1)
// and allocation-free once the marks vector has grown to the id range; clear() touches
// only the marked ids.
#pragma once

#include <cstdint>
#include <type_traits>
#include <vector>

namespace sluice {

struct ChangeSet {
  std::vector<uint32_t> ids;     // in first-marked order
  std::vector<uint8_t> marked;   // indexed by id
  void mark(uint32_t id) {
    if (marked.size() <= id) marked.resize(id + 1, 0);
    if (!marked[id]) {
      marked[id] = 1;
      ids.push_back(id);
    }
  }
  void clear() {
    for (uint32_t id : ids) marked[id] = 0;
    ids.clear();
  }
  // Calls fn(id) for every id a snapshot must write — the changed ones when `incremental`,
  // else every id below `count` — then clears the set. `fn` returns void or a Status (the
  // first error stops the walk and is returned).
  template <class Fn>
  auto for_snapshot(bool incremental, size_t count, Fn&& fn) {
    using R = decltype(fn(uint32_t{}));
    auto walk = [&](auto&& each) {
      if (incremental) {
        for (uint32_t id : ids) each(id);
      } else {
        for (uint32_t id = 0; id < count; ++id) each(id);
      }
    };
    if constexpr (std::is_void_v<R>) {
      walk(fn);
      clear();
    } else {
      R result{};
      walk([&](uint32_t id) {
        if (result.is_ok()) result = fn(id);
      });
      clear();
      return result;
    }
  }
};

}  // namespace sluice
