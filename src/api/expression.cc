// The expression DSL: building unresolved trees, rendering them, and binding them the way
// the SQL binder binds the same SQL (see expression_internal.h).
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "api/expression_internal.h"
#include "sql/compiler.h"

namespace sluice::api {

using internal::ExpressionNode;
using Kind = ExpressionNode::Kind;

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

Expression make_node(ExpressionNode n) { return Expression(std::make_shared<const ExpressionNode>(std::move(n))); }

Expression make_call_node(std::string name, std::vector<Expression> args, bool is_operator) {
  ExpressionNode n;
  n.kind = Kind::kCall;
  n.name = std::move(name);
  n.args = std::move(args);
  n.is_operator = is_operator;
  return make_node(std::move(n));
}

Expression make_logic_node(Kind kind, std::vector<Expression> args) {
  ExpressionNode n;
  n.kind = kind;
  n.args = std::move(args);
  return make_node(std::move(n));
}

std::string join(const std::vector<Expression>& args, size_t from = 0, size_t to = SIZE_MAX) {
  std::string out;
  for (size_t i = from; i < args.size() && i < to; ++i) {
    if (!out.empty()) out += ", ";
    out += args[i].to_string();
  }
  return out;
}

bool is_aggregate_name(const std::string& n) {
  return n == "count" || n == "sum" || n == "min" || n == "max" || n == "avg";
}

}  // namespace

Expression::Expression() : Expression(null_literal()) {}

Expression::Expression(std::shared_ptr<const internal::ExpressionNode> node, std::string alias)
    : node_(std::move(node)), alias_(std::move(alias)) {}

Expression Expression::as(std::string name) const { return Expression(node_, std::move(name)); }

std::string Expression::to_string() const {
  const ExpressionNode& n = *node_;
  std::string out;
  switch (n.kind) {
    case Kind::kColumn: out = n.name; break;
    case Kind::kLiteral: out = make_literal(n.value)->to_string(); break;
    case Kind::kCall:
      if (n.is_operator && n.args.size() == 2) {
        out = fmt::format("({} {} {})", n.args[0].to_string(), n.name, n.args[1].to_string());
      } else if (n.is_operator && n.name == "neg") {
        out = fmt::format("(-{})", n.args[0].to_string());
      } else {
        out = fmt::format("{}({})", n.name, join(n.args));
      }
      break;
    case Kind::kCast: out = fmt::format("CAST({} AS {})", n.args[0].to_string(), type_name(n.type)); break;
    case Kind::kAnd:
    case Kind::kOr:
      out = fmt::format("({} {} {})", n.args[0].to_string(), n.kind == Kind::kAnd ? "AND" : "OR", n.args[1].to_string());
      break;
    case Kind::kNot: out = fmt::format("(NOT {})", n.args[0].to_string()); break;
    case Kind::kIsNull: out = fmt::format("({} IS {}NULL)", n.args[0].to_string(), n.negated ? "NOT " : ""); break;
    case Kind::kCase: {
      out = "CASE";
      size_t pairs = (n.args.size() - (n.has_else ? 1 : 0)) / 2;
      for (size_t i = 0; i < pairs; ++i) {
        out += fmt::format(" WHEN {} THEN {}", n.args[2 * i].to_string(), n.args[2 * i + 1].to_string());
      }
      if (n.has_else) out += fmt::format(" ELSE {}", n.args.back().to_string());
      out += " END";
      break;
    }
    case Kind::kCoalesce: out = fmt::format("COALESCE({})", join(n.args)); break;
    case Kind::kInList:
      out = fmt::format("({} {}IN ({}))", n.args[0].to_string(), n.negated ? "NOT " : "", join(n.args, 1));
      break;
    case Kind::kSql: out = n.name; break;
  }
  if (!alias_.empty()) out += " AS " + alias_;
  return out;
}

Expression col(std::string name) {
  ExpressionNode n;
  n.kind = Kind::kColumn;
  n.name = std::move(name);
  return make_node(std::move(n));
}

Expression lit(Value value) {
  ExpressionNode n;
  n.kind = Kind::kLiteral;
  n.value = std::move(value);
  return make_node(std::move(n));
}
Expression lit(bool value) { return lit(Value::boolean(value)); }
Expression lit(double value) { return lit(Value::float64(value)); }
Expression lit(std::string_view value) { return lit(Value::string(std::string(value))); }
Expression lit(const char* value) { return lit(std::string_view(value)); }
Expression lit(Timestamp value) { return lit(Value::timestamp(value.micros)); }
Expression lit(Interval value) { return lit(Value::interval(value.micros)); }
Expression null_literal(TypeId type) { return lit(Value::null(type)); }

