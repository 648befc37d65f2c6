// Expression nodes and the make_* builders (binding: resolution, type checks, implicit casts).
//
// Builders run on the planning thread. The resulting trees are immutable and shared across
// operator instances; eval() only reads the tree and writes into the caller's EvalScratch,
// so concurrent evaluation on different threads (each with its own scratch) is safe. Each
// node processes the whole batch in typed loops: no per-row virtual calls and, once the
// scratch columns have grown to batch size, no per-row heap allocation.
#include "expr/expr.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fmt/format.h>

#include "common/time_util.h"
#include "expr/expr_internal.h"
#include "expr/functions.h"

namespace sluice {

using namespace expr_internal;  // NOLINT(google-build-using-namespace): internal helpers

namespace {

bool is_text_literal(const Expr& e) {
  const Value* v = literal_value(e);
  return v != nullptr && !v->is_null && v->type == TypeId::kString;
}

void append_value(Column& c, const Value& v) {
  if (v.is_null) {
    c.append_null();
    return;
  }
  switch (c.type()) {
    case TypeId::kFloat64: c.append_double(v.d); break;
    case TypeId::kString: c.append_string(v.s); break;
    default: c.append_int(v.i); break;
  }
}

Value value_at(const Column& c, size_t row) {
  if (c.is_null(row)) return Value::null(c.type());
  switch (c.type()) {
    case TypeId::kNull: return Value::null();
    case TypeId::kBool: return Value::boolean(c.int_at(row) != 0);
    case TypeId::kInt64: return Value::int64(c.int_at(row));
    case TypeId::kFloat64: return Value::float64(c.double_at(row));
    case TypeId::kString: return Value::string(std::string(c.string_at(row)));
    case TypeId::kTimestamp: return Value::timestamp(c.int_at(row));
    case TypeId::kInterval: return Value::interval(c.int_at(row));
  }
  return Value::null();
}

// Converts one value exactly like the batch cast does (failures become a typed NULL).
Value cast_value(const Value& v, TypeId to) {
  Column in(v.type);
  append_value(in, v);
  Column out(to);
  cast_column(in, to, 1, out);
  return value_at(out, 0);
}

std::string quote_sql(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out.push_back('\'');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

std::string literal_sql(const Value& v) {
  if (v.is_null) return "NULL";
  std::string out;
  switch (v.type) {
    case TypeId::kNull: return "NULL";
    case TypeId::kBool: return v.i ? "TRUE" : "FALSE";
    case TypeId::kInt64: return std::to_string(v.i);
    case TypeId::kFloat64:
      if (!std::isfinite(v.d)) {
        append_double_text(out, v.d);
        return fmt::format("CAST('{}' AS DOUBLE)", out);
      }
      append_double_text(out, v.d);
      // Keep DOUBLE literals recognizable as such in EXPLAIN output ("2.0", not "2").
      if (out.find_first_of(".e") == std::string::npos) out += ".0";
      return out;
    case TypeId::kString: return quote_sql(v.s);
    case TypeId::kTimestamp: return "TIMESTAMP " + quote_sql(format_timestamp(v.i));
    case TypeId::kInterval:
      append_interval_text(out, v.i);
      return "INTERVAL " + quote_sql(out);
  }
  return "?";
}

std::string join_sql(const std::vector<ExprPtr>& args) {
  std::string out;
  for (size_t i = 0; i < args.size(); ++i) {
    if (i) out += ", ";
    out += args[i]->to_string();
  }
  return out;
}

// Column pointers of evaluated arguments without a heap allocation for the common case.
class ArgColumns {
 public:
  explicit ArgColumns(size_t n) : n_(n) {
    if (n > kInline) heap_.resize(n);
  }
  const Column** data() { return n_ > kInline ? heap_.data() : inline_; }
  size_t size() const { return n_; }

 private:
  static constexpr size_t kInline = 8;
  size_t n_;
  const Column* inline_[kInline] = {};
  std::vector<const Column*> heap_;
};

// For each row i, appends row i of cols[choice[i]], or NULL when choice[i] == num_cols.
// Shared by CASE and COALESCE; one type dispatch per batch, then a tight loop.
void gather_choice(const Column* const* cols, size_t num_cols, const int64_t* choice, size_t rows,
                   TypeId type, Column& out) {
  if (type == TypeId::kString) {
    for (size_t i = 0; i < rows; ++i) {
      const size_t c = static_cast<size_t>(choice[i]);
      if (c == num_cols || cols[c]->is_null(i)) {
        out.append_null();
      } else {
        out.append_string(cols[c]->string_at(i));
      }
    }
    return;
  }
  out.resize_fixed(rows);
  uint8_t* vr = out.mutable_validity();
  if (type == TypeId::kFloat64) {
    double* r = out.mutable_doubles();
    for (size_t i = 0; i < rows; ++i) {
      const size_t c = static_cast<size_t>(choice[i]);
      const bool ok = c != num_cols && cols[c]->is_valid(i);
      r[i] = ok ? cols[c]->double_at(i) : 0;
      vr[i] = ok;
    }
    return;
  }
  int64_t* r = out.mutable_ints();
  for (size_t i = 0; i < rows; ++i) {
    const size_t c = static_cast<size_t>(choice[i]);
    const bool ok = c != num_cols && cols[c]->is_valid(i);
    r[i] = ok ? cols[c]->int_at(i) : 0;
    vr[i] = ok;
  }
}

// PostgreSQL float8 equality: NaN = NaN (see the comparison operators).
inline bool double_eq(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }
inline bool double_less(double a, double b) {
  if (std::isnan(a)) return false;
  return std::isnan(b) || a < b;
}

// ---------------------------------------------------------------------------------------
// Nodes

class ColumnRefExpr final : public Expr {
 public:
  ColumnRefExpr(int index, TypeId type, std::string name)
      : Expr(Kind::kColumn, type), index_(index), name_(std::move(name)) {}

  const Column& eval(const RecordBatch& input, EvalScratch&) const override {
    SLUICE_ASSERT(index_ >= 0 && static_cast<size_t>(index_) < input.columns.size(),
                  "column ${} out of range for a batch of {} columns", index_, input.columns.size());
    const Column& c = input.column(static_cast<size_t>(index_));
    SLUICE_ASSERT(c.type() == type(), "column ${} is {}, expression expects {}", index_, type_name(c.type()),
                  type_name(type()));
    return c;  // no copy: the input column itself
  }
  std::string to_string() const override { return name_.empty() ? fmt::format("${}", index_) : name_; }
  int index() const { return index_; }

 private:
  int index_;
  std::string name_;
};

class LiteralExpr final : public Expr {
 public:
  explicit LiteralExpr(Value v) : Expr(Kind::kLiteral, v.type), value_(std::move(v)) {}

  const Column& eval(const RecordBatch& input, EvalScratch& scratch) const override {
    Column& out = scratch.take(type());
    const size_t n = input.num_rows;
    if (type() == TypeId::kString) {
      out.reserve(n, value_.is_null ? 0 : n * value_.s.size());
      for (size_t i = 0; i < n; ++i) {
        if (value_.is_null) {
          out.append_null();
        } else {
          out.append_string(value_.s);
        }
      }
      return out;
    }
    out.resize_fixed(n);
    if (value_.is_null) {
      std::memset(out.mutable_validity(), 0, n);
    } else if (type() == TypeId::kFloat64) {
      std::fill(out.mutable_doubles(), out.mutable_doubles() + n, value_.d);
    } else {
      std::fill(out.mutable_ints(), out.mutable_ints() + n, value_.i);
    }
    return out;
  }
  std::string to_string() const override { return literal_sql(value_); }
  const Value& value() const { return value_; }

 private:
  Value value_;
};

// A call's first argument may itself be a call, thousands of levels deep (a + b + c ...
// binds left-deep). Evaluation, rendering and destruction walk that left spine in a loop,
// so the depth costs neither stack nor (with the scratch columns reused) memory per level.
class CallExpr final : public Expr {
 public:
  CallExpr(std::string name, bool is_operator, ScalarKernel kernel, TypeId type, std::vector<ExprPtr> args)
      : Expr(Kind::kCall, type),
        name_(std::move(name)),
        is_operator_(is_operator),
        kernel_(std::move(kernel)),
        args_(std::move(args)) {}

  ~CallExpr() override {
    // Unlink the left spine before it is freed, so that destroying a deep chain does not
    // recurse once per level.
    // (A first argument already moved out here is null.)
    auto left_call = [](std::vector<ExprPtr>& args) {
      return !args.empty() && args[0] != nullptr && args[0]->kind() == Kind::kCall;
    };
    std::vector<ExprPtr> pending;
    if (left_call(args_)) pending.push_back(std::move(args_[0]));
    while (!pending.empty()) {
      ExprPtr e = std::move(pending.back());
      pending.pop_back();
      if (e.use_count() != 1) continue;  // still shared: another owner frees it later
      auto& args = const_cast<CallExpr&>(static_cast<const CallExpr&>(*e)).args_;
      if (left_call(args)) pending.push_back(std::move(args[0]));
    }
  }

  const Column& eval(const RecordBatch& input, EvalScratch& scratch) const override {
    size_t depth = 1;
    for (const CallExpr* c = this; const CallExpr* next = c->left_call(); c = next) ++depth;
    if (depth < kLoopDepth) return apply(nullptr, input, scratch, scratch.take(type()));
    std::vector<const CallExpr*> spine;
    spine.reserve(depth);
    for (const CallExpr* c = this; c != nullptr; c = c->left_call()) spine.push_back(c);
    // Two columns taken once hold the running result in turn; what each step takes for its
    // other arguments is handed out again for the next step.
    Column* acc[2] = {&scratch.take(type()), &scratch.take(type())};
    const size_t mark = scratch.mark();
    const Column* left = nullptr;
    for (size_t k = spine.size(); k-- > 0;) {
      Column& out = *acc[k % 2];
      spine[k]->apply(left, input, scratch, out);
      scratch.release_to(mark);
      left = &out;
    }
    return *left;
  }

  std::string to_string() const override {
    // The text before and after the first argument of each level, outermost first.
    std::string head;
    std::vector<std::string> tails;
    const CallExpr* c = this;
    for (;; c = c->left_call()) {
      auto [before, after] = c->around_first_argument();
      head += before;
      tails.push_back(std::move(after));
      if (c->left_call() == nullptr) break;
    }
    if (!c->args_.empty()) head += c->args_[0]->to_string();
    for (size_t k = tails.size(); k-- > 0;) head += tails[k];
    return head;
  }
  std::vector<ExprPtr> children() const override { return args_; }
  const std::string& name() const { return name_; }

 private:
  // Below this many levels the spine is evaluated recursively (no allocation).
  static constexpr size_t kLoopDepth = 64;

  const CallExpr* left_call() const {
    if (args_.empty() || args_[0]->kind() != Kind::kCall) return nullptr;
    return static_cast<const CallExpr*>(args_[0].get());
  }

  // Evaluates this call into `out` (taken or reset by the caller); `first`, when not null,
  // is the already evaluated first argument.
  const Column& apply(const Column* first, const RecordBatch& input, EvalScratch& scratch, Column& out) const {
    ArgColumns cols(args_.size());
    for (size_t i = 0; i < args_.size(); ++i) {
      cols.data()[i] = i == 0 && first != nullptr ? first : &args_[i]->eval(input, scratch);
    }
    out.reset(type());
    kernel_(cols.data(), cols.size(), input.num_rows, out);
    SLUICE_ASSERT(out.size() == input.num_rows, "function {} produced {} rows for {}", name_, out.size(),
                  input.num_rows);
    return out;
  }

  // SQL text of this call as {before, after} its first argument ({"f()", ""} without one).
  std::pair<std::string, std::string> around_first_argument() const {
    if (args_.empty()) return {fmt::format("{}()", name_), ""};
    auto rest = [&](size_t from, const char* sep) {
      std::string out;
      for (size_t i = from; i < args_.size(); ++i) out += sep + args_[i]->to_string();
      return out;
    };
    if (!is_operator_) return {name_ + "(", rest(1, ", ") + ")"};
    if (name_ == "neg") return {"(-", ")"};
    if (name_ == "like" || name_ == "ilike") {
      const char* op = name_ == "like" ? " LIKE " : " ILIKE ";
      std::string after = op + args_[1]->to_string();
      if (args_.size() == 3) after += " ESCAPE " + args_[2]->to_string();
      return {"(", after + ")"};
    }
    return {"(", fmt::format(" {} {})", name_, args_[1]->to_string())};
  }

  std::string name_;
  bool is_operator_;
  ScalarKernel kernel_;  // a copy: the registry may grow (UDFs) while plans are alive
  std::vector<ExprPtr> args_;
};

class CastExpr final : public Expr {
 public:
  CastExpr(ExprPtr input, TypeId to) : Expr(Kind::kCast, to), input_(std::move(input)) {}

  const Column& eval(const RecordBatch& input, EvalScratch& scratch) const override {
    const Column& in = input_->eval(input, scratch);
    Column& out = scratch.take(type());
    cast_column(in, type(), input.num_rows, out);
    return out;
  }
  std::string to_string() const override {
    return fmt::format("CAST({} AS {})", input_->to_string(), type_name(type()));
  }
  std::vector<ExprPtr> children() const override { return {input_}; }

 private:
  ExprPtr input_;
};

class CaseExpr final : public Expr {
 public:
  CaseExpr(std::vector<std::pair<ExprPtr, ExprPtr>> whens, ExprPtr else_result, TypeId type)
      : Expr(Kind::kCase, type), whens_(std::move(whens)), else_(std::move(else_result)) {}

  const Column& eval(const RecordBatch& input, EvalScratch& scratch) const override {
    const size_t rows = input.num_rows;
    const size_t n = whens_.size();
    // choice[i]: index of the branch row i takes; -1 while undecided.
    Column& choice_col = scratch.take(TypeId::kInt64);
    choice_col.resize_fixed(rows);
    int64_t* choice = choice_col.mutable_ints();
    std::fill(choice, choice + rows, -1);
    ArgColumns results(n + (else_ ? 1 : 0));
    for (size_t w = 0; w < n; ++w) {
      // Every branch is evaluated over the whole batch (no errors can occur at run time,
      // so this is equivalent to lazy evaluation and keeps the loops branch-light).
      const Column& cond = whens_[w].first->eval(input, scratch);
      const int64_t* c = cond.ints();
      const uint8_t* v = cond.validity();
      for (size_t i = 0; i < rows; ++i) {
        const bool take = choice[i] < 0 && v[i] && c[i] != 0;  // NULL condition: not taken
        choice[i] = take ? static_cast<int64_t>(w) : choice[i];
      }
      results.data()[w] = &whens_[w].second->eval(input, scratch);
    }
    if (else_) results.data()[n] = &else_->eval(input, scratch);
    for (size_t i = 0; i < rows; ++i) {
      if (choice[i] < 0) choice[i] = static_cast<int64_t>(n);  // the ELSE branch (or NULL)
    }
    Column& out = scratch.take(type());
    gather_choice(results.data(), results.size(), choice, rows, type(), out);
    return out;
  }

  std::string to_string() const override {
    std::string out = "CASE";
    for (const auto& [cond, result] : whens_) {
      out += fmt::format(" WHEN {} THEN {}", cond->to_string(), result->to_string());
    }
    if (else_) out += fmt::format(" ELSE {}", else_->to_string());
    return out + " END";
  }
  std::vector<ExprPtr> children() const override {
    std::vector<ExprPtr> out;
    for (const auto& [cond, result] : whens_) {
      out.push_back(cond);
      out.push_back(result);
    }
    if (else_) out.push_back(else_);
    return out;
  }

 private:
  std::vector<std::pair<ExprPtr, ExprPtr>> whens_;
  ExprPtr else_;
};

// AND / OR with SQL three-valued logic.
class LogicExpr final : public Expr {
 public:
  LogicExpr(Kind kind, std::vector<ExprPtr> args) : Expr(kind, TypeId::kBool), args_(std::move(args)) {}

  const Column& eval(const RecordBatch& input, EvalScratch& scratch) const override {
    const size_t rows = input.num_rows;
    ArgColumns cols(args_.size());
    for (size_t k = 0; k < args_.size(); ++k) cols.data()[k] = &args_[k]->eval(input, scratch);
    Column& out = scratch.take(TypeId::kBool);
    out.resize_fixed(rows);
    // AND: any FALSE decides FALSE; otherwise any NULL makes NULL; else TRUE. OR is the
    // dual with TRUE. r[] accumulates "decided", vr[] "no NULL seen so far".
    const int64_t decisive = kind() == Kind::kAnd ? 0 : 1;
    int64_t* r = out.mutable_ints();
    uint8_t* vr = out.mutable_validity();
    std::memset(r, 0, rows * sizeof(int64_t));
    for (size_t k = 0; k < cols.size(); ++k) {
      const int64_t* x = cols.data()[k]->ints();
      const uint8_t* v = cols.data()[k]->validity();
      for (size_t i = 0; i < rows; ++i) {
        r[i] |= v[i] & ((x[i] != 0) == decisive);
        vr[i] &= v[i];
      }
    }
    for (size_t i = 0; i < rows; ++i) {
      const bool decided = r[i] != 0;
      vr[i] = decided || vr[i];
      r[i] = decided ? decisive : 1 - decisive;
    }
    return out;
  }

  std::string to_string() const override {
    std::string out = "(";
    for (size_t i = 0; i < args_.size(); ++i) {
      if (i) out += kind() == Kind::kAnd ? " AND " : " OR ";
      out += args_[i]->to_string();
    }
    return out + ")";
  }
  std::vector<ExprPtr> children() const override { return args_; }

 private:
  std::vector<ExprPtr> args_;
};

class NotExpr final : public Expr {
 public:
  explicit NotExpr(ExprPtr arg) : Expr(Kind::kNot, TypeId::kBool), arg_(std::move(arg)) {}
  const Column& eval(const RecordBatch& input, EvalScratch& scratch) const override {
    const Column& in = arg_->eval(input, scratch);
    Column& out = scratch.take(TypeId::kBool);
    map_fixed<int64_t, int64_t>(in, input.num_rows, out, [](int64_t x, int64_t* r) {
      *r = x == 0;
      return true;
    });
    return out;
  }
  std::string to_string() const override { return fmt::format("(NOT {})", arg_->to_string()); }
  std::vector<ExprPtr> children() const override { return {arg_}; }

 private:
  ExprPtr arg_;
};

class IsNullExpr final : public Expr {
 public:
  IsNullExpr(ExprPtr arg, bool negated) : Expr(Kind::kIsNull, TypeId::kBool), arg_(std::move(arg)), negated_(negated) {}
  const Column& eval(const RecordBatch& input, EvalScratch& scratch) const override {
    const Column& in = arg_->eval(input, scratch);
    Column& out = scratch.take(TypeId::kBool);
    const size_t rows = input.num_rows;
    out.resize_fixed(rows);  // never NULL
    int64_t* r = out.mutable_ints();
    const uint8_t* v = in.validity();
    for (size_t i = 0; i < rows; ++i) r[i] = negated_ ? v[i] != 0 : v[i] == 0;
    return out;
  }
  std::string to_string() const override {
    return fmt::format("({} IS {}NULL)", arg_->to_string(), negated_ ? "NOT " : "");
  }
  std::vector<ExprPtr> children() const override { return {arg_}; }

 private:
  ExprPtr arg_;
  bool negated_;
};

class CoalesceExpr final : public Expr {
 public:
  CoalesceExpr(std::vector<ExprPtr> args, TypeId type) : Expr(Kind::kCoalesce, type), args_(std::move(args)) {}
  const Column& eval(const RecordBatch& input, EvalScratch& scratch) const override {
    const size_t rows = input.num_rows;
    const size_t n = args_.size();
    ArgColumns cols(n);
    for (size_t k = 0; k < n; ++k) cols.data()[k] = &args_[k]->eval(input, scratch);
    Column& choice_col = scratch.take(TypeId::kInt64);
    choice_col.resize_fixed(rows);
    int64_t* choice = choice_col.mutable_ints();
    std::fill(choice, choice + rows, static_cast<int64_t>(n));  // n = all NULL
    // Walking the arguments backwards lets the first non-NULL one win without a branch.
    for (size_t k = n; k-- > 0;) {
      const uint8_t* v = cols.data()[k]->validity();
      for (size_t i = 0; i < rows; ++i) choice[i] = v[i] ? static_cast<int64_t>(k) : choice[i];
    }
    Column& out = scratch.take(type());
    gather_choice(cols.data(), n, choice, rows, type(), out);
    return out;
  }
  std::string to_string() const override { return fmt::format("COALESCE({})", join_sql(args_)); }
  std::vector<ExprPtr> children() const override { return args_; }

 private:
  std::vector<ExprPtr> args_;
};

class InListExpr final : public Expr {
 public:
  InListExpr(ExprPtr needle, std::vector<ExprPtr> list, bool negated)
      : Expr(Kind::kInList, TypeId::kBool), needle_(std::move(needle)), list_(std::move(list)), negated_(negated) {
    // An all-literal list (the usual case) becomes a sorted array searched per row.
    constant_ = std::all_of(list_.begin(), list_.end(), [](const ExprPtr& e) { return literal_value(*e) != nullptr; });
    if (!constant_) return;
    for (const ExprPtr& e : list_) {
      const Value& v = *literal_value(*e);
      if (v.is_null) {
        has_null_ = true;
      } else if (needle_->type() == TypeId::kFloat64) {
        doubles_.push_back(v.d);
      } else if (needle_->type() == TypeId::kString) {
        strings_.push_back(v.s);
      } else {
        ints_.push_back(v.i);
      }
    }
    std::sort(ints_.begin(), ints_.end());
    std::sort(doubles_.begin(), doubles_.end(), double_less);
    std::sort(strings_.begin(), strings_.end());
  }

  const Column& eval(const RecordBatch& input, EvalScratch& scratch) const override {
    const size_t rows = input.num_rows;
    const Column& needle = needle_->eval(input, scratch);
    if (constant_) {
      Column& out = scratch.take(TypeId::kBool);
      out.resize_fixed(rows);
      int64_t* found = out.mutable_ints();
      const TypeId t = needle.type();
      if (t == TypeId::kFloat64) {
        const double* x = needle.doubles();
        for (size_t i = 0; i < rows; ++i) {
          auto it = std::lower_bound(doubles_.begin(), doubles_.end(), x[i], double_less);
          found[i] = it != doubles_.end() && double_eq(*it, x[i]);
        }
      } else if (t == TypeId::kString) {
        for (size_t i = 0; i < rows; ++i) {
          std::string_view s = needle.string_at(i);
          auto it = std::lower_bound(strings_.begin(), strings_.end(), s,
                                     [](const std::string& a, std::string_view b) { return a < b; });
          found[i] = it != strings_.end() && *it == s;
        }
      } else {
        const int64_t* x = needle.ints();
        for (size_t i = 0; i < rows; ++i) found[i] = std::binary_search(ints_.begin(), ints_.end(), x[i]);
      }
      finish(needle, nullptr, out);
      return out;
    }
    // General list: compare against each evaluated item column.
    Column& saw_null_col = scratch.take(TypeId::kBool);
    saw_null_col.resize_fixed(rows);
    int64_t* saw_null = saw_null_col.mutable_ints();
    std::memset(saw_null, 0, rows * sizeof(int64_t));
    ArgColumns items(list_.size());
    for (size_t k = 0; k < list_.size(); ++k) items.data()[k] = &list_[k]->eval(input, scratch);
    Column& out = scratch.take(TypeId::kBool);
    out.resize_fixed(rows);
    int64_t* found = out.mutable_ints();
    std::memset(found, 0, rows * sizeof(int64_t));
    for (size_t k = 0; k < items.size(); ++k) {
      const Column& item = *items.data()[k];
      const uint8_t* v = item.validity();
      for (size_t i = 0; i < rows; ++i) saw_null[i] |= !v[i];
      if (needle.type() == TypeId::kFloat64) {
        for (size_t i = 0; i < rows; ++i) found[i] |= v[i] && double_eq(needle.double_at(i), item.double_at(i));
      } else if (needle.type() == TypeId::kString) {
        for (size_t i = 0; i < rows; ++i) found[i] |= v[i] && needle.string_at(i) == item.string_at(i);
      } else {
        const int64_t* x = needle.ints();
        const int64_t* y = item.ints();
        for (size_t i = 0; i < rows; ++i) found[i] |= v[i] && x[i] == y[i];
      }
    }
    finish(needle, saw_null, out);
    return out;
  }

  std::string to_string() const override {
    return fmt::format("({} {}IN ({}))", needle_->to_string(), negated_ ? "NOT " : "", join_sql(list_));
  }
  std::vector<ExprPtr> children() const override {
    std::vector<ExprPtr> out{needle_};
    out.insert(out.end(), list_.begin(), list_.end());
    return out;
  }

 private:
  // SQL semantics: a match is TRUE; no match is FALSE unless the list held a NULL, which
  // makes it NULL (the NULL might have been equal); a NULL needle is NULL. NOT IN negates.
  void finish(const Column& needle, const int64_t* saw_null, Column& out) const {
    int64_t* r = out.mutable_ints();
    uint8_t* vr = out.mutable_validity();
    const uint8_t* nv = needle.validity();
    const size_t rows = out.size();
    for (size_t i = 0; i < rows; ++i) {
      const bool found = r[i] != 0;
      const bool null_in_list = saw_null ? saw_null[i] != 0 : has_null_;
      vr[i] = nv[i] && (found || !null_in_list);
      r[i] = found != negated_;
    }
  }

  ExprPtr needle_;
  std::vector<ExprPtr> list_;
  bool negated_;
  bool constant_ = false;
  bool has_null_ = false;
  std::vector<int64_t> ints_;
  std::vector<double> doubles_;
  std::vector<std::string> strings_;
};

// ---------------------------------------------------------------------------------------
// Binding helpers

// Converts `e` to `to` after the caller has decided the conversion is allowed. Literals are
// converted once here instead of once per batch.
Result<ExprPtr> coerce(ExprPtr e, TypeId to) {
  const TypeId from = e->type();
  if (from == to) return e;
  if (const Value* v = literal_value(*e)) {
    if (v->is_null) return make_literal(Value::null(to));
    if (from == TypeId::kString && (to == TypeId::kTimestamp || to == TypeId::kInterval)) {
      int64_t x = 0;
      const bool ok = to == TypeId::kTimestamp ? try_parse_timestamp(v->s, &x) : parse_interval_text(v->s, &x);
      if (!ok) {
        std::string reason = to == TypeId::kTimestamp ? timestamp_range_error(v->s) : std::string();
        if (reason.empty()) {
          reason = to == TypeId::kTimestamp ? "expected e.g. '2024-01-31 12:00:00'" : "expected e.g. '5 minutes' or '1h30m'";
        }
        return invalid_argument("invalid {} literal {} ({})", type_name(to), quote_sql(v->s), reason);
      }
      return make_literal(to == TypeId::kTimestamp ? Value::timestamp(x) : Value::interval(x));
    }
    if (cast_supported(from, to)) return make_literal(cast_value(*v, to));
  }
  if (!cast_supported(from, to)) {
    return internal_error("no conversion from {} to {}", type_name(from), type_name(to));
  }
  return ExprPtr(std::make_shared<CastExpr>(std::move(e), to));
}

Result<ExprPtr> coerce_bool(ExprPtr e, std::string_view what) {
  if (e == nullptr) return invalid_argument("{}: missing argument", what);
  if (e->type() == TypeId::kBool) return e;
  if (e->type() == TypeId::kNull) return coerce(std::move(e), TypeId::kBool);
  return type_error("{} must be BOOLEAN, not {}", what, type_name(e->type()));
}

// The common type of a set of expressions (CASE results, COALESCE and IN arguments): typed
// expressions unify through common_type(); untyped NULLs adapt; TEXT literals stay TEXT or
// become TIMESTAMP/INTERVAL when another expression has that type.
Result<TypeId> unify(const std::vector<ExprPtr>& exprs, std::string_view what) {
  TypeId t = TypeId::kNull;
  size_t t_index = 0;
  auto incompatible = [&](size_t i, TypeId other) {
    const bool t_first = t_index < i;
    return type_error("{} have incompatible types {} and {}", what, type_name(t_first ? t : other),
                      type_name(t_first ? other : t));
  };
  for (size_t i = 0; i < exprs.size(); ++i) {
    const Expr& e = *exprs[i];
    if (e.type() == TypeId::kNull || is_text_literal(e)) continue;
    if (t == TypeId::kNull) {
      t = e.type();
      t_index = i;
      continue;
    }
    const TypeId c = common_type(t, e.type());
    if (c == TypeId::kNull) return incompatible(i, e.type());
    t = c;
  }
  for (size_t i = 0; i < exprs.size(); ++i) {
    if (!is_text_literal(*exprs[i])) continue;
    if (t == TypeId::kNull) {
      t = TypeId::kString;
      t_index = i;
    } else if (t != TypeId::kString && t != TypeId::kTimestamp && t != TypeId::kInterval) {
      return incompatible(i, TypeId::kString);
    }
  }
  return t;
}

Status coerce_all(std::vector<ExprPtr>& exprs, TypeId t) {
  for (ExprPtr& e : exprs) {
    ASSIGN_OR_RETURN(e, coerce(std::move(e), t));
  }
  return Status::ok();
}

bool is_operator_name(const std::string& n) {
  static const char* const kOps[] = {"+", "-", "*", "/", "%", "=", "<>", "<", "<=", ">", ">=", "||", "like", "ilike", "neg"};
  return std::any_of(std::begin(kOps), std::end(kOps), [&](const char* op) { return n == op; });
}

Status operator_error(const std::string& op, const std::vector<ExprPtr>& args) {
  std::string shown = op == "neg" ? "-" : (op == "like" ? "LIKE" : (op == "ilike" ? "ILIKE" : op));
  std::string types;
  for (size_t i = 0; i < args.size(); ++i) {
    if (i) types += i + 1 == args.size() ? " and " : ", ";
    types += type_name(args[i]->type());
  }
  return type_error("operator {} cannot be applied to {}", shown, types);
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Public API

ExprPtr make_column_ref(int index, TypeId type, std::string name) {
  return std::make_shared<ColumnRefExpr>(index, type, std::move(name));
}

int column_ref_index(const Expr& e) {
  return e.kind() == Expr::Kind::kColumn ? static_cast<const ColumnRefExpr&>(e).index() : -1;
}

ExprPtr make_literal(Value value) {
  if (value.is_null) {  // normalize payload so that equal NULLs compare equal everywhere
    value = Value::null(value.type);
  }
  return std::make_shared<LiteralExpr>(std::move(value));
}

const std::string& call_name(const Expr& e) {
  static const std::string none;
  return e.kind() == Expr::Kind::kCall ? static_cast<const CallExpr&>(e).name() : none;
}

const Value* literal_value(const Expr& e) {
  return e.kind() == Expr::Kind::kLiteral ? &static_cast<const LiteralExpr&>(e).value() : nullptr;
}

Result<ExprPtr> make_call(const std::string& name, std::vector<ExprPtr> args) {
  for (const ExprPtr& a : args) {
    if (a == nullptr) return invalid_argument("{}: missing argument", name);
  }
  std::string lname = to_lower_ascii(name);
  // pg_query spells some operators differently; accept its names too.
  if (lname == "!=") lname = "<>";
  if (lname == "~~") lname = "like";
  if (lname == "~~*") lname = "ilike";
  if (lname == "!~~" || lname == "not like" || lname == "!~~*" || lname == "not ilike") {
    const bool ci = lname == "!~~*" || lname == "not ilike";
    ASSIGN_OR_RETURN(ExprPtr match, make_call(ci ? "ilike" : "like", std::move(args)));
    return make_not(std::move(match));
  }
  if (args.size() == 1 && lname == "-") lname = "neg";
  if (args.size() == 1 && lname == "+") {
    const TypeId t = args[0]->type();
    if (is_numeric(t) || t == TypeId::kInterval || t == TypeId::kNull) return args[0];
    return operator_error("+", args);
  }
  const bool is_op = is_operator_name(lname);
  if (lname == "neg") {
    // Fold negative number literals ("-5" arrives as neg(5)).
    const Value* v = args.size() == 1 ? literal_value(*args[0]) : nullptr;
    if (v != nullptr && !v->is_null && v->type == TypeId::kInt64 && v->i != INT64_MIN) return make_literal(Value::int64(-v->i));
    if (v != nullptr && !v->is_null && v->type == TypeId::kFloat64) return make_literal(Value::float64(-v->d));
  }
  if (lname == "||" && args.size() == 2) {
    // anyelement || text: a non-text side is converted to text, as long as one side is text.
    auto texty = [](const ExprPtr& e) { return e->type() == TypeId::kString || e->type() == TypeId::kNull; };
    if (!texty(args[0]) && !texty(args[1])) return operator_error("||", args);
    for (ExprPtr& a : args) {
      if (!texty(a)) {
        ASSIGN_OR_RETURN(a, coerce(std::move(a), TypeId::kString));
      }
    }
  }
  const FunctionRegistry& registry = is_op ? operator_registry() : FunctionRegistry::global();
  std::vector<TypeId> types;
  std::vector<bool> text_literal;
  for (const ExprPtr& a : args) {
    types.push_back(a->type());
    text_literal.push_back(is_text_literal(*a));
  }
  std::vector<TypeId> cast_to;
  auto resolved = registry.resolve(lname, types, text_literal, &cast_to);
  if (!resolved.is_ok()) return is_op ? operator_error(lname, args) : resolved.status();
  const ScalarFunction* fn = resolved.value();
  for (size_t i = 0; i < args.size(); ++i) {
    ASSIGN_OR_RETURN(args[i], coerce(std::move(args[i]), cast_to[i]));
  }
  if (fn->validate) {
    std::vector<const Value*> constants;
    for (const ExprPtr& a : args) constants.push_back(literal_value(*a));
    RETURN_IF_ERROR(fn->validate(constants));
  }
  return ExprPtr(std::make_shared<CallExpr>(fn->name, is_op, fn->kernel, fn->return_type, std::move(args)));
}

Result<ExprPtr> make_cast(ExprPtr input, TypeId to) {
  if (input == nullptr) return invalid_argument("CAST: missing argument");
  const TypeId from = input->type();
  if (from == to) return input;
  if (!cast_supported(from, to)) return type_error("cannot cast {} to {}", type_name(from), type_name(to));
  // A cast of a literal is folded now; a failed conversion folds to a typed NULL, exactly
  // what evaluating it per row would give.
  if (const Value* v = literal_value(*input)) return make_literal(v->is_null ? Value::null(to) : cast_value(*v, to));
  return ExprPtr(std::make_shared<CastExpr>(std::move(input), to));
}

namespace {
Result<ExprPtr> make_logic(Expr::Kind kind, std::vector<ExprPtr> args) {
  const char* what = kind == Expr::Kind::kAnd ? "argument of AND" : "argument of OR";
  if (args.empty()) return invalid_argument("{} needs at least one argument", kind == Expr::Kind::kAnd ? "AND" : "OR");
  std::vector<ExprPtr> flat;
  for (ExprPtr& a : args) {
    ASSIGN_OR_RETURN(ExprPtr b, coerce_bool(std::move(a), what));
    if (b->kind() == kind) {  // (a AND b) AND c -> one n-ary AND
      for (ExprPtr& c : b->children()) flat.push_back(std::move(c));
    } else {
      flat.push_back(std::move(b));
    }
  }
  if (flat.size() == 1) return flat[0];
  return ExprPtr(std::make_shared<LogicExpr>(kind, std::move(flat)));
}
}  // namespace

Result<ExprPtr> make_and(std::vector<ExprPtr> args) { return make_logic(Expr::Kind::kAnd, std::move(args)); }
Result<ExprPtr> make_or(std::vector<ExprPtr> args) { return make_logic(Expr::Kind::kOr, std::move(args)); }

Result<ExprPtr> make_not(ExprPtr arg) {
  ASSIGN_OR_RETURN(ExprPtr b, coerce_bool(std::move(arg), "argument of NOT"));
  return ExprPtr(std::make_shared<NotExpr>(std::move(b)));
}

ExprPtr make_is_null(ExprPtr arg, bool negated) { return std::make_shared<IsNullExpr>(std::move(arg), negated); }

Result<ExprPtr> make_case(std::vector<std::pair<ExprPtr, ExprPtr>> whens, ExprPtr else_result) {
  if (whens.empty()) return invalid_argument("CASE needs at least one WHEN");
  std::vector<ExprPtr> results;
  for (auto& [cond, result] : whens) {
    ASSIGN_OR_RETURN(cond, coerce_bool(std::move(cond), "CASE WHEN condition"));
    if (result == nullptr) return invalid_argument("CASE: missing THEN result");
    results.push_back(result);
  }
  if (else_result) results.push_back(else_result);
  ASSIGN_OR_RETURN(TypeId t, unify(results, "CASE branches"));
  for (auto& w : whens) {
    ASSIGN_OR_RETURN(w.second, coerce(std::move(w.second), t));
  }
  if (else_result) {
    ASSIGN_OR_RETURN(else_result, coerce(std::move(else_result), t));
  }
  return ExprPtr(std::make_shared<CaseExpr>(std::move(whens), std::move(else_result), t));
}

Result<ExprPtr> make_coalesce(std::vector<ExprPtr> args) {
  if (args.empty()) return invalid_argument("COALESCE needs at least one argument");
  for (const ExprPtr& a : args) {
    if (a == nullptr) return invalid_argument("COALESCE: missing argument");
  }
  ASSIGN_OR_RETURN(TypeId t, unify(args, "COALESCE arguments"));
  RETURN_IF_ERROR(coerce_all(args, t));
  return ExprPtr(std::make_shared<CoalesceExpr>(std::move(args), t));
}

Result<ExprPtr> make_in_list(ExprPtr needle, std::vector<ExprPtr> list, bool negated) {
  if (needle == nullptr) return invalid_argument("IN: missing left operand");
  if (list.empty()) return invalid_argument("IN list must not be empty");
  std::vector<ExprPtr> all{needle};
  for (const ExprPtr& e : list) {
    if (e == nullptr) return invalid_argument("IN: missing list item");
    all.push_back(e);
  }
  ASSIGN_OR_RETURN(TypeId t, unify(all, "IN list items"));
  RETURN_IF_ERROR(coerce_all(all, t));
  needle = all[0];
  list.assign(all.begin() + 1, all.end());
  return ExprPtr(std::make_shared<InListExpr>(std::move(needle), std::move(list), negated));
}

bool implicitly_castable(TypeId from, TypeId to) {
  return from == to || from == TypeId::kNull || (from == TypeId::kInt64 && to == TypeId::kFloat64);
}

bool implicitly_castable(const Expr& e, TypeId to) {
  if (implicitly_castable(e.type(), to)) return true;
  return is_text_literal(e) && (to == TypeId::kTimestamp || to == TypeId::kInterval);
}

TypeId common_type(TypeId a, TypeId b) {
  if (a == b) return a;
  if (a == TypeId::kNull) return b;
  if (b == TypeId::kNull) return a;
  if (is_numeric(a) && is_numeric(b)) return TypeId::kFloat64;
  return TypeId::kNull;
}

Result<ExprPtr> make_implicit_cast(ExprPtr e, TypeId to) {
  if (e == nullptr) return invalid_argument("missing expression");
  if (!implicitly_castable(*e, to)) {
    return type_error("cannot implicitly convert {} to {} (use CAST)", type_name(e->type()), type_name(to));
  }
  return coerce(std::move(e), to);
}

bool is_constant(const Expr& e) {
  if (e.kind() == Expr::Kind::kColumn) return false;
  bool constant = true;
  for (const ExprPtr& c : e.children()) {
    visit_subexpressions(c, [&](const ExprPtr& sub) {
      if (sub->kind() == Expr::Kind::kColumn) constant = false;
      return constant;
    });
  }
  return constant;
}

void visit_subexpressions(const ExprPtr& e, const std::function<bool(const ExprPtr&)>& fn) {
  std::vector<ExprPtr> pending{e};
  while (!pending.empty()) {
    ExprPtr next = std::move(pending.back());
    pending.pop_back();
    if (!fn(next)) return;
    std::vector<ExprPtr> children = next->children();
    for (size_t k = children.size(); k-- > 0;) pending.push_back(std::move(children[k]));
  }
}

std::vector<int> referenced_columns(const ExprPtr& e) {
  std::vector<int> out;
  visit_subexpressions(e, [&](const ExprPtr& sub) {
    if (int i = column_ref_index(*sub); i >= 0) out.push_back(i);
    return true;
  });
  return out;
}

std::vector<std::string> function_names() { return FunctionRegistry::global().names(); }

Result<Value> evaluate_constant(const ExprPtr& e) {
  if (e == nullptr) return invalid_argument("missing expression");
  if (const Value* v = literal_value(*e)) return *v;
  if (!is_constant(*e)) return invalid_argument("expression {} is not constant", e->to_string());
  RecordBatch batch;  // no columns, one row: every leaf is a literal
  batch.num_rows = 1;
  EvalScratch scratch;
  return value_at(e->eval(batch, scratch), 0);
}

}  // namespace sluice
