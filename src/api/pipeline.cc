// The C++ pipeline builder. Every method mirrors a piece of the SQL binder
// (src/sql/compiler.cc) — bind_table_name, bind_table_function, bind_projection,
// bind_aggregate, union_all, add_pipeline — building the same LogicalNodes with the same
// expressions, names and rowtimes, so the planner cannot tell the two front ends apart.
// Where the binder's behaviour is subtle (passthrough projections, pre-projection names,
// the constant column of a key-less COUNT(*)), the code here says which binder line it
// follows; tests in pipeline_test.cc compare plans and outputs with compiled SQL.
#include "sluice/pipeline.h"

#include <fmt/format.h>

#include <set>

#include "api/pipeline_internal.h"
#include "connectors/registry.h"
#include "engine/engine.h"
#include "plan/physical_planner.h"
#include "operators/over.h"
#include "plan/over_shape.h"
#include "plan/shapes.h"
#include "runtime/job.h"
#include "sql/compiler.h"

namespace sluice::api {

using internal::Block;
using internal::KeyedBlock;
using internal::PipelineState;
using internal::Relation;
using internal::RelationColumn;

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string column_list(const std::vector<RelationColumn>& columns) {
  std::string out;
  for (const auto& c : columns) out += (out.empty() ? "" : ", ") + c.name;
  return out;
}

// Column lookup in a relation, as Compiler::resolve does.
class RelationScope : public internal::Scope {
 public:
  explicit RelationScope(const Relation& rel) : rel_(rel) {}
  Result<ExprPtr> column(const std::string& name) override {
    int found = -1;
    for (size_t i = 0; i < rel_.columns.size(); ++i) {
      if (!iequals(rel_.columns[i].name, name)) continue;
      if (found >= 0) return invalid_argument("column reference '{}' is ambiguous", name);
      found = static_cast<int>(i);
    }
    if (found < 0) return not_found("unknown column '{}' (columns: {})", name, column_list(rel_.columns));
    return rel_.columns[static_cast<size_t>(found)].ref;
  }
  Result<std::vector<Field>> positional_columns() const override {
    if (rel_.aggregated) {
      return unsupported("sql_expr() cannot refer to the output of aggregate(); use col(\"name\") there");
    }
    std::vector<Field> out;
    for (const auto& c : rel_.columns) out.push_back({c.name, c.type, true});
    return out;
  }

