// The C++ pipeline API: a fluent builder that produces the same LogicalJob as the SQL front
// end (src/sql), then plans and runs it with the same planner and runtime.
//
//   Pipeline p;
//   Stream clicks = p.source("clicks", {field("user_id", TypeId::kInt64), field("page", TypeId::kString),
//                                       field("ts", TypeId::kTimestamp)},
//                            {{"connector", "generator"}, {"events", "100000"}, {"event_time", "ts"}});
//   Table per_page = p.sink("per_page", {{"connector", "sqlite"}, {"path", "out.db"},
//                                        {"primary_key", "window_start,page"}});
//   clicks.filter(col("page") != "/health")
//       .tumble("ts", std::chrono::minutes(1))
//       .key_by("page")
//       .aggregate(count().as("clicks"), count_distinct("user_id").as("users"))
//       .to(per_page);
//   Result<RunSummary> r = p.run();
//
// builds the same plan as
//
//   INSERT INTO per_page SELECT window_start, window_end, page, COUNT(*) AS clicks,
//       COUNT(DISTINCT user_id) AS users
//   FROM TUMBLE(clicks, ts, INTERVAL '1 minute') WHERE page <> '/health'
//   GROUP BY window_start, window_end, page;
//
// How the calls map onto SQL: a Stream is an open SELECT block over a FROM relation.
// filter() adds WHERE conditions (ANDed), select() sets the select list, tumble()/hop()/
// session() wrap the relation in a window table function, key_by(...).aggregate(...) is
// GROUP BY (plus window_start, window_end when windowed) with the aggregates, and a filter()
// right after aggregate() is HAVING. A call that cannot extend the current block (filter
// after select, key_by after select, ...) nests it as a subquery, exactly as SQL would.
// Default output columns of aggregate(): [window_start, window_end,] keys..., aggregates...
//
// Errors: builder calls never fail on the spot. A mistake (unknown column, type mismatch,
// unsupported combination) makes the resulting Stream carry a Status naming the step, e.g.
// "filter((pricee > 10)): unknown column 'pricee' (columns: user_id, page, ts)"; later steps
// keep the first error; Stream::status() shows it, and Pipeline::build()/run() return the
// first error of any step in the pipeline.
//
// Lifetime and threads: Stream, KeyedStream and Table are immutable handles sharing their
// Pipeline's state; they remain valid after the Pipeline object is destroyed. A Pipeline and
// its handles must be used from one thread at a time. Register UDFs (sluice/udf.h) before
// building.
#pragma once

#include <chrono>
#include <concepts>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "common/status.h"
#include "sluice/aggregate.h"
#include "sluice/expression.h"
#include "sluice/process_function.h"
#include "types/schema.h"

namespace sluice {
// The logical job a front end produces (src/plan/logical_plan.h). Opaque here: programs
// that inspect build()'s result include that header themselves; the public headers do not
// pull in the planner, the operators or their libraries.
struct LogicalJob;
struct LogicalNode;
}  // namespace sluice

namespace sluice::api {

namespace internal {
struct PipelineState;
struct Block;
struct KeyedBlock;
struct Relation;
}  // namespace internal

// Table options: the WITH (...) of CREATE TABLE (connector, format, path, event_time,
// watermark_delay, primary_key, ...; see docs/sql.md). Keys are case-insensitive.
using TableOptions = std::map<std::string, std::string>;
// Window sizes and offsets: any std::chrono duration converts (minutes(1), seconds(30)).
using Duration = std::chrono::microseconds;

// A column name or an Expression: what select() and key_by() accept.
template <typename T>
concept ColumnOrExpression =
    std::same_as<std::remove_cvref_t<T>, Expression> || std::convertible_to<T, std::string_view>;

namespace internal {
template <ColumnOrExpression T>
Expression column_or_expression(T&& v) {
  if constexpr (std::same_as<std::remove_cvref_t<T>, Expression>) {
    return std::forward<T>(v);
  } else {
    return col(std::string(std::string_view(v)));
  }
}
}  // namespace internal

// A declared sink table (the target of Stream::to).
class Table {
 public:
  const std::string& name() const { return name_; }

