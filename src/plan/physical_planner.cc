#include "plan/physical_planner.h"
#include "plan/shapes.h"
#include "plan/time_join_planning.h"

#include <algorithm>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cctype>
#include <filesystem>
#include <map>
#include <set>

#include <fmt/format.h>

#include "common/hash.h"
#include "connectors/registry.h"
#include "connectors/sink.h"
#include "connectors/connector_util.h"
#include "connectors/source.h"
#include "operators/aggregate.h"
#include "operators/changelog_filter.h"
#include "operators/join.h"
#include "operators/lookup_join.h"
#include "cep/match_operator.h"
#include "operators/process_operator.h"
#include "operators/sink_operator.h"
#include "operators/stateless.h"
#include "operators/temporal_join.h"
#include "operators/time_join.h"
#include "operators/topn.h"

namespace sluice {
namespace {

// "job.sql:3:14: table t" (or "table t" for tables not defined in SQL): the prefix of
// every planning error about a table, so each error points at its CREATE TABLE.
std::string table_context(const TableDef& t) { return (t.where.empty() ? "" : t.where + ": ") + "table " + t.name; }

// The position of one of the table's options (of the table when the option has none);
// empty for tables not defined in SQL.
std::string option_position(const TableDef& t, const std::string& option) {
  auto it = t.option_where.find(option);
  return it == t.option_where.end() ? t.where : it->second;
}

// Column names compare case-insensitively (SQL identifiers; primary_key = 'Page' names page).
bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// The same prefix as table_context, pointing at one of the table's options.
std::string option_context(const TableDef& t, const std::string& option) {
  const std::string where = option_position(t, option);
  return (where.empty() ? "" : where + ": ") + "table " + t.name;
}

// Engine options whose values could be accepted but mean nothing are refused, each with
// an error pointing at the option: an empty side-output path, a negative lateness, a zero
// idle timeout, watermark settings on a table without event time.
Status check_engine_source_options(const TableDef& t, const ConnectorOptions& engine) {
  for (const char* name : {"dlq", "dlq_table", "late_output", "late_output_table", "event_time"}) {
    if (engine.has(name) && engine.get_string(name).empty()) {
      return invalid_argument("{}: option '{}' must not be empty (omit it for the default)", option_context(t, name),
                              name);
    }
  }
  for (const auto& [table_option, path_option] :
       {std::pair<const char*, const char*>{"dlq_table", "dlq"}, {"late_output_table", "late_output"}}) {
    if (engine.has(table_option) && !engine.has(path_option)) {
      return invalid_argument("{}: option '{}' needs option '{}' naming the SQLite database",
                              option_context(t, table_option), table_option, path_option);
    }
  }
  if (!engine.has("event_time")) {
    for (const char* name : {"watermark_delay", "allowed_lateness", "idle_timeout", "late_output", "late_output_table"}) {
      if (engine.has(name)) {
        return invalid_argument("{}: option '{}' needs option 'event_time' (watermarks and lateness follow an "
                                "event-time column)",
                                option_context(t, name), name);
      }
    }
  }
  for (const char* name : {"watermark_delay", "allowed_lateness", "idle_timeout"}) {
    ASSIGN_OR_RETURN(Micros d, engine.get_duration(name, 0));
    if (d < 0) return invalid_argument("{}: option '{}' must not be negative", option_context(t, name), name);
    if (d == 0 && engine.has(name) && std::string_view(name) == "idle_timeout") {
      return invalid_argument("{}: option 'idle_timeout' must be positive (omit it: a split is then never idle)",
                              option_context(t, name));
    }
  }
  return Status::ok();
}

// A file the job reads or writes, resolved so that two spellings of one file (relative and
// absolute paths, symlinks, hard links) compare equal.
struct FileUse {
  std::string path;      // as written
  std::string resolved;  // realpath of the file, or of its directory + its name
  bool exists = false;
  dev_t device = 0;
  ino_t inode = 0;
  bool reads = false;         // a source; otherwise written (sink, dead letters, late data)
  bool database = false;      // a SQLite database: writers of different tables may share it
  std::string db_table;       // the SQLite table written
  std::string owner;          // the SQL table it belongs to
  std::string noun;           // "table out", "the dead-letter queue of table src"
  std::string where;          // position for errors ("job.sql:3:14"), may be empty
  std::string kind;           // side outputs: "dead-letter queue" / "late data"; else ""
  // A source reading the files of a directory or glob: the real directory and the pattern.
  bool file_set = false;
  std::string set_dir;
  FileSetPath set;
};

std::string real_dir(const std::string& dir) {
  char buf[PATH_MAX];
  if (::realpath(dir.c_str(), buf) != nullptr) return buf;
  std::error_code ec;
  return std::filesystem::absolute(dir, ec).lexically_normal().string();
}

// Whether `writer` is a file that the directory or glob source `reader` would read.
bool in_file_set(const FileUse& reader, const FileUse& writer) {
  std::filesystem::path w(writer.resolved);
  return real_dir(w.parent_path().string()) == reader.set_dir && reader.set.matches(w.filename().string());
}

FileUse resolve_file(const std::string& path) {
  namespace fs = std::filesystem;
  FileUse f;
  f.path = path;
  struct stat st {};
  char buf[PATH_MAX];
  if (::stat(path.c_str(), &st) == 0) {
    f.exists = true;
    f.device = st.st_dev;
    f.inode = st.st_ino;
    if (::realpath(path.c_str(), buf) != nullptr) f.resolved = buf;
  }
  if (f.resolved.empty()) {
    fs::path p(path);
    std::string dir = p.parent_path().empty() ? "." : p.parent_path().string();
    std::error_code ec;
    f.resolved = (::realpath(dir.c_str(), buf) != nullptr ? fs::path(buf) : fs::absolute(dir, ec).lexically_normal()) /
                 p.filename();
    f.resolved = fs::path(f.resolved).string();
  }
  return f;
}

bool same_file(const FileUse& a, const FileUse& b) {
  if (a.exists && b.exists) return a.device == b.device && a.inode == b.inode;
  return a.resolved == b.resolved;
}

class Planner {
 public:
  Planner(const LogicalJob& job, const PlanOptions& options)
      : job_(job), options_(options), default_lateness_(job.settings.allowed_lateness) {}

  Result<PhysicalPlan> run() {
    for (const auto& p : job_.pipelines) {
      count_reads(p.query);
      insert_targets_.insert(lower_name(p.sink->name));
    }
    // Several INSERTs into one table feed ONE sink instance (their union, as UNION ALL):
    // one output file, one commit record, one ordered release. Sinks are planned in the
    // order of their first INSERT, each sink's INSERTs in file order.
    std::vector<std::string> sink_order;
    std::map<std::string, std::vector<const Pipeline*>> by_sink;
    for (const auto& p : job_.pipelines) {
      auto& list = by_sink[p.sink->name];
      if (list.empty()) sink_order.push_back(p.sink->name);
      list.push_back(&p);
    }
    for (const auto& name : sink_order) RETURN_IF_ERROR(plan_sink(by_sink[name]));
    wire_late_sinks();
    RETURN_IF_ERROR(check_files());
    plan_.job.name = "sluice";
    plan_.job.options.batch_size = options_.batch_size;
    plan_.job.options.decode_threads = options_.decode_threads > 0 ? options_.decode_threads : options_.parallelism;
    plan_.explain = explain();
    return std::move(plan_);
  }

 private:
  struct Open {
    std::vector<int> stages;  // stages whose chains end here, all producing `schema`
    bool updating = false;
    int order_column = -1;    // window_end of a windowed aggregate, when still present
    // Updating results. `retract`: every -D carries exactly the row it retracts and there
    // are no +U (top-N), so a row-by-row filter stays exact. Otherwise rows are upserts by
    // a key: `key` (columns of the current schema, when key_known) identifies a row, its
    // first `partition_count` columns are the keys the hash exchange routed by; windowed
    // results also give their window_end column and allowed lateness (ChangelogFilter).
    bool retract = false;
    bool key_known = false;
    std::vector<int> key;
    size_t partition_count = 0;
    int end_column = -1;
    bool end_fixed = false;  // window_end follows from window_start (TUMBLE/HOP, not SESSION)
    Micros lateness = 0;
    // Rows of interval or window joins that forward a watermark (watermark_sources): the
    // columns no row is behind that watermark in (see operators/time_join.h).
    std::vector<int> time_columns;
    std::vector<std::shared_ptr<TimeJoinOperatorSpec>> watermark_sources;
    bool scored = false;  // a scoring stage is upstream (no source-side late filter can follow)
  };

  // Follows the event-time columns of time-join rows through a projection.
  static void project_time_columns(Open& o, const std::vector<ExprPtr>& projections) {
    if (projections.empty()) return;
    std::vector<int> moved;
    for (size_t j = 0; j < projections.size(); ++j) {
      const int ref = column_ref_index(*projections[j]);
      if (std::find(o.time_columns.begin(), o.time_columns.end(), ref) != o.time_columns.end() && ref >= 0) {
        moved.push_back(static_cast<int>(j));
      }
    }
    o.time_columns = std::move(moved);
  }

  // An operator that judges rows by the watermark on `column` (windows, time joins): when
  // time joins upstream forward a watermark that does not cover that column, they forward
  // only the end of the input instead, so no row is taken for late.
  static void require_time_column(Open& o, int column) {
    if (o.watermark_sources.empty()) return;
    if (std::find(o.time_columns.begin(), o.time_columns.end(), column) != o.time_columns.end()) return;
    for (const auto& spec : o.watermark_sources) spec->stop_watermarks();
    o.watermark_sources.clear();
    o.time_columns.clear();
  }

  // Follows the key of an updating result through a projection: each key column must be
  // projected as a plain column reference, else the key is lost.
  static void project_key(Open& o, const std::vector<ExprPtr>& projections) {
    if (projections.empty()) return;
    auto find = [&](int col) {
      for (size_t j = 0; j < projections.size(); ++j) {
        if (column_ref_index(*projections[j]) == col) return static_cast<int>(j);
      }
      return -1;
    };
    for (int& k : o.key) {
      k = find(k);
      if (k < 0) o.key_known = false;
    }
    if (o.end_column >= 0) o.end_column = find(o.end_column);
  }