 private:
  const Relation& rel_;
};

// A relation over `node` whose columns are its schema's fields.
Relation plain_relation(LogicalNodePtr node) {
  Relation r;
  const Schema& s = *node->schema;
  for (size_t i = 0; i < s.size(); ++i) {
    const Field& f = s.field(i);
    r.columns.push_back({f.name, f.type, make_column_ref(static_cast<int>(i), f.type, f.name)});
  }
  r.node = std::move(node);
  return r;
}

std::shared_ptr<const Block> error_block(const std::shared_ptr<PipelineState>& pipeline, Status s) {
  auto b = std::make_shared<Block>();
  b->pipeline = pipeline;
  b->error = std::move(s);
  pipeline->record(b->error);
  return b;
}

std::shared_ptr<const Block> block_of(const std::shared_ptr<PipelineState>& pipeline, Relation r) {
  auto b = std::make_shared<Block>();
  b->pipeline = pipeline;
  b->from = std::move(r);
  return b;
}

Result<ExprPtr> conjunction(const std::vector<ExprPtr>& conditions) {
  if (conditions.empty()) return ExprPtr();
  if (conditions.size() == 1) return conditions[0];
  return make_and(conditions);
}

// Closes a block into a relation: the Calc a SELECT makes (Compiler::bind_projection, or
// the post-aggregation Calc of Compiler::bind_aggregate), or the FROM relation itself when
// the block neither filters nor projects.
Result<Relation> materialize(const Block& b) {
  RETURN_IF_ERROR(b.error);
  const Relation& in = b.from;
  if (in.aggregated) {
    auto calc = std::make_shared<LogicalNode>();
    calc->kind = LogicalNode::Kind::kCalc;
    calc->inputs = {in.node};
    ASSIGN_OR_RETURN(calc->filter, conjunction(b.where));
    std::vector<Field> fields;
    if (b.has_select) {
      calc->projections = b.select;
      for (size_t i = 0; i < b.select.size(); ++i) fields.push_back({b.names[i], b.select[i]->type(), true});
    } else {
      for (const auto& c : in.columns) {
        calc->projections.push_back(c.ref);
        fields.push_back({c.name, c.type, true});
      }
    }
    calc->schema = make_schema(fields);
    return plain_relation(calc);
  }
  if (in.tvf && in.tvf->window.kind == WindowSpec::Kind::kSession) {
    return invalid_argument("session windows need an aggregation: key_by(...).aggregate(...) or aggregate(...)");
  }
  if (!b.has_select && b.where.empty()) {
    Relation out = in;
    return out;
  }
  auto node = std::make_shared<LogicalNode>();
  node->kind = LogicalNode::Kind::kCalc;
  node->inputs = {in.node};
  ASSIGN_OR_RETURN(node->filter, conjunction(b.where));
  std::vector<Field> fields;
  bool passthrough = true;
  auto add = [&](const ExprPtr& e, const std::string& name) {
    int ref = column_ref_index(*e);
    if (ref >= 0 && ref == in.node->rowtime) node->rowtime = static_cast<int>(fields.size());
    if (ref != static_cast<int>(fields.size())) passthrough = false;
    node->projections.push_back(e);
    fields.push_back({name, e->type(), true});
  };
  if (b.has_select) {
    for (size_t i = 0; i < b.select.size(); ++i) add(b.select[i], b.names[i]);
  } else {  // SELECT *
    for (const auto& c : in.columns) add(c.ref, c.name);
  }
  if (passthrough && fields.size() == in.node->schema->size()) {
    bool same_names = true;
    for (size_t i = 0; i < fields.size(); ++i) same_names = same_names && fields[i].name == in.node->schema->field(i).name;
    if (same_names) node->projections.clear();
  }
  node->schema = node->projections.empty() ? in.node->schema : make_schema(fields);
  if (node->projections.empty()) node->rowtime = in.node->rowtime;
  Relation out;
  out.node = (!node->filter && node->projections.empty()) ? in.node : node;
  for (size_t i = 0; i < fields.size(); ++i) {
    out.columns.push_back({fields[i].name, fields[i].type, make_column_ref(static_cast<int>(i), fields[i].type, fields[i].name)});
  }
  return out;
}


Status check_condition(const ExprPtr& e, const char* clause) {
  if (e->type() != TypeId::kBool && e->type() != TypeId::kNull) {
    return type_error("{} must be a boolean condition, not {}", clause, type_name(e->type()));
  }
  return Status::ok();
}

std::string expression_list(const std::vector<Expression>& items) {
  std::string out;
  for (const auto& e : items) out += (out.empty() ? "" : ", ") + e.to_string();
  return out;
}

std::string duration_text(Duration d) { return format_duration(d.count()); }

// An aggregate call as the binder's AggregateSpec (kind, DISTINCT, input and result types;
// input/filter columns left to the caller) and its bound argument (null for COUNT(*)), with
// the SQL binder's type checks and messages.
struct BoundCall {
  AggregateSpec spec;
  ExprPtr argument;
};
Result<BoundCall> bind_call(const AggregateCall& call, internal::Scope& scope) {
  const std::string name = call.sql_name();
  BoundCall out;
  AggregateSpec& spec = out.spec;
  spec.distinct = call.function() == AggregateCall::Function::kCountDistinct;
  switch (call.function()) {
    case AggregateCall::Function::kCountStar: spec.kind = AggKind::kCountStar; break;
    case AggregateCall::Function::kCount:
    case AggregateCall::Function::kCountDistinct: spec.kind = AggKind::kCount; break;
    case AggregateCall::Function::kSum: spec.kind = AggKind::kSum; break;
    case AggregateCall::Function::kMin: spec.kind = AggKind::kMin; break;
    case AggregateCall::Function::kMax: spec.kind = AggKind::kMax; break;
    case AggregateCall::Function::kAvg: spec.kind = AggKind::kAvg; break;
  }
  if (spec.kind != AggKind::kCountStar) {
    auto bound = internal::bind(*call.argument(), scope);
    if (!bound.is_ok()) return bound.status().with_context(call.to_string());
    ExprPtr arg = bound.value();
    TypeId t = arg->type();
    if (t == TypeId::kNull) {
      arg = make_literal(Value::null(TypeId::kInt64));
      t = TypeId::kInt64;
    }
    if ((spec.kind == AggKind::kSum || spec.kind == AggKind::kAvg) && !is_numeric(t) &&
        !(spec.kind == AggKind::kSum && t == TypeId::kInterval)) {
      return type_error("{}: {} needs a numeric argument, not {}", call.to_string(), name, type_name(t));
    }
    if ((spec.kind == AggKind::kMin || spec.kind == AggKind::kMax) && t == TypeId::kBool) {
      return type_error("{}: {} of BOOLEAN is not supported", call.to_string(), name);
    }
    spec.input_type = t;
    out.argument = arg;
  }
  spec.result_type = aggregate_result_type(spec.kind, spec.input_type);
  return out;
}

// The binder's aggregation (Compiler::bind_aggregate and AggregateBinding): a
// pre-projection Calc [keys..., aggregate arguments..., (time)], the Aggregate, and the
// named outputs the following select/HAVING see.
Result<Relation> bind_aggregation(const Block& b, const std::vector<Expression>& keys,
                                  const std::vector<AggregateCall>& calls) {
  const Relation& in = b.from;
  const bool windowed = in.tvf.has_value();
  const int ws = windowed ? in.tvf->window_start : -1, we = windowed ? in.tvf->window_end : -1;
  RelationScope plain(in);
  std::vector<ExprPtr> pre;
  std::vector<std::string> pre_names;
  std::vector<int> key_refs;
  std::vector<std::string> key_names;  // names the output columns of keys are known by
  auto uses_window = [&](const ExprPtr& e) {
    for (int used : internal::columns_used(e)) {
      if (used == ws || used == we) return true;
    }
    return false;
  };
  for (const Expression& k : keys) {
    ASSIGN_OR_RETURN(ExprPtr e, internal::bind(k, plain));
    int ref = column_ref_index(*e);
    // GROUP BY window_start / window_end is what makes SQL windowed; here it is implied.
    if (windowed && (ref == ws || ref == we)) continue;
    if (windowed && uses_window(e)) {
      return invalid_argument("key {}: key by window_start/window_end directly, not by an expression of them",
                              k.to_string());
    }
    std::string natural = internal::natural_name(k, pre.size(), &plain);
    key_refs.push_back(ref);
    pre.push_back(e);
    pre_names.push_back(natural);
    key_names.push_back(k.alias().empty() ? natural : k.alias());
  }
  const size_t num_keys = pre.size();
  ASSIGN_OR_RETURN(ExprPtr where, conjunction(b.where));
  if (where && windowed && uses_window(where)) {
    return invalid_argument("a filter on window_start/window_end before aggregate() is not supported; filter after "
                            "aggregate() instead (HAVING)");
  }
  const size_t offset = windowed ? 2 : 0;
  std::vector<AggregateSpec> specs;
  std::vector<std::string> spec_sigs, arg_sigs;
  std::vector<RelationColumn> agg_columns;
  for (const AggregateCall& call : calls) {
    const std::string name = call.sql_name();
    ASSIGN_OR_RETURN(BoundCall bound, bind_call(call, plain));
    AggregateSpec spec = bound.spec;
    if (call.function() != AggregateCall::Function::kCountStar) {
      ExprPtr arg = bound.argument;
      if (windowed && uses_window(arg)) {
        return invalid_argument("{}: window_start/window_end cannot be aggregated", call.to_string());
      }
      // One pre-projection column per distinct argument (the binder compares parse trees;
      // the bound expression's text and type identify the same argument here).
      std::string sig = fmt::format("{}|{}", arg->to_string(), static_cast<int>(arg->type()));
      int input = -1;
      for (size_t p = 0; p < arg_sigs.size(); ++p) {
        if (arg_sigs[p] == sig) input = static_cast<int>(num_keys + p);
      }
      if (input < 0) {
        pre.push_back(arg);
        pre_names.push_back(fmt::format("agg_arg_{}", pre.size() - num_keys));
        arg_sigs.push_back(sig);
        input = static_cast<int>(pre.size()) - 1;
      }
      spec.input = input;
    }
    std::string full = fmt::format("{}|{}|{}", static_cast<int>(spec.kind), spec.distinct, spec.input);
    size_t index = specs.size();
    for (size_t a = 0; a < specs.size(); ++a) {
      if (spec_sigs[a] == full) index = a;
    }
    if (index == specs.size()) {
      specs.push_back(spec);
      spec_sigs.push_back(full);
    }
    TypeId rt = specs[index].result_type;
    agg_columns.push_back({call.alias().empty() ? name : call.alias(), rt,
                           make_column_ref(static_cast<int>(offset + num_keys + index), rt, name)});
  }

  // Plan: [filter] -> pre-projection [keys, agg args, (time)] -> aggregate.
  AggregateShape shape;
  shape.base = windowed ? in.tvf->input : in.node;
  shape.filter = where;
  shape.inputs = pre;
  shape.input_names = pre_names;
  shape.num_keys = num_keys;
  shape.aggregates = specs;
  shape.windowed = windowed;
  if (windowed) {
    shape.window = in.tvf->window;
    shape.window_time_column = in.tvf->time_column;
  }
  LogicalNodePtr agg = make_aggregate_node(std::move(shape));

  Relation out;
  out.node = agg;
  out.aggregated = true;
  if (windowed) {
    out.columns.push_back({"window_start", TypeId::kTimestamp, make_column_ref(0, TypeId::kTimestamp, "window_start")});
    out.columns.push_back({"window_end", TypeId::kTimestamp, make_column_ref(1, TypeId::kTimestamp, "window_end")});
  }
  for (size_t k = 0; k < num_keys; ++k) {
    // A plain column key is referred to by the input column's name, an expression key by
    // its pre-projection name (AggregateBinding::column / intercept).
    std::string ref_name = key_refs[k] >= 0 ? in.columns[static_cast<size_t>(key_refs[k])].name : pre_names[k];
    out.columns.push_back(
        {key_names[k], pre[k]->type(), make_column_ref(static_cast<int>(offset + k), pre[k]->type(), ref_name)});
  }
  for (auto& c : agg_columns) out.columns.push_back(std::move(c));
  return out;
}

// An output column list a KeyedProcessFunction declared: checked like CREATE TABLE columns.
Status check_columns(const std::vector<Field>& fields, const std::string& what) {
  if (fields.empty()) return invalid_argument("{}: no output columns", what);
  std::set<std::string> seen;
  for (const Field& f : fields) {
    if (f.name.empty()) return invalid_argument("{}: a column has no name", what);
    if (f.type == TypeId::kNull) return invalid_argument("{}: column '{}' has no type", what, f.name);
    if (!seen.insert(lower(f.name)).second) return invalid_argument("{}: column '{}' declared twice", what, f.name);
  }
  return Status::ok();
}

}  // namespace

