#include "server/top.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <httplib.h>

namespace sluice::server {
namespace {

using json = nlohmann::json;

constexpr size_t kOperatorWidth = 44;

uint64_t count_of(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

double seconds_of(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : 0.0;
}

std::string text_of(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

std::string clip(std::string s, size_t width) {
  for (char& c : s) {
    if (c == '\n' || c == '\t') c = ' ';
  }
  if (s.size() <= width) return s;
  return s.substr(0, width - 3) + "...";
}

std::string rate_text(double per_second) {
  if (per_second < 0) return "-";
  if (per_second >= 1e6) return fmt::format("{:.1f}M", per_second / 1e6);
  if (per_second >= 1e4) return fmt::format("{:.1f}k", per_second / 1e3);
  return fmt::format("{:.0f}", per_second);
}

// What one table row shows of an operator or a source.
struct Row {
  std::string stage, name;
  int parallelism = 1;
  uint64_t in = 0, out = 0;
  double backpressure_seconds = 0;
  std::string watermark;
};

// The rows of a plan, keyed by operator id (sources: "source:TABLE") in plan order.
std::vector<std::pair<std::string, Row>> rows_of(const json& plan) {
  std::map<std::string, json> sources;
  for (const json& s : plan.value("sources", json::array())) sources[text_of(s, "table")] = s;
  std::vector<std::pair<std::string, Row>> rows;
  for (const json& st : plan.value("stages", json::array())) {
    const std::string stage = std::to_string(st.value("index", 0));
    const int parallelism = st.value("parallelism", 1);
    if (st.contains("source")) {
      const std::string table = text_of(st, "source");
      Row r{stage, "source " + table, parallelism, 0, 0, 0.0, ""};
      auto it = sources.find(table);
      if (it != sources.end()) {
        r.out = count_of(it->second, "records");
        std::string wm;
        for (const json& reader : it->second.value("readers", json::array())) {
          const std::string w = text_of(reader, "watermark");
          if (wm.empty() || (!w.empty() && w < wm)) wm = w;
        }
        r.watermark = wm;
      }
      rows.emplace_back("source:" + table, std::move(r));
    }
    for (const json& op : st.value("operators", json::array())) {
      std::string name = text_of(op, "kind");
      const std::string describe = text_of(op, "describe");
      if (!describe.empty() && describe.rfind(name, 0) != 0) name += " " + describe;
      else if (!describe.empty()) name = describe;
      Row r{stage, clip(name, kOperatorWidth), parallelism, count_of(op, "records_in"), count_of(op, "records_out"),
            seconds_of(op, "backpressure_seconds"), text_of(op, "watermark")};
      rows.emplace_back(text_of(op, "id"), std::move(r));
    }
  }
  return rows;
}

}  // namespace

std::string render_top_table(const json& plan, const json* previous, Micros elapsed_us, const json* checkpoints) {
  const double elapsed_s = static_cast<double>(elapsed_us) / 1e6;
  std::map<std::string, Row> before;
  if (previous) {
    for (auto& [id, r] : rows_of(*previous)) before.emplace(id, std::move(r));
  }
  std::string out = fmt::format("job {}  {}", text_of(plan, "name"), text_of(plan, "state"));
  if (previous && elapsed_s > 0) out += fmt::format("  (rates over {:.1f} s)", elapsed_s);
  out += "\n";
  out += fmt::format("{:<5} {:<{}} {:>3} {:>12} {:>12} {:>8} {:>8} {:>6}  {}\n", "STAGE", "OPERATOR", kOperatorWidth,
                     "PAR", "RECORDS IN", "RECORDS OUT", "IN/s", "OUT/s", "BP%", "WATERMARK");
  for (const auto& [id, r] : rows_of(plan)) {
    const bool is_source = id.rfind("source:", 0) == 0;
    std::string in_rate = "-", out_rate = "-", bp = "-";
    auto it = before.find(id);
    if (it != before.end() && elapsed_s > 0) {
      const Row& p = it->second;
      if (!is_source) in_rate = rate_text(static_cast<double>(r.in - std::min(r.in, p.in)) / elapsed_s);
      out_rate = rate_text(static_cast<double>(r.out - std::min(r.out, p.out)) / elapsed_s);
      if (!is_source) {
        // The share of the interval the instances' outputs waited for downstream space.
        const double blocked = std::max(0.0, r.backpressure_seconds - p.backpressure_seconds);
        bp = fmt::format("{:.0f}", std::min(100.0, 100.0 * blocked / elapsed_s / std::max(1, r.parallelism)));
      }
    }
    out += fmt::format("{:<5} {:<{}} {:>3} {:>12} {:>12} {:>8} {:>8} {:>6}  {}\n", r.stage, r.name, kOperatorWidth,
                       r.parallelism, is_source ? "-" : std::to_string(r.in), r.out, in_rate, out_rate, bp,
                       r.watermark.empty() ? "-" : r.watermark);
  }
  for (const json& s : plan.value("sources", json::array())) {
    out += fmt::format("source {}: {} records, {} bytes, {} dead-lettered, {} late\n", text_of(s, "table"),
                       count_of(s, "records"), count_of(s, "bytes"), count_of(s, "dead_lettered"),
                       count_of(s, "late"));
  }
  if (checkpoints && checkpoints->value("enabled", false)) {
    out += fmt::format("checkpoints: {} completed, {} failed", count_of(*checkpoints, "completed"),
                       count_of(*checkpoints, "failed"));
    const json list = checkpoints->value("checkpoints", json::array());
    if (!list.empty()) {
      const json& last = list.front();  // newest first
      out += fmt::format("; last {} {} in {:.3f} s, {} bytes", count_of(last, "id"), text_of(last, "state"),
                         seconds_of(last, "duration_seconds"), count_of(last, "size_bytes"));
    }
    out += "\n";
  }
  return out;
}

namespace {

class ApiClient {
 public:
  explicit ApiClient(const TopOptions& o) : url_(o.url), client_(o.url) {
    client_.set_connection_timeout(2, 0);
    client_.set_read_timeout(5, 0);
    if (!o.token.empty()) client_.set_bearer_token_auth(o.token.c_str());
  }
  bool valid() { return client_.is_valid(); }

  // GET path as JSON; `gone` is set when the server cannot be reached at all.
  Result<json> get(const std::string& path, bool* gone) {
    *gone = false;
    auto res = client_.Get(path.c_str());
    if (!res) {
      *gone = true;
      return io_error("cannot reach {}: {}", url_, httplib::to_string(res.error()));
    }
    if (res->status == 401) {
      return invalid_argument("{}: 401 unauthorized: the server needs its token (--token-file FILE)", url_);
    }
    json body = json::parse(res->body, nullptr, false);
    if (res->status != 200) {
      const std::string why = body.is_object() ? text_of(body, "error") : "";
      return io_error("{}{}: HTTP {}{}", url_, path, res->status, why.empty() ? "" : ": " + why);
    }
    if (body.is_discarded()) return io_error("{}{}: the reply is not JSON (is this a Sluice server?)", url_, path);
    return body;
  }

 private:
  std::string url_;
  httplib::Client client_;
};

std::string path_segment(const std::string& name) {
  std::string out;
  for (unsigned char c : name) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

struct Poll {
  std::vector<std::string> names;
  std::map<std::string, json> plans, checkpoints;
  std::chrono::steady_clock::time_point at;
};

Result<Poll> poll(ApiClient& api, const TopOptions& o, bool* gone) {
  Poll p;
  if (o.job.empty()) {
    ASSIGN_OR_RETURN(json jobs, api.get("/api/v1/jobs", gone));
    for (const json& j : jobs.value("jobs", json::array())) p.names.push_back(text_of(j, "name"));
  } else {
    p.names.push_back(o.job);
  }
  for (const std::string& name : p.names) {
    const std::string base = "/api/v1/jobs/" + path_segment(name);
    ASSIGN_OR_RETURN(p.plans[name], api.get(base + "/plan", gone));
    ASSIGN_OR_RETURN(p.checkpoints[name], api.get(base + "/checkpoints", gone));
  }
  p.at = std::chrono::steady_clock::now();
  return p;
}

}  // namespace

Status run_top(const TopOptions& options, std::FILE* out, const std::atomic<bool>* stop) {
  TopOptions o = options;
  if (o.url.find("://") == std::string::npos) o.url = "http://" + o.url;
  while (!o.url.empty() && o.url.back() == '/') o.url.pop_back();
  if (o.url.rfind("http://", 0) != 0) return invalid_argument("{}: only http:// URLs are supported", o.url);
  if (o.interval_us <= 0) return invalid_argument("top: the interval must be positive");
  ApiClient api(o);
  if (!api.valid()) return invalid_argument("{}: not a URL (expected http://HOST:PORT)", o.url);
  bool gone = false;
  ASSIGN_OR_RETURN(Poll previous, poll(api, o, &gone));
  int printed = 0;
  while (o.iterations == 0 || printed < o.iterations) {
    // Sleep the interval in short steps so a stop request is seen soon.
    const auto wake = previous.at + std::chrono::microseconds(o.interval_us);
    while (std::chrono::steady_clock::now() < wake) {
      if (stop && stop->load()) return Status::ok();
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
          std::chrono::milliseconds(50), wake - std::chrono::steady_clock::now()));
    }
    Result<Poll> now = poll(api, o, &gone);
    if (!now.is_ok()) {
      if (gone) {
        std::fprintf(out, "%s is gone (the job ended)\n", o.url.c_str());
        std::fflush(out);
        return Status::ok();
      }
      return now.status();
    }
    std::string text = o.clear_screen ? "\x1b[H\x1b[2J" : (printed > 0 ? "\n" : "");
    const Micros elapsed =
        std::chrono::duration_cast<std::chrono::microseconds>(now.value().at - previous.at).count();
    if (now.value().names.empty()) text += "no jobs\n";
    for (const std::string& name : now.value().names) {
      auto before = previous.plans.find(name);
      text += render_top_table(now.value().plans[name], before == previous.plans.end() ? nullptr : &before->second,
                               elapsed, &now.value().checkpoints[name]);
    }
    std::fputs(text.c_str(), out);
    std::fflush(out);
    ++printed;
    previous = std::move(now.value());
  }
  return Status::ok();
}

}  // namespace sluice::server