  // A Calc node: a WHERE over updates becomes a ChangelogFilter (retracting keys that stop
  // qualifying), then the projection.
  Result<Open> build_calc(const LogicalNode& node, std::vector<int>* source_of_stage) {
    ASSIGN_OR_RETURN(Open o, build(node.inputs[0], source_of_stage));
    o.order_column = -1;
    project_time_columns(o, node.projections);
    if (!(node.filter && o.updating && !o.retract)) {
      append(o, std::make_shared<CalcOperatorSpec>(node.filter, node.projections, node.schema));
      project_key(o, node.projections);
      return o;
    }
    if (!o.key_known) {
      return unsupported(
          "table {}: a WHERE or HAVING over an updating result (GROUP BY without a window, allowed_lateness, SESSION "
          "windows) needs the result's key: keep the GROUP BY columns (and window_start) in the select list under "
          "the WHERE",
          sink_table_);
    }
    const Schema& in = *node.inputs[0]->schema;
    ChangelogFilterConfig fc;
    fc.predicate = node.filter;
    fc.key_columns = o.key;
    fc.partition_columns = o.partition_count;
    fc.end_column = o.end_column;
    fc.allowed_lateness = o.lateness;
    std::vector<Field> key_fields;
    for (int k : o.key) key_fields.push_back(in.field(static_cast<size_t>(k)));
    fc.key_schema = make_schema(key_fields);
    append(o, std::make_shared<ChangelogFilterOperatorSpec>(fc));
    if (!node.projections.empty()) append(o, std::make_shared<CalcOperatorSpec>(nullptr, node.projections, node.schema));
    project_key(o, node.projections);
    return o;
  }

  StageSpec& stage(int i) { return plan_.job.stages[static_cast<size_t>(i)]; }

  // Stable operator ids, so a resumed job matches checkpointed state to operators:
  // "<sink table>.<kind>-<n>.<hash>" where n counts the operators of the pipeline (the
  // query writing that table) in planning order and hash is taken over the operator's
  // definition. Adding or changing another query leaves the ids of this one unchanged; a
  // changed operator gets a new id and starts without state instead of misreading old state.
  void assign_id(OperatorSpec& op) {
    op.id = fmt::format("{}.{}-{}.{:06x}", pipeline_prefix_, op.kind(), ++op_counter_,
                        hash_string(op.describe()) & 0xffffff);
  }

  void append(const Open& o, std::shared_ptr<OperatorSpec> op) {
    if (op->id.empty()) assign_id(*op);
    for (int s : o.stages) stage(s).chain.push_back(op);
  }

  // The dead-letter queue or late-data output of table `t`. Tables whose side outputs of the
  // same kind name one file (or SQLite table) share one queue, so their letters interleave
  // as whole lines.
  Result<std::shared_ptr<DeadLetterQueue>> side_output(const TableDef& t, const std::string& path_option,
                                                       const std::string& table_option, const std::string& suffix,
                                                       const std::string& kind) {
    std::string key = t.name + "/" + kind;
    auto it = side_outputs_.find(key);
    if (it != side_outputs_.end()) return it->second;
    auto get = [&](const std::string& k) {
      auto o = t.options.find(k);
      return o == t.options.end() ? std::string() : o->second;
    };
    std::string path = get(path_option);
    std::string table = get(table_option);
    if (path.empty()) path = t.name + suffix;
    const SideOutputKind side_kind = kind == "late data" ? SideOutputKind::kLateData : SideOutputKind::kDeadLetters;
    FileUse use = resolve_file(path);
    use.owner = t.name;
    use.kind = kind;
    use.noun = fmt::format("the {} of table {}", kind == "late data" ? "late-data output" : kind, t.name);
    use.where = option_position(t, path_option);
    use.database = dead_letter_uses_sqlite(path, table);
    use.db_table = use.database ? (table.empty() ? default_side_output_table(side_kind) : table) : "";
    for (const SideFile& other : side_files_) {
      const FileUse& o = other.use;
      if (o.kind != use.kind || !same_file(o, use) || o.db_table != use.db_table) continue;
      side_outputs_[key] = other.queue;  // shared with another table's side output
      for (auto& side : plan_.side_outputs) {
        if (side.queue == other.queue) side.table += ", " + t.name;
      }
      return other.queue;
    }
    auto q = make_dead_letter_queue(path, table, side_kind);
    if (!q.is_ok()) return q.status().with_context(fmt::format("{}: {}", option_context(t, path_option), path_option));
    std::shared_ptr<DeadLetterQueue> shared = std::move(q).value();
    side_outputs_[key] = shared;
    side_files_.push_back({use, shared});
    files_.push_back(use);
    plan_.side_outputs.push_back({t.name, kind, shared});
    return shared;
  }

