// Hashing for keys: xxHash3 (64-bit), stable across runs and machines so that key ->
// key group -> instance assignment is deterministic (and later, checkpoint-compatible).
#pragma once

#include <xxhash.h>

#include <cstdint>
#include <string_view>

namespace sluice {

inline uint64_t hash_bytes(const void* data, size_t size, uint64_t seed = 0) {
  return XXH3_64bits_withSeed(data, size, seed);
}
inline uint64_t hash_string(std::string_view s, uint64_t seed = 0) {
  return XXH3_64bits_withSeed(s.data(), s.size(), seed);
}
inline uint64_t hash_int(uint64_t v) {
  // splitmix64 finalizer: cheap and well mixed for integer keys.
  v += 0x9e3779b97f4a7c15ULL;
  v = (v ^ (v >> 30)) * 0xbf58476d1ce4e5b9ULL;
  v = (v ^ (v >> 27)) * 0x94d049bb133111ebULL;
  return v ^ (v >> 31);
}
inline uint64_t hash_combine(uint64_t a, uint64_t b) {
  return hash_int(a ^ (b + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2)));
}

// Keys are hashed into a fixed number of key groups; instances own contiguous ranges of
// key groups. Rescaling moves whole key groups (as in Flink), so state can be redistributed.
inline constexpr int kNumKeyGroups = 128;
inline int key_group_of(uint64_t hash) { return static_cast<int>(hash % kNumKeyGroups); }
inline int instance_of_key_group(int key_group, int parallelism) {
  return key_group * parallelism / kNumKeyGroups;
}

}  // namespace sluice
