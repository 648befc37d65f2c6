// RawRecords: a batch of undecoded records read by one source split, with where each
// record came from (byte offset, line number) so a record that fails to decode can be
// sent to the dead-letter queue with its origin.
//
// `data` holds the records back to back; record i is data[begin(i), ends[i]). The buffer
// always keeps kRawPadding spare bytes of capacity after the last record so SIMD parsers
// (simdjson) may read past the end safely: use append_record() / finish() to keep that true.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

inline constexpr size_t kRawPadding = 64;

struct RawRecords {
  std::string data;
  std::vector<uint32_t> ends;     // end offset of each record in `data`
  std::vector<int64_t> offsets;   // position of the record in its source (byte offset or sequence no.)
  std::vector<int64_t> lines;     // 1-based line number in its source, or -1 when not line based

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
