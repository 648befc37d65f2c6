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
// them apart so the source task dead-letters them and goes on. A source may list other
// input it refused the same way, with its own reason (append_refused(): the HTTP ingest
// source's rejected request bodies), so every dead letter goes through the reader task.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
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
  uint32_t reason_end = 0;  // refused input: its reason is refusal_reasons[previous reason_end, reason_end)
};

// The metadata of a message a source may fill declared columns with (formats/
// metadata_columns.h names them: _key, _topic, _partition, _offset, _timestamp, _headers).
enum class MetadataField { kKey, kTopic, kPartition, kOffset, kTimestamp, kHeaders };

// Optional per-record metadata of message sources (Kafka, NATS, Redis streams): the key, the
// headers, the broker's timestamp and where the message sits (partition, offset). Empty for
// sources without it (files, the generator): then it costs nothing. When a source sets it,
// every vector has one entry per record (append_metadata()).
struct RecordMetadata {
  std::string keys;                  // record i's key is keys[key_begin(i), key_ends[i])
  std::vector<uint32_t> key_ends;
  std::vector<uint8_t> has_key;      // 0: the record has no key (NULL, not empty)
  // Headers of record i: header_ends[i - 1] .. header_ends[i] index `header_fields`, each a
  // (name, value) pair of byte ranges in `header_bytes`.
  std::string header_bytes;
  std::vector<std::pair<uint32_t, uint32_t>> header_fields;  // name end, value end in header_bytes
  std::vector<uint32_t> header_ends;
  std::vector<int64_t> broker_timestamps;  // micros since the epoch; kMissing when none
  std::vector<int32_t> partitions;
  std::vector<int64_t> message_offsets;
  // The topic (stream, subject) every record of this batch was read from: a batch comes
  // from one split, and a split from one topic.
  std::string topic;

  static constexpr int64_t kMissing = INT64_MIN;
  bool empty() const { return key_ends.empty(); }
  void clear() {
    keys.clear();
    key_ends.clear();
    has_key.clear();
    header_bytes.clear();
    header_fields.clear();
    header_ends.clear();
    broker_timestamps.clear();
    partitions.clear();
    message_offsets.clear();
    topic.clear();
  }
  std::string_view key(size_t i) const {
    uint32_t b = i == 0 ? 0 : key_ends[i - 1];
    return std::string_view(keys.data() + b, key_ends[i] - b);
  }
  size_t num_headers(size_t i) const { return header_ends[i] - (i == 0 ? 0 : header_ends[i - 1]); }
  // Header h (0-based) of record i as (name, value).
  std::pair<std::string_view, std::string_view> header(size_t i, size_t h) const {
    size_t f = (i == 0 ? 0 : header_ends[i - 1]) + h;
    uint32_t b = f == 0 ? 0 : header_fields[f - 1].second;
    auto [name_end, value_end] = header_fields[f];
    return {std::string_view(header_bytes.data() + b, name_end - b),
            std::string_view(header_bytes.data() + name_end, value_end - name_end)};
  }
};

struct RawRecords {
  std::string data;
  std::vector<uint32_t> ends;     // end offset of each record in `data`
  std::vector<int64_t> offsets;   // position of the record in its source (byte offset or sequence no.)
  std::vector<int64_t> lines;     // 1-based line number in its source, or -1 when not line based
  std::vector<OversizedRecord> oversized;  // skipped records, in source order (usually empty)
  std::string oversized_prefixes;
  std::string refusal_reasons;  // usually empty: see OversizedRecord::reason_end
  RecordMetadata metadata;  // empty unless the source carries message metadata

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
    refusal_reasons.clear();
    if (!metadata.empty()) metadata.clear();
  }
  // The kept first bytes of oversized record i.
  std::string_view oversized_prefix(size_t i) const {
    uint32_t b = i == 0 ? 0 : oversized[i - 1].prefix_end;
    return std::string_view(oversized_prefixes.data() + b, oversized[i].prefix_end - b);
  }
  // The reason input listed by append_refused() was refused; empty for an oversized record
  // (its error names the limit).
  std::string_view oversized_reason(size_t i) const {
    uint32_t b = i == 0 ? 0 : oversized[i - 1].reason_end;
    return std::string_view(refusal_reasons.data() + b, oversized[i].reason_end - b);
  }
  void append_oversized(std::string_view prefix, int64_t offset, int64_t line, int64_t size_bytes, int64_t limit_bytes) {
    oversized_prefixes.append(prefix.data(), std::min(prefix.size(), kOversizedPrefixBytes));
    oversized.push_back(OversizedRecord{offset, line, size_bytes, limit_bytes,
                                        static_cast<uint32_t>(oversized_prefixes.size()),
                                        static_cast<uint32_t>(refusal_reasons.size())});
  }
  // Input the source refused for `reason` (one line), `size_bytes` long, of which `prefix`
  // (up to kOversizedPrefixBytes) is kept: dead-lettered with that reason as its error.
  void append_refused(std::string_view prefix, int64_t offset, int64_t line, int64_t size_bytes,
                      std::string_view reason) {
    refusal_reasons.append(reason.data(), reason.size());
    append_oversized(prefix, offset, line, size_bytes, 0);
  }
  void append_record(std::string_view bytes, int64_t offset, int64_t line) {
    data.append(bytes.data(), bytes.size());
    ends.push_back(static_cast<uint32_t>(data.size()));
    offsets.push_back(offset);
    lines.push_back(line);
  }
  // Metadata of the record just appended (append_record() first). `headers` as (name, value).
  void append_metadata(const std::string_view* key, const std::vector<std::pair<std::string_view, std::string_view>>& headers,
                       int64_t broker_timestamp, int32_t partition, int64_t message_offset) {
    RecordMetadata& m = metadata;
    if (key) m.keys.append(key->data(), key->size());
    m.key_ends.push_back(static_cast<uint32_t>(m.keys.size()));
    m.has_key.push_back(key ? 1 : 0);
    for (const auto& [name, value] : headers) {
      m.header_bytes.append(name.data(), name.size());
      uint32_t name_end = static_cast<uint32_t>(m.header_bytes.size());
      m.header_bytes.append(value.data(), value.size());
      m.header_fields.emplace_back(name_end, static_cast<uint32_t>(m.header_bytes.size()));
    }
    m.header_ends.push_back(static_cast<uint32_t>(m.header_fields.size()));
    m.broker_timestamps.push_back(broker_timestamp);
    m.partitions.push_back(partition);
    m.message_offsets.push_back(message_offset);
  }
  // Ensures the padding invariant after direct writes to `data`.
  void finish() { data.reserve(data.size() + kRawPadding); }
};

}  // namespace sluice
