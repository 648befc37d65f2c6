#include "operators/sketches.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace sluice {

namespace {

// Marks the reader failed and returns a kDataLoss status naming the sketch.
Status sketch_data_loss(ByteReader& reader, std::string_view what, std::string_view why) {
  reader.fail();
  return Status(StatusCode::kDataLoss, fmt::format("malformed {} in checkpoint: {}", what, why));
}

constexpr uint8_t kHllSparse = 0;
constexpr uint8_t kHllDense = 1;

}  // namespace

// ------------------------------------------------------------------ HyperLogLog

namespace {

constexpr int kHllQ = 64 - HyperLogLog::kPrecision;  // hash bits left for the rank

// Ertl (2017), Algorithm 6: sigma(x) = x + sum_{k>=1} x^(2^k) 2^(k-1).
double hll_sigma(double x) {
  if (x == 1.0) return std::numeric_limits<double>::infinity();
  double y = 1.0, z = x;
  for (;;) {
    x *= x;
    double before = z;
    z += x * y;
    y += y;
    if (before == z) return z;
  }
}

// tau(x) = (1 - x - sum_{k>=1} (1 - x^(2^-k))^2 2^-k) / 3.
double hll_tau(double x) {
  if (x == 0.0 || x == 1.0) return 0.0;
  double y = 1.0, z = 1.0 - x;
  for (;;) {
    x = std::sqrt(x);
    double before = z;
    y *= 0.5;
    z -= (1.0 - x) * (1.0 - x) * y;
    if (before == z) return z / 3.0;
  }
}

}  // namespace

double HyperLogLog::standard_error() { return 1.04 / std::sqrt(static_cast<double>(kRegisters)); }

void HyperLogLog::add_hash(uint64_t hash) {
  if (hash == 0) hash = 1;  // 0 marks an empty sparse slot
  if (registers_) {
    add_dense(hash);
  } else {
    insert_sparse(hash);
  }
}

void HyperLogLog::insert_sparse(uint64_t hash) {
  if (sparse_.empty()) sparse_.assign(16, 0);
  size_t mask = sparse_.size() - 1;
  size_t i = static_cast<size_t>(hash) & mask;
  while (sparse_[i] != 0) {
    if (sparse_[i] == hash) return;
    i = (i + 1) & mask;
  }
  sparse_[i] = hash;
  ++sparse_count_;
  if (sparse_count_ > kMaxSparse) return to_dense();
  if (sparse_count_ * 4 > sparse_.size() * 3) {
    std::vector<uint64_t> old(sparse_.size() * 2, 0);
    old.swap(sparse_);
    mask = sparse_.size() - 1;
    for (uint64_t h : old) {
      if (h == 0) continue;
      size_t j = static_cast<size_t>(h) & mask;
      while (sparse_[j] != 0) j = (j + 1) & mask;
      sparse_[j] = h;
    }
  }
}

void HyperLogLog::add_dense(uint64_t hash) {
  const uint32_t index = static_cast<uint32_t>(hash >> kHllQ);
  const uint64_t rest = hash << kPrecision;  // the other kHllQ bits, at the top
  const uint8_t rank = rest == 0 ? static_cast<uint8_t>(kHllQ + 1) : static_cast<uint8_t>(__builtin_clzll(rest) + 1);
  if (rank > registers_[index]) registers_[index] = rank;
}

void HyperLogLog::to_dense() {
  registers_ = std::make_unique<uint8_t[]>(kRegisters);  // value-initialised: zeros
  for (uint64_t h : sparse_) {
    if (h != 0) add_dense(h);
  }
  std::vector<uint64_t>().swap(sparse_);
  sparse_count_ = 0;
}

void HyperLogLog::merge(const HyperLogLog& other) {
  if (other.registers_) {
    if (!registers_) to_dense();
    for (uint32_t i = 0; i < kRegisters; ++i) registers_[i] = std::max(registers_[i], other.registers_[i]);
    return;
  }
  for (uint64_t h : other.sparse_) {
    if (h != 0) add_hash(h);
  }
}

double HyperLogLog::estimate() const {
  if (!registers_) return static_cast<double>(sparse_count_);
  std::array<uint32_t, kHllQ + 2> histogram{};
  for (uint32_t i = 0; i < kRegisters; ++i) histogram[registers_[i]]++;
  const double m = kRegisters;
  double z = m * hll_tau((m - histogram[kHllQ + 1]) / m);
  for (int k = kHllQ; k >= 1; --k) z = 0.5 * (z + histogram[static_cast<size_t>(k)]);
  z += m * hll_sigma(histogram[0] / m);
  constexpr double kAlphaInf = 0.72134752044448170368;  // 1 / (2 ln 2)
  return kAlphaInf * m * m / z;
}

size_t HyperLogLog::memory_bytes() const {
  return sparse_.capacity() * sizeof(uint64_t) + (registers_ ? kRegisters : 0);
}

