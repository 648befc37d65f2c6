#include "cep/matcher.h"

#include <bit>
#include <cstring>

namespace sluice::cep {

const char* measure_kind_name(MeasureKind kind) {
  switch (kind) {
    case MeasureKind::kFirst: return "FIRST";
    case MeasureKind::kLast: return "LAST";
    case MeasureKind::kCount: return "COUNT";
    case MeasureKind::kSum: return "SUM";
    case MeasureKind::kMin: return "MIN";
    case MeasureKind::kMax: return "MAX";
    case MeasureKind::kAvg: return "AVG";
  }
  return "?";
}

TypeId MeasureAggregate::result_type() const {
  switch (kind) {
    case MeasureKind::kCount: return TypeId::kInt64;
    case MeasureKind::kAvg: return TypeId::kFloat64;
    default: return type;
  }
}

Status validate(const MatcherConfig& c) {
  if ((c.skip == SkipKind::kToFirst || c.skip == SkipKind::kToLast) &&
      (c.skip_variable < 0 || static_cast<size_t>(c.skip_variable) >= c.pattern.variables.size())) {
    return invalid_argument("AFTER MATCH SKIP TO FIRST/LAST names no variable of the pattern");
  }
  if (c.within < 0) return invalid_argument("WITHIN must not be negative");
  if (c.max_partial_matches < 1) return invalid_argument("max_partial_matches must be at least 1");
  for (const auto& a : c.aggregates) {
    if (a.variable >= static_cast<int>(c.pattern.variables.size())) {
      return internal_error("measure names variable {} of {}", a.variable, c.pattern.variables.size());
    }
    if (a.argument < 0) {
      if (a.kind != MeasureKind::kCount) return invalid_argument("{}(*) is not an aggregate", measure_kind_name(a.kind));
      continue;
    }
    const bool numeric = a.type == TypeId::kInt64 || a.type == TypeId::kFloat64;
    if (a.kind == MeasureKind::kSum && !numeric && a.type != TypeId::kInterval) {
      return type_error("SUM takes a number or an INTERVAL, not {}", type_name(a.type));
    }
    if (a.kind == MeasureKind::kAvg && !numeric) return type_error("AVG takes a number, not {}", type_name(a.type));
  }
  return Status::ok();
}

Matcher::Matcher(const MatcherConfig& config) : c_(config) {
  stride_ = slot::kHeader + 3 * c_.aggregates.size();
  const auto& program = c_.pattern.program;
  mark_.assign(program.size(), 0);
  updates_.resize(c_.pattern.variables.size());
  for (size_t i = 0; i < c_.aggregates.size(); ++i) {
    const MeasureAggregate& a = c_.aggregates[i];
    for (size_t v = 0; v < updates_.size(); ++v) {
      if (a.variable < 0 || a.variable == static_cast<int>(v)) updates_[v].push_back(static_cast<int>(i));
    }
    if (a.argument >= 0 && a.type == TypeId::kString && a.kind != MeasureKind::kCount) {
      text_aggregates_.push_back(static_cast<int>(i));
    }
  }
  // The start closure in preference order (no match is reachable: the pattern is not nullable).
  std::vector<bool> seen(program.size(), false);
  auto walk = [&](auto&& self, int pc) -> void {
    if (seen[static_cast<size_t>(pc)]) return;
    seen[static_cast<size_t>(pc)] = true;
    const Instruction& in = program[static_cast<size_t>(pc)];
    switch (in.op) {
      case Instruction::Op::kConsume: start_pcs_.push_back(pc); break;
      case Instruction::Op::kSplit:
        self(self, in.x);
        self(self, in.y);
        break;
      case Instruction::Op::kJump: self(self, in.x); break;
      case Instruction::Op::kMatch: break;
    }
  };
  walk(walk, 0);
  direct_next_.assign(program.size(), -1);
  for (size_t pc = 0; pc < program.size(); ++pc) {
    const Instruction& in = program[pc];
    if (in.op == Instruction::Op::kConsume && program[static_cast<size_t>(in.x)].op == Instruction::Op::kConsume) {
      direct_next_[pc] = in.x;
    }
  }
  tmp_.resize(stride_);
}

std::unique_ptr<Attempt> Matcher::take_attempt() {
  if (pool_.empty()) return std::make_unique<Attempt>();
  std::unique_ptr<Attempt> a = std::move(pool_.back());
  pool_.pop_back();
  a->done = a->matched = false;
  a->threads.clear();
  a->match.clear();
  return a;
}

void Matcher::release(std::unique_ptr<Attempt> a) {
  if (pool_.size() < 1024) pool_.push_back(std::move(a));
}

void Matcher::release_all(PartitionState& p) {
  while (!p.attempts.empty()) {
    release(std::move(p.attempts.front().attempt));
    p.attempts.pop_front();
  }
  p.running = 0;
  p.waits = 0;
  p.arena.clear();
}

Micros Matcher::next_deadline(const PartitionState& p) const {
  if (c_.within <= 0) return kMaxWatermark;
  for (const AttemptEntry& e : p.attempts) {
    if (e.waits != 0) return e.start_time + c_.within;  // running
  }
  return kMaxWatermark;
}

uint64_t Matcher::arena_put(PartitionState& p, std::string_view s) {
  uint64_t at = p.arena.size();
  p.arena.append(s.data(), s.size());
  return at;
}

uint64_t Matcher::waits_of(const Attempt& a) const {
  uint64_t waits = 0;
  for (size_t t = 0; t < a.threads.size(); t += stride_) {
    waits |= uint64_t{1} << c_.pattern.program[static_cast<size_t>(a.threads[t + slot::kPc])].variable;
  }
  return waits;
}

// The thread after taking the row as `variable`, into `out` (which may be `thread`).
void Matcher::consume(const int64_t* thread, int64_t* out, int variable, PartitionState& p, const RowRef& row,
                      uint64_t row_number) {
  int64_t* t = out;
  if (out != thread) std::memcpy(t, thread, stride_ * sizeof(int64_t));
  t[slot::kEndTime] = row.time;
  t[slot::kClassifier] = variable;
  t[slot::kEndRow] = static_cast<int64_t>(row_number);
  t[slot::kRows] += 1;
  if (variable == c_.skip_variable) {
    if (c_.skip == SkipKind::kToLast || t[slot::kSkipRow] < 0) t[slot::kSkipRow] = static_cast<int64_t>(row_number);
  }
  for (int i : updates_[static_cast<size_t>(variable)]) {
    const MeasureAggregate& a = c_.aggregates[static_cast<size_t>(i)];
    int64_t* s = t + slot::kHeader + 3 * static_cast<size_t>(i);  // value, state, extra
    if (a.argument < 0) {
      s[0] += 1;  // COUNT(*)
      continue;
    }
    const Column& col = *row.arguments[a.argument];
    const size_t r = row.row;
    const bool null = col.is_null(r);
    auto set = [&] {
      switch (a.type) {
        case TypeId::kFloat64: s[0] = std::bit_cast<int64_t>(col.double_at(r)); break;
        case TypeId::kString: {
          std::string_view v = col.string_at(r);
          s[0] = static_cast<int64_t>(arena_put(p, v));
          s[2] = static_cast<int64_t>(v.size());
          break;
        }
        default: s[0] = col.int_at(r); break;
      }
    };
    // Whether row r orders before the kept value (MIN) or after it (MAX).
    auto beats = [&](bool min) {
      int cmp = 0;
      switch (a.type) {
        case TypeId::kFloat64: {
          double x = col.double_at(r), y = std::bit_cast<double>(s[0]);
          cmp = x < y ? -1 : (x > y ? 1 : 0);
          break;
        }
        case TypeId::kString: {
          std::string_view x = col.string_at(r);
          std::string_view y(p.arena.data() + s[0], static_cast<size_t>(s[2]));
          cmp = x.compare(y);
          break;
        }
        default: cmp = col.int_at(r) < s[0] ? -1 : (col.int_at(r) > s[0] ? 1 : 0); break;
      }
      return min ? cmp < 0 : cmp > 0;
    };
    switch (a.kind) {
      case MeasureKind::kFirst:
        if (s[1] != 0) break;
        [[fallthrough]];
      case MeasureKind::kLast:
        if (null) {
          s[1] = 2;
        } else {
          s[1] = 1;
          set();
        }
        break;
      case MeasureKind::kCount:
        if (!null) s[0] += 1;
        break;
      case MeasureKind::kSum:
        if (null) break;
        s[1] += 1;
        if (a.type == TypeId::kFloat64) {
          s[0] = std::bit_cast<int64_t>(std::bit_cast<double>(s[0]) + col.double_at(r));
        } else if (__builtin_add_overflow(s[0], col.int_at(r), &s[0])) {
          s[2] = 1;  // overflowed: NULL, as integer overflow is everywhere
        }
        break;
      case MeasureKind::kMin:
      case MeasureKind::kMax:
        if (null) break;
        if (s[1] == 0 || beats(a.kind == MeasureKind::kMin)) set();
        s[1] += 1;
        break;
      case MeasureKind::kAvg: {
        if (null) break;
        s[1] += 1;
        double v = a.type == TypeId::kFloat64 ? col.double_at(r) : static_cast<double>(col.int_at(r));
        s[0] = std::bit_cast<int64_t>(std::bit_cast<double>(s[0]) + v);
        break;
      }
    }
  }
}

void Matcher::add_closure(int pc, Attempt& a) {
  if (cut_ || mark_[static_cast<size_t>(pc)] == generation_) return;
  mark_[static_cast<size_t>(pc)] = generation_;
  const Instruction& in = c_.pattern.program[static_cast<size_t>(pc)];
  switch (in.op) {
    case Instruction::Op::kConsume: {
      tmp_[slot::kPc] = pc;
      next_.insert(next_.end(), tmp_.begin(), tmp_.end());
      break;
    }
    case Instruction::Op::kSplit:
      add_closure(in.x, a);
      add_closure(in.y, a);
      break;
    case Instruction::Op::kJump: add_closure(in.x, a); break;
    case Instruction::Op::kMatch:
      // The most preferred complete match so far: less preferred threads are dropped.
      a.match.assign(tmp_.begin(), tmp_.end());
      a.matched = true;
      cut_ = true;
      break;
  }
}

// Returns the variables the attempt's threads wait for after the row, 0 when it ended.
uint64_t Matcher::step(PartitionState& p, Attempt& a, const RowRef& row, uint64_t row_number, bool first) {
  const auto& program = c_.pattern.program;
  if (a.threads.size() == stride_) {
    // One thread that takes the row and goes straight on to the next consume: the step
    // below would copy it out and back with nothing to order or drop.
    const size_t pc = static_cast<size_t>(a.threads[slot::kPc]);
    const Instruction& in = program[pc];
    const int next = direct_next_[pc];
    if (next >= 0 && ((row.variables >> in.variable) & 1)) {
      consume(a.threads.data(), a.threads.data(), in.variable, p, row, row_number);
      a.threads[slot::kPc] = next;
      return uint64_t{1} << program[static_cast<size_t>(next)].variable;
    }
  }
  next_.clear();
  if (++generation_ == 0) {
    std::fill(mark_.begin(), mark_.end(), 0);
    generation_ = 1;
  }
  cut_ = false;
  const bool skip_rows = c_.contiguity == Contiguity::kRelaxed && !first;
  const size_t n = a.threads.size();
  for (size_t t = 0; t < n && !cut_; t += stride_) {
    const int pc = static_cast<int>(a.threads[t + slot::kPc]);
    const Instruction& in = program[static_cast<size_t>(pc)];
    if ((row.variables >> in.variable) & 1) {
      consume(a.threads.data() + t, tmp_.data(), in.variable, p, row, row_number);
      add_closure(in.x, a);
    } else if (skip_rows && mark_[static_cast<size_t>(pc)] != generation_) {
      // Relaxed contiguity: the thread waits past this row.
      mark_[static_cast<size_t>(pc)] = generation_;
      next_.insert(next_.end(), a.threads.begin() + static_cast<std::ptrdiff_t>(t),
                   a.threads.begin() + static_cast<std::ptrdiff_t>(t + stride_));
    }
  }
  if (a.threads.size() != next_.size()) a.threads.resize(next_.size());  // absl's assign() costs more
  if (!next_.empty()) std::memcpy(a.threads.data(), next_.data(), next_.size() * sizeof(int64_t));
  if (a.threads.empty()) decide(p, a, row.time == kMaxWatermark ? kMaxWatermark : row.time + 1);
  return waits_of(a);
}

void Matcher::decide(PartitionState& p, Attempt& a, Micros at) {
  if (a.done) return;
  a.done = true;
  a.decided_at = at;
  a.threads.clear();
  p.running--;
}

void Matcher::drain(PartitionState& p, MatchSink& sink) {
  while (!p.attempts.empty() && p.attempts.front().waits == 0) {  // done
    std::unique_ptr<Attempt> a = std::move(p.attempts.front().attempt);
    p.attempts.pop_front();
    p.last_emit = std::max(p.last_emit, a->decided_at);
    if (a->matched) {
      MatchView m;
      m.number = ++p.matches;
      m.start_time = a->start_time;
      m.start_row = a->start_row;
      m.slots = a->match.data();
      m.arena = &p.arena;
      m.emit_time = p.last_emit;
      sink.on_match(p, m);
      uint64_t resume = a->start_row + 1;
      switch (c_.skip) {
        case SkipKind::kPastLastRow: resume = static_cast<uint64_t>(a->match[slot::kEndRow]) + 1; break;
        case SkipKind::kToNextRow: break;
        case SkipKind::kToFirst:
        case SkipKind::kToLast: {
          // Skipping to the match's own first row would find the same match again, and a
          // variable without rows names no row: both go on at the next row.
          const int64_t target = a->match[slot::kSkipRow];
          if (target > static_cast<int64_t>(a->start_row)) resume = static_cast<uint64_t>(target);
          break;
        }
      }
      p.resume_row = std::max(p.resume_row, resume);
      while (!p.attempts.empty() && p.attempts.front()->start_row < p.resume_row) {
        if (!p.attempts.front()->done) p.running--;
        release(std::move(p.attempts.front().attempt));
        p.attempts.pop_front();
      }
    }
    release(std::move(a));
  }
  if (p.attempts.empty()) {
    p.arena.clear();
    p.arena_compacted = 0;
    p.waits = 0;
  }
}

Status Matcher::on_row(PartitionState& p, const RowRef& row, MatchSink& sink) {
  const uint64_t row_number = p.next_row++;
  // The front attempt is running (drain() pops decided ones) and started first: the only
  // one whose time bound can have ended.
  if (c_.within > 0 && !p.attempts.empty() && p.attempts.front().start_time <= row.time - c_.within) {
    advance(p, row.time, sink);
  }
  const bool relaxed = c_.contiguity == Contiguity::kRelaxed;
  if (!relaxed || (row.variables & p.waits) != 0) {
    // Two passes: the attempts the row steps are found (and their memory requested) first,
    // so that their cache misses overlap rather than follow one another.
    uint64_t waits = 0;
    stepped_.clear();
    for (AttemptEntry& e : p.attempts) {
      if ((row.variables & e.waits) == 0) {
        if (e.waits == 0) continue;  // done
        // No thread takes the row. Relaxed: each waits past it, and as an attempt's
        // threads are at distinct pcs (step() keeps the first at each), the step would
        // leave the attempt as it is. Strict: the attempt ends, as the step would end it.
        if (relaxed) {
          waits |= e.waits;
        } else {
          decide(p, *e.attempt, row.time == kMaxWatermark ? kMaxWatermark : row.time + 1);
          e.waits = 0;
        }
        continue;
      }
      // The attempt and its inline thread.
      const char* a = reinterpret_cast<const char*>(e.attempt.get());
      for (size_t line = 0; line < sizeof(Attempt); line += 64) __builtin_prefetch(a + line);
      stepped_.push_back(&e);
    }
    for (AttemptEntry* e : stepped_) {
      e->waits = step(p, *e->attempt, row, row_number, false);
      waits |= e->waits;
    }
    p.waits = waits;
  }
  if (row_number >= p.resume_row && (row.variables & c_.pattern.first_variables) != 0) {
    std::unique_ptr<Attempt> a = take_attempt();
    a->start_row = row_number;
    a->start_time = row.time;
    a->threads.resize(start_pcs_.size() * stride_);  // zeros: take_attempt() cleared it
    for (size_t i = 0; i < start_pcs_.size(); ++i) {
      a->threads[i * stride_ + slot::kPc] = start_pcs_[i];
      a->threads[i * stride_ + slot::kSkipRow] = -1;
    }
    p.running++;
    const uint64_t waits = step(p, *a, row, row_number, true);
    if (a->done && !a->matched) {
      release(std::move(a));  // the row starts no match; nothing after it waits for it
    } else {
      p.waits |= waits;
      p.attempts.push_back({waits, row.time, std::move(a)});
    }
    if (p.running > c_.max_partial_matches) {
      return invalid_argument(
          "MATCH_RECOGNIZE: a partition holds more than {} partial matches (max_partial_matches); bound the pattern "
          "with within => INTERVAL ..., use strict contiguity, or raise max_partial_matches",
          c_.max_partial_matches);
    }
  }
  drain(p, sink);
  maybe_compact(p);
  return Status::ok();
}

void Matcher::prefetch(const PartitionState& p) const {
  if (!p.attempts.empty()) __builtin_prefetch(&p.attempts.front());
}

void Matcher::advance(PartitionState& p, Micros time, MatchSink& sink) {
  if (c_.within <= 0) return;
  bool any = false;
  for (AttemptEntry& e : p.attempts) {
    if (e.start_time > time - c_.within) break;  // later starts end later
    if (e.waits != 0) {
      decide(p, *e.attempt, e.start_time + c_.within);
      e.waits = 0;
      any = true;
    }
  }
  if (any) drain(p, sink);
}

void Matcher::finish(PartitionState& p, MatchSink& sink) {
  advance(p, kMaxWatermark, sink);
  for (AttemptEntry& e : p.attempts) {
    decide(p, *e.attempt, kMaxWatermark);
    e.waits = 0;
  }
  drain(p, sink);
}

void Matcher::maybe_compact(PartitionState& p) {
  if (text_aggregates_.empty() || p.arena.size() < 4096 || p.arena.size() < 2 * p.arena_compacted) return;
  compact_scratch_.clear();
  auto move_values = [&](int64_t* t) {
    for (int i : text_aggregates_) {
      int64_t* s = t + slot::kHeader + 3 * static_cast<size_t>(i);
      if (s[1] == 0 || (c_.aggregates[static_cast<size_t>(i)].kind <= MeasureKind::kLast && s[1] != 1)) continue;
      const uint64_t at = compact_scratch_.size();
      compact_scratch_.append(p.arena, static_cast<size_t>(s[0]), static_cast<size_t>(s[2]));
      s[0] = static_cast<int64_t>(at);
    }
  };
  for (auto& a : p.attempts) {
    for (size_t t = 0; t < a->threads.size(); t += stride_) move_values(a->threads.data() + t);
    if (a->matched) move_values(a->match.data());
  }
  p.arena.swap(compact_scratch_);
  p.arena_compacted = p.arena.size();
}

void Matcher::append_aggregate(const int64_t* slots, const std::string& arena, size_t i, Column& out) const {
  const MeasureAggregate& a = c_.aggregates[i];
  const int64_t* s = slots + slot::kHeader + 3 * i;
  auto value = [&] {
    switch (a.type) {
      case TypeId::kFloat64: out.append_double(std::bit_cast<double>(s[0])); break;
      case TypeId::kString:
        out.append_string(std::string_view(arena.data() + s[0], static_cast<size_t>(s[2])));
        break;
      default: out.append_int(s[0]); break;
    }
  };
  if (a.argument < 0) {
    out.append_int(s[0]);
    return;
  }
  switch (a.kind) {
    case MeasureKind::kFirst:
    case MeasureKind::kLast:
      if (s[1] == 1) {
        value();
      } else {
        out.append_null();
      }
      break;
    case MeasureKind::kCount: out.append_int(s[0]); break;
    case MeasureKind::kSum:
      if (s[1] == 0 || (a.type != TypeId::kFloat64 && s[2] != 0)) {
        out.append_null();
      } else {
        value();
      }
      break;
    case MeasureKind::kMin:
    case MeasureKind::kMax:
      if (s[1] == 0) {
        out.append_null();
      } else {
        value();
      }
      break;
    case MeasureKind::kAvg:
      if (s[1] == 0) {
        out.append_null();
      } else {
        out.append_double(std::bit_cast<double>(s[0]) / static_cast<double>(s[1]));
      }
      break;
  }
}

// Partition state: varints next_row, resume_row, matches; i64 last_emit; the arena; the
// attempt count; per attempt: start row, start time, flags (1 done, 2 matched), decided
// at, thread slot count and slots, match slots (stride of them when matched).
void Matcher::write(const PartitionState& p, ByteWriter& w) const {
  w.varint(p.next_row);
  w.varint(p.resume_row);
  w.varint(static_cast<uint64_t>(p.matches));
  w.i64(p.last_emit);
  w.str(p.arena);
  w.varint(p.attempts.size());
  for (const auto& a : p.attempts) {
    w.varint(a->start_row);
    w.i64(a->start_time);
    w.u8(static_cast<uint8_t>((a->done ? 1 : 0) | (a->matched ? 2 : 0)));
    w.i64(a->decided_at);
    w.varint(a->threads.size());
    for (int64_t v : a->threads) w.i64(v);
    if (a->matched) {
      for (int64_t v : a->match) w.i64(v);
    }
  }
}

Status Matcher::read(ByteReader& r, PartitionState& p) {
  release_all(p);
  p.next_row = r.varint();
  p.resume_row = r.varint();
  p.matches = static_cast<int64_t>(r.varint());
  p.last_emit = r.i64();
  p.arena = std::string(r.str());
  p.arena_compacted = p.arena.size();
  const uint64_t n = r.count(18);
  const size_t program_size = c_.pattern.program.size();
  for (uint64_t i = 0; i < n && r.ok(); ++i) {
    std::unique_ptr<Attempt> a = take_attempt();
    a->start_row = r.varint();
    a->start_time = r.i64();
    const uint8_t flags = r.u8();
    a->done = (flags & 1) != 0;
    a->matched = (flags & 2) != 0;
    a->decided_at = r.i64();
    const uint64_t slots = r.count(8);
    if (!r.ok() || slots % stride_ != 0) return Status(StatusCode::kDataLoss, "MATCH_RECOGNIZE state: bad thread slots");
    a->threads.resize(slots);
    for (uint64_t k = 0; k < slots; ++k) a->threads[k] = r.i64();
    for (size_t t = 0; t < slots; t += stride_) {
      const int64_t pc = a->threads[t + slot::kPc];
      if (pc < 0 || static_cast<size_t>(pc) >= program_size ||
          c_.pattern.program[static_cast<size_t>(pc)].op != Instruction::Op::kConsume) {
        return Status(StatusCode::kDataLoss, "MATCH_RECOGNIZE state does not fit the pattern (was it changed?)");
      }
    }
    if (a->matched) {
      a->match.resize(stride_);
      for (size_t k = 0; k < stride_; ++k) a->match[k] = r.i64();
    }
    const uint64_t waits = a->done ? 0 : waits_of(*a);
    if (!a->done) {
      if (waits == 0) return Status(StatusCode::kDataLoss, "MATCH_RECOGNIZE state: a running attempt without threads");
      p.running++;
      p.waits |= waits;
    }
    p.attempts.push_back({waits, a->start_time, std::move(a)});
  }
  return r.status("MATCH_RECOGNIZE partition state");
}

}  // namespace sluice::cep