// ---------------------------------------------------------------------------- Stream

Status Stream::status() const { return block_->error; }

Result<SchemaPtr> Stream::schema() const {
  ASSIGN_OR_RETURN(Relation r, materialize(*block_));
  return r.node->schema;
}

Stream Stream::filter(const Expression& condition) const {
  const auto& pipeline = block_->pipeline;
  if (!block_->error.is_ok()) return *this;
  std::shared_ptr<const Block> base = block_;
  if (block_->has_select) {
    auto r = materialize(*block_);
    if (!r.is_ok()) return Stream(error_block(pipeline, r.status()));
    base = block_of(pipeline, std::move(r).value());
  }
  const std::string step = fmt::format("filter({})", condition.to_string());
  RelationScope scope(base->from);
  auto bound = internal::bind(condition, scope);
  if (!bound.is_ok()) return Stream(error_block(pipeline, bound.status().with_context(step)));
  Status s = check_condition(bound.value(), base->from.aggregated ? "a filter after aggregate() (HAVING)" : "a filter");
  if (!s.is_ok()) return Stream(error_block(pipeline, s.with_context(step)));
  auto next = std::make_shared<Block>(*base);
  next->where.push_back(bound.value());
  return Stream(next);
}

Stream Stream::select(std::vector<Expression> items) const {
  const auto& pipeline = block_->pipeline;
  if (!block_->error.is_ok()) return *this;
  const std::string step = fmt::format("select({})", expression_list(items));
  if (items.empty()) return Stream(error_block(pipeline, invalid_argument("{}: select at least one column", step)));
  std::shared_ptr<const Block> base = block_;
  if (block_->has_select) {
    auto r = materialize(*block_);
    if (!r.is_ok()) return Stream(error_block(pipeline, r.status()));
    base = block_of(pipeline, std::move(r).value());
  }
  auto next = std::make_shared<Block>(*base);
  next->has_select = true;
  RelationScope scope(base->from);
  for (size_t i = 0; i < items.size(); ++i) {
    auto bound = internal::bind(items[i], scope);
    if (!bound.is_ok()) return Stream(error_block(pipeline, bound.status().with_context(step)));
    ExprPtr e = bound.value();
    if (e->type() == TypeId::kNull) e = make_literal(Value::null(TypeId::kString));
    next->select.push_back(e);
    next->names.push_back(items[i].alias().empty() ? internal::natural_name(items[i], i, &scope) : items[i].alias());
  }
  return Stream(next);
}

Stream Stream::union_with(const Stream& other) const {
  const auto& pipeline = block_->pipeline;
  if (!block_->error.is_ok()) return *this;
  if (!other.block_->error.is_ok()) return other;
  if (other.block_->pipeline != pipeline) {
    return Stream(error_block(pipeline, invalid_argument("union_with: the streams belong to different Pipelines")));
  }
  auto l = materialize(*block_);
  if (!l.is_ok()) return Stream(error_block(pipeline, l.status()));
  auto r = materialize(*other.block_);
  if (!r.is_ok()) return Stream(error_block(pipeline, r.status()));
  auto node = make_union_node(l.value().node, r.value().node);
  if (!node.is_ok()) return Stream(error_block(pipeline, node.status().with_context("union_with")));
  return Stream(block_of(pipeline, plain_relation(node.value())));
}

namespace {

// The conjuncts of an AND tree of DSL expressions.
void and_conjuncts(const Expression& e, std::vector<Expression>& out) {
  if (e.node() && e.node()->kind == internal::ExpressionNode::Kind::kAnd) {
    for (const Expression& a : e.node()->args) and_conjuncts(a, out);
    return;
  }
  out.push_back(e);
}

// `rel`'s columns followed by `hidden` unnamed ones, referenced by position (the layout a
// join's residual condition is bound over: plan/shapes.h make_join_node).
void append_join_columns(Relation& into, const Relation& rel, size_t hidden) {
  for (const auto& c : rel.columns) {
    const int i = static_cast<int>(into.columns.size());
    into.columns.push_back({c.name, c.type, make_column_ref(i, c.type, c.name)});
  }
  for (size_t h = 0; h < hidden; ++h) {
    const int i = static_cast<int>(into.columns.size());
    into.columns.push_back({"", TypeId::kNull, make_column_ref(i, TypeId::kNull, "")});
  }
}

}  // namespace

