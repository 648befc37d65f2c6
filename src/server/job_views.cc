#include "server/job_views.h"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "common/time_util.h"
#include "runtime/job.h"

namespace sluice::server {
namespace {

using json = nlohmann::json;

constexpr double kNanosPerSecond = 1e9;

const char* split_state_name(int64_t state) {
  switch (state) {
    case SplitMetrics::kWaiting: return "waiting";
    case SplitMetrics::kActive: return "active";
    case SplitMetrics::kIdle: return "idle";
    case SplitMetrics::kFinished: return "finished";
  }
  return "unknown";
}

// One split as the registry has it (sluice_split_* series of the job).
struct SplitView {
  std::string table;
  std::string split;
  int64_t watermark = kMinWatermark;
  int64_t state = SplitMetrics::kWaiting;
  int64_t reader = 0;
};

std::vector<SplitView> splits_of(const Job& job) {
  std::map<std::pair<std::string, std::string>, SplitView> by_key;
  const std::string& label = job.metrics_job();
  for (const FamilySnapshot& f : job.metrics().collect()) {
    const bool wm = f.name == "sluice_split_watermark_seconds", st = f.name == "sluice_split_state",
               rd = f.name == "sluice_split_reader";
    if (!wm && !st && !rd) continue;
    for (const SeriesSnapshot& s : f.series) {
      if (s.label_values.size() != 3 || s.label_values[0] != label) continue;
      SplitView& v = by_key[{s.label_values[1], s.label_values[2]}];
      v.table = s.label_values[1];
      v.split = s.label_values[2];
      if (wm) v.watermark = s.raw_value;
      if (st) v.state = s.raw_value;
      if (rd) v.reader = s.raw_value;
    }
  }
  std::vector<SplitView> out;
  for (auto& [k, v] : by_key) out.push_back(std::move(v));
  return out;
}

json split_json(const SplitView& s) {
  return json{{"table", s.table},
              {"split", s.split},
              {"reader", s.reader},
              {"state", split_state_name(s.state)},
              {"watermark", watermark_text(s.watermark)}};
}

// The source tables whose records reach each stage (through downstream edges and shared reads).
std::vector<std::set<std::string>> upstream_sources(const JobSpec& spec) {
  const size_t n = spec.stages.size();
  std::vector<std::set<std::string>> up(n);
  for (size_t i = 0; i < n; ++i) {
    if (spec.stages[i].source) up[i].insert(spec.stages[i].source->table);
  }
  // Edges only go forward in plan order, but iterate to a fixed point to be safe.
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = 0; i < n; ++i) {
      std::vector<int> next = spec.stages[i].also_forward_to;
      if (spec.stages[i].downstream >= 0) next.push_back(spec.stages[i].downstream);
      for (int d : next) {
        if (d < 0 || static_cast<size_t>(d) >= n) continue;
        for (const auto& t : up[i]) changed |= up[static_cast<size_t>(d)].insert(t).second;
      }
    }
  }
  return up;
}

// Operator instances by operator id, in instance order.
std::map<std::string, std::vector<const OperatorMetrics*>> operator_instances(const Job& job) {
  std::map<std::string, std::vector<const OperatorMetrics*>> by_id;
  for (const OperatorMetrics* m : job.operator_metrics()) by_id[m->operator_id].push_back(m);
  for (auto& [id, v] : by_id) {
    std::sort(v.begin(), v.end(), [](const auto* a, const auto* b) { return a->instance < b->instance; });
  }
  return by_id;
}

bool is_window_kind(const std::string& kind) { return kind.find("window") != std::string::npos; }

}  // namespace

std::string watermark_text(int64_t wm) {
  if (wm == kMinWatermark) return "";
  if (wm == kMaxWatermark) return "end";
  return format_timestamp(wm);
}

