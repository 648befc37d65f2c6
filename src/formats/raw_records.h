// RawRecords: a batch of undecoded records read by one source split, with where each
// record came from (byte offset, line number) so a record that fails to decode can be
// sent to the dead-letter queue with its origin.
//
// `data` holds the records back to back; record i is data[begin(i), ends[i]). The buffer
// always keeps kRawPadding spare bytes of capacity after the last record so SIMD parsers
// (simdjson) may read past the end safely: use append_record() / finish() to keep that true.
//
// Oversized records (longer than the source's max_line_bytes) are not records to decode:
// the reader skipped them without holding them, keeping only their first bytes, and lists
// them apart so the source task dead-letters them and goes on.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

inline constexpr size_t kRawPadding = 64;
// At most this many leading bytes of an oversized record are kept (for the DLQ).
inline constexpr size_t kOversizedPrefixBytes = 4096;

struct OversizedRecord {
  int64_t offset = 0;      // byte offset of the record in its source
  int64_t line = 0;        // 1-based line of its first byte
  int64_t size_bytes = 0;  // its whole length (without the line end)
  int64_t limit_bytes = 0;  // the limit it exceeds
  uint32_t prefix_end = 0;  // its kept first bytes are oversized_prefixes[previous prefix_end, prefix_end)
};

struct RawRecords {
  std::string data;
  std::vector<uint32_t> ends;     // end offset of each record in `data`
  std::vector<int64_t> offsets;   // position of the record in its source (byte offset or sequence no.)
  std::vector<int64_t> lines;     // 1-based line number in its source, or -1 when not line based
  std::vector<OversizedRecord> oversized;  // skipped records, in source order (usually empty)
  std::string oversized_prefixes;

  size_t size() const { return ends.size(); }
  bool empty() const { return ends.empty(); }
  uint32_t begin(size_t i) const { return i == 0 ? 0 : ends[i - 1]; }
  std::string_view record(size_t i) const {
    return std::string_view(data.data() + begin(i), ends[i] - begin(i));
  }
  void clear() {
    data.clear();
    ends.clear();
    offsets.clear();
    lines.clear();
    oversized.clear();
    oversized_prefixes.clear();
  }
  // The kept first bytes of oversized record i.
  std::string_view oversized_prefix(size_t i) const {
    uint32_t b = i == 0 ? 0 : oversized[i - 1].prefix_end;
    return std::string_view(oversized_prefixes.data() + b, oversized[i].prefix_end - b);
  }
  void append_oversized(std::string_view prefix, int64_t offset, int64_t line, int64_t size_bytes, int64_t limit_bytes) {
    oversized_prefixes.append(prefix.data(), std::min(prefix.size(), kOversizedPrefixBytes));
    oversized.push_back(
        OversizedRecord{offset, line, size_bytes, limit_bytes, static_cast<uint32_t>(oversized_prefixes.size())});
  }
  void append_record(std::string_view bytes, int64_t offset, int64_t line) {
    data.append(bytes.data(), bytes.size());
    ends.push_back(static_cast<uint32_t>(data.size()));
    offsets.push_back(offset);
    lines.push_back(line);
  }
  // Ensures the padding invariant after direct writes to `data`.
  void finish() { data.reserve(data.size() + kRawPadding); }
};

}  // namespace sluice