namespace {

// The table side of join_versioned / join_lookup: a plain read of a source table with a
// primary key (and, versioned, event time); then the shared shape (plan/shapes.h).
Result<LogicalNodePtr> temporal_shape(const Relation& l, const Relation& r, LogicalNodePtr joined,
                                      TemporalJoinShape shape) {
  const char* fn = shape.versioned ? "versioned" : "lookup";
  if (r.node->kind != LogicalNode::Kind::kSource || !r.node->table) {
    return invalid_argument("the table of a {} join must be a source table read as it is (p.source(...)), not a "
                            "query over it",
                            fn);
  }
  const TableDef& t = *r.node->table;
  if (table_primary_key(t).empty()) {
    return invalid_argument("{} table {} has no primary key: set the primary_key option ('id')", fn, t.name);
  }
  if (shape.versioned && r.node->rowtime < 0) {
    return invalid_argument("versioned table {} has no time attribute: set its event_time option", t.name);
  }
  if (shape.versioned && l.node->rowtime < 0) {
    return invalid_argument("the stream joined to versioned table {} has no event time: set event_time on its source",
                            t.name);
  }
  shape.table = r.node->table;
  shape.table_node = r.node;
  return make_temporal_join_node(joined, l.node->rowtime, shape);
}

}  // namespace

namespace {

// The join node of `lr` and `rr` ON `on` (Compiler::join_relations' key finding).
Result<LogicalNodePtr> join_node(const Relation& lr, const Relation& rr, const Expression& on, JoinKind kind) {
  // Compiler::join_relations: an equality whose sides bind over one stream each is a key.
  std::vector<Expression> conds;
  and_conjuncts(on, conds);
  std::vector<JoinKeyPair> keys;
  std::vector<Expression> residual;
  for (const Expression& c : conds) {
    const internal::ExpressionNode* n = c.node().get();
    if (n && n->kind == internal::ExpressionNode::Kind::kCall && n->is_operator && n->name == "=" && n->args.size() == 2) {
      auto over = [&](const Expression& e, const Relation& rel) -> std::optional<ExprPtr> {
        RelationScope scope(rel);
        auto bound = internal::bind(e, scope);
        if (!bound.is_ok() || internal::columns_used(bound.value()).empty()) return std::nullopt;
        return bound.value();
      };
      // Each side must bind over exactly one stream (over both: an ambiguous name, which
      // the combined scope of the residual reports).
      std::optional<ExprPtr> l0 = over(n->args[0], lr), r0 = over(n->args[0], rr);
      std::optional<ExprPtr> l1 = over(n->args[1], lr), r1 = over(n->args[1], rr);
      std::optional<ExprPtr> a, b;
      if (l0 && !r0 && r1 && !l1) {
        a = l0;
        b = r1;
      } else if (r0 && !l0 && l1 && !r1) {
        a = l1;
        b = r0;
      }
      if (a && b) {
        keys.push_back({*a, *b, false});
        continue;
      }
    }
    residual.push_back(c);
  }
  auto condition = [&](size_t left_extra, size_t right_extra) -> Result<ExprPtr> {
    Relation both;
    append_join_columns(both, lr, left_extra);
    append_join_columns(both, rr, right_extra);
    RelationScope scope(both);
    std::vector<ExprPtr> parts;
    for (const Expression& c : residual) {
      ASSIGN_OR_RETURN(ExprPtr e, internal::bind(c, scope));
      RETURN_IF_ERROR(check_condition(e, "the join condition"));
      parts.push_back(e);
    }
    return conjunction(parts);
  };
  static constexpr JoinType kTypes[] = {JoinType::kInner, JoinType::kLeft, JoinType::kRight, JoinType::kFull};
  return make_join_node(kTypes[static_cast<int>(kind)], lr.node, rr.node, keys, condition);
}

}  // namespace

Stream Stream::join(const Stream& right, const Expression& on, JoinKind kind) const {
  return join_with(right, on, kind, "join", nullptr);
}

Stream Stream::join_versioned(const Stream& table, const Expression& on, JoinKind kind) const {
  return join_with(table, on, kind, "join_versioned", [](const Relation& l, const Relation& r, LogicalNodePtr joined) -> Result<LogicalNodePtr> {
    TemporalJoinShape shape;
    shape.versioned = true;
    return temporal_shape(l, r, std::move(joined), shape);
  });
}

Stream Stream::join_lookup(const Stream& table, const Expression& on, JoinKind kind, Duration refresh) const {
  return join_with(table, on, kind, "join_lookup", [refresh](const Relation& l, const Relation& r, LogicalNodePtr joined) -> Result<LogicalNodePtr> {
    if (refresh.count() < 0) return invalid_argument("refresh must not be negative");
    TemporalJoinShape shape;
    shape.versioned = false;
    shape.lookup.refresh = refresh.count();
    return temporal_shape(l, r, std::move(joined), shape);
  });
}

Stream Stream::join_with(const Stream& right, const Expression& on, JoinKind kind, const char* what,
                         const JoinFinisher& finish) const {
  const auto& pipeline = block_->pipeline;
  if (!block_->error.is_ok()) return *this;
  if (!right.block_->error.is_ok()) return right;
  const std::string step = fmt::format("{}(ON {})", what, on.to_string());
  auto fail = [&](const Status& s) { return Stream(error_block(pipeline, s.with_context(step))); };
  if (right.block_->pipeline != pipeline) return fail(invalid_argument("the streams belong to different Pipelines"));
  auto l = materialize(*block_);
  if (!l.is_ok()) return fail(l.status());
  auto r = materialize(*right.block_);
  if (!r.is_ok()) return fail(r.status());
  auto node = join_node(l.value(), r.value(), on, kind);
  if (!node.is_ok()) return fail(node.status());
  if (finish) {
    node = finish(l.value(), r.value(), node.value());
    if (!node.is_ok()) return fail(node.status());
  }
  return Stream(block_of(pipeline, plain_relation(node.value())));
}