  static std::string lower_name(const std::string& name) {
    std::string out = name;
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  }
  static bool is_identifier(const std::string& v) {
    if (v.empty() || !(std::isalpha(static_cast<unsigned char>(v[0])) || v[0] == '_')) return false;
    return std::all_of(v.begin(), v.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
  }
  static const char* side_noun(SideOutputKind kind) {
    return kind == SideOutputKind::kLateData ? "late-data output" : "dead-letter queue";
  }

  // The sink table that option `option` (dlq / late_output) of source table `t` names, or
  // null when the option holds a path (the file/SQLite shorthands) or is absent. A value
  // that is an identifier names a table: it must be declared, written by nothing else
  // (no INSERT, not read by the job: a side output is a table of its own), and its columns
  // must take the side output's rows (side_output_schema(); a table without columns takes
  // them as they are). Checked when the source is planned, whether or not a row will come.
  Result<std::shared_ptr<const TableDef>> side_output_table(const TableDef& t, const std::string& option,
                                                            SideOutputKind kind, bool message_source = false) {
    auto o = t.options.find(option);
    if (o == t.options.end() || o->second.empty()) return std::shared_ptr<const TableDef>();
    const std::string& value = o->second;
    auto found = job_.tables.find(lower_name(value));
    if (found == job_.tables.end()) {
      if (!is_identifier(value)) return std::shared_ptr<const TableDef>();  // a path
      return invalid_argument(
          "{}: option '{}' names table '{}', which is not declared: declare it (CREATE TABLE {} () WITH (connector = "
          "...)), or write a file path with a '.' or '/' (e.g. './{}')",
          option_context(t, option), option, value, value, value);
    }
    const std::shared_ptr<const TableDef>& sink = found->second;
    const std::string key = lower_name(sink->name);
    const std::string table_option = option == "dlq" ? "dlq_table" : "late_output_table";
    if (t.options.count(table_option)) {
      return invalid_argument("{}: option '{}' names a table of the SQLite database given by '{}', but '{}' names "
                              "table {}: drop '{}'",
                              option_context(t, table_option), table_option, option, option, sink->name,
                              table_option);
    }
    auto refuse = [&](const std::string& why) {
      return invalid_argument("{}: option '{}' names table {}{}, which {}: a {} needs a table of its own",
                              option_context(t, option), option, sink->name,
                              sink->where.empty() ? "" : " (" + sink->where + ")", why, side_noun(kind));
    };
    if (reads_lower_.count(key)) return refuse("this job reads");
    if (insert_targets_.count(key)) return refuse("an INSERT writes");
    auto other = side_kinds_.find(key);
    if (other != side_kinds_.end() && other->second != kind) {
      return refuse(fmt::format("is already a {}", side_noun(other->second)));
    }
    side_kinds_[key] = kind;
    RETURN_IF_ERROR(side_output_columns_of(t, option, *sink, kind, message_source).status());
    return sink;
  }

  // How the side output's rows map onto the columns of sink table `sink`: the projection
  // that reorders them (empty: same order), the sink's schema, and whether the rows carry
  // the message columns (topic, partition, key, headers: dead letters of a message source,
  // formats/dead_letter.h). A table without columns gets them when the source that names it
  // first is a message source; a table with columns gets those it declares (optional).
  struct SideColumns {
    std::vector<ExprPtr> projections;
    SchemaPtr schema;
    bool message_columns = false;
  };
  Result<SideColumns> side_output_columns_of(const TableDef& t, const std::string& option, const TableDef& sink,
                                             SideOutputKind kind, bool message_source) {
    const bool messages_possible = kind == SideOutputKind::kDeadLetters;
    if (auto known = side_message_columns_.find(lower_name(sink.name)); known != side_message_columns_.end()) {
      message_source = known->second;  // the rows every source sends this table have one schema
    }
    SideColumns out;
    out.message_columns = messages_possible && message_source;
    out.schema = side_output_schema(kind, out.message_columns);
    if (!sink.schema) return out;  // CREATE TABLE x () ...: the side output's columns
    const SchemaPtr& base = side_output_schema(kind);
    const SchemaPtr& full = side_output_schema(kind, messages_possible);
    std::string expected;
    for (const auto& f : base->fields()) expected += (expected.empty() ? "" : ", ") + f.name + " " + type_name(f.type);
    if (messages_possible) expected += "[, topic TEXT, partition BIGINT, key TEXT, headers TEXT]";
    auto mismatch = [&](const std::string& what) {
      return invalid_argument("{}: {}; the {} of table {} ({}) writes rows of ({}): declare those columns, or none "
                              "(CREATE TABLE {} () WITH (...))",
                              table_context(sink), what, side_noun(kind), t.name, option_position(t, option), expected,
                              sink.name);
    };
    const Schema& declared = *sink.schema;
    out.message_columns = false;
    for (size_t i = 0; i < declared.size(); ++i) {
      out.message_columns = out.message_columns || is_side_output_message_column(lower_name(declared.field(i).name));
    }
    out.message_columns = out.message_columns && messages_possible;
    const SchemaPtr& rows = out.message_columns ? full : base;
    bool reordered = declared.size() != rows->size();
    for (size_t i = 0; i < declared.size(); ++i) {
      const Field& f = declared.field(i);
      int col = -1;
      for (size_t j = 0; j < rows->size(); ++j) {
        if (lower_name(rows->field(j).name) == lower_name(f.name)) col = static_cast<int>(j);
      }
      if (col < 0) return mismatch(fmt::format("column '{}' is not a column of a {}", f.name, side_noun(kind)));
      const TypeId want = rows->field(static_cast<size_t>(col)).type;
      if (f.type != want) {
        return mismatch(fmt::format("column '{}' is {}, but a {} writes {} there", f.name, type_name(f.type),
                                    side_noun(kind), type_name(want)));
      }
      reordered = reordered || col != static_cast<int>(i);
      out.projections.push_back(make_column_ref(col, want, rows->field(static_cast<size_t>(col)).name));
    }
    for (const auto& f : base->fields()) {
      if (declared.find(f.name) < 0) return mismatch(fmt::format("column '{}' is missing", f.name));
    }
    if (!reordered) out.projections.clear();
    out.schema = sink.schema;
    return out;
  }

  // The stage of the sink of side-output table `sink` (one per table, whichever sources
  // feed it): created on first use, with the sink operator's usual stable id.
  Result<int> side_sink_stage(const TableDef& t, const std::string& option, const TableDef& sink,
                              SideOutputKind kind, bool message_source = false) {
    const std::string key = lower_name(sink.name);
    if (auto it = side_sink_stages_.find(key); it != side_sink_stages_.end()) return it->second;
    ASSIGN_OR_RETURN(SideColumns columns, side_output_columns_of(t, option, sink, kind, message_source));
    side_message_columns_[key] = columns.message_columns;
    auto factory = make_factory(sink, columns.schema);
    if (!factory.is_ok()) {
      return Status(factory.status().code(),
                    fmt::format("{} (table {} is the {} of table {}, {})", factory.status().message(), sink.name,
                                side_noun(kind), t.name, option_position(t, option)));
    }
    ASSIGN_OR_RETURN(int writers, sink_parallelism(sink, *factory.value(), factory.value()->capabilities()));
    StageSpec st;
    st.name = "sink:" + sink.name;
    st.parallelism = writers;  // several writers: side rows are hashed over them (Job::build)
    if (!columns.projections.empty()) {
      auto calc = std::make_shared<CalcOperatorSpec>(nullptr, columns.projections, columns.schema);
      calc->id = fmt::format("{}.side-project.{:06x}", sanitize(sink.name), hash_string(calc->describe()) & 0xffffff);
      st.chain.push_back(calc);
    }
    st.chain.push_back(make_sink_operator(sink, factory.value(), columns.schema, -1));
    plan_.job.stages.push_back(std::move(st));
    const int stage = static_cast<int>(plan_.job.stages.size()) - 1;
    side_sink_stages_[key] = stage;
    return stage;
  }

  // Every source-side stage of a table whose late output is a sink table may finish a
  // poll's records last (the source stage, each reader stage of a shared source): each gets
  // a side edge to that sink.
  void wire_late_sinks() {
    for (auto& st : plan_.job.stages) {
      if (!st.source || !st.source->late || st.source->late->destination()) continue;
      const int late_stage = side_sink_stages_.at(lower_name(st.source->late->sink_table()));
      st.late_stage = late_stage;
      for (int d : st.also_forward_to) stage(d).late_stage = late_stage;
    }
  }

  // Refuses a job that would write a file it reads (a sink, dead-letter queue or late-data
  // output on a source's path), or write one file from two places: two file sinks, two
  // writers of one SQLite table, a side output inside a sink's file. Several writers of
  // different tables in one SQLite database are fine, as are several readers of one file.
  Status check_files() const {
    for (size_t j = 0; j < files_.size(); ++j) {
      for (size_t i = 0; i < j; ++i) {
        const FileUse& a = files_[i];
        const FileUse& b = files_[j];
        auto at = [](const FileUse& f) { return f.where.empty() ? std::string() : f.where + ": "; };
        auto also_at = [](const FileUse& f) { return f.where.empty() ? std::string() : " (" + f.where + ")"; };
        if (a.reads != b.reads && (a.reads ? a : b).file_set) {
          const FileUse& reader = a.reads ? a : b;
          const FileUse& writer = a.reads ? b : a;
          if (!in_file_set(reader, writer)) continue;
          return invalid_argument("{}{} writes '{}', a file of '{}' that table {} reads{}: a job must not write into "
                                  "its input (write elsewhere, or narrow the source's pattern)",
                                  at(writer), writer.noun, writer.path, reader.path, reader.owner, also_at(reader));
        }
        if (!same_file(a, b) || (a.reads && b.reads)) continue;
        const FileUse& reader = a.reads ? a : b;
        const FileUse& writer = a.reads ? b : a;
        if (a.reads || b.reads) {
          return invalid_argument("{}{} writes '{}', the file table {} reads{}: a job must not overwrite its input",
                                  at(writer), writer.noun, writer.path, reader.owner, also_at(reader));
        }
        if (a.database && b.database) {
          if (a.db_table != b.db_table) continue;
          return invalid_argument("{}{} writes SQLite table '{}' in '{}', as {} does{}: give each its own table",
                                  at(b), b.noun, b.db_table, b.path, a.noun, also_at(a));
        }
        return invalid_argument("{}{} writes '{}', as {} does{}: give each its own file", at(b), b.noun, b.path,
                                a.noun, also_at(a));
      }
    }
    return Status::ok();
  }

  // A late-data filter for a windowed operator over source (or reader) stage `s` of the
  // current pipeline, or null when the stage's rows carry no event time to judge. Every
  // windowed operator judges lateness through this one filter (see LateFilterOperator).
  Result<std::shared_ptr<LateFilterOperatorSpec>> late_filter(int s, const WindowSpec& window, int time_column,
                                                              Micros allowed_lateness, bool row_time = false) {
    auto t = source_table_of_stage_[s];
    auto src_spec = source_spec_of_stage_[s];
    if (!t || !src_spec || src_spec->event_time.column < 0) return std::shared_ptr<LateFilterOperatorSpec>();
    if (!src_spec->late) {
      ASSIGN_OR_RETURN(auto table, side_output_table(*t, "late_output", SideOutputKind::kLateData));
      if (table) {
        RETURN_IF_ERROR(side_sink_stage(*t, "late_output", *table, SideOutputKind::kLateData).status());
        src_spec->late = std::make_shared<LateOutput>(t->name, nullptr, table->name);
      } else {
        ASSIGN_OR_RETURN(auto destination,
                         side_output(*t, "late_output", "late_output_table", ".late.jsonl", "late data"));
        src_spec->late = std::make_shared<LateOutput>(t->name, destination);
      }
    }
    const int slot = src_spec->late->add_query(query_name_, allowed_lateness, row_time);
    auto lf = std::make_shared<LateFilterOperatorSpec>(window, time_column, allowed_lateness, src_spec->late, slot);
    assign_id(*lf);
    return lf;
  }

  Result<Open> build(const LogicalNodePtr& node, std::vector<int>* source_of_stage) {
    switch (node->kind) {
      case LogicalNode::Kind::kProcess: return build_process(*node, source_of_stage);
      case LogicalNode::Kind::kSource: return build_source(*node);
      case LogicalNode::Kind::kCalc: return build_calc(*node, source_of_stage);
      case LogicalNode::Kind::kWindowAssign: {
        ASSIGN_OR_RETURN(Open o, build(node->inputs[0], source_of_stage));
        require_time_column(o, node->time_column);
        if (late_filter_window_assign_) {
          // Rows of a window top-N or window join: late rows are judged before windows are
          // assigned, like a window aggregation's (one late-output entry per record).
          const char* what = window_join_input_ ? "window join" : "window top-N";
          ASSIGN_OR_RETURN(Micros lateness,
                           add_late_filters(o, node->window, node->time_column,
                                            node->inputs[0]->rowtime == node->time_column, what));
          window_assign_lateness_ = std::max(window_assign_lateness_, lateness);
          if (lateness > 0 && !window_join_input_) {
            return unsupported(
                "table {}: a window top-N (ROW_NUMBER per TUMBLE/HOP window) emits each window once, when it closes, "
                "and cannot update it for late rows: allowed_lateness {} is not supported here (set it to 0s for "
                "this source)",
                sink_table_, format_duration(lateness));
          }
        }
        append(o, std::make_shared<WindowAssignOperatorSpec>(node->window, node->time_column, node->schema));
        return o;
      }
      case LogicalNode::Kind::kUnion: {
        Open all;
        bool non_retract_updates = false;
        for (const auto& in : node->inputs) {
          ASSIGN_OR_RETURN(Open o, build(in, source_of_stage));
          all.stages.insert(all.stages.end(), o.stages.begin(), o.stages.end());
          all.updating = all.updating || o.updating;
          if (o.updating) all.retract = all.retract || o.retract;
          if (!o.watermark_sources.empty()) {  // the columns every such input covers
            if (all.watermark_sources.empty()) {
              all.time_columns = o.time_columns;
            } else {
              std::vector<int> both;
              for (int c : o.time_columns) {
                if (std::find(all.time_columns.begin(), all.time_columns.end(), c) != all.time_columns.end()) {
                  both.push_back(c);
                }
              }
              all.time_columns = std::move(both);
            }
            all.watermark_sources.insert(all.watermark_sources.end(), o.watermark_sources.begin(),
                                         o.watermark_sources.end());
          }
          non_retract_updates = non_retract_updates || (o.updating && !o.retract);
        }
        // Two results merged: no one key identifies their rows.
        if (non_retract_updates) all.retract = false;
        return all;
      }
      case LogicalNode::Kind::kAggregate: return build_aggregate(*node, source_of_stage);
      case LogicalNode::Kind::kTopN: return build_top_n(*node, source_of_stage);
      case LogicalNode::Kind::kJoin: return build_join(*node, source_of_stage);
      case LogicalNode::Kind::kTemporalJoin: return build_temporal_join(*node, source_of_stage);
      case LogicalNode::Kind::kOver: return build_over(*node, source_of_stage);
      case LogicalNode::Kind::kMatchRecognize: return build_match_recognize(*node, source_of_stage);
      case LogicalNode::Kind::kScore: return build_score(*node, source_of_stage);
    }
    return internal_error("unknown logical node");
  }

  // How many times each source table is read across the job's pipelines.
  void count_reads(const LogicalNodePtr& node) {
    if (node->kind == LogicalNode::Kind::kSource) {
      reads_[node->table->name]++;
      reads_lower_.insert(lower_name(node->table->name));
    }
    for (const auto& in : node->inputs) count_reads(in);
  }

  // A table read by several pipelines is read once: its source stage forwards every batch
  // to one stage per reading pipeline (so bad records are dead-lettered once, and the
  // source does its work once).
  Result<Open> build_source(const LogicalNode& node) {
    const TableDef& t = *node.table;
    if (reads_[t.name] < 2) return build_source_stage(node);
    auto shared = shared_sources_.find(t.name);
    if (shared == shared_sources_.end()) {
      ASSIGN_OR_RETURN(Open o, build_source_stage(node));
      shared = shared_sources_.emplace(t.name, o.stages[0]).first;
    }
    int src = shared->second;
    StageSpec st;
    st.name = fmt::format("read:{}", t.name);
    st.parallelism = stage(src).parallelism;
    plan_.job.stages.push_back(std::move(st));
    int reader = static_cast<int>(plan_.job.stages.size()) - 1;
    stage(src).also_forward_to.push_back(reader);
    source_table_of_stage_[reader] = node.table;
    source_spec_of_stage_[reader] = stage(src).source;
    Open o;
    o.stages.push_back(reader);
    mark_changelog(o, *stage(src).source->factory);
    return o;
  }

  // A source of changes (CDC) is an upsert stream by its key, as a GROUP BY result is: a
  // WHERE over it keeps per-key state, an upsert sink must use that key, a join normalizes
  // it, an aggregate over it is refused. The key is not routed by: one reader task reads
  // the changes, in order.
  static void mark_changelog(Open& o, const SourceFactory& factory) {
    auto key = factory.changelog_key();
    if (!key) return;
    o.updating = true;
    o.retract = false;
    o.key_known = true;
    o.key = *key;
    o.partition_count = 0;
  }

  Result<Open> build_source_stage(const LogicalNode& node) {
    const TableDef& t = *node.table;
    auto spec = std::make_shared<SourceStageSpec>();
    spec->table = t.name;
    spec->schema = t.schema;
    std::map<std::string, std::string> opts = t.options;
    ConnectorOptions engine(opts, table_context(t));
    RETURN_IF_ERROR(check_engine_source_options(t, engine));
    SourceSpec src;
    src.table = t.name;
    auto conn = t.options.find("connector");
    if (conn == t.options.end()) return invalid_argument("table {}: missing option 'connector'", t.name);
    src.connector = conn->second;
    src.schema = t.schema;
    src.checkpoint_dir = options_.checkpoint_dir;
    std::map<std::string, std::string> connector_opts;
    for (const auto& [k, v] : t.options) {
      // The engine reads the common source options itself; connectors never see them.
      bool engine_opt = k == "connector" || is_common_source_option(k);
      // A versioned table's key may be given as an option (the C++ builder's PRIMARY KEY).
      engine_opt = engine_opt || (k == "primary_key" && versioned_tables_.count(t.name) > 0);
      if (!engine_opt) connector_opts[k] = v;
    }
    src.options = ConnectorOptions(connector_opts, table_context(t));
    if (auto p = connector_opts.find("path"); p != connector_opts.end() && !p->second.empty()) {
      FileUse use = resolve_file(p->second);
      use.reads = true;
      use.owner = t.name;
      use.noun = "table " + t.name;
      use.where = option_position(t, "path");
      if (src.connector == "file") {
        if (auto set = file_set_path(p->second)) {
          use.file_set = true;
          use.set = *set;
          use.set_dir = real_dir(set->dir);
        }
      }
      files_.push_back(use);
    }
    auto factory = make_source_factory(src);
    if (!factory.is_ok()) return factory.status();
    spec->factory = std::shared_ptr<SourceFactory>(std::move(factory).value());
    // Event time.
    std::string et = engine.get_string("event_time");
    if (!et.empty()) {
      int col = t.schema->find(et);
      if (col < 0) {
        return invalid_argument("{}: event_time column '{}' is not a column of the table",
                                option_context(t, "event_time"), et);
      }
      if (t.schema->field(static_cast<size_t>(col)).type != TypeId::kTimestamp) {
        return invalid_argument("{}: event_time column '{}' must be TIMESTAMP, not {}", option_context(t, "event_time"), et,
                                type_name(t.schema->field(static_cast<size_t>(col)).type));
      }
      spec->event_time.column = col;
    }
    ASSIGN_OR_RETURN(spec->event_time.watermark_delay, engine.get_duration("watermark_delay", 0));
    ASSIGN_OR_RETURN(spec->event_time.idle_timeout, engine.get_duration("idle_timeout", 0));
    if (spec->event_time.watermark_delay < 0) return invalid_argument("table {}: watermark_delay must not be negative", t.name);
    if (engine.has("max_future_skew")) {
      ASSIGN_OR_RETURN(spec->event_time.max_future_skew, engine.get_duration("max_future_skew", -1));
      if (spec->event_time.max_future_skew < 0) {
        return invalid_argument("table {}: max_future_skew must not be negative", t.name);
      }
      if (spec->event_time.column < 0) {
        return invalid_argument("table {}: max_future_skew needs an event_time column", t.name);
      }
    }
    StageSpec st;
    // Records of a message source (Kafka) carry topic, partition, key and headers: its dead
    // letters do too, where the destination takes them.
    const bool message_source = !spec->factory->produces_rows() && !spec->factory->format().metadata.empty();
    ASSIGN_OR_RETURN(auto dlq_table, side_output_table(t, "dlq", SideOutputKind::kDeadLetters, message_source));
    if (dlq_table) {
      ASSIGN_OR_RETURN(st.dlq_stage,
                       side_sink_stage(t, "dlq", *dlq_table, SideOutputKind::kDeadLetters, message_source));
      spec->dlq_sink = dlq_table->name;
      spec->dlq_message_columns = side_message_columns_.at(lower_name(dlq_table->name));
    } else {
      ASSIGN_OR_RETURN(spec->dlq, side_output(t, "dlq", "dlq_table", ".dlq.jsonl", "dead-letter queue"));
      spec->dlq_message_columns = message_source;  // the JSON lines name topic, partition, key
    }
    // A late output naming a table is checked now, though its sink is planned only when a
    // windowed query reads the source (late_filter).
    if (engine.has("event_time")) RETURN_IF_ERROR(side_output_table(t, "late_output", SideOutputKind::kLateData).status());
    st.name = fmt::format("source:{}", t.name);
    // Reader tasks: a setting, not the split count (one task reads several splits).
    ASSIGN_OR_RETURN(int64_t readers, engine.get_int("readers", spec->factory->default_readers()));
    if (readers < 1 || readers > 1024) {
      return invalid_argument("{}: option 'readers' must be between 1 and 1024, got {}", option_context(t, "readers"),
                              readers);
    }
    st.parallelism = static_cast<int>(readers);
    st.source = spec;
    plan_.job.stages.push_back(std::move(st));
    Open o;
    o.stages.push_back(static_cast<int>(plan_.job.stages.size()) - 1);
    mark_changelog(o, *spec->factory);
    source_table_of_stage_[o.stages[0]] = node.table;
    source_spec_of_stage_[o.stages[0]] = plan_.job.stages.back().source;
    return o;
  }

  // Late-data filter at the end of each input stage's chain (source side, before any
  // exchange): rows behind all of their windows go to the late-data output. The one
  // lateness mechanism of every windowed operator (window and session aggregates, window
  // top-N). Returns the inputs' allowed lateness (0 when none declares one).
  Result<Micros> add_late_filters(const Open& o, const WindowSpec& window, int time_column, bool time_is_rowtime,
                                  const char* what, bool row_time = false) {
    Micros lateness = -1;
    for (int s : o.stages) {
      auto t = source_table_of_stage_[s];
      if (!t) continue;
      ConnectorOptions opts(t->options, table_context(*t));
      ASSIGN_OR_RETURN(Micros l, opts.get_duration("allowed_lateness", default_lateness_));
      if (lateness >= 0 && l != lateness) return unsupported("inputs of one {} declare different allowed_lateness", what);
      lateness = l;
      if (time_is_rowtime) {
        ASSIGN_OR_RETURN(auto lf, late_filter(s, window, time_column, l, row_time));
        if (lf) stage(s).chain.push_back(lf);
      }
    }
    return lateness < 0 ? 0 : lateness;
  }

  // Builds the input of an operator that is not a window top-N: window assignments below
  // it are not asked for a late filter (see build_top_n).
  // `window_join`: the input of a window join, whose window assignment gets the late filter too.
  Result<Open> build_input(const LogicalNodePtr& input, std::vector<int>* source_of_stage, bool window_top_n = false,
                           bool window_join = false) {
    const bool saved = late_filter_window_assign_;
    const bool saved_join = window_join_input_;
    late_filter_window_assign_ = window_top_n || window_join;
    window_join_input_ = window_join;
    Result<Open> o = build(input, source_of_stage);
    late_filter_window_assign_ = saved;
    window_join_input_ = saved_join;
    return o;
  }

  Result<Open> build_aggregate(const LogicalNode& node, std::vector<int>* source_of_stage) {
    const LogicalNodePtr& input = node.inputs[0];  // the pre-projection Calc
    ASSIGN_OR_RETURN(Open o, build_input(input, source_of_stage));
    if (o.scored && node.windowed) {
      // Late rows are judged on the source side, before any scoring stage.
      return unsupported("table {}: a windowed aggregation over score(...) results is not supported: aggregate first, "
                         "then score the aggregated rows in an outer query",
                         sink_table_);
    }
    if (o.updating) {
      return unsupported(
          "aggregating an updating result (an aggregate over a GROUP BY without window, or over a changelog source "
          "such as postgres-cdc) is not supported yet");
    }
    AggregateConfig c;
    c.windowed = node.windowed;
    c.window = node.window;
    c.time_column = node.time_column;
    c.key_columns = node.key_columns;
    c.aggregates = node.aggregates;
    c.batch_size = options_.batch_size;
    std::vector<Field> key_fields;
    for (int k : node.key_columns) key_fields.push_back(input->schema->field(static_cast<size_t>(k)));
    c.key_schema = make_schema(key_fields);
    c.output_schema = node.schema;
    if (node.windowed) {
      require_time_column(o, node.time_column);
      ASSIGN_OR_RETURN(c.allowed_lateness, add_late_filters(o, node.window, node.time_column,
                                                            input->rowtime == node.time_column, "window aggregation"));
    }
    int parallelism = node.key_columns.empty() ? 1 : options_.parallelism;
    StageSpec st;
    st.name = node.windowed ? "window_aggregate" : "group_aggregate";
    st.parallelism = parallelism;
    auto agg = std::make_shared<AggregateOperatorSpec>(c);
    assign_id(*agg);
    st.chain.push_back(agg);
    plan_.job.stages.push_back(std::move(st));
    int agg_stage = static_cast<int>(plan_.job.stages.size()) - 1;
    for (int s : o.stages) {
      stage(s).downstream = agg_stage;
      stage(s).edge = EdgeKind::kHash;
      stage(s).key_columns = node.key_columns;
    }
    Open out;
    out.stages.push_back(agg_stage);
    out.updating = !node.windowed || c.allowed_lateness > 0;
    // Output [window_start, window_end,] keys..., aggregates...: rows are keyed by the group
    // key (routed by the exchange), plus window_start for windows (window_end follows from
    // it, or grows with a session).
    const int first_key = node.windowed ? 2 : 0;
    out.key_known = true;
    for (size_t k = 0; k < node.key_columns.size(); ++k) out.key.push_back(first_key + static_cast<int>(k));
    out.partition_count = node.key_columns.size();
    if (node.windowed) {
      out.key.push_back(0);
      out.end_column = 1;
      out.end_fixed = node.window.kind != WindowSpec::Kind::kSession;
      out.lateness = c.allowed_lateness;
    }
    return out;
  }

  Result<Open> build_top_n(const LogicalNode& node, std::vector<int>* source_of_stage) {
    // Ranking per window of a TUMBLE/HOP table function: the window assignment below gets
    // the late filter (a windowed aggregation underneath has its own).
    ASSIGN_OR_RETURN(Open o, build_input(node.inputs[0], source_of_stage, node.window_end_column >= 0));
    if (o.updating) {
      return unsupported("ROW_NUMBER over an updating result (GROUP BY without window, allowed lateness) is not "
                         "supported yet; rank a windowed aggregation or a stream instead");
    }
    TopNConfig c;
    c.visible_columns = node.visible_columns;
    c.partition_columns = node.partition_columns;
    c.order_columns = node.order_columns;
    c.descending = node.descending;
    c.nulls_first = node.nulls_first;
    c.limit = node.limit;
    c.window_end_column = node.window_end_column;
    c.output_schema = node.schema;
    c.batch_size = options_.batch_size;
    auto op = std::make_shared<TopNOperatorSpec>(c);
    assign_id(*op);
    StageSpec st;
    st.name = op->kind();
    st.parallelism = node.partition_columns.empty() ? 1 : options_.parallelism;
    st.chain.push_back(op);
    plan_.job.stages.push_back(std::move(st));
    int top_stage = static_cast<int>(plan_.job.stages.size()) - 1;
    for (int s : o.stages) {
      stage(s).downstream = top_stage;
      stage(s).edge = EdgeKind::kHash;
      stage(s).key_columns = node.partition_columns;
    }
    Open out;
    out.stages.push_back(top_stage);
    out.updating = node.window_end_column < 0;
    out.retract = out.updating;  // -D carries the row emitted before, +I the new one
    return out;
  }

  static std::string sanitize(const std::string& name) {
    std::string out;
    for (char c : name) out += std::isalnum(static_cast<unsigned char>(c)) || c == '_' ? c : '_';
    return out;
  }

  Result<std::shared_ptr<SinkFactory>> make_factory(const TableDef& t, const SchemaPtr& schema) {
    auto conn = t.options.find("connector");
    if (conn == t.options.end()) return invalid_argument("table {}: missing option 'connector'", t.name);
    SinkSpec spec;
    spec.table = t.name;
    spec.connector = conn->second;
    spec.schema = schema;
    std::map<std::string, std::string> opts;
    for (const auto& [k, v] : t.options) {
      // The engine reads the common sink options itself; connectors never see them.
      if (k != "connector" && !is_common_sink_option(k)) opts[k] = v;
    }
    if (t.has_primary_key_constraint && !opts.count("primary_key")) {
      std::string pk;
      for (const auto& c : t.primary_key) pk += (pk.empty() ? "" : ",") + c;
      opts["primary_key"] = pk;
    }
    spec.options = ConnectorOptions(opts, table_context(t));
    if (auto p = opts.find("path"); p != opts.end() && !p->second.empty() && sink_files_.insert(t.name).second) {
      FileUse use = resolve_file(p->second);
      use.owner = t.name;
      use.noun = "table " + t.name;
      use.where = option_position(t, "path");
      use.database = spec.connector == "sqlite";
      if (use.database) use.db_table = opts.count("table") ? opts.at("table") : t.name;
      files_.push_back(use);
    }
    auto factory = make_sink_factory(spec);
    if (!factory.is_ok()) return factory.status();
    return std::shared_ptr<SinkFactory>(std::move(factory).value());
  }

  // The sink operator of table `t`, with an id that depends only on the sink (its table,
  // target and columns), not on what feeds it.
  std::shared_ptr<SinkOperatorSpec> make_sink_operator(const TableDef& t, const std::shared_ptr<SinkFactory>& sink,
                                                       const SchemaPtr& schema, int order_column) {
    // `sink.flush_interval` (validated by sink_flush_interval before this is called).
    Micros flush_interval = 200 * kMicrosPerMilli;
    if (auto it = t.options.find("sink.flush_interval"); it != t.options.end()) {
      ConnectorOptions engine({{it->first, it->second}}, table_context(t));
      if (auto d = engine.get_duration("sink.flush_interval", flush_interval); d.is_ok()) flush_interval = d.value();
    }
    auto op = std::make_shared<SinkOperatorSpec>(t.name, sink, schema, order_column, options_.checkpointing,
                                                 flush_interval);
    op->id = fmt::format("{}.sink.{:06x}", sanitize(t.name),
                         hash_string(sink->describe() + " " + schema->to_string()) & 0xffffff);
    return op;
  }

  // The INSERTs into one sink table (`pipelines`, in file order): each query is planned with
  // its own operator ids ("<table>", "<table>-2", ...), and all of them feed one sink
  // operator, whose id depends only on the sink (its table, target and columns), so that
  // adding or changing an INSERT keeps the sink's state and commit records.
  Status plan_sink(const std::vector<const Pipeline*>& pipelines) {
    const Pipeline& first = *pipelines.front();
    const TableDef& t = *first.sink;
    for (const Pipeline* p : pipelines) {
      const Schema& a = *first.sink_schema;
      const Schema& b = *p->sink_schema;
      bool same = a.size() == b.size();
      for (size_t i = 0; same && i < a.size(); ++i) {
        same = a.field(i).name == b.field(i).name && a.field(i).type == b.field(i).type;
      }
      if (!same) {
        return invalid_argument("table {}: the INSERTs into it produce different columns: {} and {}", t.name,
                                a.to_string(), b.to_string());
      }
    }
    ASSIGN_OR_RETURN(std::shared_ptr<SinkFactory> sink, make_factory(t, first.sink_schema));
    auto caps = sink->capabilities();
    ASSIGN_OR_RETURN(int writers, sink_parallelism(t, *sink, caps));

    // Windowed aggregates (or process functions) as the last stateful step: each query carries
    // its window_end (emit time) as a hidden trailing column so the sink can release rows in
    // canonical order; only when every INSERT can, since they share the sink's release.
    std::vector<LogicalNodePtr> queries;
    bool ordered = true;
    for (const Pipeline* p : pipelines) {
      LogicalNodePtr q;
      if (auto we = trailing_window_end(p->query); we.first) {
        q = we.first;
      } else if (auto ot = trailing_over_time(p->query);
                 ot.first && ot.second == static_cast<int>(p->sink_schema->size())) {
        q = ot.first;  // OVER aggregates: ordered by the rows' emit time
      } else {
        q = with_emit_time(p->query);  // a process function's output: ordered by its emit time
      }
      ordered = ordered && q != nullptr;
      queries.push_back(q ? q : p->query);
    }
    if (!ordered) {
      for (size_t i = 0; i < pipelines.size(); ++i) queries[i] = pipelines[i]->query;
    }
    int order_column = ordered ? static_cast<int>(first.sink_schema->size()) : -1;

    Open all;
    for (size_t i = 0; i < pipelines.size(); ++i) {
      pipeline_prefix_ = sanitize(t.name);
      query_name_ = t.name;
      if (i > 0) {
        pipeline_prefix_ += fmt::format("-{}", i + 1);
        query_name_ += fmt::format("#{}", i + 1);
      }
      op_counter_ = 0;
      sink_table_ = t.name;
      std::vector<int> unused;
      ASSIGN_OR_RETURN(Open o, build(queries[i], &unused));
      if (o.updating && !caps.upsert && !caps.changelog_append) {
        return invalid_argument(
            "table {}: the query produces updates (GROUP BY without a window, allowed_lateness, or a changelog "
            "source), but {} is append-only; use an upsert sink (sqlite with primary_key) or set changelog = 'true'",
            t.name, sink->describe());
      }
      if (o.updating && !o.retract && caps.upsert) {
        RETURN_IF_ERROR(check_upsert_key(t, *pipelines[i]->sink_schema, o, caps));
      }
      all.stages.insert(all.stages.end(), o.stages.begin(), o.stages.end());
      all.updating = all.updating || o.updating;
    }
    // Updates (allowed lateness, sessions merging) must reach the sink in emission order.
    if (all.updating) order_column = -1;
    auto sink_op = make_sink_operator(t, sink, first.sink_schema, order_column);
    if (writers == 1 && all.stages.size() == 1 && stage(all.stages[0]).parallelism == 1) {
      stage(all.stages[0]).chain.push_back(sink_op);
      return Status::ok();
    }
    StageSpec st;
    st.name = "sink:" + t.name;
    st.parallelism = writers;
    st.chain.push_back(sink_op);
    plan_.job.stages.push_back(std::move(st));
    int sink_stage = static_cast<int>(plan_.job.stages.size()) - 1;
    // Several writers: a hash exchange on the primary key (every change of a key reaches
    // the same writer, in order) or, for an append sink, on every visible column.
    std::vector<int> keys;
    if (writers > 1) {
      const Schema& schema = *first.sink_schema;
      for (size_t c = 0; c < schema.size(); ++c) {
        bool in_pk = caps.primary_key.empty();
        for (const auto& k : caps.primary_key) in_pk = in_pk || iequals(k, schema.field(c).name);
        if (in_pk) keys.push_back(static_cast<int>(c));
      }
    }
    for (int s : all.stages) {
      stage(s).downstream = sink_stage;
      stage(s).edge = writers > 1 ? EdgeKind::kHash : EdgeKind::kGather;
      stage(s).key_columns = keys;
    }
    return Status::ok();
  }

  // `sink.flush_interval`: a duration of at least 0 (the sink operator reads it).
  Status check_sink_flush_interval(const TableDef& t) {
    auto it = t.options.find("sink.flush_interval");
    if (it == t.options.end()) return Status::ok();
    ConnectorOptions engine({{it->first, it->second}}, table_context(t));
    ASSIGN_OR_RETURN(Micros d, engine.get_duration("sink.flush_interval", 0));
    if (d < 0) {
      return invalid_argument("{}: option 'sink.flush_interval' must not be negative",
                              option_context(t, "sink.flush_interval"));
    }
    return Status::ok();
  }

  // `sink.parallelism`: how many writer instances the sink runs (1 unless the table says).
  Result<int> sink_parallelism(const TableDef& t, const SinkFactory& sink, const SinkCapabilities& caps) {
    RETURN_IF_ERROR(check_sink_flush_interval(t));
    std::map<std::string, std::string> opts;
    if (auto it = t.options.find("sink.parallelism"); it != t.options.end()) opts[it->first] = it->second;
    ConnectorOptions engine(opts, table_context(t));
    ASSIGN_OR_RETURN(int64_t writers, engine.get_int("sink.parallelism", 1));
    if (writers < 1 || writers > 256) {
      return invalid_argument("{}: option 'sink.parallelism' must be between 1 and 256, got {}",
                              option_context(t, "sink.parallelism"), writers);
    }
    if (writers > 1 && !caps.parallel_writers) {
      return invalid_argument("{}: {} writes one stream and takes one writer; sink.parallelism must be 1",
                              option_context(t, "sink.parallelism"), sink.describe());
    }
    if (writers > 1 && caps.upsert && caps.primary_key.empty()) {
      return invalid_argument("{}: a table of one row (primary_key = '') has one writer; sink.parallelism must be 1",
                              option_context(t, "sink.parallelism"));
    }
    return static_cast<int>(writers);
  }

  // An upsert sink applies updates by its primary key: it must be the key of the updating
  // result (window_end may be added for TUMBLE/HOP, where window_start fixes it). A missing
  // key column merges several keys into one row; an extra column (an aggregate) makes an
  // update insert a second row instead of replacing the first. Both silently keep wrong
  // rows, so they are refused.
  Status check_upsert_key(const TableDef& t, const Schema& schema, const Open& o, const SinkCapabilities& caps) {
    std::string key_names;
    for (int k : o.key) {
      if (k < 0 || static_cast<size_t>(k) >= schema.size()) continue;
      key_names += (key_names.empty() ? "" : ",") + schema.field(static_cast<size_t>(k)).name;
    }
    std::string pk;
    for (const auto& c : caps.primary_key) pk += (pk.empty() ? "" : ",") + c;
    if (!o.key_known) {
      return invalid_argument(
          "table {}: the query's rows are updated by key (GROUP BY without a window, allowed_lateness, SESSION), but its "
          "select list drops part of the key (the GROUP BY columns, and window_start for windows); an upsert on "
          "primary key ({}) would keep stale rows: select the key columns and make them the primary key",
          t.name, pk);
    }
    auto in_pk = [&](const std::string& name) {
      for (const auto& c : caps.primary_key) {
        if (iequals(c, name)) return true;
      }
      return false;
    };
    // Key columns of the query's result; the planner's hidden trailing columns (window_end
    // carried for the ordered release) are not in the sink's schema, so never in its key.
    auto visible = [&](int column) { return column >= 0 && static_cast<size_t>(column) < schema.size(); };
    bool ok = true;
    for (int k : o.key) ok = ok && visible(k) && in_pk(schema.field(static_cast<size_t>(k)).name);
    size_t allowed = o.key.size();
    if (o.end_fixed && visible(o.end_column) && in_pk(schema.field(static_cast<size_t>(o.end_column)).name)) ++allowed;
    if (!ok || caps.primary_key.size() != allowed) {
      return invalid_argument(
          "table {}: primary key ({}) is not the key of the query's updating result ({}): updates would leave stale "
          "or merged rows; use primary_key = '{}'",
          t.name, pk, key_names, key_names);
    }
    return Status::ok();
  }

  // A temporal join (operators/temporal_join.h): the stream and the versioned table meet in
  // their own stage through hash exchanges on the join keys (which cover the table's key, so
  // every version of a key reaches one instance, in the order its source emitted them).
  Result<Open> build_temporal_join(const LogicalNode& node, std::vector<int>* source_of_stage) {
    if (node.lookup_table) return build_lookup_join(node, source_of_stage);
    ASSIGN_OR_RETURN(Open probe, build_input(node.inputs[0], source_of_stage));
    require_time_column(probe, node.time_column);
    if (probe.updating) {
      return unsupported("table {}: the stream of a temporal join (JOIN versioned(...) / lookup(...)) must be "
                         "append-only, not the updates of an aggregate or a changelog",
                         sink_table_);
    }
    for (const TableDef* t : tables_under(*node.inputs[1])) versioned_tables_.insert(t->name);
    ASSIGN_OR_RETURN(Open table, build_input(node.inputs[1], source_of_stage));
    const Schema& ts = *node.inputs[1]->schema;
    if (table.updating && table.key_known) {
      // A changelog's rows are keyed by its source's key: it must be the declared one.
      std::set<int> changes(table.key.begin(), table.key.end());
      std::set<int> declared;
      for (const TableDef* t : tables_under(*node.inputs[1])) {
        for (const auto& pk : table_primary_key(*t)) declared.insert(ts.find(pk));
      }
      if (changes != declared) {
        std::string names;
        for (int k : table.key) names += (names.empty() ? "" : ", ") + ts.field(static_cast<size_t>(k)).name;
        return invalid_argument("table {}: the versioned table's changes are keyed by ({}), which must be its "
                                "declared PRIMARY KEY",
                                sink_table_, names);
      }
    } else if (table.updating) {
      return unsupported("table {}: the versioned table of a temporal join must be a table (append-only or a "
                         "changelog by its key)",
                         sink_table_);
    }
    TemporalJoinConfig c;
    enrichment_config(node, node.inputs[1]->schema, c);
    c.probe_time = node.time_column;
    c.version_time = node.inputs[1]->rowtime;
    auto op = std::make_shared<TemporalJoinOperatorSpec>(c);
    assign_id(*op);
    StageSpec st;
    st.name = "temporal_join";
    st.parallelism = options_.parallelism;
    st.chain.push_back(op);
    plan_.job.stages.push_back(std::move(st));
    const int join_stage = static_cast<int>(plan_.job.stages.size()) - 1;
    for (int side = 0; side < 2; ++side) {
      for (int s : (side == 0 ? probe : table).stages) {
        stage(s).downstream = join_stage;
        stage(s).downstream_input = side;
        stage(s).edge = EdgeKind::kHash;
        stage(s).key_columns = side == 0 ? node.left_keys : node.right_keys;
      }
    }
    Open out;
    out.stages.push_back(join_stage);
    return out;
  }

  // A lookup join (operators/lookup_join.h), chained after the stream in its stage: the
  // table is read by the operator, so no exchange is needed. The reader is made once here so
  // that its options are checked when the job is planned.
  Result<Open> build_lookup_join(const LogicalNode& node, std::vector<int>* source_of_stage) {
    ASSIGN_OR_RETURN(Open o, build_input(node.inputs[0], source_of_stage));
    if (o.updating) {
      return unsupported("table {}: the stream of a lookup join must be append-only, not the updates of an "
                         "aggregate or a changelog",
                         sink_table_);
    }
    const TableDef& t = *node.lookup_table;
    LookupSpec spec;
    spec.table = t.name;
    auto conn = t.options.find("connector");
    if (conn == t.options.end()) return invalid_argument("{}: missing option 'connector'", table_context(t));
    spec.connector = conn->second;
    spec.schema = t.schema;
    std::map<std::string, std::string> opts;
    for (const auto& [k, v] : t.options) {
      if (k != "connector") opts[k] = v;
    }
    spec.options = ConnectorOptions(opts, table_context(t));
    RETURN_IF_ERROR(make_lookup_reader(spec).status());
    LookupJoinConfig c;
    enrichment_config(node, t.schema, c);
    c.table = t.name;
    c.refresh = node.lookup.refresh;
    auto table = std::make_shared<LookupTable>(t.name, node.right_keys, c.refresh,
                                               [spec]() { return make_lookup_reader(spec); });
    append(o, std::make_shared<LookupJoinOperatorSpec>(c, std::move(table)));
    o.order_column = -1;
    return o;
  }

  // The stream / table sides of a temporal or lookup join node.
  void enrichment_config(const LogicalNode& node, SchemaPtr table_schema, EnrichmentJoinConfig& c) const {
    c.type = node.join_type;
    c.probe_keys = node.left_keys;
    c.table_keys = node.right_keys;
    c.null_safe = node.null_safe;
    c.residual = node.join_condition;
    c.probe_schema = node.inputs[0]->schema;
    c.table_schema = std::move(table_schema);
    c.output_schema = node.schema;
    c.batch_size = options_.batch_size;
  }

  // The source tables a plan node reads.
  static std::vector<const TableDef*> tables_under(const LogicalNode& node) {
    std::vector<const TableDef*> out;
    if (node.kind == LogicalNode::Kind::kSource) out.push_back(node.table.get());
    for (const auto& in : node.inputs) {
      for (const TableDef* t : tables_under(*in)) out.push_back(t);
    }
    return out;
  }

  // If `query` is Calc(projections) over a windowed Aggregate, returns a copy of the Calc
  // with the aggregate's window_end appended as a hidden column "__window_end".
  std::pair<LogicalNodePtr, int> trailing_window_end(const LogicalNodePtr& query) {
    if (query->kind != LogicalNode::Kind::kCalc || query->filter || query->projections.empty()) return {nullptr, -1};
    const LogicalNodePtr& agg = query->inputs[0];
    if (agg->kind != LogicalNode::Kind::kAggregate || !agg->windowed) return {nullptr, -1};
    auto calc = std::make_shared<LogicalNode>(*query);
    calc->projections.push_back(make_column_ref(1, TypeId::kTimestamp, "window_end"));
    std::vector<Field> fields = query->schema->fields();
    fields.push_back({"__window_end", TypeId::kTimestamp, true});
    calc->schema = make_schema(fields);
    return {calc, static_cast<int>(fields.size()) - 1};
  }

  // A join in its own stage; each input stage feeds it through a hash exchange on that
  // side's join keys (one instance without keys). An upsert input (rows updated by key) is
  // first normalized into retractions in its own stage, where each key's history is.
  Result<Open> build_join(const LogicalNode& node, std::vector<int>* source_of_stage) {
    Open in[2];
    const std::optional<WindowJoinShape> window = find_window_join(node);
    Micros window_lateness = 0;
    for (int side = 0; side < 2; ++side) {
      const bool tvf = window && (side == 0 ? window->left_tvf : window->right_tvf);
      window_assign_lateness_ = 0;
      ASSIGN_OR_RETURN(in[side], build_input(node.inputs[static_cast<size_t>(side)], source_of_stage, false, tvf));
      window_lateness = std::max(window_lateness, window_assign_lateness_);
    }
    if (!in[0].updating && !in[1].updating) {
      ASSIGN_OR_RETURN(std::optional<Open> timed, build_time_join(node, in, window, window_lateness));
      if (timed) return std::move(*timed);
    }
    for (int side = 0; side < 2; ++side) {
      Open& o = in[side];
      if (o.updating && !o.retract) {
        if (!o.key_known) {
          return unsupported("table {}: a join input that is updated by key (GROUP BY without a window) must keep "
                             "its key (the GROUP BY columns) in its select list",
                             sink_table_);
        }
        auto norm = std::make_shared<ChangelogNormalizeOperatorSpec>(node.inputs[static_cast<size_t>(side)]->schema,
                                                                     o.key, o.partition_count, options_.batch_size);
        append(o, norm);
        o.retract = true;
      }
    }
    JoinConfig c;
    c.type = node.join_type;
    c.left_keys = node.left_keys;
    c.right_keys = node.right_keys;
    c.null_safe = node.null_safe;
    c.residual = node.join_condition;
    c.left_schema = node.inputs[0]->schema;
    c.right_schema = node.inputs[1]->schema;
    c.output_schema = node.schema;
    c.batch_size = options_.batch_size;
    // The operator id (which names its state in checkpoints) is that of the join without a
    // TTL: adding or changing the TTL of a running job keeps its state.
    auto op = std::make_shared<JoinOperatorSpec>(c);
    assign_id(*op);
    const std::string id = op->id;
    c.state_ttl = job_.settings.state_ttl;
    op = std::make_shared<JoinOperatorSpec>(c);
    op->id = id;
    Open out;
    out.stages.push_back(add_join_stage(node, in, op));
    out.updating = in[0].updating || in[1].updating || node.join_type != JoinType::kInner;
    out.retract = out.updating;  // every -D carries the row it retracts
    return out;
  }

  // The stage of join operator `op` (named after its kind), fed by each input's stages
  // through a hash exchange on that side's join keys (one instance without keys).
  int add_join_stage(const LogicalNode& node, Open (&in)[2], std::shared_ptr<OperatorSpec> op) {
    StageSpec st;
    st.name = op->kind();
    const bool keyed = !node.left_keys.empty();
    st.parallelism = keyed ? options_.parallelism : 1;
    st.chain.push_back(std::move(op));
    plan_.job.stages.push_back(std::move(st));
    const int join_stage = static_cast<int>(plan_.job.stages.size()) - 1;
    for (int side = 0; side < 2; ++side) {
      for (int s : in[side].stages) {
        stage(s).downstream = join_stage;
        stage(s).downstream_input = side;
        stage(s).edge = keyed ? EdgeKind::kHash : EdgeKind::kGather;
        stage(s).key_columns = side == 0 ? node.left_keys : node.right_keys;
      }
    }
    return join_stage;
  }

  // An interval or window join (operators/time_join.h, plan/time_join_planning.h) of the
  // append-only inputs `in`, or nothing when the condition bounds no event times (then the
  // join is a regular one). Insert-only output; the join forwards a watermark trailing its
  // inputs' by the delay that keeps its output's time columns on time.
  Result<std::optional<Open>> build_time_join(const LogicalNode& node, Open (&in)[2],
                                              const std::optional<WindowJoinShape>& window, Micros window_lateness) {
    TimeJoinConfig c;
    c.type = node.join_type;
    c.left_keys = node.left_keys;
    c.right_keys = node.right_keys;
    c.null_safe = node.null_safe;
    c.residual = node.join_condition;
    c.left_schema = node.inputs[0]->schema;
    c.right_schema = node.inputs[1]->schema;
    c.output_schema = node.schema;
    c.batch_size = options_.batch_size;
    const int lw = static_cast<int>(c.left_schema->size());
    auto kind = TimeJoinOperatorSpec::Kind::kWindow;
    std::vector<int> out_times;
    if (window) {
      c.window = window->window;
      c.left_window_end = window->left_window_end;
      c.right_window_end = window->right_window_end;
      c.allowed_lateness = window_lateness;
      out_times = {window->left_window_start, window->left_window_end, lw + window->right_window_start,
                   lw + window->right_window_end};
      if (window->left_tvf && node.inputs[0]->rowtime >= 0) out_times.push_back(node.inputs[0]->rowtime);
      if (window->right_tvf && node.inputs[1]->rowtime >= 0) out_times.push_back(lw + node.inputs[1]->rowtime);
    } else {
      // Event-time columns of each input: a source's (carried through projections), or those
      // an upstream time join keeps on time.
      std::vector<int> times[2];
      for (int side = 0; side < 2; ++side) {
        if (node.inputs[static_cast<size_t>(side)]->rowtime >= 0) {
          times[side].push_back(node.inputs[static_cast<size_t>(side)]->rowtime);
        }
        if (!in[side].watermark_sources.empty()) {
          for (int t : in[side].time_columns) {
            if (std::find(times[side].begin(), times[side].end(), t) == times[side].end()) times[side].push_back(t);
          }
        }
      }
      const std::optional<IntervalBounds> bounds = find_interval_bounds(node, times[0], times[1]);
      if (!bounds) return std::optional<Open>();
      kind = TimeJoinOperatorSpec::Kind::kInterval;
      c.left_time = bounds->left_time;
      c.right_time = bounds->right_time;
      c.lower = bounds->lower;
      c.upper = bounds->upper;
      // Rows behind their watermark (more than the allowed lateness) go to the late-data
      // output at the source, through the shared late filter with the row-time deadline.
      for (int side = 0; side < 2; ++side) {
        const int t = side == 0 ? c.left_time : c.right_time;
        require_time_column(in[side], t);
        ASSIGN_OR_RETURN(Micros lateness, add_late_filters(in[side], LateFilterOperatorSpec::row_time(), t,
                                                           node.inputs[static_cast<size_t>(side)]->rowtime == t,
                                                           "interval join", true));
        c.allowed_lateness = std::max(c.allowed_lateness, lateness);
      }
      out_times = {c.left_time, lw + c.right_time};
    }
    auto op = std::make_shared<TimeJoinOperatorSpec>(kind, c);
    assign_id(*op);
    Open out;
    out.stages.push_back(add_join_stage(node, in, op));
    if (op->forwards_watermarks()) {
      out.time_columns = out_times;
      out.watermark_sources.push_back(op);
    }
    return std::optional<Open>(std::move(out));
  }

  std::shared_ptr<OverOperatorSpec> make_over_operator(const LogicalNode& node, const LogicalNodePtr& input) const {
    OverConfig c;
    c.partition_columns = node.partition_columns;
    c.time_column = node.time_column;
    c.frame = node.over_frame;
    c.aggregates = node.aggregates;
    c.input_schema = input->schema;
    c.output_schema = node.schema;
    c.batch_size = options_.batch_size;
    return std::make_shared<OverOperatorSpec>(c);
  }

  // OVER aggregates in their own stage, fed by a hash exchange on the partition keys (one
  // instance without keys). Rows behind the watermark are judged on the source side by the
  // shared late filter, with the row-time deadline (see OverOperatorSpec).
  Result<Open> build_over(const LogicalNode& node, std::vector<int>* source_of_stage) {
    const LogicalNodePtr& input = node.inputs[0];
    ASSIGN_OR_RETURN(Open o, build_input(input, source_of_stage));
    if (o.updating) {
      return unsupported("table {}: OVER aggregates need an append-only input, not updates (a GROUP BY without "
                         "window, allowed_lateness, a join with outer sides or a changelog source)",
                         sink_table_);
    }
    require_time_column(o, node.time_column);
    ASSIGN_OR_RETURN(Micros lateness,
                     add_late_filters(o, LateFilterOperatorSpec::row_time(), node.time_column,
                                      input->rowtime == node.time_column, "OVER aggregate", true));
    if (lateness > 0) {
      return unsupported("table {}: an OVER aggregate emits each row once, when the watermark passes it, and cannot "
                         "update rows for late ones: allowed_lateness {} is not supported here (set it to 0s for this "
                         "source)",
                         sink_table_, format_duration(lateness));
    }
    // A window partitioned like the OVER aggregate under it runs in the same instances,
    // chained after it (its rows are already routed by those keys).
    if (input->kind == LogicalNode::Kind::kOver && o.stages.size() == 1 && !stage(o.stages[0]).source &&
        !stage(o.stages[0]).chain.empty()) {
      auto* below = dynamic_cast<const OverOperatorSpec*>(stage(o.stages[0]).chain.back().get());
      if (below && below->config().partition_columns == node.partition_columns) {
        append(o, make_over_operator(node, input));
        return o;
      }
    }
    auto op = make_over_operator(node, input);
    assign_id(*op);
    return keyed_stage(o, "over_aggregate", op, node.partition_columns);
  }

  // A new stage running `op`, fed by every stage of `in` through a hash exchange on `keys`
  // (`parallelism` instances; one without keys).
  Open keyed_stage(const Open& in, const char* name, std::shared_ptr<OperatorSpec> op, const std::vector<int>& keys) {
    StageSpec st;
    st.name = name;
    st.parallelism = keys.empty() ? 1 : options_.parallelism;
    st.chain.push_back(std::move(op));
    plan_.job.stages.push_back(std::move(st));
    const int index = static_cast<int>(plan_.job.stages.size()) - 1;
    for (int s : in.stages) {
      stage(s).downstream = index;
      stage(s).edge = EdgeKind::kHash;
      stage(s).key_columns = keys;
    }
    Open out;
    out.stages.push_back(index);
    return out;
  }

  // If `query` is Calcs (filters included) over an Over node, returns a copy that carries
  // the row's emit time, its event time + 1 µs, as a hidden trailing column "__emit_time":
  // the sink releases rows in canonical order by it (an instance emits a row once its
  // watermark passes the event time, before it forwards that watermark, so every row with
  // emit time <= W has arrived when the sink's watermark reaches W).
  std::pair<LogicalNodePtr, int> trailing_over_time(const LogicalNodePtr& query, bool top = true) {
    if (query->kind == LogicalNode::Kind::kOver) return {query, query->rowtime};
    if (query->kind != LogicalNode::Kind::kCalc) return {nullptr, -1};
    auto [input, col] = trailing_over_time(query->inputs[0], false);
    if (!input || col < 0) return {nullptr, -1};
    auto calc = std::make_shared<LogicalNode>(*query);
    calc->inputs = {input};
    if (calc->projections.empty()) {
      calc->schema = input->schema;
      return {calc, col};
    }
    ExprPtr time = make_column_ref(col, TypeId::kTimestamp, "__emit_time");
    if (top) {
      auto emit = make_call("+", {time, make_literal(Value::interval(1))});
      if (!emit.is_ok()) return {nullptr, -1};
      time = emit.value();
    }
    calc->projections.push_back(time);
    std::vector<Field> fields = query->schema->fields();
    fields.push_back({"__emit_time", TypeId::kTimestamp, true});
    calc->schema = make_schema(fields);
    return {calc, static_cast<int>(fields.size()) - 1};
  }

  // score(...) (docs/scoring.md): an async operator, so it heads a stage of its own (an
  // operator task, woken when results arrive). One input stage: the same parallelism over
  // a forward edge (each instance's rows keep their order and partitioning); several
  // (a union): gathered into one instance.
  Result<Open> build_score(const LogicalNode& node, std::vector<int>* source_of_stage) {
    ASSIGN_OR_RETURN(Open o, build_input(node.inputs[0], source_of_stage));
    ScoringOptions options = *node.scoring;
    if (!options.dead_letter_path.empty()) {
      auto queue = make_dead_letter_queue(options.dead_letter_path, "");
      if (!queue.is_ok()) return queue.status().with_context(fmt::format("table {}: score() dlq", sink_table_));
      options.dead_letters = std::make_shared<ScoringDeadLetters>();
      options.dead_letters->queue = std::move(queue).value();
      options.dead_letters->path = options.dead_letter_path;
    }
    auto op = std::make_shared<ScoringOperatorSpec>(std::move(options), node.scoring_body, node.scoring_row_columns,
                                                    node.inputs[0]->schema, node.schema);
    assign_id(*op);
    const bool forward = o.stages.size() == 1;
    StageSpec st;
    st.name = "score";
    st.parallelism = forward ? stage(o.stages[0]).parallelism : 1;
    st.chain.push_back(op);
    plan_.job.stages.push_back(std::move(st));
    const int score_stage = static_cast<int>(plan_.job.stages.size()) - 1;
    for (int s : o.stages) {
      stage(s).downstream = score_stage;
      stage(s).edge = forward ? EdgeKind::kForward : EdgeKind::kGather;
    }
    o.stages = {score_stage};
    o.scored = true;  // the key and order columns keep their positions (columns are appended)
    return o;
  }

  // A process function (C++ API) in its own stage, fed by a hash exchange on its keys.
  Result<Open> build_process(const LogicalNode& node, std::vector<int>* source_of_stage) {
    ASSIGN_OR_RETURN(Open o, build_input(node.inputs[0], source_of_stage));
    if (o.updating) return unsupported("a process function needs an append-only input, not the updates of an aggregate");
    ProcessConfig c;
    c.function = node.process_function;
    c.key_columns = node.key_columns;
    c.input_schema = node.inputs[0]->schema;
    c.output_schema = node.schema;
    c.time_column = node.inputs[0]->rowtime;
    c.emit_time = node.emit_time;
    c.batch_size = options_.batch_size;
    auto op = std::make_shared<ProcessOperatorSpec>(c);
    assign_id(*op);
    return keyed_stage(o, "process", op, node.key_columns);
  }

  // MATCH_RECOGNIZE in its own stage, fed by a hash exchange on its PARTITION BY columns
  // (cep/match_operator.h). Rows behind their watermark are late: the shared late filter
  // judges them with a one-microsecond window per row (late when event time < the row's
  // watermark) and sends them to the late-data output, as a window's late rows.
  Result<Open> build_match_recognize(const LogicalNode& node, std::vector<int>* source_of_stage) {
    const LogicalNodePtr& input = node.inputs[0];
    ASSIGN_OR_RETURN(Open o, build_input(input, source_of_stage));
    if (o.updating) {
      return unsupported("table {}: MATCH_RECOGNIZE needs an append-only input, not the updates of an aggregate or a "
                         "changelog source", sink_table_);
    }
    MatchRecognizeConfig c = *node.match;
    require_time_column(o, c.time_column);
    WindowSpec per_row;
    per_row.size = per_row.slide = 1;
    ASSIGN_OR_RETURN(Micros lateness,
                     add_late_filters(o, per_row, c.time_column, input->rowtime == c.time_column, "MATCH_RECOGNIZE"));
    if (lateness > 0) {
      return unsupported(
          "table {}: MATCH_RECOGNIZE emits each match once and cannot revise it for late rows: allowed_lateness {} is "
          "not supported here (set it to 0s for this source)",
          sink_table_, format_duration(lateness));
    }
    c.emit_time = node.emit_time;
    c.output_schema = node.schema;
    c.batch_size = options_.batch_size;
    auto op = std::make_shared<MatchRecognizeOperatorSpec>(std::move(c));
    assign_id(*op);
    return keyed_stage(o, "match_recognize", op, node.key_columns);
  }

  // If `query` is a process function or MATCH_RECOGNIZE, or Calcs over one, returns a copy
  // that carries its emit time as a hidden trailing column "__emit_time" (see
  // ProcessOperator, MatchRecognizeOperator); null otherwise. (A process function only under
  // at most one Calc, as before MATCH_RECOGNIZE came.)
  LogicalNodePtr with_emit_time(const LogicalNodePtr& query, int calcs = 0) {
    if ((query->kind == LogicalNode::Kind::kProcess && calcs <= 1) || query->kind == LogicalNode::Kind::kMatchRecognize) {
      auto copy = std::make_shared<LogicalNode>(*query);
      copy->emit_time = true;
      std::vector<Field> fields = query->schema->fields();
      fields.push_back({"__emit_time", TypeId::kTimestamp, true});
      copy->schema = make_schema(fields);
      return copy;
    }
    if (query->kind != LogicalNode::Kind::kCalc) return nullptr;
    LogicalNodePtr timed = with_emit_time(query->inputs[0], calcs + 1);
    if (!timed) return nullptr;
    auto calc = std::make_shared<LogicalNode>(*query);
    calc->inputs = {timed};
    if (calc->projections.empty()) {
      calc->schema = timed->schema;
      return calc;
    }
    int hidden = static_cast<int>(timed->schema->size()) - 1;
    calc->projections.push_back(make_column_ref(hidden, TypeId::kTimestamp, "__emit_time"));
    std::vector<Field> fields = query->schema->fields();
    fields.push_back({"__emit_time", TypeId::kTimestamp, true});
    calc->schema = make_schema(fields);
    return calc;
  }

  std::string explain() const {
    std::string out = fmt::format("job: {} stage(s), batch size {}\n", plan_.job.stages.size(), options_.batch_size);
    for (size_t i = 0; i < plan_.job.stages.size(); ++i) {
      const StageSpec& st = plan_.job.stages[i];
      out += fmt::format("stage {} {} (parallelism {})\n", i, st.name, st.parallelism);
      if (st.source) {
        const auto& s = *st.source;
        out += fmt::format("    source {} -> {}", s.table, s.factory->describe());
        if (s.event_time.column >= 0) {
          out += fmt::format(", event time {} with watermark delay {}",
                             s.schema->field(static_cast<size_t>(s.event_time.column)).name,
                             format_duration(s.event_time.watermark_delay));
        }
        out += fmt::format(", dead letters -> {}\n", s.dlq ? s.dlq->describe() : "table " + s.dlq_sink);
      }
      for (const auto& op : st.chain) out += fmt::format("    {} [{}]: {}\n", op->kind(), op->id, op->describe());
      for (int d : st.also_forward_to) out += fmt::format("    -> forward to stage {}\n", d);
      if (st.dlq_stage >= 0) out += fmt::format("    -> dead letters to stage {}\n", st.dlq_stage);
      if (st.late_stage >= 0) out += fmt::format("    -> late rows to stage {}\n", st.late_stage);
      if (st.downstream >= 0) {
        std::string keys;
        for (int k : st.key_columns) keys += fmt::format("{}${}", keys.empty() ? "" : ", ", k);
        out += fmt::format("    -> {} exchange to stage {}{}\n", edge_kind_name(st.edge), st.downstream,
                           st.edge == EdgeKind::kHash ? " on [" + keys + "]" : "");
      }
    }
    return out;
  }

  const LogicalJob& job_;
  PlanOptions options_;
  PhysicalPlan plan_;
  int op_counter_ = 0;
  std::string pipeline_prefix_;
  std::string sink_table_;  // of the pipeline being planned, for errors
  bool late_filter_window_assign_ = false;  // building the input of a window top-N or window join
  bool window_join_input_ = false;          // ... of a window join (allowed lateness is fine)
  Micros window_assign_lateness_ = 0;       // the largest allowed lateness those late filters found
  std::string query_name_;  // names the current pipeline in late-data entries
  Micros default_lateness_;
  std::map<std::string, std::shared_ptr<DeadLetterQueue>> side_outputs_;  // "<table>/<kind>" -> queue
  struct SideFile {
    FileUse use;
    std::shared_ptr<DeadLetterQueue> queue;
  };
  std::vector<SideFile> side_files_;  // one per side-output destination
  std::vector<FileUse> files_;        // every file the job reads or writes
  std::set<std::string> sink_files_;  // sink tables already in files_
  std::map<int, std::shared_ptr<const TableDef>> source_table_of_stage_;
  std::map<int, std::shared_ptr<SourceStageSpec>> source_spec_of_stage_;
  std::map<std::string, int> reads_;
  std::set<std::string> versioned_tables_;  // tables read as versioned tables (temporal joins)           // table -> number of reads in the job
  std::set<std::string> reads_lower_;          // tables the job reads, lower case
  std::set<std::string> insert_targets_;       // tables INSERTs write, lower case
  std::map<std::string, SideOutputKind> side_kinds_;  // side-output table (lower case) -> what it holds
  std::map<std::string, int> side_sink_stages_;       // side-output table (lower case) -> its sink stage
  std::map<std::string, bool> side_message_columns_;  // side-output table (lower case) -> rows with message columns
  std::map<std::string, int> shared_sources_;  // table -> its single source stage
};

}  // namespace

Result<PhysicalPlan> plan_job(const LogicalJob& job, const PlanOptions& options) {
  Planner planner(job, options);
  return planner.run();
}

}  // namespace sluice