void HyperLogLog::serialize(ByteWriter& writer) const {
  if (registers_) {
    writer.u8(kHllDense);
    writer.raw(registers_.get(), kRegisters);
    return;
  }
  writer.u8(kHllSparse);
  std::vector<uint64_t> hashes;
  hashes.reserve(sparse_count_);
  for (uint64_t h : sparse_) {
    if (h != 0) hashes.push_back(h);
  }
  std::sort(hashes.begin(), hashes.end());
  writer.varint(hashes.size());
  for (uint64_t h : hashes) writer.u64(h);
}

Status HyperLogLog::deserialize(ByteReader& reader) {
  *this = HyperLogLog();
  const uint8_t mode = reader.u8();
  RETURN_IF_ERROR(reader.status("HyperLogLog"));
  if (mode == kHllDense) {
    auto registers = std::make_unique<uint8_t[]>(kRegisters);
    reader.raw(registers.get(), kRegisters);
    RETURN_IF_ERROR(reader.status("HyperLogLog"));
    for (uint32_t i = 0; i < kRegisters; ++i) {
      // estimate() indexes a histogram by register value.
      if (registers[i] > kHllQ + 1) {
        return sketch_data_loss(reader, "HyperLogLog", fmt::format("register {} is {}", i, registers[i]));
      }
    }
    registers_ = std::move(registers);
    return Status::ok();
  }
  if (mode != kHllSparse) return sketch_data_loss(reader, "HyperLogLog", fmt::format("unknown mode {}", mode));
  const uint64_t n = reader.count(sizeof(uint64_t));
  RETURN_IF_ERROR(reader.status("HyperLogLog"));
  if (n > kMaxSparse) return sketch_data_loss(reader, "HyperLogLog", fmt::format("{} sparse hashes", n));
  HyperLogLog restored;
  for (uint64_t i = 0; i < n; ++i) {
    const uint64_t h = reader.u64();
    RETURN_IF_ERROR(reader.status("HyperLogLog"));
    if (h == 0) return sketch_data_loss(reader, "HyperLogLog", "a zero sparse hash");
    restored.insert_sparse(h);
  }
  if (restored.sparse_count_ != n) return sketch_data_loss(reader, "HyperLogLog", "duplicate sparse hashes");
  *this = std::move(restored);
  return Status::ok();
}

// ------------------------------------------------------------------ DDSketch

namespace {

constexpr double kGamma = (1 + DDSketch::kRelativeAccuracy) / (1 - DDSketch::kRelativeAccuracy);
const double kInvLnGamma = 1.0 / std::log(kGamma);
constexpr double kMinIndexable = 1e-300;  // smaller magnitudes count as zero
constexpr int32_t kSlack = 32;            // spare buckets added when a store grows

}  // namespace

int32_t DDSketch::index_of(double magnitude) {
  return static_cast<int32_t>(std::ceil(std::log(magnitude) * kInvLnGamma));
}

double DDSketch::value_of(int32_t index) {
  // Midpoint (in relative terms) of (gamma^(i-1), gamma^i]: within kRelativeAccuracy of both ends.
  return 2.0 * std::exp(static_cast<double>(index) / kInvLnGamma) / (kGamma + 1.0);
}

void DDSketch::Store::add(int32_t index, uint64_t n) {
  if (n == 0) return;
  total += n;
  if (bins.empty()) {
    offset = index - kSlack;
    max_index = index;
    bins.assign(2 * kSlack + 1, 0);
  }
  if (index > max_index) {
    max_index = index;
    const int32_t floor = max_index - kMaxBins + 1;
    if (floor > offset) {
      // Collapse the buckets now below the lowest one kept into it.
      const size_t cut = std::min(static_cast<size_t>(floor - offset), bins.size());
      uint64_t folded = 0;
      for (size_t j = 0; j < cut; ++j) folded += bins[j];
      bins.erase(bins.begin(), bins.begin() + static_cast<std::ptrdiff_t>(cut));
      offset = floor;
      if (bins.empty()) bins.push_back(0);
      bins[0] += folded;
    }
  }
  index = std::max(index, max_index - kMaxBins + 1);
  // Capacity grows geometrically but never past the most a store can need.
  auto reserve_for = [this](size_t needed) {
    if (needed <= bins.capacity()) return;
    constexpr size_t kMostBins = static_cast<size_t>(kMaxBins + 2 * kSlack + 1);
    bins.reserve(std::max(needed, std::min(2 * bins.capacity(), kMostBins)));
  };
  if (index < offset) {
    const int32_t new_offset = std::max(index - kSlack, max_index - kMaxBins + 1);
    reserve_for(bins.size() + static_cast<size_t>(offset - new_offset));
    bins.insert(bins.begin(), static_cast<size_t>(offset - new_offset), 0);
    offset = new_offset;
  } else if (index >= offset + static_cast<int32_t>(bins.size())) {
    const size_t size = static_cast<size_t>(index - offset + 1 + kSlack);
    reserve_for(size);
    bins.resize(size, 0);
  }
  bins[static_cast<size_t>(index - offset)] += n;
}