json plan_view(const engine::JobHandle& handle) {
  const Job& job = handle.job();
  const JobSpec& spec = job.spec();
  const auto instances = operator_instances(job);
  json stages = json::array(), edges = json::array();
  for (size_t i = 0; i < spec.stages.size(); ++i) {
    const StageSpec& st = spec.stages[i];
    json stage{{"index", i}, {"name", st.name}, {"parallelism", st.parallelism}};
    if (st.source) stage["source"] = st.source->table;
    json ops = json::array();
    for (const OperatorSpecPtr& op : st.chain) {
      json o{{"id", op->id}, {"kind", op->kind()}, {"describe", op->describe()}, {"stateful", op->stateful()}};
      if (const std::string table = op->sink_table(); !table.empty()) o["sink_table"] = table;
      uint64_t in = 0, out = 0, late = 0, blocked_ns = 0;
      int64_t wm = kMaxWatermark;
      json per = json::array();
      auto it = instances.find(op->id);
      if (it != instances.end()) {
        for (const OperatorMetrics* m : it->second) {
          const uint64_t i_in = m->records_in->value(), i_out = m->records_out->value(), i_late = m->late->value(),
                         i_blocked = m->blocked_ns->value();
          const int64_t i_wm = m->watermark->value();
          in += i_in;
          out += i_out;
          late += i_late;
          blocked_ns += i_blocked;
          wm = std::min(wm, i_wm);
          per.push_back(json{{"instance", m->instance},
                             {"records_in", i_in},
                             {"records_out", i_out},
                             {"late", i_late},
                             {"backpressure_seconds", static_cast<double>(i_blocked) / kNanosPerSecond},
                             {"watermark", watermark_text(i_wm)}});
        }
      } else {
        wm = kMinWatermark;  // the tasks are not built yet
      }
      o["records_in"] = in;
      o["records_out"] = out;
      o["late"] = late;
      o["backpressure_seconds"] = static_cast<double>(blocked_ns) / kNanosPerSecond;
      o["watermark"] = watermark_text(wm);
      o["instances"] = std::move(per);
      ops.push_back(std::move(o));
    }
    stage["operators"] = std::move(ops);
    if (st.downstream >= 0) {
      edges.push_back(json{{"from", i},
                           {"to", st.downstream},
                           {"kind", edge_kind_name(st.edge)},
                           {"key_columns", st.key_columns},
                           {"input", st.downstream_input}});
    }
    // Side edges: dead letters and late rows to their sink tables (`dlq = 'bad_rows'`).
    for (const auto& [side, to] : {std::pair{"dlq", st.dlq_stage}, std::pair{"late", st.late_stage}}) {
      if (to < 0) continue;
      edges.push_back(json{{"from", i}, {"to", to}, {"kind", std::string("side:") + side},
                           {"key_columns", json::array()}, {"input", 0}});
    }
    for (int d : st.also_forward_to) {
      edges.push_back(json{{"from", i}, {"to", d}, {"kind", edge_kind_name(EdgeKind::kForward)},
                           {"key_columns", json::array()}, {"input", 0}});
    }
    stages.push_back(std::move(stage));
  }
  // Sources: totals and one entry per reader task.
  std::map<std::string, json> sources;
  for (const SourceMetrics* m : job.source_metrics()) {
    json& s = sources[m->table];
    if (s.is_null()) {
      s = json{{"table", m->table}, {"records", 0}, {"bytes", 0}, {"dead_lettered", 0}, {"late", 0},
               {"readers", json::array()}};
    }
    const uint64_t r = m->records->value(), b = m->bytes->value(), d = m->dead_lettered->value(),
                   l = m->late->value();
    s["records"] = s["records"].get<uint64_t>() + r;
    s["bytes"] = s["bytes"].get<uint64_t>() + b;
    s["dead_lettered"] = s["dead_lettered"].get<uint64_t>() + d;
    s["late"] = s["late"].get<uint64_t>() + l;
    s["readers"].push_back(json{{"instance", m->instance},
                                {"records", r},
                                {"bytes", b},
                                {"dead_lettered", d},
                                {"late", l},
                                {"watermark", watermark_text(m->watermark->value())}});
  }
  json source_list = json::array();
  for (auto& [t, s] : sources) source_list.push_back(std::move(s));
  const engine::ResolvedOptions& o = handle.options();
  return json{{"name", handle.name()},
              {"state", engine::to_string(handle.status().state)},
              {"sink_tables", job.tapped_tables()},
              {"parallelism", o.plan.parallelism},
              {"batch_size", o.plan.batch_size},
              {"stages", std::move(stages)},
              {"edges", std::move(edges)},
              {"sources", std::move(source_list)}};
}