namespace {

// Compiler::bind_table_function, applied to the FROM relation of `b`. WHERE conditions
// stay in the block: window assignment only appends columns, so their indices still hold
// (FROM TUMBLE(t, ...) WHERE cond).
std::shared_ptr<const Block> window_block(const std::shared_ptr<const Block>& block, std::string_view time_column,
                                          WindowSpec w, const std::string& step) {
  const auto& pipeline = block->pipeline;
  if (!block->error.is_ok()) return block;
  std::shared_ptr<const Block> base = block;
  if (block->has_select || block->from.aggregated || block->from.tvf) {
    auto r = materialize(*block);
    if (!r.is_ok()) return error_block(pipeline, r.status());
    base = block_of(pipeline, std::move(r).value());
  }
  const Relation& in = base->from;
  int time_col = -1;
  for (size_t i = 0; i < in.columns.size(); ++i) {
    if (iequals(in.columns[i].name, time_column)) time_col = static_cast<int>(i);
  }
  if (time_col < 0) {
    return error_block(pipeline, not_found("{}: unknown column '{}' (columns: {})", step, time_column,
                                           column_list(in.columns)));
  }
  const RelationColumn& tc = in.columns[static_cast<size_t>(time_col)];
  if (tc.type != TypeId::kTimestamp) {
    return error_block(pipeline, type_error("{}: time column '{}' must be TIMESTAMP, not {}", step, tc.name,
                                            type_name(tc.type)));
  }
  if (in.node->rowtime >= 0 && in.node->rowtime != time_col) {
    return error_block(pipeline, invalid_argument("{}: the event-time column of this stream is '{}', not '{}'", step,
                                                  in.columns[static_cast<size_t>(in.node->rowtime)].name, tc.name));
  }
  if (Status valid = w.validate(); !valid.is_ok()) return error_block(pipeline, valid.with_context(step));
  auto node = std::make_shared<LogicalNode>();
  node->kind = LogicalNode::Kind::kWindowAssign;
  node->inputs = {in.node};
  node->window = w;
  node->time_column = time_col;
  node->rowtime = in.node->rowtime;
  std::vector<Field> fields = in.node->schema->fields();
  fields.push_back({"window_start", TypeId::kTimestamp, false});
  fields.push_back({"window_end", TypeId::kTimestamp, false});
  node->schema = make_schema(fields);
  auto next = std::make_shared<Block>(*base);
  Relation& r = next->from;
  r.node = node;
  const int ws = static_cast<int>(in.columns.size());
  r.columns.push_back({"window_start", TypeId::kTimestamp, make_column_ref(ws, TypeId::kTimestamp, "window_start")});
  r.columns.push_back({"window_end", TypeId::kTimestamp, make_column_ref(ws + 1, TypeId::kTimestamp, "window_end")});
  Relation::Window tvf;
  tvf.input = in.node;
  tvf.window = w;
  tvf.time_column = time_col;
  tvf.window_start = ws;
  tvf.window_end = ws + 1;
  r.tvf = tvf;
  return next;
}

std::shared_ptr<const Block> aggregate_block(const KeyedBlock& keyed, const std::vector<AggregateCall>& calls) {
  const Block& b = *keyed.block;
  const auto& pipeline = b.pipeline;
  if (!b.error.is_ok()) return keyed.block;
  std::string aggs;
  for (const auto& c : calls) aggs += (aggs.empty() ? "" : ", ") + c.to_string();
  const std::string step = keyed.keys.empty()
                               ? fmt::format("aggregate({})", aggs)
                               : fmt::format("key_by({}).aggregate({})", expression_list(keyed.keys), aggs);
  if (calls.empty()) return error_block(pipeline, invalid_argument("{}: give at least one aggregate", step));
  auto r = bind_aggregation(b, keyed.keys, calls);
  if (!r.is_ok()) return error_block(pipeline, r.status().with_context(step));
  return block_of(pipeline, std::move(r).value());
}

std::shared_ptr<const Block> process_block(const KeyedBlock& keyed, std::unique_ptr<KeyedProcessFunction> fn) {
  const Block& b = *keyed.block;
  const auto& pipeline = b.pipeline;
  if (!b.error.is_ok()) return keyed.block;
  if (!fn) return error_block(pipeline, invalid_argument("process(): the function is null"));
  const std::string step = fmt::format("key_by({}).process({})", expression_list(keyed.keys), fn->name());
  auto in = materialize(b);
  if (!in.is_ok()) return error_block(pipeline, in.status().with_context(step));
  const Relation& rel = in.value();
  RelationScope scope(rel);
  std::vector<int> keys;
  for (const Expression& k : keyed.keys) {
    auto e = internal::bind(k, scope);
    if (!e.is_ok()) return error_block(pipeline, e.status().with_context(step));
    int ref = column_ref_index(*e.value());
    if (ref < 0) {
      return error_block(pipeline, invalid_argument("{}: key {} is not a column; process() keys must be columns "
                                                    "(select the expression as a column first)",
                                                    step, k.to_string()));
    }
    keys.push_back(ref);
  }
  auto columns = fn->output_columns(*rel.node->schema);
  if (!columns.is_ok()) return error_block(pipeline, columns.status().with_context(step));
  Status s = check_columns(columns.value(), step);
  if (!s.is_ok()) return error_block(pipeline, s);
  auto node = std::make_shared<LogicalNode>();
  node->kind = LogicalNode::Kind::kProcess;
  node->inputs = {rel.node};
  node->key_columns = keys;
  node->schema = make_schema(columns.value());
  node->process_function = std::shared_ptr<const KeyedProcessFunction>(std::move(fn));
  return block_of(pipeline, plain_relation(node));
}

}  // namespace

Stream Stream::tumble(std::string_view time_column, Duration size, Duration offset) const {
  WindowSpec w;
  w.kind = WindowSpec::Kind::kTumble;
  w.size = size.count();
  w.slide = w.size;
  w.offset = offset.count();
  return Stream(window_block(block_, time_column, w,
                             fmt::format("tumble({}, {}{})", time_column, duration_text(size),
                                         offset.count() ? ", " + duration_text(offset) : std::string())));
}

Stream Stream::hop(std::string_view time_column, Duration slide, Duration size, Duration offset) const {
  WindowSpec w;
  w.kind = WindowSpec::Kind::kHop;
  w.slide = slide.count();
  w.size = size.count();
  w.offset = offset.count();
  return Stream(window_block(block_, time_column, w,
                             fmt::format("hop({}, {}, {}{})", time_column, duration_text(slide), duration_text(size),
                                         offset.count() ? ", " + duration_text(offset) : std::string())));
}

Stream Stream::session(std::string_view time_column, Duration gap) const {
  WindowSpec w;
  w.kind = WindowSpec::Kind::kSession;
  w.size = gap.count();
  w.slide = w.size;
  return Stream(window_block(block_, time_column, w, fmt::format("session({}, {})", time_column, duration_text(gap))));
}

namespace {

// A SQL string literal ('...'), or with `quote` '"' a quoted identifier (names keep their
// case and may hold any character).
std::string quoted(std::string_view s, char quote = '\'') {
  std::string out(1, quote);
  for (char c : s) {
    out.push_back(c);
    if (c == quote) out.push_back(quote);
  }
  return out + quote;
}
std::string quoted_identifier(std::string_view s) { return quoted(s, '"'); }

std::string interval_text(Duration d) { return fmt::format("INTERVAL '{} microseconds'", d.count()); }

// A step the SQL binder binds over a stream's relation (score, match_recognize): `bind`
// makes its node over the materialized input; errors name `step`.
std::shared_ptr<const Block> bound_by_sql(const std::shared_ptr<const Block>& block, const std::string& step,
                                          const std::function<Result<LogicalNodePtr>(const LogicalNodePtr&)>& bind) {
  const auto& pipeline = block->pipeline;
  if (!block->error.is_ok()) return block;
  auto in = materialize(*block);
  if (!in.is_ok()) return error_block(pipeline, in.status().with_context(step));
  auto bound = bind(in.value().node);
  if (!bound.is_ok()) return error_block(pipeline, bound.status().with_context(step));
  return block_of(pipeline, plain_relation(bound.value()));
}

}  // namespace

