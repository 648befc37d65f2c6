#include "plan/logical_plan.h"

namespace sluice {
namespace {

ExprPtr substitute(const ExprPtr& e, const std::vector<ExprPtr>& defs) {
  if (e->kind() == Expr::Kind::kColumn) return defs[static_cast<size_t>(column_ref_index(*e))];
  if (e->kind() == Expr::Kind::kCast) {
    auto inner = substitute(e->children()[0], defs);
    auto c = make_cast(inner, e->type());
    return c.is_ok() ? c.value() : e;
  }
  return e;
}

}  // namespace

LogicalNodePtr compose_calc(const LogicalNodePtr& input, const std::vector<ExprPtr>& exprs, SchemaPtr schema) {
  auto calc = std::make_shared<LogicalNode>();
  calc->kind = LogicalNode::Kind::kCalc;
  calc->schema = std::move(schema);
  if (input->kind == LogicalNode::Kind::kCalc && !input->projections.empty()) {
    calc->inputs = input->inputs;
    calc->filter = input->filter;
    for (const auto& e : exprs) calc->projections.push_back(substitute(e, input->projections));
  } else {
    calc->inputs = {input};
    calc->projections = exprs;
  }
  return calc;
}

}  // namespace sluice
