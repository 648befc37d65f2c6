#include "connectors/options.h"

#include <cctype>
#include <cstdlib>
#include <iterator>

namespace sluice {
namespace {
std::string lower(const std::string& s) {
  std::string o = s;
  for (char& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return o;
}
}  // namespace

ConnectorOptions::ConnectorOptions(std::map<std::string, std::string> values, std::string context)
    : context_(std::move(context)) {
  for (auto& [k, v] : values) values_[lower(k)] = v;
}

bool ConnectorOptions::has(const std::string& name) const { return values_.count(name) > 0; }

std::string ConnectorOptions::get_string(const std::string& name, const std::string& fallback) const {
  used_.insert(name);
  fallbacks_[name] = fallback;
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

Result<std::string> ConnectorOptions::require_string(const std::string& name) const {
  used_.insert(name);
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) {
    return invalid_argument("{}: missing required option '{}'", context_, name);
  }
  return it->second;
}

Result<int64_t> ConnectorOptions::get_int(const std::string& name, int64_t fallback) const {
  used_.insert(name);
  fallbacks_[name] = std::to_string(fallback);
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(it->second.c_str(), &end, 10);
  if (it->second.empty() || *end != '\0' || errno != 0) {
    return invalid_argument("{}: option '{}' must be an integer, got '{}'", context_, name, it->second);
  }
  return static_cast<int64_t>(v);
}

Result<double> ConnectorOptions::get_double(const std::string& name, double fallback) const {
  used_.insert(name);
  fallbacks_[name] = fmt::format("{}", fallback);
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  char* end = nullptr;
  double v = std::strtod(it->second.c_str(), &end);
  if (it->second.empty() || *end != '\0') {
    return invalid_argument("{}: option '{}' must be a number, got '{}'", context_, name, it->second);
  }
  return v;
}

Result<bool> ConnectorOptions::get_bool(const std::string& name, bool fallback) const {
  used_.insert(name);
  fallbacks_[name] = fallback ? "true" : "false";
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  std::string v = lower(it->second);
  if (v == "true" || v == "1" || v == "yes" || v == "on" || v == "t") return true;
  if (v == "false" || v == "0" || v == "no" || v == "off" || v == "f") return false;
  return invalid_argument("{}: option '{}' must be true or false, got '{}'", context_, name, it->second);
}

Result<Micros> ConnectorOptions::get_duration(const std::string& name, Micros fallback) const {
  used_.insert(name);
  fallbacks_[name] = format_duration(fallback);
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  auto d = parse_duration(it->second);
  if (!d.is_ok()) return d.status().with_context(fmt::format("{}: option '{}'", context_, name));
  return d;
}

Status ConnectorOptions::check_all_used() const {
  std::vector<std::string> unknown;
  for (const auto& [k, v] : values_) {
    if (!used_.count(k)) unknown.push_back(k);
  }
  if (unknown.empty()) return Status::ok();
  std::string known;
  for (const auto& k : used_) {
    if (!known.empty()) known += ", ";
    known += k;
  }
  return invalid_argument("{}: unknown option '{}' (known options: {})", context_, unknown[0], known);
}

bool option_spec_matches(const OptionSpec& spec, std::string_view name) {
  if (spec.name.size() >= 2 && spec.name.substr(spec.name.size() - 2) == ".*") {
    std::string_view prefix = spec.name.substr(0, spec.name.size() - 1);  // "properties."
    return name.size() > prefix.size() && name.substr(0, prefix.size()) == prefix;
  }
  return spec.name == name;
}

std::vector<std::pair<std::string, std::string>> ConnectorOptions::with_prefix(std::string_view prefix) const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [k, v] : values_) {
    if (k.size() > prefix.size() && std::string_view(k).substr(0, prefix.size()) == prefix) {
      used_.insert(k);
      out.emplace_back(k.substr(prefix.size()), v);
    }
  }
  return out;
}

Status ConnectorOptions::check_declared(std::initializer_list<OptionList> accepted) const {
  auto declared = [&](const std::string& name) {
    for (OptionList list : accepted) {
      for (const OptionSpec& o : list) {
        if (option_spec_matches(o, name)) return true;
      }
    }
    return false;
  };
  for (const auto& [k, v] : values_) {
    if (used_.count(k) || declared(k)) continue;
    std::string known;
    for (OptionList list : accepted) {
      for (const OptionSpec& o : list) fmt::format_to(std::back_inserter(known), "{}{}", known.empty() ? "" : ", ", o.name);
    }
    return invalid_argument("{}: unknown option '{}' (known options: {})", context_, k, known);
  }
  return Status::ok();
}

}  // namespace sluice