void DDSketch::Store::merge(const Store& other) {
  if (other.total == 0) return;
  // Highest first: the collapse floor moves once, then lower buckets land above or on it.
  for (size_t j = other.bins.size(); j-- > 0;) {
    if (other.bins[j]) add(other.offset + static_cast<int32_t>(j), other.bins[j]);
  }
}

namespace {
// Bucket indexes of real values lie within about +-36000; a checkpoint with indexes far
// beyond is corrupt (and could overflow the int32 index arithmetic of Store::add).
constexpr int64_t kMaxAbsIndex = int64_t{1} << 24;
constexpr size_t kMostBins = static_cast<size_t>(DDSketch::kMaxBins + 2 * kSlack + 1);
}  // namespace

void DDSketch::Store::serialize(ByteWriter& writer) const {
  writer.varint(total);
  writer.i64(offset);
  writer.i64(max_index);
  writer.varint(bins.size());
  for (uint64_t b : bins) writer.varint(b);
}

Status DDSketch::Store::deserialize(ByteReader& reader) {
  const uint64_t stored_total = reader.varint();
  const int64_t stored_offset = reader.i64();
  const int64_t stored_max = reader.i64();
  const uint64_t n = reader.count(1);
  RETURN_IF_ERROR(reader.status("DDSketch"));
  if (stored_offset < -kMaxAbsIndex || stored_offset > kMaxAbsIndex || stored_max < -kMaxAbsIndex ||
      stored_max > kMaxAbsIndex) {
    return sketch_data_loss(reader, "DDSketch", fmt::format("bucket index {} / {} out of range", stored_offset, stored_max));
  }
  if (n > kMostBins) return sketch_data_loss(reader, "DDSketch", fmt::format("{} buckets", n));
  std::vector<uint64_t> stored_bins(n);
  uint64_t sum = 0;
  for (uint64_t& b : stored_bins) {
    b = reader.varint();
    if (__builtin_add_overflow(sum, b, &sum)) return sketch_data_loss(reader, "DDSketch", "bucket counts overflow");
  }
  RETURN_IF_ERROR(reader.status("DDSketch"));
  if (sum != stored_total) {
    return sketch_data_loss(reader, "DDSketch", fmt::format("buckets sum to {}, total says {}", sum, stored_total));
  }
  bins = std::move(stored_bins);
  offset = static_cast<int32_t>(stored_offset);
  max_index = static_cast<int32_t>(stored_max);
  total = stored_total;
  return Status::ok();
}

void DDSketch::serialize(ByteWriter& writer) const {
  writer.varint(zeros_);
  pos_.serialize(writer);
  neg_.serialize(writer);
}

Status DDSketch::deserialize(ByteReader& reader) {
  *this = DDSketch();
  const uint64_t zeros = reader.varint();
  RETURN_IF_ERROR(reader.status("DDSketch"));
  Status s = pos_.deserialize(reader);
  if (s.is_ok()) s = neg_.deserialize(reader);
  if (!s.is_ok()) {
    *this = DDSketch();
    return s;
  }
  zeros_ = zeros;
  return Status::ok();
}

void DDSketch::add(double v) {
  if (!std::isfinite(v)) return;
  const double m = std::fabs(v);
  if (m < kMinIndexable) {
    ++zeros_;
  } else if (v > 0) {
    pos_.add(index_of(m), 1);
  } else {
    neg_.add(index_of(m), 1);
  }
}

void DDSketch::merge(const DDSketch& other) {
  pos_.merge(other.pos_);
  neg_.merge(other.neg_);
  zeros_ += other.zeros_;
}

double DDSketch::quantile(double q) const {
  const uint64_t n = count();
  if (n == 0) return std::numeric_limits<double>::quiet_NaN();
  q = std::clamp(q, 0.0, 1.0);
  const double rank = q * static_cast<double>(n - 1);
  double seen = 0;
  // Ascending value order: negatives from the largest magnitude, zeros, then positives.
  for (size_t j = neg_.bins.size(); j-- > 0;) {
    seen += static_cast<double>(neg_.bins[j]);
    if (neg_.bins[j] && seen > rank) return -value_of(neg_.offset + static_cast<int32_t>(j));
  }
  seen += static_cast<double>(zeros_);
  if (zeros_ && seen > rank) return 0.0;
  for (size_t j = 0; j < pos_.bins.size(); ++j) {
    seen += static_cast<double>(pos_.bins[j]);
    if (pos_.bins[j] && seen > rank) return value_of(pos_.offset + static_cast<int32_t>(j));
  }
  // Only reachable through rounding of `rank` at q = 1: the largest value.
  if (pos_.total) return value_of(pos_.max_index);
  if (zeros_) return 0.0;
  return -value_of(neg_.offset);
}

}  // namespace sluice