Expression call(std::string function, std::vector<Expression> args) {
  return make_call_node(std::move(function), std::move(args), false);
}

Expression cast(Expression e, TypeId type) {
  ExpressionNode n;
  n.kind = Kind::kCast;
  n.type = type;
  n.args = {std::move(e)};
  return make_node(std::move(n));
}

Expression is_null(Expression e) {
  ExpressionNode n;
  n.kind = Kind::kIsNull;
  n.args = {std::move(e)};
  return make_node(std::move(n));
}

Expression is_not_null(Expression e) {
  ExpressionNode n;
  n.kind = Kind::kIsNull;
  n.negated = true;
  n.args = {std::move(e)};
  return make_node(std::move(n));
}

Expression case_when(std::vector<std::pair<Expression, Expression>> whens, std::optional<Expression> otherwise) {
  ExpressionNode n;
  n.kind = Kind::kCase;
  for (auto& [c, r] : whens) {
    n.args.push_back(std::move(c));
    n.args.push_back(std::move(r));
  }
  n.has_else = otherwise.has_value();
  if (otherwise) n.args.push_back(std::move(*otherwise));
  return make_node(std::move(n));
}

Expression coalesce(std::vector<Expression> args) { return make_logic_node(Kind::kCoalesce, std::move(args)); }

Expression in_list(Expression e, std::vector<Expression> values) {
  ExpressionNode n;
  n.kind = Kind::kInList;
  n.args.push_back(std::move(e));
  for (auto& v : values) n.args.push_back(std::move(v));
  return make_node(std::move(n));
}

Expression sql_expr(std::string text) {
  ExpressionNode n;
  n.kind = Kind::kSql;
  n.name = std::move(text);
  return make_node(std::move(n));
}

Expression binary(std::string op, Expression left, Expression right) {
  return make_call_node(std::move(op), {std::move(left), std::move(right)}, true);
}
Expression logical_and(Expression left, Expression right) {
  return make_logic_node(Kind::kAnd, {std::move(left), std::move(right)});
}
Expression logical_or(Expression left, Expression right) {
  return make_logic_node(Kind::kOr, {std::move(left), std::move(right)});
}
Expression logical_not(Expression e) { return make_logic_node(Kind::kNot, {std::move(e)}); }
Expression negate(Expression e) { return make_call_node("neg", {std::move(e)}, true); }