// SQL's score(): the call becomes a select list `*, score(...) AS response, ...` bound by
// sql::bind_select_list_sql over this stream's relation.
Stream Stream::score(const Score& call) const {
  std::string args = "url => " + quoted(call.url);
  if (!call.body.empty()) args += ", body => " + call.body;
  if (call.timeout.count() != 0) args += ", timeout => " + interval_text(call.timeout);
  if (!call.fallback.empty()) args += ", fallback => " + quoted(call.fallback);
  if (call.max_in_flight != 0) args += fmt::format(", max_in_flight => {}", call.max_in_flight);
  if (call.batch_size != 0) args += fmt::format(", batch_size => {}", call.batch_size);
  if (call.unordered) args += ", ordered => FALSE";
  if (call.max_attempts != 0) args += fmt::format(", max_attempts => {}", call.max_attempts);
  if (call.backoff.count() != 0) args += ", backoff => " + interval_text(call.backoff);
  if (call.breaker_failures != 0) args += fmt::format(", breaker_failures => {}", call.breaker_failures);
  if (call.breaker_cooldown.count() != 0) args += ", breaker_cooldown => " + interval_text(call.breaker_cooldown);
  if (!call.dlq.empty()) args += ", dlq => " + quoted(call.dlq);
  std::string list = "*, score(" + args + ") AS " + quoted_identifier(call.as);
  if (!call.ingest_time_as.empty()) list += ", ingest_time() AS " + quoted_identifier(call.ingest_time_as);
  if (!call.decision_time_as.empty()) list += ", decision_time() AS " + quoted_identifier(call.decision_time_as);
  return Stream(bound_by_sql(block_, fmt::format("score({})", quoted(call.url)),
                             [&](const LogicalNodePtr& input) { return bind_select_list_sql(list, input); }));
}

// The SQL binder's match_recognize: the specification becomes its named arguments and is
// bound by sql::bind_match_recognize_sql over this stream's relation.
Stream Stream::match_recognize(const MatchRecognize& spec) const {
  const std::string step = fmt::format("match_recognize({})", quoted(spec.pattern));
  std::string args = "pattern => " + quoted(spec.pattern);
  if (!spec.partition_by.empty()) {
    std::string keys;
    for (const auto& k : spec.partition_by) keys += (keys.empty() ? "" : ", ") + k;
    args += ", partition_by => " + quoted(keys);
  }
  for (const auto& [variable, condition] : spec.define) {
    bool identifier = !variable.empty() && !std::isdigit(static_cast<unsigned char>(variable[0]));
    for (char c : variable) identifier = identifier && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
    if (!identifier) {
      return Stream(bound_by_sql(block_, step, [&](const LogicalNodePtr&) -> Result<LogicalNodePtr> {
        return invalid_argument("'{}' is not a pattern variable name", variable);
      }));
    }
    args += fmt::format(",\n  define_{} => {}", variable, condition);
  }
  if (!spec.measures.empty()) args += ",\n  measures => " + quoted(spec.measures);
  if (spec.within.count() != 0) args += fmt::format(", within => INTERVAL '{} microseconds'", spec.within.count());
  if (!spec.after_match.empty()) args += ", after_match => " + quoted(spec.after_match);
  if (!spec.contiguity.empty()) args += ", contiguity => " + quoted(spec.contiguity);
  if (spec.max_partial_matches != 0) args += fmt::format(", max_partial_matches => {}", spec.max_partial_matches);
  return Stream(bound_by_sql(block_, step,
                             [&](const LogicalNodePtr& input) { return bind_match_recognize_sql(args, input); }));
}

Stream Stream::over(const OverWindow& window, std::vector<AggregateCall> calls) const {
  const auto& pipeline = block_->pipeline;
  if (!block_->error.is_ok()) return *this;
  OverFrame frame;
  frame.unit = window.unit() == OverWindow::Unit::kRows ? OverFrame::Unit::kRows : OverFrame::Unit::kRange;
  frame.unbounded = window.unbounded();
  frame.range = window.preceding_time().count();
  frame.rows = window.preceding_rows();
  std::string aggs;
  for (const AggregateCall& c : calls) aggs += (aggs.empty() ? "" : ", ") + c.to_string();
  std::string keys;
  for (const Expression& k : window.keys()) keys += (keys.empty() ? "" : ", ") + k.to_string();
  const std::string step =
      fmt::format("over({}{}{}{}, {})", keys.empty() ? "" : "PARTITION BY ", keys, keys.empty() ? "" : " ",
                  frame.describe(), aggs);
  auto fail = [&](Status s) { return Stream(error_block(pipeline, s.with_context(step))); };
  if (calls.empty()) return fail(invalid_argument("give at least one aggregate"));
  if (frame.range < 0) return fail(invalid_argument("the RANGE of an OVER window must not be negative"));
  if (frame.rows < 0 || frame.rows > kMaxOverRows) {
    return fail(invalid_argument("the ROWS of an OVER window must be between 0 and {}, got {}", kMaxOverRows,
                                 frame.rows));
  }
  auto in = materialize(*block_);
  if (!in.is_ok()) return fail(in.status());
  const Relation& rel = in.value();
  if (rel.node->rowtime < 0) {
    return fail(invalid_argument("OVER needs an event-time column to order by, and this stream has none (declare "
                                 "event_time on the source)"));
  }
  OverShape shape;
  shape.base = rel.node;
  shape.frame = frame;
  RelationScope scope(rel);
  for (const Expression& k : window.keys()) {
    auto bound = internal::bind(k, scope);
    if (!bound.is_ok()) return fail(bound.status().with_context("PARTITION BY " + k.to_string()));
    shape.partition_keys.push_back(bound.value());
  }
  std::set<std::string> names;
  for (const auto& c : rel.columns) names.insert(lower(c.name));
  for (const AggregateCall& call : calls) {
    auto bound = bind_call(call, scope);
    if (!bound.is_ok()) return fail(bound.status());
    const std::string name = call.alias().empty() ? call.sql_name() : call.alias();
    if (!names.insert(lower(name)).second) {
      return fail(invalid_argument("{}: column '{}' exists already; name the aggregate with as()", call.to_string(),
                                   name));
    }
    shape.aggregates.push_back(bound.value().spec);
    shape.arguments.push_back(bound.value().argument);
    shape.filters.push_back(nullptr);
    shape.names.push_back(name);
  }
  auto over = make_over_node(std::move(shape));
  if (!over.is_ok()) return fail(over.status());
  // The stream's columns, then the aggregates (the Over node's hidden columns dropped).
  const LogicalNodePtr& node = over.value().node;
  auto calc = std::make_shared<LogicalNode>();
  calc->kind = LogicalNode::Kind::kCalc;
  calc->inputs = {node};
  std::vector<Field> fields;
  for (size_t i = 0; i < rel.columns.size(); ++i) {
    const RelationColumn& c = rel.columns[i];
    if (column_ref_index(*c.ref) == node->rowtime) calc->rowtime = static_cast<int>(fields.size());
    calc->projections.push_back(c.ref);
    fields.push_back({c.name, c.type, true});
  }
  for (size_t i = 0; i < calls.size(); ++i) {
    const Field& f = node->schema->field(over.value().first_aggregate + i);
    calc->projections.push_back(make_column_ref(static_cast<int>(over.value().first_aggregate + i), f.type, f.name));
    fields.push_back({f.name, f.type, true});
  }
  calc->schema = make_schema(fields);
  return Stream(block_of(pipeline, plain_relation(calc)));
}

