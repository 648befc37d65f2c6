#include "plan/over_shape.h"

#include <fmt/format.h>

namespace sluice {

Result<OverNode> make_over_node(OverShape shape) {
  const LogicalNodePtr& base = shape.base;
  if (base->rowtime < 0) {
    return invalid_argument("OVER needs an input with an event-time attribute (a table with event_time) to order by");
  }
  if (shape.aggregates.size() > kMaxOverAggregates) {
    return invalid_argument("at most {} aggregates over one OVER window, got {}", kMaxOverAggregates,
                            shape.aggregates.size());
  }
  const Schema& in = *base->schema;
  std::vector<ExprPtr> extra;
  std::vector<Field> fields = in.fields();
  // A plain column of base is used as it is; anything else becomes a hidden column.
  auto place = [&](const ExprPtr& e, const std::string& name) {
    const int ref = column_ref_index(*e);
    if (ref >= 0) return ref;
    extra.push_back(e);
    fields.push_back({fmt::format("__over_{}{}", name, extra.size()), e->type(), true});
    return static_cast<int>(fields.size()) - 1;
  };
  auto node = std::make_shared<LogicalNode>();
  node->kind = LogicalNode::Kind::kOver;
  node->over_frame = shape.frame;
  node->time_column = base->rowtime;
  for (const ExprPtr& k : shape.partition_keys) node->partition_columns.push_back(place(k, "key"));
  for (size_t i = 0; i < shape.aggregates.size(); ++i) {
    AggregateSpec spec = shape.aggregates[i];
    spec.input = shape.arguments[i] ? place(shape.arguments[i], "arg") : -1;
    spec.filter = shape.filters[i] ? place(shape.filters[i], "filter") : -1;
    spec.time_input = -1;
    std::string why;
    if (!over_aggregate_supported(spec, &why)) return invalid_argument("{}", why);
    node->aggregates.push_back(spec);
  }
  LogicalNodePtr input = base;
  if (!extra.empty()) {
    auto calc = std::make_shared<LogicalNode>();
    calc->kind = LogicalNode::Kind::kCalc;
    calc->inputs = {base};
    calc->rowtime = base->rowtime;
    for (size_t i = 0; i < in.size(); ++i) {
      calc->projections.push_back(make_column_ref(static_cast<int>(i), in.field(i).type, in.field(i).name));
    }
    for (const ExprPtr& e : extra) calc->projections.push_back(e);
    calc->schema = make_schema(fields);
    input = calc;
  }
  OverNode out;
  out.first_aggregate = fields.size();
  for (size_t i = 0; i < node->aggregates.size(); ++i) {
    fields.push_back({shape.names[i], node->aggregates[i].result_type, true});
  }
  node->inputs = {input};
  node->schema = make_schema(fields);
  node->rowtime = base->rowtime;
  out.node = node;
  return out;
}

}  // namespace sluice