 private:
  friend class Pipeline;
  friend class Stream;
  Table(std::shared_ptr<internal::PipelineState> state, std::string name)
      : state_(std::move(state)), name_(std::move(name)) {}
  std::shared_ptr<internal::PipelineState> state_;
  std::string name_;
};

class KeyedStream;

// The rows a join keeps, as SQL's [INNER] / LEFT / RIGHT / FULL [OUTER] JOIN.
enum class JoinKind { kInner, kLeft, kRight, kFull };

// MATCH_RECOGNIZE (docs/patterns.md): the arguments of SQL's match_recognize(...) table
// function. Conditions and measures are SQL text, bound over the stream's columns by the
// SQL binder, so they read exactly as in a .sql job.
struct MatchRecognize {
  std::vector<std::string> partition_by;                    // columns; empty: one partition
  std::string pattern;                                      // e.g. "F{5} P"
  std::vector<std::pair<std::string, std::string>> define;  // {variable, condition}, e.g. {"F", "kind = 'x'"}
  std::string measures;     // e.g. "first(F.ts) AS start_ts, count(F.*) AS n"; empty: the defaults
  Duration within = Duration::zero();  // time bound of a match; zero: none
  std::string after_match;  // "skip past last row" (empty), "skip to next row", "skip to first V", ...
  std::string contiguity;   // "strict" (empty) or "relaxed"
  int64_t max_partial_matches = 0;  // 0: the default (10000)
};

// Model scoring for Stream::score (SQL: score(url => ..., ...), docs/scoring.md): an HTTP/JSON
// call per row (or micro-batch), asynchronous, with retries, a circuit breaker and a
// fallback or dead-letter route. The fields are score()'s arguments; a zero or empty field
// takes score()'s default.
struct Score {
  std::string url;        // required: http:// or https://
  std::string body;       // SQL expression text over the stream's columns; empty: the row as a JSON object
  Duration timeout = Duration::zero();           // deadline of a whole call (default 200 ms)
  std::string fallback;   // JSON text given to rows of failed calls; empty: NULL
  int64_t max_in_flight = 0;                     // default 64
  int64_t batch_size = 0;                        // rows per call; default 1
  bool unordered = false;                        // rows leave as their calls complete (never across a watermark)
  int64_t max_attempts = 0;                      // default 3
  Duration backoff = Duration::zero();           // default 5 ms
  int64_t breaker_failures = 0;                  // default 5
  Duration breaker_cooldown = Duration::zero();  // default 5 s
  std::string dlq;        // rows of failed calls go to this dead-letter queue instead of a fallback
  std::string as = "response";    // the response column (TEXT, JSON)
  std::string ingest_time_as;     // when set: also ingest_time() (TIMESTAMP) under this name
  std::string decision_time_as;   // when set: also decision_time() (TIMESTAMP) under this name
};

// An OVER window for Stream::over (SQL: agg(x) OVER (PARTITION BY keys ORDER BY <event time>
// <frame>), docs/sql.md "OVER aggregates"): the frame ends at the current row and reaches back
// an interval of event time (RANGE), a number of rows (ROWS) or to the partition's first row.
//
//   tx.over(OverWindow::range(std::chrono::minutes(5)).partition_by("user_id"),
//           count().as("tx_5m"), sum("amount").as("amount_5m"))
class OverWindow {
 public:
  enum class Unit { kRange, kRows };
  // RANGE BETWEEN <preceding> PRECEDING AND CURRENT ROW (rows with the same time are peers
  // and see each other).
  static OverWindow range(Duration preceding) { return OverWindow(Unit::kRange, false, preceding, 0); }
  // ROWS BETWEEN <preceding> PRECEDING AND CURRENT ROW.
  static OverWindow rows(int64_t preceding) { return OverWindow(Unit::kRows, false, Duration::zero(), preceding); }
  // RANGE / ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW.
  static OverWindow range_unbounded() { return OverWindow(Unit::kRange, true, Duration::zero(), 0); }
  static OverWindow rows_unbounded() { return OverWindow(Unit::kRows, true, Duration::zero(), 0); }

  // PARTITION BY (strings name columns); without it, one partition.
  OverWindow partition_by(std::vector<Expression> keys) const {
    OverWindow w = *this;
    w.keys_ = std::move(keys);
    return w;
  }
  template <ColumnOrExpression... Keys>
  OverWindow partition_by(Keys&&... keys) const {
    return partition_by(std::vector<Expression>{internal::column_or_expression(std::forward<Keys>(keys))...});
  }

