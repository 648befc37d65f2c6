#include "plan/shapes.h"

#include <algorithm>

#include <fmt/format.h>

namespace sluice {
namespace {

// `input` with `extra` appended as hidden columns "__join_key<i>" (its own node when any).
LogicalNodePtr with_key_columns(const LogicalNodePtr& input, const std::vector<ExprPtr>& extra) {
  if (extra.empty()) return input;
  const Schema& in = *input->schema;
  auto calc = std::make_shared<LogicalNode>();
  calc->kind = LogicalNode::Kind::kCalc;
  calc->inputs = {input};
  calc->rowtime = input->rowtime;
  std::vector<Field> fields = in.fields();
  for (size_t i = 0; i < in.size(); ++i) {
    calc->projections.push_back(make_column_ref(static_cast<int>(i), in.field(i).type, in.field(i).name));
  }
  for (size_t i = 0; i < extra.size(); ++i) {
    calc->projections.push_back(extra[i]);
    fields.push_back({fmt::format("__join_key{}", i), extra[i]->type(), true});
  }
  calc->schema = make_schema(fields);
  return calc;
}

}  // namespace

Result<LogicalNodePtr> make_join_node(JoinType type, const LogicalNodePtr& left, const LogicalNodePtr& right,
                                      const std::vector<JoinKeyPair>& keys, const JoinConditionBinder& condition) {
  const size_t lw = left->schema->size();
  const size_t rw = right->schema->size();
  std::vector<ExprPtr> extra[2];
  auto node = std::make_shared<LogicalNode>();
  node->kind = LogicalNode::Kind::kJoin;
  node->join_type = type;
  for (const JoinKeyPair& k : keys) {
    const TypeId lt = k.left->type();
    const TypeId rt = k.right->type();
    const TypeId t = lt == rt ? lt : common_type(lt, rt);
    if (t == TypeId::kNull) {
      return invalid_argument("join keys {} and {} cannot be compared ({} and {})", k.left->to_string(),
                              k.right->to_string(), type_name(lt), type_name(rt));
    }
    // A key column of the key's type is used as it is; anything else is computed.
    auto place = [&](const ExprPtr& e, size_t width, std::vector<ExprPtr>& extras) -> Result<int> {
      ExprPtr v = e;
      if (v->type() != t) {
        ASSIGN_OR_RETURN(v, make_cast(v, t));
      }
      const int ref = column_ref_index(*v);
      if (ref >= 0) return ref;
      extras.push_back(v);
      return static_cast<int>(width + extras.size() - 1);
    };
    ASSIGN_OR_RETURN(int l, place(k.left, lw, extra[0]));
    ASSIGN_OR_RETURN(int r, place(k.right, rw, extra[1]));
    node->left_keys.push_back(l);
    node->right_keys.push_back(r);
    node->null_safe.push_back(k.null_safe);
  }
  LogicalNodePtr l = with_key_columns(left, extra[0]);
  LogicalNodePtr r = with_key_columns(right, extra[1]);
  ASSIGN_OR_RETURN(node->join_condition, condition(extra[0].size(), extra[1].size()));
  node->inputs = {l, r};
  std::vector<Field> fields;
  for (const auto& f : l->schema->fields()) fields.push_back({f.name, f.type, true});
  for (const auto& f : r->schema->fields()) fields.push_back({f.name, f.type, true});
  node->schema = make_schema(fields);
  if (extra[0].empty() && extra[1].empty()) return LogicalNodePtr(node);
  // Drop the hidden key columns.
  auto calc = std::make_shared<LogicalNode>();
  calc->kind = LogicalNode::Kind::kCalc;
  calc->inputs = {node};
  std::vector<Field> visible;
  auto keep = [&](size_t from, size_t n) {
    for (size_t i = from; i < from + n; ++i) {
      calc->projections.push_back(make_column_ref(static_cast<int>(i), fields[i].type, fields[i].name));
      visible.push_back(fields[i]);
    }
  };
  keep(0, lw);
  keep(l->schema->size(), rw);
  calc->schema = make_schema(visible);
  return LogicalNodePtr(calc);
}

Result<LogicalNodePtr> make_union_node(const LogicalNodePtr& left, const LogicalNodePtr& right) {
  const Schema& a = *left->schema;
  const Schema& b = *right->schema;
  if (a.size() != b.size()) {
    return invalid_argument("inputs have {} and {} columns ({} and {})", a.size(), b.size(), a.to_string(),
                            b.to_string());
  }
  std::vector<Field> fields;
  std::vector<ExprPtr> la, rb;
  bool cast_l = false, cast_r = false;
  for (size_t i = 0; i < a.size(); ++i) {
    const TypeId t = a.field(i).type == b.field(i).type ? a.field(i).type : common_type(a.field(i).type, b.field(i).type);
    if (t == TypeId::kNull) {
      return type_error("column {} has types {} and {}", i + 1, type_name(a.field(i).type), type_name(b.field(i).type));
    }
    fields.push_back({a.field(i).name, t, true});
    auto side = [&](const Schema& s, std::vector<ExprPtr>& out, bool& cast) -> Status {
      ExprPtr e = make_column_ref(static_cast<int>(i), s.field(i).type, s.field(i).name);
      if (s.field(i).type != t) {
        ASSIGN_OR_RETURN(e, make_cast(e, t));
        cast = true;
      }
      out.push_back(e);
      return Status::ok();
    };
    RETURN_IF_ERROR(side(a, la, cast_l));
    RETURN_IF_ERROR(side(b, rb, cast_r));
  }
  SchemaPtr schema = make_schema(fields);
  auto node = std::make_shared<LogicalNode>();
  node->kind = LogicalNode::Kind::kUnion;
  node->schema = schema;
  node->inputs = {cast_l ? compose_calc(left, la, schema) : left, cast_r ? compose_calc(right, rb, schema) : right};
  node->rowtime = (left->rowtime == right->rowtime) ? left->rowtime : -1;
  return LogicalNodePtr(node);
}

std::vector<std::string> table_primary_key(const TableDef& table) {
  if (!table.primary_key.empty()) return table.primary_key;
  std::vector<std::string> out;
  auto it = table.options.find("primary_key");
  if (it == table.options.end()) return out;
  std::string part;
  for (char c : it->second + ",") {
    if (c != ',') {
      if (c != ' ') part += c;
      continue;
    }
    if (!part.empty()) out.push_back(part);
    part.clear();
  }
  return out;
}

Result<LogicalNodePtr> make_temporal_join_node(const LogicalNodePtr& joined, int stream_rowtime,
                                               const TemporalJoinShape& shape) {
  const char* fn = shape.versioned ? "versioned" : "lookup";
  const TableDef& t = *shape.table;
  LogicalNodePtr join = joined;
  while (join->kind == LogicalNode::Kind::kCalc) join = join->inputs[0];
  if (join->kind != LogicalNode::Kind::kJoin) return internal_error("{}(): no join node", fn);
  if (join->join_type != JoinType::kInner && join->join_type != JoinType::kLeft) {
    return invalid_argument("a join with {}() is INNER or LEFT, not {}", fn, join_type_name(join->join_type));
  }
  // The keys must reach the table's key: versions (and lookups) are kept by it.
  for (const std::string& pk : table_primary_key(t)) {
    const int col = t.schema->find(pk);
    if (col < 0) return invalid_argument("table {}: primary key column '{}' is not a column of the table", t.name, pk);
    if (std::find(join->right_keys.begin(), join->right_keys.end(), col) == join->right_keys.end()) {
      return invalid_argument("the ON clause of a join with {}({}) must equate its primary key column '{}' with the "
                              "stream, plainly and of the same type (e.g. ON s.{} = {}.{})",
                              fn, t.name, pk, pk, t.name, pk);
    }
  }
  join->kind = LogicalNode::Kind::kTemporalJoin;
  join->time_column = shape.versioned ? stream_rowtime : -1;
  join->rowtime = stream_rowtime;
  if (joined != join) joined->rowtime = stream_rowtime;  // the Calc keeps the stream's columns first
  if (!shape.versioned) {
    if (join->inputs[1] != shape.table_node) {
      return invalid_argument("the keys of a join with lookup({}) must be columns of the table, of the stream's key "
                              "types",
                              t.name);
    }
    join->lookup_table = shape.table;
    join->lookup = shape.lookup;
    join->inputs.resize(1);  // the table is read by the operator, not as a stream
  }
  return joined;
}

LogicalNodePtr make_aggregate_node(AggregateShape shape) {
  const LogicalNodePtr& base = shape.base;
  auto pre = std::make_shared<LogicalNode>();
  pre->kind = LogicalNode::Kind::kCalc;
  pre->inputs = {base};
  pre->filter = shape.filter;
  pre->projections = shape.inputs;
  std::vector<Field> pre_fields;
  for (size_t i = 0; i < shape.inputs.size(); ++i) {
    pre_fields.push_back({shape.input_names[i], shape.inputs[i]->type(), true});
  }
  int time_col = -1;
  if (shape.windowed) {
    const Field& tf = base->schema->field(static_cast<size_t>(shape.window_time_column));
    pre->projections.push_back(make_column_ref(shape.window_time_column, TypeId::kTimestamp, tf.name));
    pre_fields.push_back({tf.name, TypeId::kTimestamp, true});
    time_col = static_cast<int>(pre_fields.size()) - 1;
    if (base->rowtime == shape.window_time_column) pre->rowtime = time_col;
  }
  int order_col = time_col;
  bool needs_order = false;
  for (const auto& a : shape.aggregates) needs_order = needs_order || agg_kind_is_ordered(a.kind);
  if (needs_order && !shape.windowed && base->rowtime >= 0) {
    const Field& tf = base->schema->field(static_cast<size_t>(base->rowtime));
    pre->projections.push_back(make_column_ref(base->rowtime, tf.type, tf.name));
    pre_fields.push_back({tf.name, tf.type, true});
    order_col = static_cast<int>(pre_fields.size()) - 1;
  }
  for (auto& a : shape.aggregates) {
    if (agg_kind_is_ordered(a.kind)) a.time_input = order_col;
  }
  if (pre->projections.empty()) {
    // COUNT(*) with no keys: project a constant so batches keep their row count.
    pre->projections.push_back(make_literal(Value::boolean(true)));
    pre_fields.push_back({"_", TypeId::kBool, true});
  }
  pre->schema = make_schema(pre_fields);

  auto agg = std::make_shared<LogicalNode>();
  agg->kind = LogicalNode::Kind::kAggregate;
  agg->inputs = {pre};
  agg->windowed = shape.windowed;
  if (shape.windowed) {
    agg->window = shape.window;
    agg->time_column = time_col;
  }
  for (size_t k = 0; k < shape.num_keys; ++k) agg->key_columns.push_back(static_cast<int>(k));
  std::vector<Field> agg_fields;
  if (shape.windowed) {
    agg_fields.push_back({"window_start", TypeId::kTimestamp, false});
    agg_fields.push_back({"window_end", TypeId::kTimestamp, false});
  }
  for (size_t k = 0; k < shape.num_keys; ++k) agg_fields.push_back(pre_fields[k]);
  for (size_t a = 0; a < shape.aggregates.size(); ++a) {
    agg_fields.push_back({fmt::format("agg_{}", a), shape.aggregates[a].result_type, true});
  }
  agg->aggregates = std::move(shape.aggregates);
  agg->schema = make_schema(agg_fields);
  return agg;
}

}  // namespace sluice
