#include "sql/binder.h"
#include "connectors/registry.h"
#include "sql/front_checks.h"

namespace sluice::sql {

Result<TypeId> Compiler::type_of(const json& type_name, int loc) {
  const json& tn = node_type(type_name) == "TypeName" ? node_body(type_name) : type_name;
  std::string name;
  for (const auto& n : tn["names"]) name = string_value(n);
  if (tn.contains("arrayBounds")) return error_at(loc, "array types are not supported yet");
  auto t = type_from_sql_name(name);
  if (!t.is_ok()) return error_at(loc, "{}", t.status().message());
  return t.value();
}

bool Compiler::is_date_type(const json& type_name) {
  const json& tn = node_type(type_name) == "TypeName" ? node_body(type_name) : type_name;
  std::string name;
  for (const auto& n : tn["names"]) name = string_value(n);
  return lower(name) == "date";
}

Result<ExprPtr> Compiler::truncate_to_day(ExprPtr timestamp) {
  return make_call("date_trunc", {make_literal(Value::string("day")), std::move(timestamp)});
}

Result<std::map<std::string, std::string>> Compiler::options_of(const json& options,
                                                      std::map<std::string, std::string>* where) {
  std::map<std::string, std::string> out;
  if (!options.is_array()) return out;
  for (const auto& o : options) {
    const json& d = node_body(o);
    std::string name = lower(d.value("defname", ""));
    // `sink.parallelism = '2'` parses as namespace "sink", name "parallelism": the option
    // is the dotted whole (dropping the namespace would set another option silently).
    // Deeper names need quotes: "properties.security.protocol" = 'SASL_SSL'.
    if (d.contains("defnamespace")) name = lower(d.value("defnamespace", "")) + "." + name;
    int loc = d.value("location", -1);
    if (!d.contains("arg")) return error_at(loc, "option '{}' needs a value: {} = '...'", name, name);
    const json& arg = d["arg"];
    const std::string& t = node_type(arg);
    const json& b = node_body(arg);
    std::string value;
    if (t == "String") {
      value = b.value("sval", "");
    } else if (t == "Integer") {
      value = std::to_string(b.value("ival", 0));
    } else if (t == "Float") {
      value = b.value("fval", "0");
    } else if (t == "Boolean") {
      value = b.value("boolval", false) ? "true" : "false";
    } else if (t == "TypeName") {
      for (const auto& n : b["names"]) value = string_value(n);
    } else {
      return error_at(loc, "option '{}': use a quoted string value, e.g. {} = '...'", name, name);
    }
    if (out.count(name)) return error_at(loc, "option '{}' given twice", name);
    out[name] = value;
    if (where) (*where)[name] = position(loc);
  }
  return out;
}

Status Compiler::add_table(std::shared_ptr<TableDef> t, int loc) {
  std::string key = lower(t->name);
  if (job_.tables.count(key) || views_.count(key)) return error_at(loc, "table or view '{}' already exists", t->name);
  if (!t->options.count("connector")) {
    return error_at(loc, "table {}: missing option 'connector' (available: {})", t->name,
                    connector_names());
  }
  job_.tables[key] = std::move(t);
  return Status::ok();
}

Status Compiler::create_table(const json& b) {
  auto t = std::make_shared<TableDef>();
  t->name = b["relation"].value("relname", "");
  t->location = b["relation"].value("location", -1);
  t->where = position(t->location);
  ASSIGN_OR_RETURN(t->options, options_of(list_of(b, "options"), &t->option_where));
  std::vector<Field> fields;
  std::vector<int> date_columns;
  for (const auto& elt : list_of(b, "tableElts")) {
    const std::string& type = node_type(elt);
    const json& e = node_body(elt);
    if (type == "ColumnDef") {
      int loc = e.value("location", -1);
      Field f;
      f.name = e.value("colname", "");
      ASSIGN_OR_RETURN(f.type, type_of(e["typeName"], loc));
      if (f.type == TypeId::kInterval && e["typeName"].contains("typmods")) {
        ASSIGN_OR_RETURN(IntervalQualifier q, interval_qualifier_of(e["typeName"], loc));
        if (!qualifier_reads_like_plain_interval(q)) {
          return error_at(loc, "column '{}': INTERVAL qualifiers other than ... SECOND are not supported on table columns "
                          "(input text is read as a plain INTERVAL); declare it INTERVAL", f.name);
        }
      }
      for (const auto& c : list_of(e, "constraints")) {
        std::string ct = node_body(c).value("contype", "");
        if (ct == "CONSTR_NOTNULL") f.nullable = false;
        if (ct == "CONSTR_PRIMARY") {
          t->has_primary_key_constraint = true;
          t->primary_key.push_back(f.name);
          f.nullable = false;
        }
      }
      for (const auto& g : fields) {
        if (iequals(g.name, f.name)) return error_at(loc, "column '{}' declared twice", f.name);
      }
      if (is_date_type(e["typeName"])) date_columns.push_back(static_cast<int>(fields.size()));
      fields.push_back(f);
    } else if (type == "Constraint" && e.value("contype", "") == "CONSTR_PRIMARY") {
      t->has_primary_key_constraint = true;
      for (const auto& k : list_of(e, "keys")) t->primary_key.push_back(string_value(k));
    } else {
      return error_at(location_of(elt), "unsupported table element {}", type);
    }
  }
  if (!fields.empty()) t->schema = make_schema(fields);
  if (!date_columns.empty()) date_columns_[lower(t->name)] = date_columns;
  return add_table(std::move(t), b["relation"].value("location", -1));
}

Status Compiler::create_table_as(const json& b) {
  const json& into = b["into"];
  auto t = std::make_shared<TableDef>();
  t->name = into["rel"].value("relname", "");
  int loc = into["rel"].value("location", -1);
  t->location = loc;
  t->where = position(loc);
  ASSIGN_OR_RETURN(t->options, options_of(list_of(into, "options"), &t->option_where));
  RETURN_IF_ERROR(add_table(t, loc));
  return add_pipeline(t->name, loc, b["query"], json());
}

Status Compiler::create_view(const json& b) {
  std::string name = b["view"].value("relname", "");
  int loc = b["view"].value("location", -1);
  std::string key = lower(name);
  if (job_.tables.count(key) || views_.count(key)) return error_at(loc, "table or view '{}' already exists", name);
  // Bind now to report errors at the CREATE VIEW; bind again at each use.
  ASSIGN_OR_RETURN(Relation r, bind_query(b["query"]));
  (void)r;
  views_[key] = b["query"];
  view_names_[key] = name;
  return Status::ok();
}

Status Compiler::set(const json& b) {
  std::string name = lower(b.value("name", ""));
  std::string value;
  for (const auto& a : list_of(b, "args")) {
    const json& c = node_body(a);
    if (c.contains("sval")) value = c["sval"].value("sval", "");
    else if (c.contains("ival")) value = std::to_string(c["ival"].value("ival", 0));
    else if (c.contains("fval")) value = c["fval"].value("fval", "");
    else if (c.contains("boolval")) value = c["boolval"].value("boolval", false) ? "true" : "false";
  }
  Status applied = apply_setting(job_.settings, name, value);
  if (!applied.is_ok()) return error_at(-1, "{}", applied.message());
  return Status::ok();
}

Status Compiler::insert(const json& b) {
  std::string name = b["relation"].value("relname", "");
  int loc = b["relation"].value("location", -1);
  if (!b.contains("selectStmt")) return error_at(loc, "INSERT needs a SELECT (INSERT ... VALUES is not supported)");
  std::optional<CteScope> scope;  // WITH x AS (...) INSERT INTO ... SELECT ... FROM x
  if (b.contains("withClause")) {
    scope.emplace(this);
    RETURN_IF_ERROR(declare_ctes(b["withClause"]));
  }
  return add_pipeline(name, loc, b["selectStmt"], b.value("cols", json()));
}

Status Compiler::add_pipeline(const std::string& sink_name, int loc, const json& select, const json& cols) {
  auto it = job_.tables.find(lower(sink_name));
  if (it == job_.tables.end()) {
    return error_at(loc, "unknown table '{}': declare it with CREATE TABLE {} (...) WITH (connector = ...)", sink_name,
                    sink_name);
  }
  auto sink = it->second;
  if (!sink->options.count("connector")) return error_at(loc, "table {} has no connector", sink_name);
  ASSIGN_OR_RETURN(Relation q, bind_query(select));
  Pipeline p;
  p.sink_table = sink->name;
  p.sink = sink;
  p.location = loc;
  const Schema& qs = *q.node->schema;
  if (!sink->schema) {
    // Inferred sink columns: the query's, by name.
    std::vector<Field> fields;
    std::set<std::string> seen;
    for (size_t i = 0; i < qs.size(); ++i) {
      Field f = qs.field(i);
      f.nullable = true;
      if (!seen.insert(lower(f.name)).second) {
        return error_at(loc, "the query gives two columns named '{}': alias one of them (AS ...) so table {} can be inferred",
                        f.name, sink_name);
      }
      fields.push_back(f);
    }
    p.sink_schema = make_schema(fields);
    // Remember the inferred schema so a second INSERT into the same table must match it.
    auto updated = std::make_shared<TableDef>(*sink);
    updated->schema = p.sink_schema;
    job_.tables[lower(sink_name)] = updated;
    p.sink = updated;
    p.query = q.node;
    job_.pipelines.push_back(std::move(p));
    return Status::ok();
  }
  const Schema& ss = *sink->schema;
  // Which query column feeds each sink column (-1: NULL).
  std::vector<int> source(ss.size(), -1);
  if (cols.is_array() && !cols.empty()) {
    if (cols.size() != qs.size()) {
      return error_at(loc, "INSERT INTO {} lists {} columns but the query produces {}", sink_name, cols.size(), qs.size());
    }
    for (size_t i = 0; i < cols.size(); ++i) {
      std::string c = node_body(cols[i]).value("name", "");
      int idx = ss.find(c);
      if (idx < 0) return error_at(location_of(cols[i]), "table {} has no column '{}'", sink_name, c);
      source[static_cast<size_t>(idx)] = static_cast<int>(i);
    }
  } else {
    if (qs.size() != ss.size()) {
      return error_at(loc, "table {} has {} columns {} but the query produces {} {}", sink_name, ss.size(),
                      ss.to_string(), qs.size(), qs.to_string());
    }
    for (size_t i = 0; i < ss.size(); ++i) source[i] = static_cast<int>(i);
  }
  std::vector<ExprPtr> casts;
  bool identity = true;
  auto date_it = date_columns_.find(lower(sink_name));
  const std::vector<int>* sink_dates = date_it == date_columns_.end() ? nullptr : &date_it->second;
  bool truncates_dates = false;
  for (size_t i = 0; i < ss.size(); ++i) {
    TypeId want = ss.field(i).type;
    if (source[i] < 0) {
      casts.push_back(make_literal(Value::null(want)));
      identity = false;
      continue;
    }
    TypeId have = qs.field(static_cast<size_t>(source[i])).type;
    ExprPtr e = make_column_ref(source[i], have, qs.field(static_cast<size_t>(source[i])).name);
    if (have != want) {
      bool assignable = have == TypeId::kNull || implicitly_castable(have, want) ||
                        (is_numeric(have) && is_numeric(want)) || want == TypeId::kString;
      if (!assignable) {
        return error_at(loc, "column {} '{}' of table {} is {} but the query gives {} ('{}'); add a CAST", i + 1,
                        ss.field(i).name, sink_name, type_name(want), type_name(have),
                        qs.field(static_cast<size_t>(source[i])).name);
      }
      auto c = make_cast(e, want);
      if (!c.is_ok()) return error_at(loc, "{}", c.status().message());
      e = c.value();
      identity = false;
    }
    if (sink_dates && std::find(sink_dates->begin(), sink_dates->end(), static_cast<int>(i)) != sink_dates->end()) {
      auto day = truncate_to_day(e);  // a DATE column of the sink holds midnights
      if (!day.is_ok()) return error_at(loc, "{}", day.status().message());
      e = day.value();
      identity = false;
      truncates_dates = true;
    }
    if (source[i] != static_cast<int>(i)) identity = false;
    casts.push_back(e);
  }
  p.sink_schema = sink->schema;
  if (identity) {
    p.query = q.node;
  } else if (truncates_dates) {
    // compose_calc substitutes only column references and casts: keep a Calc of its own.
    auto calc = std::make_shared<LogicalNode>();
    calc->kind = LogicalNode::Kind::kCalc;
    calc->inputs = {q.node};
    calc->projections = casts;
    calc->schema = sink->schema;
    p.query = calc;
  } else {
    p.query = compose_calc(q.node, casts, sink->schema);
  }
  job_.pipelines.push_back(std::move(p));
  return Status::ok();
}

}  // namespace sluice::sql