  Unit unit() const { return unit_; }
  bool unbounded() const { return unbounded_; }
  Duration preceding_time() const { return range_; }
  int64_t preceding_rows() const { return rows_; }
  const std::vector<Expression>& keys() const { return keys_; }

 private:
  OverWindow(Unit unit, bool unbounded, Duration range, int64_t rows)
      : unit_(unit), unbounded_(unbounded), range_(range), rows_(rows) {}
  Unit unit_;
  bool unbounded_;
  Duration range_;
  int64_t rows_;
  std::vector<Expression> keys_;
};

class Stream {
 public:
  // WHERE condition (BOOLEAN); several filters are ANDed. Right after aggregate(): HAVING,
  // over the aggregate's output column names.
  Stream filter(const Expression& condition) const;

  // The select list. Strings name columns; Expressions may be aliased with as().
  Stream select(std::vector<Expression> items) const;
  template <ColumnOrExpression... Items>
  Stream select(Items&&... items) const {
    return select(std::vector<Expression>{internal::column_or_expression(std::forward<Items>(items))...});
  }

  // UNION ALL with a stream of the same Pipeline (columns matched by position, types
  // unified; names from this stream).
  Stream union_with(const Stream& other) const;

  // JOIN `right` (a stream of the same Pipeline) ON `on`, a BOOLEAN condition over both
  // streams' columns by name (a name both have is ambiguous there: rename it first with
  // select(col("x").as("y"), ...)). Equalities between an expression of each stream become
  // the join keys, the other conjuncts the residual condition. Output: this stream's
  // columns, then right's. Planned as SQL's join: with time bounds between the streams'
  // event-time columns an interval join, on window_start/window_end of the same windows a
  // window join, otherwise a regular join (an updating result; SET state_ttl bounds it).
  Stream join(const Stream& right, const Expression& on, JoinKind kind = JoinKind::kInner) const;

  // Temporal join (SQL: JOIN versioned(table, ts), docs/sql.md "Temporal joins"): each row of
  // this append-only stream (which needs event time) joins the version of its key valid at
  // its event time in `table`, a source stream read as it is with a primary key (option
  // primary_key) and event_time; `on` must equate the key. kInner or kLeft.
  Stream join_versioned(const Stream& table, const Expression& on, JoinKind kind = JoinKind::kInner) const;
  // Lookup join (SQL: JOIN lookup(table, refresh => ...), "Lookup joins"): each row joins the
  // row of its key in `table` (a source stream read as it is, with a primary key; sqlite,
  // postgres or a bounded source) as loaded when the row is processed; reloaded every
  // `refresh` (0: loaded once). Depends on processing time. kInner or kLeft.
  Stream join_lookup(const Stream& table, const Expression& on, JoinKind kind = JoinKind::kInner,
                     Duration refresh = Duration::zero()) const;

  // Window table functions on the event-time column (a TIMESTAMP column; the source's
  // event_time when it has one). They add window_start and window_end; a following
  // aggregate() is windowed. Without aggregate, tumble/hop assign windows to each row (hop
  // repeats a row per window); session needs an aggregate.
  Stream tumble(std::string_view time_column, Duration size, Duration offset = Duration::zero()) const;
  Stream hop(std::string_view time_column, Duration slide, Duration size, Duration offset = Duration::zero()) const;
  Stream session(std::string_view time_column, Duration gap) const;

  // GROUP BY keys (strings name columns).
  KeyedStream key_by(std::vector<Expression> keys) const;
  template <ColumnOrExpression... Keys>
  KeyedStream key_by(Keys&&... keys) const;

  // Aggregation without keys: one global row (running), or one row per window.
  Stream aggregate(std::vector<AggregateCall> aggregates) const;
  template <typename... Aggs>
    requires((!std::same_as<std::remove_cvref_t<Aggs>, std::vector<AggregateCall>>) && ...)
  Stream aggregate(Aggs&&... aggregates) const {
    static_assert(sizeof...(Aggs) > 0, "aggregate(): give at least one aggregate, e.g. count()");
    static_assert((std::same_as<std::remove_cvref_t<Aggs>, AggregateCall> && ...),
                  "aggregate(): every argument must be an aggregate call: count(), count_distinct(x), sum(x), "
                  "min(x), max(x) or avg(x)");
    return aggregate(std::vector<AggregateCall>{std::forward<Aggs>(aggregates)...});
  }

