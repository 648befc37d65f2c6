// Helpers for the C++ API tests: temporary directories, files, a deterministic click
// stream, running a LogicalJob, and a structural dump of a LogicalJob (to compare the
// builder's plans with the SQL binder's).
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <fmt/format.h>

#include "plan/physical_planner.h"
#include "runtime/job.h"
#include "sluice/process_function.h"

namespace sluice::api::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sluice_api_XXXXXX").string();
    char* p = mkdtemp(tmpl.data());
    path_ = p ? p : "";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

inline std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// Clicks as JSON lines: user_id 1..users, a page, a mostly increasing ts (some rows up to
// 3 s out of order), an amount (NULL for 1 row in 10). Deterministic (splitmix64).
inline std::string clicks_jsonl(int rows, uint64_t seed, int users = 12) {
  static const char* kPages[] = {"/home", "/search", "/product/1", "/product/2", "/cart", "/health"};
  uint64_t s = seed;
  auto next = [&] {
    s += 0x9e3779b97f4a7c15ULL;
    uint64_t z = s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  std::string out;
  int64_t t_ms = 1704067200000;  // 2024-01-01T00:00:00Z
  for (int i = 0; i < rows; ++i) {
    t_ms += static_cast<int64_t>(next() % 700);
    int64_t ts = t_ms - (next() % 10 == 0 ? static_cast<int64_t>(next() % 3000) : 0);
    uint64_t user = 1 + next() % static_cast<uint64_t>(users);
    const char* page = kPages[next() % 6];
    std::string amount = next() % 10 == 0 ? "null" : fmt::format("{}.{:02d}", next() % 100, next() % 100);
    out += fmt::format("{{\"user_id\":{},\"page\":\"{}\",\"ts\":{},\"amount\":{}}}\n", user, page, ts, amount);
  }
  return out;
}

// Plans and runs a job to completion.
inline Status run_logical_job(const LogicalJob& job, int parallelism, size_t batch_size) {
  PlanOptions po;
  po.parallelism = parallelism;
  po.batch_size = batch_size;
  ASSIGN_OR_RETURN(PhysicalPlan plan, plan_job(job, po));
  Job runner(std::move(plan.job));
  return runner.run();
}

inline Result<std::string> explain_logical_job(const LogicalJob& job, int parallelism) {
  PlanOptions po;
  po.parallelism = parallelism;
  ASSIGN_OR_RETURN(PhysicalPlan plan, plan_job(job, po));
  return plan.explain;
}

// Every field of every node the planner reads, one line per node, indented by depth.
inline void dump_node(const LogicalNodePtr& n, int depth, std::string& out) {
  static const char* kKinds[] = {"source", "calc", "window_assign", "aggregate", "union", "top_n", "process"};
  std::string pad(static_cast<size_t>(depth) * 2, ' ');
  out += fmt::format("{}{} schema={} rowtime={}", pad, kKinds[static_cast<int>(n->kind)], n->schema->to_string(),
                     n->rowtime);
  for (const auto& f : n->schema->fields()) out += fmt::format(" {}:{}", f.name, f.nullable ? "null" : "notnull");
  if (n->table) out += " table=" + n->table->name;
  if (n->filter) out += " filter=" + n->filter->to_string();
  if (!n->projections.empty()) {
    out += " projections=[";
    for (const auto& p : n->projections) out += p->to_string() + ":" + type_name(p->type()) + "; ";
    out += "]";
  }
  if (n->kind == LogicalNode::Kind::kWindowAssign || n->windowed) {
    out += fmt::format(" window={} time_column={}", n->window.describe(), n->time_column);
  }
  if (n->kind == LogicalNode::Kind::kAggregate) {
    out += fmt::format(" windowed={} keys=[", n->windowed);
    for (int k : n->key_columns) out += fmt::format("{},", k);
    out += "] aggs=[";
    for (const auto& a : n->aggregates) {
      out += fmt::format("{} in={} {}->{}; ", a.describe(), a.input, type_name(a.input_type), type_name(a.result_type));
    }
    out += "]";
  }
  if (n->kind == LogicalNode::Kind::kProcess) {
    out += fmt::format(" process={} keys=[", n->process_function->name());
    for (int k : n->key_columns) out += fmt::format("{},", k);
    out += "]";
  }
  out += "\n";
  for (const auto& in : n->inputs) dump_node(in, depth + 1, out);
}

inline std::string dump_job(const LogicalJob& job) {
  std::string out;
  for (const auto& [key, t] : job.tables) {
    out += fmt::format("table {} ({}) schema={} pk_constraint={} options:", key, t->name,
                       t->schema ? t->schema->to_string() : "none", t->has_primary_key_constraint);
    for (const auto& [k, v] : t->options) out += fmt::format(" {}={}", k, v);
    out += "\n";
  }
  out += fmt::format("settings parallelism={} batch_size={} allowed_lateness={}\n", job.settings.parallelism,
                     job.settings.batch_size, job.settings.allowed_lateness);
  for (const auto& p : job.pipelines) {
    out += fmt::format("pipeline -> {} sink_schema={}\n", p.sink_table, p.sink_schema->to_string());
    dump_node(p.query, 1, out);
  }
  return out;
}

}  // namespace sluice::api::testing