namespace internal {
namespace {

struct SqlBinding {
  ExprPtr expr;
  std::string name;
};

// Binds SQL text as one expression over the scope's columns with the SQL binder itself
// (bind_scalar_sql); the bound expression's column i is the scope's column i.
Result<SqlBinding> bind_sql_text(const std::string& text, const Scope& scope) {
  ASSIGN_OR_RETURN(std::vector<Field> columns, scope.positional_columns());
  if (columns.empty()) return invalid_argument("sql_expr: no columns to refer to");
  auto bound = bind_scalar_sql(text, Schema(columns));
  if (!bound.is_ok()) {
    return Status(bound.status().code(), fmt::format("sql_expr(\"{}\"): {}", text, bound.status().message()));
  }
  return SqlBinding{bound.value().expr, bound.value().name};
}

Status check_boolean(const ExprPtr& e, const char* op) {
  if (e->type() != TypeId::kBool && e->type() != TypeId::kNull) {
    return type_error("argument of {} must be BOOLEAN, not {} ({})", op, type_name(e->type()), e->to_string());
  }
  return Status::ok();
}

}  // namespace

Result<ExprPtr> bind(const Expression& e, Scope& scope) {
  const ExpressionNode& n = *e.node();
  auto bind_all = [&](size_t from, size_t to) -> Result<std::vector<ExprPtr>> {
    std::vector<ExprPtr> out;
    for (size_t i = from; i < to; ++i) {
      ASSIGN_OR_RETURN(ExprPtr a, bind(n.args[i], scope));
      out.push_back(std::move(a));
    }
    return out;
  };
  switch (n.kind) {
    case Kind::kColumn: return scope.column(n.name);
    case Kind::kLiteral: return make_literal(n.value);
    case Kind::kCall: {
      std::string name = lower(n.name);
      if (!n.is_operator) {
        if (is_aggregate_name(name)) {
          return invalid_argument("aggregate function {}() is not allowed in an expression; use aggregate({}(...))", name,
                                  name);
        }
        if (name == "tumble" || name == "hop" || name == "session") {
          return invalid_argument("{}() is a window, not a function: use Stream::{}(time_column, ...)", name, name);
        }
        if (name == "extract") name = "date_part";
      }
      ASSIGN_OR_RETURN(std::vector<ExprPtr> args, bind_all(0, n.args.size()));
      return make_call(name, std::move(args));
    }
    case Kind::kCast: {
      ASSIGN_OR_RETURN(ExprPtr arg, bind(n.args[0], scope));
      ASSIGN_OR_RETURN(ExprPtr c, make_cast(arg, n.type));
      if (const Value* v = literal_value(*arg)) {
        auto folded = evaluate_constant(c);
        if (folded.is_ok() && folded.value().is_null && !v->is_null) {
          return invalid_argument("invalid {} literal '{}'", type_name(n.type), v->to_string());
        }
        if (folded.is_ok()) return make_literal(folded.value());
      }
      return c;
    }
    case Kind::kAnd:
    case Kind::kOr: {
      ASSIGN_OR_RETURN(std::vector<ExprPtr> args, bind_all(0, n.args.size()));
      for (const auto& a : args) RETURN_IF_ERROR(check_boolean(a, n.kind == Kind::kAnd ? "AND" : "OR"));
      return n.kind == Kind::kAnd ? make_and(std::move(args)) : make_or(std::move(args));
    }
    case Kind::kNot: {
      ASSIGN_OR_RETURN(ExprPtr a, bind(n.args[0], scope));
      RETURN_IF_ERROR(check_boolean(a, "NOT"));
      return make_not(std::move(a));
    }
    case Kind::kIsNull: {
      ASSIGN_OR_RETURN(ExprPtr a, bind(n.args[0], scope));
      return make_is_null(std::move(a), n.negated);
    }
    case Kind::kCase: {
      size_t pairs = (n.args.size() - (n.has_else ? 1 : 0)) / 2;
      std::vector<std::pair<ExprPtr, ExprPtr>> whens;
      for (size_t i = 0; i < pairs; ++i) {
        ASSIGN_OR_RETURN(ExprPtr c, bind(n.args[2 * i], scope));
        ASSIGN_OR_RETURN(ExprPtr r, bind(n.args[2 * i + 1], scope));
        whens.emplace_back(std::move(c), std::move(r));
      }
      ExprPtr other;
      if (n.has_else) {
        ASSIGN_OR_RETURN(other, bind(n.args.back(), scope));
      }
      return make_case(std::move(whens), std::move(other));
    }
    case Kind::kCoalesce: {
      ASSIGN_OR_RETURN(std::vector<ExprPtr> args, bind_all(0, n.args.size()));
      return make_coalesce(std::move(args));
    }
    case Kind::kInList: {
      ASSIGN_OR_RETURN(ExprPtr needle, bind(n.args[0], scope));
      ASSIGN_OR_RETURN(std::vector<ExprPtr> items, bind_all(1, n.args.size()));
      return make_in_list(std::move(needle), std::move(items), n.negated);
    }
    case Kind::kSql: {
      ASSIGN_OR_RETURN(SqlBinding b, bind_sql_text(n.name, scope));
      return b.expr;
    }
  }
  return internal_error("unknown expression kind");
}

std::string natural_name(const Expression& e, size_t index, Scope* scope) {
  const ExpressionNode& n = *e.node();
  switch (n.kind) {
    case Kind::kColumn: return n.name;
    case Kind::kCall:
      if (!n.is_operator) return lower(n.name) == "extract" ? "date_part" : lower(n.name);
      break;
    case Kind::kCast: {
      if (n.args[0].node()->kind == Kind::kColumn) return n.args[0].node()->name;
      // PostgreSQL's internal type names, as the SQL binder reports them.
      switch (n.type) {
        case TypeId::kBool: return "bool";
        case TypeId::kInt64: return "int8";
        case TypeId::kFloat64: return "float8";
        case TypeId::kString: return "text";
        case TypeId::kTimestamp: return "timestamp";
        case TypeId::kInterval: return "interval";
        case TypeId::kNull: break;
      }
      break;
    }
    case Kind::kCase: return "case";
    case Kind::kCoalesce: return "coalesce";
    case Kind::kSql:
      if (scope) {
        auto b = bind_sql_text(n.name, *scope);
        if (b.is_ok()) return b.value().name;
      }
      break;
    default: break;
  }
  return index == 0 ? "?column?" : fmt::format("?column?_{}", index);
}

std::vector<int> columns_used(const ExprPtr& e) { return referenced_columns(e); }

}  // namespace internal
}  // namespace sluice::api
