// The row-pattern matcher: MATCH_RECOGNIZE's ONE ROW PER MATCH over one partition's rows
// in event-time order, run as a priority-ordered NFA (Pike VM) per match attempt.
//
// Semantics (SQL:2016, docs/patterns.md): a match attempt starts at every row that is
// allowed to start one (at or after the position the last match's AFTER MATCH SKIP
// chose) and whose row satisfies a variable the pattern can start with. Within an
// attempt the preferred match is the one backtracking would find first: alternatives
// left to right, greedy quantifiers take as many rows as they can, reluctant as few. An
// attempt's threads are kept in that preference order; when one reaches the end of the
// pattern, it becomes the attempt's match and every less preferred thread is dropped;
// the match is final when no more preferred thread is left. Attempts are decided out of
// order but matches are emitted in start order: an attempt that is decided waits for the
// attempts that started before it, and an emitted match discards the later attempts that
// start before its skip target. This is exactly the result of running the backtracking
// search at each allowed start over the whole partition (tests/cep reference_matcher.h).
//
// Contiguity: strict (MATCH_RECOGNIZE's default): a match's rows are consecutive rows of
// the partition. Relaxed (Flink CEP's "skip till next match"): a thread whose variable
// the row does not satisfy keeps waiting (the row is skipped); a row that satisfies it is
// taken. A match's first row is always the attempt's start row.
//
// WITHIN d: every row of a match has event time < start + d; at a row (or a watermark) at
// or past start + d the attempt ends with what it matched so far. With the time bound,
// state is bounded by it; `max_partial_matches` bounds the running attempts of a partition
// in every case (an error names the partition, never unbounded growth).
//
// Measures are not computed from stored rows: each thread carries fixed-size accumulators
// (first/last/count/sum/min/max/avg per variable or over the match, start/end time, the
// classifier of the last row, the row the skip strategy needs). TEXT values are copied into
// the partition's arena (compacted when it grows). So a step copies a few int64 slots and
// allocates nothing once the attempt pool has warmed up.
//
// Cost per row: O(running attempts of the partition), but an attempt none of whose threads
// the row feeds is passed over from its queue entry (AttemptEntry) without a step, and
// with relaxed contiguity a row that feeds no running attempt of the partition skips them
// all; an attempt with one thread on a straight run of variables (F F F in `F{5} P`)
// steps in place.
//
// Emit time: each emitted match carries a time derived only from the data — the event
// time + 1 of the row that decided it, or the start + d of an attempt ended by the time
// bound, or +infinity for attempts ended by the end of the input — maximised over the
// attempts emitted before it in the partition. The operator (cep/match_operator.h) feeds
// rows only once the watermark passed them, so that time lies above the last watermark it
// forwarded and at or below the current one, which the sink's ordered release needs.
//
// Threads: a Matcher and the PartitionStates it works on belong to one operator instance.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <absl/container/inlined_vector.h>

#include "cep/pattern.h"
#include "common/serde.h"
#include "common/status.h"
#include "common/time_util.h"
#include "types/record_batch.h"