KeyedStream Stream::key_by(std::vector<Expression> keys) const {
  auto keyed = std::make_shared<KeyedBlock>();
  keyed->keys = std::move(keys);
  keyed->block = block_;
  const auto& pipeline = block_->pipeline;
  if (block_->error.is_ok() && keyed->keys.empty()) {
    keyed->block = error_block(pipeline, invalid_argument("key_by(): give at least one key column"));
  } else if (block_->error.is_ok() && (block_->has_select || block_->from.aggregated)) {
    auto r = materialize(*block_);
    keyed->block = r.is_ok() ? block_of(pipeline, std::move(r).value()) : error_block(pipeline, r.status());
  }
  return KeyedStream(keyed);
}

Stream Stream::aggregate(std::vector<AggregateCall> aggregates) const {
  KeyedBlock keyed;
  keyed.block = block_;
  if (block_->error.is_ok() && (block_->has_select || block_->from.aggregated)) {
    auto r = materialize(*block_);
    keyed.block = r.is_ok() ? block_of(block_->pipeline, std::move(r).value()) : error_block(block_->pipeline, r.status());
  }
  return Stream(aggregate_block(keyed, aggregates));
}

void Stream::to(const Table& sink) const {
  PipelineState& state = *block_->pipeline;
  if (!block_->error.is_ok()) return;
  const std::string step = fmt::format("to({})", sink.name());
  if (sink.state_ != block_->pipeline) {
    state.record(invalid_argument("{}: the sink belongs to another Pipeline", step));
    return;
  }
  auto q = materialize(*block_);
  if (!q.is_ok()) {
    state.record(q.status().with_context(step));
    return;
  }
  // Compiler::add_pipeline.
  auto it = state.job.tables.find(lower(sink.name()));
  if (it == state.job.tables.end()) {
    state.record(not_found("{}: unknown table '{}'", step, sink.name()));
    return;
  }
  auto table = it->second;
  sluice::Pipeline p;
  p.sink_table = table->name;
  p.sink = table;
  const LogicalNodePtr& node = q.value().node;
  const Schema& qs = *node->schema;
  if (!table->schema) {
    std::vector<Field> fields;
    std::set<std::string> seen;
    for (size_t i = 0; i < qs.size(); ++i) {
      Field f = qs.field(i);
      f.nullable = true;
      if (!seen.insert(lower(f.name)).second) {
        state.record(invalid_argument("{}: the stream has two columns named '{}': rename one (as(...)) so table {}'s "
                                      "columns can be inferred",
                                      step, f.name, table->name));
        return;
      }
      fields.push_back(f);
    }
    p.sink_schema = make_schema(fields);
    auto updated = std::make_shared<TableDef>(*table);
    updated->schema = p.sink_schema;
    state.job.tables[lower(sink.name())] = updated;
    p.sink = updated;
    p.query = node;
    state.job.pipelines.push_back(std::move(p));
    return;
  }
  const Schema& ss = *table->schema;
  if (qs.size() != ss.size()) {
    state.record(invalid_argument("{}: table {} has {} columns {} but the stream produces {} {}", step, table->name,
                                  ss.size(), ss.to_string(), qs.size(), qs.to_string()));
    return;
  }
  std::vector<ExprPtr> casts;
  bool identity = true;
  for (size_t i = 0; i < ss.size(); ++i) {
    TypeId want = ss.field(i).type;
    TypeId have = qs.field(i).type;
    ExprPtr e = make_column_ref(static_cast<int>(i), have, qs.field(i).name);
    if (have != want) {
      bool assignable = have == TypeId::kNull || implicitly_castable(have, want) || (is_numeric(have) && is_numeric(want)) ||
                        want == TypeId::kString;
      if (!assignable) {
        state.record(type_error("{}: column {} '{}' of table {} is {} but the stream gives {} ('{}'); add a cast()", step,
                                i + 1, ss.field(i).name, table->name, type_name(want), type_name(have),
                                qs.field(i).name));
        return;
      }
      auto c = make_cast(e, want);
      if (!c.is_ok()) {
        state.record(c.status().with_context(step));
        return;
      }
      e = c.value();
      identity = false;
    }
    casts.push_back(e);
  }
  p.sink_schema = table->schema;
  p.query = identity ? node : compose_calc(node, casts, table->schema);
  state.job.pipelines.push_back(std::move(p));
}

// ---------------------------------------------------------------------------- KeyedStream

Stream KeyedStream::aggregate(std::vector<AggregateCall> aggregates) const {
  return Stream(aggregate_block(*keyed_, aggregates));
}

Stream KeyedStream::process(std::unique_ptr<KeyedProcessFunction> function) const {
  return Stream(process_block(*keyed_, std::move(function)));
}

Status KeyedStream::status() const { return keyed_->block->error; }

// ---------------------------------------------------------------------------- Pipeline

Pipeline::Pipeline() : state_(std::make_shared<PipelineState>()) {}
Pipeline::~Pipeline() = default;
Pipeline::Pipeline(Pipeline&&) noexcept = default;
Pipeline& Pipeline::operator=(Pipeline&&) noexcept = default;

