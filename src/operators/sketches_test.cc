#include "operators/sketches.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "common/hash.h"

namespace sluice {
namespace {

// Uniform double in [0, 1) from the engine's bits (std:: distributions are implementation-
// defined; the engine is not).
double unit(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1p-53; }

uint64_t hash_of(int64_t v) { return hash_bytes(&v, sizeof v); }

// ------------------------------------------------------------------ HyperLogLog

TEST(HyperLogLogTest, ExactWhileSparse) {
  HyperLogLog h;
  EXPECT_EQ(h.estimate(), 0);
  for (int rep = 0; rep < 3; ++rep) {
    for (int64_t v = 0; v < static_cast<int64_t>(HyperLogLog::kMaxSparse); ++v) h.add_hash(hash_of(v));
  }
  EXPECT_FALSE(h.dense());
  EXPECT_EQ(h.estimate(), static_cast<double>(HyperLogLog::kMaxSparse));
  h.add_hash(hash_of(-1));
  EXPECT_TRUE(h.dense());
}

TEST(HyperLogLogTest, RelativeErrorWithinThreeStandardErrors) {
  const double se = HyperLogLog::standard_error();
  EXPECT_NEAR(se, 0.008125, 1e-6);  // 1.04 / sqrt(16384)
  double worst = 0;
  for (int64_t n : {1000, 5000, 20000, 50000, 100000, 200000, 500000, 1000000}) {
    for (uint64_t seed : {1u, 2u, 3u}) {
      HyperLogLog h;
      // Every value twice: duplicates must not count.
      for (int64_t v = 0; v < n; ++v) h.add_hash(hash_of(v * 7919 + static_cast<int64_t>(seed << 40)));
      for (int64_t v = 0; v < n; ++v) h.add_hash(hash_of(v * 7919 + static_cast<int64_t>(seed << 40)));
      const double err = std::fabs(h.estimate() - static_cast<double>(n)) / static_cast<double>(n);
      worst = std::max(worst, err);
      EXPECT_LE(err, 3 * se) << "n=" << n << " seed=" << seed << " estimate=" << h.estimate();
      EXPECT_LE(h.memory_bytes(), HyperLogLog::kRegisters) << "dense state is bounded";
    }
  }
  std::printf("HyperLogLog: worst relative error %.4f%% (standard error %.4f%%)\n", worst * 100, se * 100);
}

TEST(HyperLogLogTest, RelativeErrorOnStrings) {
  HyperLogLog h;
  const int n = 300000;
  for (int i = 0; i < n; ++i) h.add_hash(hash_string("/product/" + std::to_string(i)));
  EXPECT_NEAR(h.estimate(), n, 3 * HyperLogLog::standard_error() * n);
}

TEST(HyperLogLogTest, MemoryIsBoundedWhateverTheInput) {
  HyperLogLog h;
  size_t peak = 0;
  for (int64_t v = 0; v < 2000000; ++v) {
    h.add_hash(hash_of(v));
    if ((v & 1023) == 0) peak = std::max(peak, h.memory_bytes());
  }
  peak = std::max(peak, h.memory_bytes());
  EXPECT_LE(peak, size_t{16384});
  EXPECT_EQ(h.memory_bytes(), size_t{16384});
}

TEST(HyperLogLogTest, MergeEqualsTheUnion) {
  // Sparse+sparse, sparse+dense, dense+sparse and dense+dense all equal one sketch of the union.
  for (auto [na, nb] : {std::pair<int, int>{100, 200}, {100, 50000}, {50000, 100}, {40000, 60000}}) {
    HyperLogLog a, b, all;
    for (int64_t v = 0; v < na; ++v) {
      a.add_hash(hash_of(v));
      all.add_hash(hash_of(v));
    }
    for (int64_t v = 0; v < nb; ++v) {
      b.add_hash(hash_of(v + na / 2));  // overlapping ranges
      all.add_hash(hash_of(v + na / 2));
    }
    HyperLogLog ab;
    ab.merge(a);
    ab.merge(b);
    HyperLogLog ba;
    ba.merge(b);
    ba.merge(a);
    EXPECT_EQ(ab.estimate(), all.estimate()) << na << "+" << nb;
    EXPECT_EQ(ba.estimate(), all.estimate()) << na << "+" << nb;
  }
}

// ------------------------------------------------------------------ DDSketch

// The exact q-quantile the sketch approximates: the element of rank floor(q (n - 1)).
double lower_quantile(const std::vector<double>& sorted, double q) {
  return sorted[static_cast<size_t>(std::floor(q * static_cast<double>(sorted.size() - 1)))];
}

void expect_within_bound(const DDSketch& s, std::vector<double> values, const std::string& what, double* worst) {
  std::sort(values.begin(), values.end());
  for (double q : {0.0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0}) {
    const double exact = lower_quantile(values, q);
    const double got = s.quantile(q);
    const double err = exact == 0 ? std::fabs(got) : std::fabs(got - exact) / std::fabs(exact);
    *worst = std::max(*worst, err);
    EXPECT_LE(err, DDSketch::kRelativeAccuracy + 1e-12) << what << " q=" << q << " exact=" << exact << " got=" << got;
  }
}

TEST(DDSketchTest, EmptyIsNaN) {
  DDSketch s;
  EXPECT_TRUE(std::isnan(s.quantile(0.5)));
  EXPECT_EQ(s.count(), 0u);
}

TEST(DDSketchTest, QuantilesWithinRelativeAccuracyOnRandomData) {
  std::mt19937_64 rng(20240601);
  double worst = 0;
  struct Dist {
    const char* name;
    double (*draw)(std::mt19937_64&);
  };
  const Dist dists[] = {
      {"uniform(0,1000)", [](std::mt19937_64& r) { return unit(r) * 1000; }},
      {"lognormal-ish", [](std::mt19937_64& r) { return std::exp(20 * unit(r) - 10); }},
      {"latency ms", [](std::mt19937_64& r) { return std::floor(-std::log(1 - unit(r)) * 120) + 1; }},
      {"mixed signs", [](std::mt19937_64& r) { return (unit(r) - 0.4) * 1e6; }},
      {"with zeros", [](std::mt19937_64& r) { return unit(r) < 0.3 ? 0.0 : unit(r) * 50; }},
  };
  for (const Dist& d : dists) {
    for (int n : {1, 2, 10, 1000, 100000}) {
      DDSketch s;
      std::vector<double> values;
      for (int i = 0; i < n; ++i) {
        double v = d.draw(rng);
        values.push_back(v);
        s.add(v);
      }
      EXPECT_EQ(s.count(), static_cast<uint64_t>(n));
      expect_within_bound(s, values, std::string(d.name) + " n=" + std::to_string(n), &worst);
    }
  }
  std::printf("DDSketch: worst relative error %.4f%% (bound %.2f%%)\n", worst * 100, DDSketch::kRelativeAccuracy * 100);
}

TEST(DDSketchTest, MergeEqualsTheUnion) {
  std::mt19937_64 rng(7);
  DDSketch a, b, all;
  std::vector<double> values;
  for (int i = 0; i < 20000; ++i) {
    double v = (unit(rng) - 0.2) * std::exp(10 * unit(rng));
    values.push_back(v);
    (i % 3 ? a : b).add(v);
    all.add(v);
  }
  DDSketch ab;
  ab.merge(a);
  ab.merge(b);
  DDSketch ba;
  ba.merge(b);
  ba.merge(a);
  for (double q = 0; q <= 1.0; q += 0.01) {
    EXPECT_EQ(ab.quantile(q), all.quantile(q)) << q;
    EXPECT_EQ(ba.quantile(q), all.quantile(q)) << q;
  }
  double worst = 0;
  expect_within_bound(ab, values, "merged", &worst);
}

TEST(DDSketchTest, StateIsBoundedAndCollapsesOnlyTheSmallest) {
  DDSketch s;
  // Magnitudes from 1e-200 to 1e200: far more than kMaxBins buckets.
  std::vector<double> values;
  for (int e = -200; e <= 200; ++e) {
    for (int k = 1; k <= 9; ++k) {
      double v = k * std::pow(10.0, e);
      values.push_back(v);
      s.add(v);
    }
  }
  EXPECT_LE(s.memory_bytes(), (DDSketch::kMaxBins + 80) * sizeof(uint64_t));
  // The quantiles within 2048 buckets (a factor ~6e17) of the largest value keep their
  // accuracy; the collapsed low end does not (documented).
  std::sort(values.begin(), values.end());
  for (double q : {0.97, 0.98, 0.99, 1.0}) {
    double exact = lower_quantile(values, q);
    EXPECT_NEAR(s.quantile(q), exact, exact * (DDSketch::kRelativeAccuracy + 1e-12)) << q;
  }
  // Collapsing commutes with merging: split the same values two ways.
  DDSketch a, b;
  for (size_t i = 0; i < values.size(); ++i) (i % 2 ? a : b).add(values[i]);
  a.merge(b);
  for (double q = 0; q <= 1.0; q += 0.05) EXPECT_EQ(a.quantile(q), s.quantile(q)) << q;
}

TEST(DDSketchTest, IgnoresNonFinite) {
  DDSketch s;
  s.add(std::nan(""));
  s.add(INFINITY);
  s.add(-INFINITY);
  s.add(5);
  EXPECT_EQ(s.count(), 1u);
  EXPECT_NEAR(s.quantile(0.5), 5, 0.05);
}

// ------------------------------------------------------------------ serialization

template <typename Sketch>
std::string bytes_of(const Sketch& s) {
  std::string out;
  ByteWriter w(&out);
  s.serialize(w);
  return out;
}

template <typename Sketch>
Sketch round_trip(const Sketch& s) {
  const std::string bytes = bytes_of(s);
  ByteReader r(bytes);
  Sketch restored;
  Status st = restored.deserialize(r);
  EXPECT_TRUE(st.is_ok()) << st.message();
  EXPECT_TRUE(r.at_end());
  return restored;
}

TEST(SketchSerdeTest, HyperLogLogRoundTripsEmptySparseAndDense) {
  std::mt19937_64 rng(11);
  for (size_t n : {size_t{0}, size_t{1}, size_t{100}, HyperLogLog::kMaxSparse, size_t{5000}}) {
    SCOPED_TRACE(n);
    HyperLogLog h;
    for (size_t i = 0; i < n; ++i) h.add_hash(rng());
    HyperLogLog restored = round_trip(h);
    EXPECT_EQ(restored.dense(), h.dense());
    EXPECT_EQ(restored.estimate(), h.estimate());
    EXPECT_EQ(bytes_of(restored), bytes_of(h));
    // Adding the same hashes after restore (crossing into dense for the sparse ones) keeps
    // both identical.
    for (int i = 0; i < 1000; ++i) {
      uint64_t x = rng();
      h.add_hash(x);
      restored.add_hash(x);
    }
    EXPECT_EQ(restored.estimate(), h.estimate());
    EXPECT_EQ(bytes_of(restored), bytes_of(h));
  }
}

TEST(SketchSerdeTest, DDSketchRoundTripsAndKeepsAddingIdentically) {
  std::mt19937_64 rng(12);
  // Empty, narrow, signed with zeros, and wide enough to collapse buckets.
  for (int shape = 0; shape < 4; ++shape) {
    SCOPED_TRACE(shape);
    DDSketch s;
    auto next = [&]() -> double {
      switch (shape) {
        case 1: return 1 + unit(rng);
        case 2: return rng() % 5 == 0 ? 0.0 : (unit(rng) - 0.5) * 1e4;
        default: return std::pow(10.0, unit(rng) * 40 - 20) * (rng() % 2 ? 1 : -1);
      }
    };
    if (shape > 0) {
      for (int i = 0; i < 3000; ++i) s.add(next());
    }
    DDSketch restored = round_trip(s);
    EXPECT_EQ(restored.count(), s.count());
    EXPECT_EQ(bytes_of(restored), bytes_of(s));
    for (int i = 0; i < 3000; ++i) {
      double v = shape == 0 ? 1e30 * unit(rng) : next();
      s.add(v);
      restored.add(v);
    }
    for (double q = 0; q <= 1.0; q += 0.05) EXPECT_EQ(restored.quantile(q), s.quantile(q)) << q;
    EXPECT_EQ(bytes_of(restored), bytes_of(s));
  }
}

TEST(SketchSerdeTest, EveryPrefixFailsCleanly) {
  HyperLogLog sparse, dense;
  DDSketch dd;
  for (int64_t i = 0; i < 50; ++i) sparse.add_hash(hash_of(i));
  for (int64_t i = 0; i < 2000; ++i) dense.add_hash(hash_of(i));
  for (int i = -30; i < 30; ++i) dd.add(i * 1.7);
  auto check = [](auto sketch, const std::string& bytes) {
    for (size_t len = 0; len < bytes.size(); ++len) {
      std::string prefix = bytes.substr(0, len);
      ByteReader r(prefix);
      Status s = sketch.deserialize(r);
      ASSERT_EQ(s.code(), StatusCode::kDataLoss) << "prefix " << len;
    }
  };
  check(HyperLogLog(), bytes_of(sparse));
  check(HyperLogLog(), bytes_of(dense));
  check(DDSketch(), bytes_of(dd));
}

TEST(SketchSerdeTest, CorruptFieldsAreRejected) {
  {
    HyperLogLog dense;
    for (int64_t i = 0; i < 2000; ++i) dense.add_hash(hash_of(i));
    std::string bytes = bytes_of(dense);
    bytes[100] = static_cast<char>(200);  // a register past the histogram
    ByteReader r(bytes);
    HyperLogLog h;
    EXPECT_EQ(h.deserialize(r).code(), StatusCode::kDataLoss);
    EXPECT_EQ(h.estimate(), 0);
  }
  {
    HyperLogLog sparse;
    sparse.add_hash(1234);
    sparse.add_hash(1234 + 1);
    std::string bytes = bytes_of(sparse);
    std::memcpy(bytes.data() + 10, bytes.data() + 2, 8);  // the same hash twice
    ByteReader r(bytes);
    HyperLogLog h;
    EXPECT_EQ(h.deserialize(r).code(), StatusCode::kDataLoss);
  }
  {
    std::string bytes;
    ByteWriter w(&bytes);
    w.varint(0);                  // zeros
    w.varint(5);                  // total
    w.i64(int64_t{1} << 40);      // offset: far outside any real index
    w.i64(int64_t{1} << 40);
    w.varint(1);
    w.varint(5);
    ByteReader r(bytes);
    DDSketch s;
    EXPECT_EQ(s.deserialize(r).code(), StatusCode::kDataLoss);
    EXPECT_EQ(s.count(), 0u);
  }
  {
    std::string bytes;
    ByteWriter w(&bytes);
    w.varint(0);
    w.varint(7);  // total disagrees with the buckets
    w.i64(0);
    w.i64(0);
    w.varint(1);
    w.varint(5);
    ByteReader r(bytes);
    DDSketch s;
    EXPECT_EQ(s.deserialize(r).code(), StatusCode::kDataLoss);
  }
}

TEST(SketchSerdeTest, RandomCorruptionNeverCrashes) {
  HyperLogLog sparse;
  DDSketch dd;
  std::mt19937_64 rng(13);
  for (int i = 0; i < 300; ++i) sparse.add_hash(rng());
  for (int i = 0; i < 300; ++i) dd.add((unit(rng) - 0.3) * 1e6);
  const std::string hll_bytes = bytes_of(sparse), dd_bytes = bytes_of(dd);
  for (int trial = 0; trial < 1000; ++trial) {
    std::string h = hll_bytes, d = dd_bytes;
    h[rng() % h.size()] = static_cast<char>(rng());
    d[rng() % d.size()] = static_cast<char>(rng());
    ByteReader rh(h), rd(d);
    HyperLogLog hh;
    DDSketch dds;
    if (hh.deserialize(rh).is_ok()) {
      hh.add_hash(rng());
      (void)hh.estimate();
    }
    if (dds.deserialize(rd).is_ok()) {
      dds.add(unit(rng) * 1e9);
      dds.add(-unit(rng) * 1e-9);
      dds.merge(dd);
      (void)dds.quantile(unit(rng));
    }
  }
}

}  // namespace
}  // namespace sluice