  // OVER aggregates: every row of this stream (it needs an event-time column, which orders
  // the rows) with one more column per aggregate, computed over its partition's rows in the
  // window's frame and emitted when the watermark passes the row. The aggregates are
  // named by as() (else the function name) and must not repeat a column's name. Same
  // semantics and errors as SQL's OVER aggregates.
  Stream over(const OverWindow& window, std::vector<AggregateCall> aggregates) const;
  template <typename... Aggs>
    requires((!std::same_as<std::remove_cvref_t<Aggs>, std::vector<AggregateCall>>) && ...)
  Stream over(const OverWindow& window, Aggs&&... aggregates) const {
    static_assert(sizeof...(Aggs) > 0, "over(): give at least one aggregate, e.g. count()");
    static_assert((std::same_as<std::remove_cvref_t<Aggs>, AggregateCall> && ...),
                  "over(): every argument after the window must be an aggregate call: count(), count_distinct(x), "
                  "sum(x), min(x), max(x) or avg(x)");
    return over(window, std::vector<AggregateCall>{std::forward<Aggs>(aggregates)...});
  }

  // Scores every row (docs/scoring.md): this stream's columns, then the response column
  // and the optional ingest/decision times. Same binder, semantics and errors as SQL's
  // score(...) in a select list.
  Stream score(const Score& call) const;

  // Row pattern matching over this stream in event-time order (its event-time column, the
  // source's event_time, orders rows): one row per match with the partition columns and
  // the measures. Same semantics and errors as SQL's match_recognize (docs/patterns.md).
  Stream match_recognize(const MatchRecognize& spec) const;

  // INSERT INTO sink SELECT <this stream>. Columns map by position onto a sink declared
  // with columns (assignment casts as in SQL); a sink declared without columns takes this
  // stream's. Errors are reported by Pipeline::build()/run().
  void to(const Table& sink) const;

  // The first error of this stream's steps, or ok.
  Status status() const;
  // The columns this stream produces (the next step's input), or the stream's error.
  Result<SchemaPtr> schema() const;

 private:
  friend class Pipeline;
  friend class KeyedStream;
  explicit Stream(std::shared_ptr<const internal::Block> block) : block_(std::move(block)) {}
  // The join of this stream and `right`; `finish`, when given, reshapes the join node.
  using JoinFinisher = std::function<Result<std::shared_ptr<LogicalNode>>(
      const internal::Relation&, const internal::Relation&, std::shared_ptr<LogicalNode>)>;
  Stream join_with(const Stream& right, const Expression& on, JoinKind kind, const char* what,
                   const JoinFinisher& finish) const;
  std::shared_ptr<const internal::Block> block_;
};

class KeyedStream {
 public:
  // GROUP BY the keys with these aggregates (windowed when the stream is windowed).
  Stream aggregate(std::vector<AggregateCall> aggregates) const;
  template <typename... Aggs>
    requires((!std::same_as<std::remove_cvref_t<Aggs>, std::vector<AggregateCall>>) && ...)
  Stream aggregate(Aggs&&... aggregates) const {
    static_assert(sizeof...(Aggs) > 0, "aggregate(): give at least one aggregate, e.g. count()");
    static_assert((std::same_as<std::remove_cvref_t<Aggs>, AggregateCall> && ...),
                  "aggregate(): every argument must be an aggregate call: count(), count_distinct(x), sum(x), "
                  "min(x), max(x) or avg(x)");
    return aggregate(std::vector<AggregateCall>{std::forward<Aggs>(aggregates)...});
  }

  // Runs `function` on every row with keyed state and event-time timers (see
  // sluice/process_function.h). Keys must be plain columns. The input must be append-only
  // (not the result of a running aggregate). Output columns: function->output_columns().
  Stream process(std::unique_ptr<KeyedProcessFunction> function) const;
  template <typename F>
  Stream process(std::unique_ptr<F> function) const {
    static_assert(std::is_base_of_v<KeyedProcessFunction, F>,
                  "process(): the function must derive from sluice::KeyedProcessFunction (or ProcessFunction<F>)");
    return process(std::unique_ptr<KeyedProcessFunction>(std::move(function)));
  }