namespace sluice::cep {

enum class Contiguity { kStrict, kRelaxed };
enum class SkipKind { kPastLastRow, kToNextRow, kToFirst, kToLast };
enum class MeasureKind { kFirst, kLast, kCount, kSum, kMin, kMax, kAvg };

const char* measure_kind_name(MeasureKind kind);

// One aggregate of the matched rows, over the rows of one variable or of the whole match.
struct MeasureAggregate {
  MeasureKind kind = MeasureKind::kCount;
  int variable = -1;          // -1: every row of the match
  int argument = -1;          // column of the argument batch; -1: COUNT(*)
  TypeId type = TypeId::kNull;  // the argument's type (kNull for COUNT(*))
  TypeId result_type() const;
};

struct MatcherConfig {
  Pattern pattern;
  Contiguity contiguity = Contiguity::kStrict;
  SkipKind skip = SkipKind::kPastLastRow;
  int skip_variable = -1;  // kToFirst / kToLast
  Micros within = 0;       // 0: no time bound
  std::vector<MeasureAggregate> aggregates;
  int64_t max_partial_matches = 10000;
};

// Checks what only the combination can get wrong (skip variable, aggregate types).
Status validate(const MatcherConfig& config);

// The slots of a thread (and of a match): fixed header, then 3 per aggregate.
namespace slot {
inline constexpr size_t kPc = 0;
inline constexpr size_t kEndTime = 1;     // event time of the last row
inline constexpr size_t kClassifier = 2;  // variable of the last row
inline constexpr size_t kSkipRow = 3;     // row number the skip strategy names, -1: none
inline constexpr size_t kEndRow = 4;      // row number of the last row
inline constexpr size_t kRows = 5;        // rows in the match
inline constexpr size_t kHeader = 6;
}  // namespace slot

// The threads of an attempt: one thread of up to three aggregates is held inline, so that
// stepping the usual attempt reads one object rather than two.
using ThreadSlots = absl::InlinedVector<int64_t, slot::kHeader + 3 * 3>;

struct Attempt {
  uint64_t start_row = 0;  // row number in the partition
  Micros start_time = 0;
  bool done = false;
  bool matched = false;
  Micros decided_at = 0;         // when done: the time that decided it
  ThreadSlots threads;           // stride slots each, in preference order
  std::vector<int64_t> match;    // the preferred match so far (stride slots)
};

// An attempt in its partition's queue, with what each row asks of it next to it: a row is
// passed over an attempt that none of its threads wants, and the time bound and the
// queue's front are checked, without touching the attempt (a cache miss per attempt).
struct AttemptEntry {
  uint64_t waits = 0;  // bit v: a thread waits for variable v; 0 once the attempt is done
  Micros start_time = 0;  // the attempt's
  std::unique_ptr<Attempt> attempt;
  Attempt* operator->() const { return attempt.get(); }
};

// The matching state of one partition.
struct PartitionState {
  uint64_t next_row = 0;    // number of the next row
  uint64_t resume_row = 0;  // rows before it may not start a match (AFTER MATCH SKIP)
  int64_t matches = 0;      // matches emitted (MATCH_NUMBER of the last)
  Micros last_emit = kMinWatermark;
  int64_t running = 0;  // attempts not done
  // A superset of the variables the running attempts wait for: with relaxed contiguity a
  // row that satisfies none of them changes no attempt.
  uint64_t waits = 0;
  std::deque<AttemptEntry> attempts;  // by start row
  std::string arena;                              // TEXT values of the accumulators
  size_t arena_compacted = 0;                     // arena size after the last compaction
  bool empty() const { return attempts.empty(); }
};

// One emitted match, valid during the callback.
struct MatchView {
  int64_t number = 0;  // MATCH_NUMBER(): 1, 2, ... per partition
  Micros start_time = 0;
  uint64_t start_row = 0;
  const int64_t* slots = nullptr;  // slot:: header then aggregates
  const std::string* arena = nullptr;
  Micros emit_time = 0;
};

// One row as the matcher sees it.
struct RowRef {
  uint64_t variables = 0;  // bit v: the row satisfies variable v's condition
  Micros time = 0;
  const Column* const* arguments = nullptr;  // the aggregates' argument columns
  size_t row = 0;
};

class MatchSink {
 public:
  virtual ~MatchSink() = default;
  virtual void on_match(const PartitionState& partition, const MatchView& match) = 0;
};

class Matcher {
 public:
  explicit Matcher(const MatcherConfig& config);

  size_t stride() const { return stride_; }

  // Feeds the next row of the partition (rows in event-time order). Fails only when the
  // partition would hold more than max_partial_matches running attempts.
  Status on_row(PartitionState& p, const RowRef& row, MatchSink& sink);
  // Time has reached `time` (no row with an earlier event time follows): attempts whose
  // time bound ended at or before it are decided.
  void advance(PartitionState& p, Micros time, MatchSink& sink);
  // Asks for the memory on_row() reads first (the partition's attempt queue), ahead of it.
  void prefetch(const PartitionState& p) const;
  // End of input: every attempt is decided.
  void finish(PartitionState& p, MatchSink& sink);
  // The earliest time bound of the partition's running attempts (kMaxWatermark: none).
  Micros next_deadline(const PartitionState& p) const;

  // The aggregate `i` of a match or thread as a value of its result type, appended to `out`.
  void append_aggregate(const int64_t* slots, const std::string& arena, size_t i, Column& out) const;

  // Checkpoints: the partition's matching state (attempts, accumulators, arena).
  void write(const PartitionState& p, ByteWriter& w) const;
  Status read(ByteReader& r, PartitionState& p);

  void release_all(PartitionState& p);

 private:
  uint64_t step(PartitionState& p, Attempt& a, const RowRef& row, uint64_t row_number, bool first);
  void consume(const int64_t* thread, int64_t* out, int variable, PartitionState& p, const RowRef& row,
               uint64_t row_number);
  uint64_t waits_of(const Attempt& a) const;
  void add_closure(int pc, Attempt& a);
  void drain(PartitionState& p, MatchSink& sink);
  void decide(PartitionState& p, Attempt& a, Micros at);
  std::unique_ptr<Attempt> take_attempt();
  void release(std::unique_ptr<Attempt> a);
  void maybe_compact(PartitionState& p);
  uint64_t arena_put(PartitionState& p, std::string_view s);

  const MatcherConfig& c_;
  size_t stride_ = slot::kHeader;
  std::vector<int> start_pcs_;                 // the closure of pc 0, in preference order
  // Per consume instruction: its next pc when that is a consume too (no split, jump or
  // match in between), else -1; an attempt with one such thread steps in place.
  std::vector<int> direct_next_;
  std::vector<std::vector<int>> updates_;      // per variable: aggregates it updates
  std::vector<int> text_aggregates_;           // aggregates that keep TEXT in the arena
  // Scratch of one step.
  std::vector<int64_t> next_;
  std::vector<int64_t> tmp_;
  std::vector<uint32_t> mark_;
  std::vector<AttemptEntry*> stepped_;  // on_row: the attempts the row steps
  uint32_t generation_ = 0;
  bool cut_ = false;
  std::vector<std::unique_ptr<Attempt>> pool_;
  std::string compact_scratch_;
};

}  // namespace sluice::cep
