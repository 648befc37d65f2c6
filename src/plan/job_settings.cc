#include <cstdlib>

#include "common/time_util.h"
#include "plan/logical_plan.h"

namespace sluice {
namespace {

Result<long> parse_int(const std::string& value, long lo, long hi) {
  char* end = nullptr;
  long p = std::strtol(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || p < lo || p > hi) return invalid_argument("out of range");
  return p;
}

// ": <reason>" of a duration that did not parse ("months and years have no fixed
// length", "unknown unit 'x'"), "" for one that did.
std::string why_not(const Result<Micros>& d) {
  if (d.is_ok()) return "";
  const std::string& m = d.status().message();
  const size_t at = m.find("': ");
  return at == std::string::npos ? "" : ": " + m.substr(at + 3);
}

}  // namespace

Status apply_setting(JobSettings& settings, const std::string& name, const std::string& value) {
  if (name == "parallelism") {
    auto p = parse_int(value, 1, 256);
    if (!p.is_ok()) return invalid_argument("SET parallelism: expected 1..256, got '{}'", value);
    settings.parallelism = static_cast<int>(p.value());
  } else if (name == "batch_size") {
    auto p = parse_int(value, 1, 1 << 20);
    if (!p.is_ok()) return invalid_argument("SET batch_size: expected 1..1048576, got '{}'", value);
    settings.batch_size = static_cast<size_t>(p.value());
  } else if (name == "decode_threads") {
    auto p = parse_int(value, 1, 256);
    if (!p.is_ok()) return invalid_argument("SET decode_threads: expected 1..256, got '{}'", value);
    settings.decode_threads = static_cast<int>(p.value());
  } else if (name == "allowed_lateness") {
    auto d = parse_duration(value);
    if (!d.is_ok() || d.value() < 0) {
      return invalid_argument("SET allowed_lateness: expected a duration such as '1 minute', got '{}'{}",
                              value, why_not(d));
    }
    settings.allowed_lateness = d.value();
  } else if (name == "checkpoint_interval") {
    auto d = parse_duration(value);
    if (!d.is_ok() || d.value() < 0) {
      return invalid_argument("SET checkpoint_interval: expected a duration such as '1s', got '{}'{}",
                              value, why_not(d));
    }
    if (d.value() > 0 && d.value() < kMinCheckpointInterval) {
      return invalid_argument(
          "SET checkpoint_interval: '{}' is shorter than the minimum {} (0 takes only the final checkpoint)", value,
          format_duration(kMinCheckpointInterval));
    }
    settings.checkpoint_interval = d.value();
  } else if (name == "checkpoint_dir") {
    if (value.empty()) return invalid_argument("SET checkpoint_dir: expected a directory");
    settings.checkpoint_dir = value;
  } else if (name == "checkpoints_retained") {
    auto p = parse_int(value, 1, 1000);
    if (!p.is_ok()) return invalid_argument("SET checkpoints_retained: expected 1..1000, got '{}'", value);
    settings.checkpoints_retained = static_cast<int>(p.value());
  } else if (name == "state_ttl") {
    auto d = parse_duration(value);
    if (!d.is_ok() || d.value() < 0) {
      return invalid_argument("SET state_ttl: expected a duration such as '1 hour' (0: no TTL), got '{}'{}",
                              value, why_not(d));
    }
    if (d.value() > 0 && d.value() < kMicrosPerMilli) {
      return invalid_argument("SET state_ttl: '{}' is shorter than 1 ms", value);
    }
    settings.state_ttl = d.value();
  } else if (name == "state_backend") {
    if (value != "memory" && value != "rocksdb") {
      return invalid_argument("SET state_backend: expected 'memory' or 'rocksdb', got '{}'", value);
    }
    settings.state_backend = value;
  } else {
    return invalid_argument(
        "unknown setting '{}' (known: parallelism, batch_size, decode_threads, allowed_lateness, checkpoint_interval, "
        "checkpoint_dir, checkpoints_retained, state_backend, state_ttl)",
        name);
  }
  settings.values[name] = value;
  return Status::ok();
}

}  // namespace sluice
