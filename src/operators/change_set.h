// ChangeSet: the dense ids (groups, keys, partitions) changed since the last checkpoint
// snapshot, so an incremental snapshot (RocksDB backend) writes only those. mark() is O(1)
// and allocation-free once the marks vector has grown to the id range; clear() touches
// only the marked ids.
#pragma once

#include <cstdint>
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
};

}  // namespace sluice
