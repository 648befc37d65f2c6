#include "operators/sketches.h"

#include <gtest/gtest.h>

#include <algorithm>
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

}  // namespace
}  // namespace sluice
