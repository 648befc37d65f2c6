// OVER aggregates in the select list (operators/over.h has the semantics):
//
//   SELECT user_id, amount, COUNT(*) OVER w AS n,
//          SUM(amount) OVER (PARTITION BY user_id ORDER BY ts
//                            RANGE BETWEEN INTERVAL '5' MINUTE PRECEDING AND CURRENT ROW) AS s
//   FROM tx WINDOW w AS (PARTITION BY user_id ORDER BY ts ROWS BETWEEN 10 PRECEDING AND CURRENT ROW)
//
// WHERE filters the rows first; the calls over one window (same PARTITION BY and frame)
// share one Over node, and each further window adds one over the previous node's output
// (which keeps every column before it), so the select list binds over the last one.
#include "plan/over_shape.h"
#include "sql/binder.h"

namespace sluice::sql {
namespace {

// PostgreSQL's WindowDef.frameOptions bits (nodes/parsenodes.h).
constexpr int64_t kFrameNonDefault = 0x1;
constexpr int64_t kFrameRange = 0x2;
constexpr int64_t kFrameRows = 0x4;
constexpr int64_t kFrameGroups = 0x8;
constexpr int64_t kFrameStartUnboundedPreceding = 0x20;
constexpr int64_t kFrameEndUnboundedFollowing = 0x100;
constexpr int64_t kFrameStartCurrentRow = 0x200;
constexpr int64_t kFrameEndCurrentRow = 0x400;
constexpr int64_t kFrameStartOffsetPreceding = 0x800;
constexpr int64_t kFrameEndOffsetPreceding = 0x1000;
constexpr int64_t kFrameStartOffsetFollowing = 0x2000;
constexpr int64_t kFrameEndOffsetFollowing = 0x4000;
constexpr int64_t kFrameExclude = 0x8000 | 0x10000 | 0x20000;

constexpr const char* kSupportedFrames =
    "supported: RANGE BETWEEN INTERVAL '...' PRECEDING AND CURRENT ROW, RANGE UNBOUNDED PRECEDING, ROWS BETWEEN n "
    "PRECEDING AND CURRENT ROW, ROWS UNBOUNDED PRECEDING";

// A window as written, after following OVER w / OVER (w ...) to the WINDOW clause.
struct WindowText {
  const json* partition = nullptr;  // array
  const json* order = nullptr;      // array
  int64_t frame_options = 0;
  const json* start_offset = nullptr;
  int loc = -1;
};

void collect_over_calls(const json& n, std::vector<const json*>& out) {
  walk_tree(n, [&](const json& v) {
    if (node_type(v) == "SubLink") return Walk::kSkip;
    if (node_type(v) == "FuncCall" && node_body(v).contains("over")) {
      out.push_back(&v);
      return Walk::kSkip;  // an OVER call inside another's argument is refused when that one binds
    }
    return Walk::kEnter;
  });
}

}  // namespace

bool Compiler::contains_over(const json& n) {
  std::vector<const json*> calls;
  collect_over_calls(n, calls);
  return !calls.empty();
}

Result<Relation> Compiler::bind_over(const json& s, const Relation& in) {
  if (in.tvf) {
    return error_at(-1, "OVER aggregates over a TUMBLE/HOP/SESSION table function are not supported: aggregate the "
                        "windows with GROUP BY, or apply OVER to the table itself");
  }
  std::map<std::string, const json*> named;  // WINDOW name AS (...)
  for (const auto& w : list_of(s, "windowClause")) {
    const json& body = node_body(w);
    named[lower(body.value("name", ""))] = &body;
  }
  // The effective window of an OVER clause (PostgreSQL's rules for OVER w and OVER (w ...)).
  std::function<Result<WindowText>(const json&, int)> resolve_window = [&](const json& over,
                                                                          int depth) -> Result<WindowText> {
    const int loc = over.value("location", -1);
    WindowText out;
    std::string ref = over.value("refname", "");
    if (ref.empty() && over.contains("name") && !over.contains("partitionClause") && !over.contains("orderClause") &&
        depth == 0) {
      ref = over.value("name", "");  // OVER w
    }
    if (!ref.empty()) {
      auto it = named.find(lower(ref));
      if (it == named.end() || depth > 8) return error_at(loc, "window '{}' is not defined in a WINDOW clause", ref);
      ASSIGN_OR_RETURN(out, resolve_window(*it->second, depth + 1));
      if (over.contains("partitionClause")) {
        return error_at(loc, "cannot override the PARTITION BY of window '{}'", ref);
      }
      if (over.contains("orderClause")) {
        if (out.order) return error_at(loc, "cannot override the ORDER BY of window '{}'", ref);
        out.order = &over["orderClause"];
      }
      if (over.value("frameOptions", 0) & kFrameNonDefault) {
        out.frame_options = over.value("frameOptions", 0);
        out.start_offset = over.contains("startOffset") ? &over["startOffset"] : nullptr;
        out.loc = loc;  // errors point at what this clause adds, else at the definition
      }
      if (over.contains("orderClause")) out.loc = loc;
      return out;
    }
    if (over.contains("partitionClause")) out.partition = &over["partitionClause"];
    if (over.contains("orderClause")) out.order = &over["orderClause"];
    out.frame_options = over.value("frameOptions", 0);
    out.start_offset = over.contains("startOffset") ? &over["startOffset"] : nullptr;
    out.loc = loc;
    return out;
  };

  RelationContext plain;
  plain.c = this;
  plain.rel = &in;
  LogicalNodePtr base = in.node;
  if (s.contains("whereClause")) {
    // WHERE filters the rows before the windows see them.
    auto filter = std::make_shared<LogicalNode>();
    filter->kind = LogicalNode::Kind::kCalc;
    filter->inputs = {base};
    ASSIGN_OR_RETURN(filter->filter, bind_predicate(s["whereClause"], plain, "WHERE"));
    filter->schema = base->schema;
    filter->rowtime = base->rowtime;
    base = filter;
  }

  // The windows, in order of first use, each with its calls.
  struct Window {
    std::string signature;
    OverShape shape;
    std::vector<std::string> call_signatures;
  };
  std::vector<Window> windows;
  std::map<std::string, std::pair<size_t, size_t>> call_at;  // call signature -> (window, aggregate)
  std::vector<const json*> calls;
  collect_over_calls(list_of(s, "targetList"), calls);
  for (const json* node : calls) {
    const json& call = node_body(*node);
    const int loc = call.value("location", -1);
    const std::string name = func_name(call);
    const std::string call_sig = signature(*node);
    if (call_at.count(call_sig)) continue;
    if (!is_aggregate_name(name)) {
      return error_at(loc,
                      "{}() OVER (...) is not supported: OVER takes COUNT, SUM, AVG, MIN, MAX and COUNT/SUM/AVG(DISTINCT "
                      "x){}",
                      name,
                      name == "row_number" ? "; ROW_NUMBER() works as a top-N or deduplication filter (SELECT ... FROM "
                                             "(SELECT ..., ROW_NUMBER() OVER (...) AS rn FROM t) WHERE rn <= N)"
                                           : "");
    }
    ASSIGN_OR_RETURN(WindowText w, resolve_window(call["over"], 0));
    const int wloc = w.loc >= 0 ? w.loc : loc;
    if (in.node->rowtime < 0) {
      return error_at(wloc, "OVER needs an event-time attribute to order by, and this input has none (declare "
                            "event_time on the source table and keep that column in subqueries)");
    }
    const std::string rowtime_name = in.columns[static_cast<size_t>(in.node->rowtime)].name;
    // ORDER BY the rowtime, ascending: rows are emitted as the watermark passes them.
    auto order_error = [&](int at) {
      return error_at(at, "OVER windows must be ordered by the event-time attribute, ascending (ORDER BY {}): rows "
                          "are aggregated and emitted as the watermark passes them",
                      rowtime_name);
    };
    if (!w.order || w.order->size() != 1 || node_type((*w.order)[0]) != "SortBy") return order_error(wloc);
    const json& sort_by = node_body((*w.order)[0]);
    const std::string dir = sort_by.value("sortby_dir", "SORTBY_DEFAULT");
    {
      auto e = bind_expr(sort_by["node"], plain);
      if (!e.is_ok() || column_ref_index(*e.value()) != in.node->rowtime ||
          (dir != "SORTBY_DEFAULT" && dir != "SORTBY_ASC")) {
        return order_error(location_of(sort_by["node"]) >= 0 ? location_of(sort_by["node"]) : wloc);
      }
    }
    // The frame.
    const int64_t fo = w.frame_options;
    OverFrame frame;
    if (fo & kFrameGroups) return error_at(wloc, "GROUPS frames are not supported ({})", kSupportedFrames);
    if (fo & kFrameExclude) return error_at(wloc, "EXCLUDE in OVER frames is not supported ({})", kSupportedFrames);
    if (fo & (kFrameEndUnboundedFollowing | kFrameStartOffsetFollowing | kFrameEndOffsetFollowing |
              kFrameEndOffsetPreceding) ||
        !(fo & kFrameEndCurrentRow)) {
      return error_at(wloc, "OVER frames on a stream must end at CURRENT ROW (a later end would wait for rows to come; "
                            "{})",
                      kSupportedFrames);
    }
    frame.unit = (fo & kFrameRows) ? OverFrame::Unit::kRows : OverFrame::Unit::kRange;
    if (fo & kFrameStartUnboundedPreceding) {
      frame.unbounded = true;
    } else if (fo & kFrameStartCurrentRow) {
      frame.unbounded = false;  // RANGE: the row and its peers; ROWS: the row alone
    } else if (fo & kFrameStartOffsetPreceding) {
      frame.unbounded = false;
      const json& offset = *w.start_offset;
      const int oloc = location_of(offset) >= 0 ? location_of(offset) : wloc;
      if (frame.unit == OverFrame::Unit::kRange) {
        ASSIGN_OR_RETURN(frame.range, constant_interval(offset, "the RANGE offset of an OVER window"));
        if (frame.range < 0) return error_at(oloc, "the RANGE offset of an OVER window must not be negative");
      } else {
        struct NoColumns : BindContext {
          Compiler* c;
          Result<ExprPtr> column(const json& colref) override {
            return c->error_at(location_of(colref), "the ROWS offset of an OVER window must be a constant");
          }
        } constant;
        constant.c = this;
        ASSIGN_OR_RETURN(ExprPtr e, bind_expr(offset, constant));
        auto v = is_constant(*e) && e->type() == TypeId::kInt64 ? evaluate_constant(e) : Result<Value>(Value());
        if (!v.is_ok() || v.value().is_null || v.value().type != TypeId::kInt64) {
          return error_at(oloc, "the ROWS offset of an OVER window must be a whole number constant");
        }
        frame.rows = v.value().i;
        if (frame.rows < 0 || frame.rows > kMaxOverRows) {
          return error_at(oloc, "the ROWS offset of an OVER window must be between 0 and {}, got {}", kMaxOverRows,
                          frame.rows);
        }
      }
    } else {
      return error_at(wloc, "unsupported OVER frame ({})", kSupportedFrames);
    }
    // The window's identity: its partition keys and frame.
    std::string wsig = frame.describe();
    std::vector<ExprPtr> keys;
    if (w.partition) {
      for (const auto& p : *w.partition) {
        if (contains_aggregate(p) || contains_over(p)) {
          return error_at(location_of(p), "PARTITION BY of an OVER window cannot contain aggregates");
        }
        ASSIGN_OR_RETURN(ExprPtr k, bind_expr(p, plain));
        keys.push_back(k);
        wsig += '|';
        wsig += signature(p);
      }
    }
    size_t wi = 0;
    while (wi < windows.size() && windows[wi].signature != wsig) ++wi;
    if (wi == windows.size()) {
      Window nw;
      nw.signature = wsig;
      nw.shape.partition_keys = keys;
      nw.shape.frame = frame;
      windows.push_back(std::move(nw));
    }
    // The aggregate, bound as GROUP BY binds it.
    if (call.contains("args")) {
      for (const auto& a : call["args"]) {
        if (contains_over(a)) return error_at(location_of(a), "OVER calls cannot be nested");
      }
    }
    Relation over_in = in;
    over_in.tvf.reset();
    ASSIGN_OR_RETURN(BoundAggregate bound, bind_aggregate_call_over(call, over_in));
    std::string why;
    if (!over_aggregate_supported(bound.spec, &why)) return error_at(loc, "{}", why);
    OverShape& shape = windows[wi].shape;
    call_at[call_sig] = {wi, shape.aggregates.size()};
    shape.aggregates.push_back(bound.spec);
    shape.arguments.push_back(bound.argument);
    shape.filters.push_back(bound.filter);
    shape.names.push_back(fmt::format("over_{}_{}", name, call_at.size()));
  }

  // One Over node per window, each over the previous one's output.
  std::map<std::string, ExprPtr> call_columns;
  std::vector<size_t> first_aggregate(windows.size());
  for (size_t wi = 0; wi < windows.size(); ++wi) {
    windows[wi].shape.base = base;
    auto node = make_over_node(windows[wi].shape);
    if (!node.is_ok()) return wrap(node.status(), -1);
    base = node.value().node;
    first_aggregate[wi] = node.value().first_aggregate;
  }
  for (const auto& [sig, at] : call_at) {
    const int col = static_cast<int>(first_aggregate[at.first] + at.second);
    const Field& f = base->schema->field(static_cast<size_t>(col));
    call_columns[sig] = make_column_ref(col, f.type, f.name);
  }

  // The select list over the last node: FROM columns keep their indexes, OVER calls read
  // their aggregate's column.
  struct OverContext : RelationContext {
    const std::map<std::string, ExprPtr>* calls = nullptr;
    std::optional<Result<ExprPtr>> intercept(const json& node) override {
      if (node_type(node) != "FuncCall" || !node_body(node).contains("over")) return std::nullopt;
      auto it = calls->find(signature(node));
      if (it == calls->end()) return std::nullopt;
      return Result<ExprPtr>(it->second);
    }
  } ctx;
  ctx.c = this;
  ctx.rel = &in;
  ctx.calls = &call_columns;
  auto project = std::make_shared<LogicalNode>();
  project->kind = LogicalNode::Kind::kCalc;
  project->inputs = {base};
  std::vector<Field> fields;
  Relation out;
  auto add = [&](ExprPtr e, const std::string& name) {
    if (column_ref_index(*e) >= 0 && column_ref_index(*e) == in.node->rowtime) {
      project->rowtime = static_cast<int>(fields.size());
    }
    project->projections.push_back(e);
    fields.push_back({name, e->type(), true});
    out.columns.push_back({name, "", e->type()});
  };
  for (const auto& target : s["targetList"]) {
    if (is_star(target)) {
      const json& f = node_body(node_body(target)["val"])["fields"];
      std::string qual = f.size() == 2 ? string_value(f[0]) : "";
      for (size_t i = 0; i < in.columns.size(); ++i) {
        if (!qual.empty() && !iequals(in.columns[i].qualifier, qual)) continue;
        add(make_column_ref(static_cast<int>(i), in.columns[i].type, in.columns[i].name), in.columns[i].name);
      }
      continue;
    }
    ASSIGN_OR_RETURN(ExprPtr e, bind_expr(node_body(target)["val"], ctx));
    if (e->type() == TypeId::kNull) e = make_literal(Value::null(TypeId::kString));
    add(e, output_name(target, fields.size()));
  }
  project->schema = make_schema(fields);
  out.node = project;
  return out;
}

}  // namespace sluice::sql