  Status status() const;

 private:
  friend class Stream;
  explicit KeyedStream(std::shared_ptr<const internal::KeyedBlock> keyed) : keyed_(std::move(keyed)) {}
  std::shared_ptr<const internal::KeyedBlock> keyed_;
};

template <ColumnOrExpression... Keys>
KeyedStream Stream::key_by(Keys&&... keys) const {
  static_assert(sizeof...(Keys) > 0, "key_by(): give at least one key column");
  return key_by(std::vector<Expression>{internal::column_or_expression(std::forward<Keys>(keys))...});
}

struct RunOptions {
  int parallelism = 0;    // instances of keyed operators; 0 = the pipeline's setting (default 1)
  size_t batch_size = 0;  // rows per batch; 0 = the pipeline's setting (default 4096)
  // Checkpoints (like `sluice run`'s flags; empty/false = the pipeline's SET values):
  std::string checkpoint_dir = {};  // take checkpoints here; resume from the latest one
  std::string from_savepoint = {};  // resume from this savepoint or checkpoint directory
  bool allow_changed_sources = false;
  bool allow_non_restored_state = false;  // resume a checkpoint some of whose state this job lacks
  bool start_over = false;
};

struct RunSummary {
  uint64_t records_in = 0;     // records read by all sources
  uint64_t dead_lettered = 0;  // records sent to dead-letter queues
  uint64_t late = 0;           // rows sent to late-data outputs
  uint64_t checkpoints_completed = 0;  // 0 when the job does not checkpoint
  uint64_t restored_checkpoint = 0;    // the checkpoint the run resumed from; 0: fresh start
  std::string explain;         // the plan that ran
};

class Pipeline {
 public:
  Pipeline();
  ~Pipeline();
  Pipeline(Pipeline&&) noexcept;
  Pipeline& operator=(Pipeline&&) noexcept;

  // CREATE TABLE name (columns) WITH (options), read as a source. Caller must give at least
  // one column and a 'connector' option; names are case-insensitive and unique per pipeline.
  Stream source(std::string name, std::vector<Field> columns, TableOptions options);
  // CREATE TABLE name [(columns)] WITH (options), written as a sink. Empty `columns`: the
  // columns of the first stream written to it (like CREATE TABLE t () WITH (...)).
  Table sink(std::string name, TableOptions options, std::vector<Field> columns = {});

  // SET parallelism / SET batch_size (RunOptions override them) / SET allowed_lateness
  // (the default for sources without an allowed_lateness option).
  Pipeline& set_parallelism(int parallelism);
  Pipeline& set_batch_size(size_t rows);
  Pipeline& set_allowed_lateness(Duration lateness);
  // Any job setting, as SQL's `SET name = 'value'` (e.g. set("checkpoint_dir", "ck"),
  // set("checkpoint_interval", "1s"), set("state_backend", "rocksdb")); validated the same way.
  Pipeline& set(const std::string& name, const std::string& value);

  // The logical job (tables, one pipeline per to(), settings), or the first error of any
  // step. Calling it again returns an equal job.
  Result<LogicalJob> build() const;
  // The physical plan as `sluice explain` prints it.
  Result<std::string> explain(const RunOptions& options = {}) const;
  // Plans and runs the job until its bounded inputs end. Blocks the calling thread.
  Result<RunSummary> run(const RunOptions& options = {}) const;

 private:
  std::shared_ptr<internal::PipelineState> state_;
};

// Compiles, plans and runs a SQL job (the text of a `sluice run` file): for programs that
// mix SQL jobs with builder pipelines and UDFs. `file_name` prefixes error locations.
// Settings in the text (SET parallelism) apply unless `options` overrides them.
Result<RunSummary> run_sql(const std::string& sql, const RunOptions& options = {},
                           const std::string& file_name = "<sql>");
// The same planning and running for a LogicalJob made by any front end.
Result<RunSummary> run_job(const LogicalJob& job, const RunOptions& options = {});

}  // namespace sluice::api