namespace {

// Compiler::create_table + add_table: a TableDef from C++ arguments.
Result<std::shared_ptr<TableDef>> make_table(PipelineState& state, const std::string& name, const TableOptions& options,
                                             const std::vector<Field>& columns) {
  if (name.empty()) return invalid_argument("a table needs a name");
  std::string key = lower(name);
  if (state.job.tables.count(key)) return invalid_argument("table '{}' already exists", name);
  auto t = std::make_shared<TableDef>();
  t->name = name;
  for (const auto& [k, v] : options) {
    std::string lk = lower(k);
    if (t->options.count(lk)) return invalid_argument("table {}: option '{}' given twice", name, lk);
    t->options[lk] = v;
  }
  if (!t->options.count("connector")) {
    return invalid_argument("table {}: missing option 'connector' (available: {})", name, connector_names());
  }
  std::set<std::string> seen;
  for (const Field& f : columns) {
    if (f.name.empty()) return invalid_argument("table {}: a column has no name", name);
    if (f.type == TypeId::kNull) return invalid_argument("table {}: column '{}' has no type", name, f.name);
    if (!seen.insert(lower(f.name)).second) return invalid_argument("table {}: column '{}' declared twice", name, f.name);
  }
  if (!columns.empty()) t->schema = make_schema(columns);
  return t;
}

}  // namespace

Stream Pipeline::source(std::string name, std::vector<Field> columns, TableOptions options) {
  auto t = make_table(*state_, name, options, columns);
  if (!t.is_ok()) return Stream(error_block(state_, t.status().with_context(fmt::format("source({})", name))));
  std::shared_ptr<TableDef> table = std::move(t).value();
  if (!table->schema) {
    return Stream(error_block(state_, invalid_argument("source({}): a source needs at least one column", name)));
  }
  // Compiler::bind_table_name.
  auto node = std::make_shared<LogicalNode>();
  node->kind = LogicalNode::Kind::kSource;
  node->table = table;
  node->schema = table->schema;
  auto et = table->options.find("event_time");
  if (et != table->options.end()) {
    node->rowtime = table->schema->find(et->second);
    if (node->rowtime < 0) {
      return Stream(error_block(
          state_, invalid_argument("table {}: event_time column '{}' is not a column of the table", name, et->second)));
    }
  }
  state_->job.tables[lower(name)] = table;
  return Stream(block_of(state_, plain_relation(node)));
}

Table Pipeline::sink(std::string name, TableOptions options, std::vector<Field> columns) {
  auto t = make_table(*state_, name, options, columns);
  if (!t.is_ok()) {
    state_->record(t.status().with_context(fmt::format("sink({})", name)));
  } else {
    state_->job.tables[lower(name)] = std::move(t).value();
  }
  return Table(state_, std::move(name));
}

Pipeline& Pipeline::set_parallelism(int parallelism) {
  if (parallelism < 1 || parallelism > 256) {
    state_->record(invalid_argument("set_parallelism: expected 1..256, got {}", parallelism));
    return *this;
  }
  state_->job.settings.parallelism = parallelism;
  state_->job.settings.values["parallelism"] = std::to_string(parallelism);
  return *this;
}

Pipeline& Pipeline::set_batch_size(size_t rows) {
  if (rows < 1 || rows > (1u << 20)) {
    state_->record(invalid_argument("set_batch_size: expected 1..1048576, got {}", rows));
    return *this;
  }
  state_->job.settings.batch_size = rows;
  state_->job.settings.values["batch_size"] = std::to_string(rows);
  return *this;
}

Pipeline& Pipeline::set(const std::string& name, const std::string& value) {
  Status s = apply_setting(state_->job.settings, lower(name), value);
  if (!s.is_ok()) state_->record(s);
  return *this;
}

Pipeline& Pipeline::set_allowed_lateness(Duration lateness) {
  if (lateness.count() < 0) {
    state_->record(invalid_argument("set_allowed_lateness: must not be negative, got {}", duration_text(lateness)));
    return *this;
  }
  state_->job.settings.allowed_lateness = lateness.count();
  state_->job.settings.values["allowed_lateness"] = duration_text(lateness);
  return *this;
}

Result<LogicalJob> Pipeline::build() const {
  RETURN_IF_ERROR(state_->first_error);
  if (state_->job.pipelines.empty()) {
    return invalid_argument("the pipeline writes nowhere: call Stream::to(sink) at least once");
  }
  return state_->job;
}

namespace {

engine::JobOverrides overrides_of(const RunOptions& options) {
  engine::JobOverrides o;
  o.parallelism = options.parallelism;
  o.batch_size = options.batch_size;
  o.checkpoint_dir = options.checkpoint_dir;
  o.from_savepoint = options.from_savepoint;
  o.allow_changed_sources = options.allow_changed_sources;
  o.allow_non_restored_state = options.allow_non_restored_state;
  o.start_over = options.start_over;
  return o;
}

Result<RunSummary> run_prepared(engine::PreparedJob prepared) {
  RunSummary summary;
  summary.explain = prepared.explain();
  engine::JobHandle handle(std::move(prepared));
  RETURN_IF_ERROR(handle.run());
  engine::JobStatus st = handle.status();
  summary.records_in = st.records_in;
  summary.dead_lettered = st.dead_lettered;
  summary.late = st.late;
  summary.checkpoints_completed = st.checkpoints_completed;
  summary.restored_checkpoint = st.restored_checkpoint;
  return summary;
}

}  // namespace

Result<std::string> Pipeline::explain(const RunOptions& options) const {
  ASSIGN_OR_RETURN(LogicalJob job, build());
  ASSIGN_OR_RETURN(engine::PreparedJob prepared, engine::prepare_job(job, overrides_of(options)));
  return prepared.explain();
}

Result<RunSummary> Pipeline::run(const RunOptions& options) const {
  ASSIGN_OR_RETURN(LogicalJob job, build());
  return run_job(job, options);
}

Result<RunSummary> run_job(const LogicalJob& job, const RunOptions& options) {
  ASSIGN_OR_RETURN(engine::PreparedJob prepared, engine::prepare_job(job, overrides_of(options)));
  return run_prepared(std::move(prepared));
}

Result<RunSummary> run_sql(const std::string& sql, const RunOptions& options, const std::string& file_name) {
  ASSIGN_OR_RETURN(engine::PreparedJob prepared, engine::prepare_sql(sql, file_name, overrides_of(options)));
  return run_prepared(std::move(prepared));
}

// ---------------------------------------------------------------------------- AggregateCall

std::string AggregateCall::sql_name() const {
  switch (function_) {
    case Function::kCountStar:
    case Function::kCount:
    case Function::kCountDistinct: return "count";
    case Function::kSum: return "sum";
    case Function::kMin: return "min";
    case Function::kMax: return "max";
    case Function::kAvg: return "avg";
  }
  return "?";
}

std::string AggregateCall::to_string() const {
  std::string out;
  if (function_ == Function::kCountStar) {
    out = "count(*)";
  } else {
    out = fmt::format("{}({}{})", sql_name(), function_ == Function::kCountDistinct ? "DISTINCT " : "",
                      argument_ ? argument_->to_string() : "");
  }
  if (!alias_.empty()) out += " AS " + alias_;
  return out;
}

}  // namespace sluice::api
