// ConnectorOptions: the WITH (...) options of a CREATE TABLE, with typed accessors that
// produce one-line errors naming the option, and a check that every option was used
// (a misspelled option is an error, not silently ignored).
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/time_util.h"

namespace sluice {

class ConnectorOptions {
 public:
  ConnectorOptions() = default;
  // `context` names the owner in error messages, e.g. "table clicks".
  ConnectorOptions(std::map<std::string, std::string> values, std::string context);

  bool has(const std::string& name) const;
  // Marks the option as known even if not read (options consumed elsewhere).
  void mark_used(const std::string& name) const { used_.insert(name); }

  std::string get_string(const std::string& name, const std::string& fallback = "") const;
  Result<std::string> require_string(const std::string& name) const;
  Result<int64_t> get_int(const std::string& name, int64_t fallback) const;
  Result<double> get_double(const std::string& name, double fallback) const;
  Result<bool> get_bool(const std::string& name, bool fallback) const;
  Result<Micros> get_duration(const std::string& name, Micros fallback) const;
  // Returns an error naming any option never read; `known` is listed in the message.
  Status check_all_used() const;

  const std::map<std::string, std::string>& values() const { return values_; }
  const std::string& context() const { return context_; }

 private:
  std::map<std::string, std::string> values_;  // keys lower-cased
  std::string context_;
  mutable std::set<std::string> used_;
};

}  // namespace sluice
