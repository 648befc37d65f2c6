// The matcher against the brute-force reference (reference_matcher.h) over random
// patterns and streams, plus the pattern compiler's errors and a few worked examples.
#include "cep/matcher.h"

#include <gtest/gtest.h>

#include <iterator>
#include <random>

#include <fmt/format.h>

#include "cep/reference_matcher.h"

namespace sluice::cep {
namespace {

// --- Pattern errors ---

PatternError error_of(std::string_view text) {
  Pattern p;
  PatternError e;
  EXPECT_FALSE(compile_pattern(text, p, e)) << text;
  return e;
}

TEST(CepPattern, RejectsBadPatternsWithTheirOffset) {
  struct Case {
    const char* text;
    int offset;
    const char* message;
  } cases[] = {
      {"", 0, "empty"},
      {"A{", 1, "quantifier"},
      {"A{3,1}", 1, "below lower bound"},
      {"A{,}", 1, "give a bound"},
      {"A{x}", 2, "bad quantifier"},
      {"(A B", 0, "missing ')'"},
      {"A B)", 3, "unbalanced ')'"},
      {"A**", 2, "two quantifiers"},
      {"*A", 0, "follows nothing"},
      {"A?", 0, "can match no rows"},
      {"A* B?", 0, "can match no rows"},
      {"(A?)+ B", 4, "can match no rows"},
      {"A{0}", 1, "matches nothing"},
      {"A |", 3, "ends where a variable"},
      {"A || B", 3, "empty"},
      {"^A", 0, "anchor"},
      {"A{1001}", 2, "larger than 1000"},
      {"A # B", 2, "unexpected '#'"},
  };
  for (const auto& c : cases) {
    PatternError e = error_of(c.text);
    EXPECT_EQ(e.offset, c.offset) << c.text << ": " << e.message;
    EXPECT_NE(e.message.find(c.message), std::string::npos) << c.text << ": " << e.message;
  }
}

TEST(CepPattern, CompilesQuantifiersIntoPreferenceOrderedPrograms) {
  auto p = compile_pattern("a b+");
  ASSERT_TRUE(p.is_ok()) << p.status().to_string();
  EXPECT_EQ(p.value().variables, (std::vector<std::string>{"A", "B"}));
  EXPECT_EQ(p.value().describe(), "0: A -> 1\n1: B -> 2\n2: split 1, 3\n3: match\n");
  auto r = compile_pattern("A B+?");
  EXPECT_EQ(r.value().describe(), "0: A -> 1\n1: B -> 2\n2: split 3, 1\n3: match\n");
  auto bounded = compile_pattern("A{1,3}");
  EXPECT_EQ(bounded.value().describe(), "0: A -> 1\n1: split 2, 5\n2: A -> 3\n3: split 4, 5\n4: A -> 5\n5: match\n");
  auto alt = compile_pattern("(A | B) C");
  EXPECT_EQ(alt.value().first_variables, 3u);
  EXPECT_TRUE(compile_pattern("A{1000} B").is_ok());
  EXPECT_FALSE(compile_pattern("(A{1000}){20}").is_ok());  // too many instructions
}

// --- Running the matcher ---

struct Collected : MatchSink {
  const Matcher* matcher = nullptr;
  const MatcherConfig* config = nullptr;
  std::vector<std::string> out;
  std::vector<Micros> emit_times;
  void on_match(const PartitionState&, const MatchView& m) override {
    std::string s = fmt::format("#{} rows {}..{} ({} rows) last {}", m.number, m.start_row, m.slots[slot::kEndRow],
                                m.slots[slot::kRows],
                                config->pattern.variables[static_cast<size_t>(m.slots[slot::kClassifier])]);
    for (size_t i = 0; i < config->aggregates.size(); ++i) {
      Column c(config->aggregates[i].result_type());
      matcher->append_aggregate(m.slots, *m.arena, i, c);
      s += " " + c.value_to_string(0);
    }
    out.push_back(s);
    emit_times.push_back(m.emit_time);
  }
};

std::vector<std::string> reference_output(const MatcherConfig& c, const std::vector<reference::Row>& rows,
                                          const RecordBatch& args) {
  reference::ReferenceMatcher ref(c);
  std::vector<std::string> out;
  int64_t n = 0;
  for (const auto& m : ref.run(rows)) {
    std::string s = fmt::format("#{} rows {}..{} ({} rows) last {}", ++n, m.start, m.rows.back().first, m.rows.size(),
                                c.pattern.variables[static_cast<size_t>(m.rows.back().second)]);
    for (const auto& a : c.aggregates) {
      Column col(a.result_type());
      reference::reference_aggregate(a, m, args, col);
      s += " " + col.value_to_string(0);
    }
    out.push_back(s);
  }
  return out;
}

std::vector<const Column*> column_pointers(const RecordBatch& b) {
  std::vector<const Column*> out;
  for (const auto& c : b.columns) out.push_back(&c);
  return out;
}

// Feeds `rows` in order (time advanced to each row's time, as the operator does), then ends.
Collected run_matcher(const MatcherConfig& c, const std::vector<reference::Row>& rows, const RecordBatch& args) {
  Matcher m(c);
  Collected sink;
  sink.matcher = &m;
  sink.config = &c;
  PartitionState p;
  const auto columns = column_pointers(args);
  for (size_t i = 0; i < rows.size(); ++i) {
    RowRef r{rows[i].variables, rows[i].time, columns.data(), i};
    Status s = m.on_row(p, r, sink);
    EXPECT_TRUE(s.is_ok()) << s.to_string();
  }
  m.finish(p, sink);
  EXPECT_TRUE(p.empty());
  return sink;
}

// Feeds rows before `cut` to one matcher, saves its state, loads it into a fresh matcher
// that takes the rest, then ends: the matches of both.
std::vector<std::string> run_with_checkpoint(const MatcherConfig& c, const std::vector<reference::Row>& rows,
                                             const RecordBatch& args, size_t cut) {
  const auto columns = column_pointers(args);
  Matcher first(c);
  Collected sink;
  sink.matcher = &first;
  sink.config = &c;
  PartitionState p;
  for (size_t i = 0; i < cut; ++i) {
    EXPECT_TRUE(first.on_row(p, RowRef{rows[i].variables, rows[i].time, columns.data(), i}, sink).is_ok());
  }
  std::string bytes;
  ByteWriter w(&bytes);
  first.write(p, w);
  Matcher second(c);
  sink.matcher = &second;
  PartitionState q;
  ByteReader r(bytes);
  EXPECT_TRUE(second.read(r, q).is_ok());
  EXPECT_TRUE(r.at_end());
  for (size_t i = cut; i < rows.size(); ++i) {
    EXPECT_TRUE(second.on_row(q, RowRef{rows[i].variables, rows[i].time, columns.data(), i}, sink).is_ok());
  }
  second.finish(q, sink);
  return sink.out;
}

RecordBatch make_args(size_t n, std::mt19937_64& rng) {
  RecordBatch b(make_schema({{"x", TypeId::kInt64, true}, {"d", TypeId::kFloat64, true}, {"s", TypeId::kString, true}}));
  for (size_t i = 0; i < n; ++i) {
    if (rng() % 7 == 0) {
      b.columns[0].append_null();
    } else {
      b.columns[0].append_int(static_cast<int64_t>(rng() % 100) - 20);
    }
    b.columns[1].append_double(static_cast<double>(rng() % 1000) / 8.0);
    if (rng() % 9 == 0) {
      b.columns[2].append_null();
    } else {
      b.columns[2].append_string(std::string(1 + rng() % 3, static_cast<char>('a' + rng() % 5)));
    }
  }
  b.num_rows = n;
  return b;
}

std::vector<MeasureAggregate> all_aggregates(size_t variables) {
  std::vector<MeasureAggregate> out;
  auto add = [&](MeasureKind k, int v, int arg, TypeId t) { out.push_back({k, v, arg, t}); };
  add(MeasureKind::kCount, -1, -1, TypeId::kNull);
  add(MeasureKind::kFirst, 0, 0, TypeId::kInt64);
  add(MeasureKind::kLast, -1, 2, TypeId::kString);
  add(MeasureKind::kSum, -1, 0, TypeId::kInt64);
  add(MeasureKind::kSum, 0, 1, TypeId::kFloat64);
  add(MeasureKind::kAvg, -1, 0, TypeId::kInt64);
  add(MeasureKind::kMin, -1, 2, TypeId::kString);
  add(MeasureKind::kMax, static_cast<int>(variables) - 1, 0, TypeId::kInt64);
  add(MeasureKind::kCount, static_cast<int>(variables) - 1, 2, TypeId::kString);
  add(MeasureKind::kFirst, static_cast<int>(variables) - 1, 2, TypeId::kString);
  return out;
}

TEST(CepMatcher, FiveFailedLoginsThenAPurchase) {
  MatcherConfig c;
  c.pattern = compile_pattern("F{5} P").value();
  c.within = 10 * 60 * kMicrosPerSecond;
  c.aggregates = {{MeasureKind::kCount, 0, -1, TypeId::kNull}, {MeasureKind::kLast, 1, 0, TypeId::kInt64}};
  std::mt19937_64 rng(1);
  // F F F F F F P (6 failures: the match starts at the second), P alone, then 5 F and a
  // P 11 minutes after the first F (outside WITHIN).
  std::vector<uint64_t> vars = {1, 1, 1, 1, 1, 1, 2, 2, 1, 1, 1, 1, 1, 2};
  std::vector<Micros> times = {0, 1, 2, 3, 4, 5, 6, 7, 100, 101, 102, 103, 104, 100 + 11 * 60 * kMicrosPerSecond};
  std::vector<reference::Row> rows;
  for (size_t i = 0; i < vars.size(); ++i) rows.push_back({times[i], vars[i]});
  RecordBatch args = make_args(rows.size(), rng);
  auto got = run_matcher(c, rows, args);
  ASSERT_EQ(got.out.size(), 1u);
  EXPECT_EQ(got.out[0].substr(0, 28), "#1 rows 1..6 (6 rows) last P");
  EXPECT_EQ(got.emit_times[0], 7);  // decided by row 6 (time 6)
  EXPECT_EQ(got.out, reference_output(c, rows, args));
}

TEST(CepMatcher, GreedyWaitsReluctantDoesNot) {
  for (bool reluctant : {false, true}) {
    MatcherConfig c;
    c.pattern = compile_pattern(reluctant ? "A B+?" : "A B+").value();
    std::vector<reference::Row> rows = {{0, 1}, {1, 2}, {2, 2}, {3, 2}, {4, 1}};
    std::mt19937_64 rng(2);
    RecordBatch args = make_args(rows.size(), rng);
    auto got = run_matcher(c, rows, args);
    ASSERT_EQ(got.out.size(), 1u);
    EXPECT_EQ(got.out[0], reluctant ? "#1 rows 0..1 (2 rows) last B" : "#1 rows 0..3 (4 rows) last B");
    EXPECT_EQ(got.emit_times[0], reluctant ? 2 : 5);  // greedy: decided by the A at time 4
  }
}

TEST(CepMatcher, RelaxedContiguitySkipsRowsThatMatchNothing) {
  MatcherConfig c;
  c.pattern = compile_pattern("A B").value();
  c.contiguity = Contiguity::kRelaxed;
  std::vector<reference::Row> rows = {{0, 1}, {1, 0}, {2, 0}, {3, 2}};
  std::mt19937_64 rng(3);
  RecordBatch args = make_args(rows.size(), rng);
  auto got = run_matcher(c, rows, args);
  EXPECT_EQ(got.out, std::vector<std::string>{"#1 rows 0..3 (2 rows) last B"});
  c.contiguity = Contiguity::kStrict;
  EXPECT_TRUE(run_matcher(c, rows, args).out.empty());
}

TEST(CepMatcher, PartialMatchLimitIsAnError) {
  MatcherConfig c;
  c.pattern = compile_pattern("A B").value();
  c.contiguity = Contiguity::kRelaxed;
  c.max_partial_matches = 3;
  Matcher m(c);
  Collected sink;
  sink.matcher = &m;
  sink.config = &c;
  PartitionState p;
  std::mt19937_64 rng(4);
  RecordBatch args = make_args(10, rng);
  const auto columns = column_pointers(args);
  Status s;
  for (size_t i = 0; i < 4 && s.is_ok(); ++i) s = m.on_row(p, RowRef{1, static_cast<Micros>(i), columns.data(), i}, sink);
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("more than 3 partial matches"), std::string::npos) << s.message();
}

TEST(CepMatcher, MatchesTheReferenceOnRandomStreams) {
  std::mt19937_64 rng(20261207);
  int compared = 0, matches = 0;
  for (int iteration = 0; iteration < 10000; ++iteration) {
    MatcherConfig c;
    std::string text = reference::random_sequence(rng, 0);
    if (rng() % 6 == 0) text = "(" + text + ") | " + reference::random_sequence(rng, 1);
    Pattern p;
    PatternError e;
    if (!compile_pattern(text, p, e)) continue;  // a nullable pattern
    c.pattern = p;
    c.contiguity = rng() % 2 ? Contiguity::kRelaxed : Contiguity::kStrict;
    c.skip = static_cast<SkipKind>(rng() % 4);
    if (c.skip == SkipKind::kToFirst || c.skip == SkipKind::kToLast) {
      c.skip_variable = static_cast<int>(rng() % p.variables.size());
    }
    c.within = rng() % 3 == 0 ? 0 : static_cast<Micros>(3 + rng() % 20);
    c.aggregates = all_aggregates(p.variables.size());
    const size_t n = 1 + rng() % (c.within == 0 ? 18 : 40);
    std::vector<reference::Row> rows;
    Micros t = 0;
    const unsigned density = 2 + static_cast<unsigned>(rng() % 4);
    for (size_t i = 0; i < n; ++i) {
      t += static_cast<Micros>(rng() % 3);
      uint64_t vars = 0;
      for (size_t v = 0; v < p.variables.size(); ++v) vars |= (rng() % density != 0 ? uint64_t{1} : 0) << v;
      rows.push_back({t, vars});
    }
    RecordBatch args = make_args(n, rng);
    auto expected = reference_output(c, rows, args);
    auto got = run_matcher(c, rows, args);
    ASSERT_EQ(got.out, expected) << "pattern '" << text << "' " << (c.contiguity == Contiguity::kRelaxed ? "relaxed" : "strict")
                                 << " skip " << static_cast<int>(c.skip) << " var " << c.skip_variable << " within "
                                 << c.within << " rows " << n;
    for (size_t i = 1; i < got.emit_times.size(); ++i) ASSERT_GE(got.emit_times[i], got.emit_times[i - 1]);
    ++compared;
    matches += static_cast<int>(expected.size());
  }
  EXPECT_GT(compared, 6000);
  EXPECT_GT(matches, 15000);
}

// Long streams where most rows satisfy few or none of the variables: relaxed attempts
// wait across many rows (the row is not stepped through an attempt none of whose threads
// it feeds, nor through a partition none of whose attempts it feeds) and strict attempts
// end on them without a step; linear patterns step single threads in place. Each run is
// also cut at a random row, saved and restored (the waiting variables are recomputed).
TEST(CepMatcher, MatchesTheReferenceOnLongSparseStreams) {
  const char* patterns[] = {"A{3} B", "A B{2} C", "A{2} B+", "(A | B) C{2}", "A+ B",
                            "A B*? C",  "A{2,}? B", "A (B | C) A", "A{4}",     "A B C"};
  std::mt19937_64 rng(20261208);
  int matches = 0;
  for (int iteration = 0; iteration < 600; ++iteration) {
    const char* text = patterns[iteration % std::size(patterns)];
    MatcherConfig c;
    c.pattern = compile_pattern(text).value();
    c.contiguity = (iteration / std::size(patterns)) % 2 ? Contiguity::kRelaxed : Contiguity::kStrict;
    c.skip = static_cast<SkipKind>(rng() % 4);
    c.skip_variable = static_cast<int>(rng() % c.pattern.variables.size());
    c.within = rng() % 2 ? 0 : static_cast<Micros>(20 + rng() % 60);
    c.max_partial_matches = 1000000;
    c.aggregates = all_aggregates(c.pattern.variables.size());
    const size_t n = 100 + rng() % 100;
    std::vector<reference::Row> rows;
    Micros t = 0;
    const unsigned sparsity = 3 + static_cast<unsigned>(rng() % 6);  // a variable holds on 1 row in `sparsity`
    for (size_t i = 0; i < n; ++i) {
      t += static_cast<Micros>(rng() % 2);
      uint64_t vars = 0;
      for (size_t v = 0; v < c.pattern.variables.size(); ++v) vars |= (rng() % sparsity == 0 ? uint64_t{1} : 0) << v;
      rows.push_back({t, vars});
    }
    RecordBatch args = make_args(n, rng);
    const auto expected = reference_output(c, rows, args);
    const std::string what = fmt::format("pattern '{}' {} skip {} var {} within {}", text,
                                         c.contiguity == Contiguity::kRelaxed ? "relaxed" : "strict",
                                         static_cast<int>(c.skip), c.skip_variable, c.within);
    ASSERT_EQ(run_matcher(c, rows, args).out, expected) << what;
    const size_t cut = rng() % n;
    ASSERT_EQ(run_with_checkpoint(c, rows, args, cut), expected) << what << " cut at " << cut;
    matches += static_cast<int>(expected.size());
  }
  EXPECT_GT(matches, 2000);
}

TEST(CepMatcher, StateRoundTripsThroughACheckpointMidStream) {
  std::mt19937_64 rng(99);
  for (int iteration = 0; iteration < 300; ++iteration) {
    MatcherConfig c;
    c.pattern = compile_pattern(iteration % 2 ? "A B* C" : "A+ B{1,3}? C?").value();
    c.contiguity = iteration % 3 ? Contiguity::kRelaxed : Contiguity::kStrict;
    c.skip = static_cast<SkipKind>(iteration % 4);
    c.skip_variable = 1;
    c.within = iteration % 5 == 0 ? 0 : 15;
    c.aggregates = all_aggregates(c.pattern.variables.size());
    const size_t n = 30;
    std::vector<reference::Row> rows;
    for (size_t i = 0; i < n; ++i) rows.push_back({static_cast<Micros>(i), rng() & 7});
    RecordBatch args = make_args(n, rng);
    auto whole = run_matcher(c, rows, args);
    // Stop after `cut` rows, save, load into a fresh matcher, go on.
    const size_t cut = rng() % n;
    EXPECT_EQ(run_with_checkpoint(c, rows, args, cut), whole.out) << iteration;
  }
}

}  // namespace
}  // namespace sluice::cep
