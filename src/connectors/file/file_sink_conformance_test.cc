// The file sink in the sink conformance suite (sink_conformance.h): JSON lines, append-only
// or changelog (the file sink has no upsert mode).
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "connectors/sink_conformance.h"
#include "connectors/test_util.h"

namespace sluice::testing {
namespace {

// The committed output as a reader sees it: the committed parts in name order
// (`cat out.part-*.jsonl`), or, without checkpoints, the file itself.
std::vector<std::string> read_file_output(const std::string& dir, SinkMode mode) {
  std::vector<std::string> parts;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("out.part-", 0) == 0 && name.size() > 6 && name.substr(name.size() - 6) == ".jsonl") {
      parts.push_back(e.path().string());
    }
  }
  std::sort(parts.begin(), parts.end());
  if (parts.empty() && std::filesystem::exists(std::filesystem::path(dir) / "out.jsonl")) {
    parts.push_back((std::filesystem::path(dir) / "out.jsonl").string());
  }
  std::vector<std::string> rows;
  for (const auto& part : parts) {
    std::istringstream lines(read_file(part));
    for (std::string line; std::getline(lines, line);) {
      auto j = nlohmann::json::parse(line);
      std::string row = fmt::format("{}|{}", j.at("id").get<int64_t>(), j.at("name").get<std::string>());
      if (mode == SinkMode::kChangelog) row = j.at("op").get<std::string>() + "|" + row;
      rows.push_back(std::move(row));
    }
  }
  return rows;
}

SinkConformanceTarget file_sink_conformance_target() {
  SinkConformanceTarget t;
  t.name = "File";
  t.modes = {SinkMode::kAppend, SinkMode::kChangelog};
  t.spec = [](const std::string& dir, SinkMode mode, SchemaPtr schema) {
    std::map<std::string, std::string> options{{"path", (std::filesystem::path(dir) / "out.jsonl").string()}};
    if (mode == SinkMode::kChangelog) options.emplace("changelog", "true");
    return sink_spec("file", std::move(options), std::move(schema));
  };
  t.read = read_file_output;
  return t;
}

}  // namespace
}  // namespace sluice::testing

INSTANTIATE_SINK_CONFORMANCE(File, sluice::testing::file_sink_conformance_target());
