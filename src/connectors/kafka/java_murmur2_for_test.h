// Kafka's Java client murmur2, written from its source for the tests (not used by the
// connector, which relies on librdkafka's murmur2_random partitioner): what a Java producer
// would choose, to check that Sluice agrees with it.
#pragma once

#include <cstdint>
#include <string>

namespace sluice::testing {

// Kafka's Java client murmur2 (org.apache.kafka.common.utils.Utils.murmur2): the partition
// of a key is (murmur2(key) & 0x7fffffff) % partitions.
inline int32_t java_murmur2(const std::string& data) {
  const uint32_t m = 0x5bd1e995;
  const int r = 24;
  const size_t length = data.size();
  uint32_t h = 0x9747b28c ^ static_cast<uint32_t>(length);
  const size_t length4 = length / 4;
  for (size_t i = 0; i < length4; i++) {
    const size_t i4 = i * 4;
    uint32_t k = (static_cast<uint32_t>(static_cast<uint8_t>(data[i4 + 0]))) |
                 (static_cast<uint32_t>(static_cast<uint8_t>(data[i4 + 1])) << 8) |
                 (static_cast<uint32_t>(static_cast<uint8_t>(data[i4 + 2])) << 16) |
                 (static_cast<uint32_t>(static_cast<uint8_t>(data[i4 + 3])) << 24);
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  switch (length % 4) {
    case 3: h ^= static_cast<uint32_t>(static_cast<uint8_t>(data[(length & ~3u) + 2])) << 16; [[fallthrough]];
    case 2: h ^= static_cast<uint32_t>(static_cast<uint8_t>(data[(length & ~3u) + 1])) << 8; [[fallthrough]];
    case 1:
      h ^= static_cast<uint32_t>(static_cast<uint8_t>(data[length & ~3u]));
      h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return static_cast<int32_t>(h);
}

// The partition a Java producer picks for `key` (Utils.toPositive(murmur2) % partitions).
inline int java_partition(const std::string& key, int partitions) { return (java_murmur2(key) & 0x7fffffff) % partitions; }

}  // namespace sluice::testing
