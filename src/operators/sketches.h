// Mergeable sketches behind the approximate aggregates.
//
// HyperLogLog (APPROX_COUNT_DISTINCT): counts distinct 64-bit hashes (XXH3 of the values,
// common/hash.h). It starts *sparse*: an open-addressing table of the exact hashes, which
// gives exact counts (up to 64-bit hash collisions) for small groups, the common case
// when a query groups by user or by short window. Past kMaxSparse hashes (at most 8 KiB) it turns
// *dense*: 2^14 one-byte registers (16 KiB, fixed), whatever the input size. The dense
// estimate is Ertl's improved raw estimator ("New cardinality estimation algorithms for
// HyperLogLog sketches", 2017), unbiased over the whole range without empirical bias
// tables; its standard error is 1.04 / sqrt(2^14) = 0.81%.
//
// DDSketch (APPROX_PERCENTILE): relative-error quantiles (Masson, Rim, Lee, VLDB 2019).
// Value x > 0 goes to bucket i = ceil(log_gamma(x)), gamma = (1 + a) / (1 - a); bucket i
// stands for 2 gamma^i / (gamma + 1), within relative error a of every value in it. So the
// q-quantile returned is within a = 1% (relative) of the exact value of rank
// floor(q * (n - 1)) in the sorted input. Negative values use a mirrored store, zeros (and
// |x| < 1e-300) a counter. Each store holds at most kMaxBins contiguous buckets: a group
// whose values span more than gamma^2048 (about 6e17) in magnitude collapses its
// smallest-magnitude buckets together (into the lowest bucket kept), the only case where
// the bound no longer holds, and only for those values.
//
// Both merge exactly: merging sketches equals sketching the union of their inputs, so a
// result does not depend on how the input was split or merged (session windows).
// Both serialize into checkpoints (ByteWriter) and deserialize to a sketch that gives the
// same results and the same bytes; deserialize validates every field that indexes memory
// (a corrupt checkpoint gives kDataLoss, never a crash).
// Neither is thread-safe; each is owned by one aggregate slot.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/serde.h"
#include "common/status.h"

namespace sluice {

class HyperLogLog {
 public:
  static constexpr int kPrecision = 14;
  static constexpr uint32_t kRegisters = 1u << kPrecision;
  static constexpr size_t kMaxSparse = 768;  // exact hashes kept before going dense
  // Standard error of the dense estimate: 1.04 / sqrt(kRegisters).
  static double standard_error();

  void add_hash(uint64_t hash);
  void merge(const HyperLogLog& other);
  // Number of distinct hashes added: exact while sparse, estimated when dense.
  double estimate() const;
  bool dense() const { return registers_ != nullptr; }
  // Heap bytes held (for memory-bound tests and state accounting).
  size_t memory_bytes() const;

  // Sparse: the exact hashes (sorted, so equal sketches give equal bytes); dense: the
  // registers.
  void serialize(ByteWriter& writer) const;
  // Replaces this sketch with one written by serialize(). On failure (kDataLoss) this
  // sketch is left empty.
  Status deserialize(ByteReader& reader);

 private:
  void insert_sparse(uint64_t hash);
  void add_dense(uint64_t hash);
  void to_dense();

  std::vector<uint64_t> sparse_;  // open addressing, power-of-two size, 0 = empty slot
  size_t sparse_count_ = 0;
  std::unique_ptr<uint8_t[]> registers_;
};

class DDSketch {
 public:
  static constexpr double kRelativeAccuracy = 0.01;
  static constexpr int32_t kMaxBins = 2048;  // per sign

  // Non-finite values are ignored (they have no bucket).
  void add(double v);
  void merge(const DDSketch& other);
  // The q-quantile (q in [0, 1]) of the values added; NaN when empty.
  double quantile(double q) const;
  uint64_t count() const { return zeros_ + pos_.total + neg_.total; }
  size_t memory_bytes() const { return (pos_.bins.capacity() + neg_.bins.capacity()) * sizeof(uint64_t); }

  // The zero count and both stores, bucket for bucket.
  void serialize(ByteWriter& writer) const;
  // Replaces this sketch with one written by serialize(). On failure (kDataLoss) this
  // sketch is left empty.
  Status deserialize(ByteReader& reader);

 private:
  // Buckets [offset, offset + bins.size()) (with some spare room at both ends). Every count
  // sits at bucket max(index, max_index - kMaxBins + 1): which buckets are collapsed
  // depends only on the largest index seen, so adding and merging commute exactly.
  struct Store {
    std::vector<uint64_t> bins;
    int32_t offset = 0;
    int32_t max_index = 0;
    uint64_t total = 0;
    void add(int32_t index, uint64_t n);
    void merge(const Store& other);
    void serialize(ByteWriter& writer) const;
    Status deserialize(ByteReader& reader);
  };
  static int32_t index_of(double magnitude);
  static double value_of(int32_t index);

  Store pos_, neg_;  // neg_ holds -x for x < 0
  uint64_t zeros_ = 0;
};

}  // namespace sluice