json watermarks_view(const engine::JobHandle& handle) {
  const Job& job = handle.job();
  const JobSpec& spec = job.spec();
  const std::vector<SplitView> splits = splits_of(job);
  const auto instances = operator_instances(job);
  const auto upstream = upstream_sources(spec);

  json sources = json::object();
  for (const SourceMetrics* m : job.source_metrics()) {
    json& s = sources[m->table];
    if (s.is_null()) s = json{{"table", m->table}, {"readers", json::array()}, {"splits", json::array()}};
    s["readers"].push_back(json{{"instance", m->instance}, {"watermark", watermark_text(m->watermark->value())}});
  }
  for (const SplitView& sp : splits) {
    json& s = sources[sp.table];
    if (s.is_null()) s = json{{"table", sp.table}, {"readers", json::array()}, {"splits", json::array()}};
    s["splits"].push_back(split_json(sp));
  }
  json source_list = json::array();
  for (auto& [t, s] : sources.items()) source_list.push_back(s);

  json operators = json::array(), windows = json::array();
  for (size_t i = 0; i < spec.stages.size(); ++i) {
    for (const OperatorSpecPtr& op : spec.stages[i].chain) {
      auto it = instances.find(op->id);
      json per = json::array();
      int64_t wm = kMinWatermark;
      if (it != instances.end()) {
        wm = kMaxWatermark;
        for (const OperatorMetrics* m : it->second) {
          const int64_t w = m->watermark->value();
          wm = std::min(wm, w);
          per.push_back(json{{"instance", m->instance}, {"watermark", watermark_text(w)}});
        }
      }
      operators.push_back(json{{"id", op->id}, {"kind", op->kind()}, {"watermark", watermark_text(wm)},
                               {"instances", std::move(per)}});
      if (!is_window_kind(op->kind()) || it == instances.end()) continue;
      // Why has the oldest open window of each instance not fired?
      for (const OperatorMetrics* m : it->second) {
        const int64_t end = m->open_window_end.value();
        const int64_t w = m->watermark->value();
        json win{{"operator", op->id}, {"kind", op->kind()}, {"instance", m->instance},
                 {"watermark", watermark_text(w)}};
        if (end == kMaxWatermark) {
          win["open_window_end"] = nullptr;
          win["reason"] = "no open window";
          windows.push_back(std::move(win));
          continue;
        }
        win["open_window_end"] = watermark_text(end);
        // The splits that feed this operator and are behind the window's end.
        const SplitView* holder = nullptr;
        json behind = json::array();
        bool any_active = false, any_idle = false, any_waiting = false;
        for (const SplitView& sp : splits) {
          if (!upstream[i].count(sp.table)) continue;
          if (sp.state == SplitMetrics::kFinished) continue;
          any_active |= sp.state == SplitMetrics::kActive;
          any_idle |= sp.state == SplitMetrics::kIdle;
          any_waiting |= sp.state == SplitMetrics::kWaiting;
          if (sp.state != SplitMetrics::kActive) continue;
          if (sp.watermark < end) behind.push_back(split_json(sp));
          if (!holder || sp.watermark < holder->watermark) holder = &sp;
        }
        win["splits_behind"] = std::move(behind);
        std::string reason = fmt::format("the window ending {} fires when the watermark reaches its end; the "
                                         "operator's watermark is {}",
                                         format_timestamp(end), w == kMinWatermark ? "not set yet" : format_timestamp(w));
        if (holder && holder->watermark < end) {
          win["held_back_by"] = split_json(*holder);
          reason += fmt::format(" (the minimum over its inputs): held back by split {} of table {} (reader {}, "
                                "active, not idle) at watermark {}",
                                holder->split, holder->table, holder->reader,
                                holder->watermark == kMinWatermark ? "none yet" : format_timestamp(holder->watermark));
        } else if (!any_active && any_idle) {
          reason += ": every split feeding it is idle, so the watermark waits for new data";
        } else if (!any_active && any_waiting) {
          reason += ": the splits feeding it have not started yet";
        } else if (holder) {
          reason += ": the sources have passed the window's end; the watermark is on its way downstream";
        } else {
          reason += ": no source split feeding it has a watermark yet";
        }
        win["reason"] = std::move(reason);
        windows.push_back(std::move(win));
      }
    }
  }
  const engine::JobStatus st = handle.status();
  return json{{"name", handle.name()},
              {"watermark", watermark_text(st.watermark)},
              {"sources", std::move(source_list)},
              {"operators", std::move(operators)},
              {"windows", std::move(windows)}};
}

json checkpoints_view(const engine::JobHandle& handle) {
  json j{{"name", handle.name()}, {"enabled", handle.options().checkpoint.enabled()}};
  const CheckpointMetrics* m = handle.job().checkpoint_metrics();
  json list = json::array();
  if (m) {
    j["completed"] = m->completed->value();
    j["failed"] = m->failed->value();
    j["restored_id"] = m->restored_id->value();
    j["recorded"] = m->history->total();
    auto records = m->history->snapshot();
    for (auto it = records.rbegin(); it != records.rend(); ++it) {
      const CheckpointRecord& r = *it;
      json c{{"id", r.id},
             {"started", format_timestamp(r.started_unix_us)},
             {"duration_seconds", static_cast<double>(r.duration_us) / 1e6},
             {"size_bytes", r.size_bytes},
             {"new_bytes", r.new_bytes},
             {"state", r.completed ? "completed" : "failed"},
             {"savepoint", r.savepoint},
             {"final", r.final}};
      if (!r.error.empty()) c["error"] = r.error;
      list.push_back(std::move(c));
    }
  } else {
    j["completed"] = 0;
    j["failed"] = 0;
    j["restored_id"] = 0;
    j["recorded"] = 0;
  }
  j["checkpoints"] = std::move(list);
  return j;
}

json side_records_view(const engine::JobHandle& handle, size_t offset, size_t limit, const SideOutputKind* kind) {
  const RecentLetters& recent = handle.job().recent_side_records();
  RecentLetters::Page page = recent.page(offset, limit, kind);
  json records = json::array();
  for (const auto& e : page.entries) {
    json r{{"seq", e.seq},
           {"kind", e.kind == SideOutputKind::kDeadLetters ? "dlq" : "late"},
           {"time", format_timestamp(e.time_unix_us)},
           {"source", e.source},
           {"split", e.split},
           {"offset", e.offset},
           {"line", e.line},
           {"error", e.error},
           // Raw input may be any bytes: invalid UTF-8 is replaced when serialized.
           {"raw", e.raw},
           {"raw_bytes", e.raw_bytes},
           {"raw_truncated", e.raw.size() < e.raw_bytes}};
    if (!e.queries.empty()) {
      json queries = json::parse(e.queries, nullptr, false);
      if (!queries.is_discarded()) r["queries"] = std::move(queries);
    }
    records.push_back(std::move(r));
  }
  return json{{"name", handle.name()},
              {"total", page.total},
              {"retained", page.retained},
              {"capacity", recent.capacity()},
              {"offset", offset},
              {"limit", limit},
              {"records", std::move(records)}};
}

}  // namespace sluice::server
