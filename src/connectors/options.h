// ConnectorOptions: the WITH (...) options of a CREATE TABLE, with typed accessors that
// produce one-line errors naming the option, and a check that every option was used
// (a misspelled option is an error, not silently ignored).
//
// OptionSpec: one option a connector accepts. Each connector's list lives in the registry
// (registry.cc); it decides which options a table may give (check_declared) and is what
// docs/sql.md must document (registry_options_test.cc compares the two).
//
// Created and read on the planner thread only.
#pragma once

#include <initializer_list>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "common/time_util.h"

namespace sluice {

// One accepted option, as docs/sql.md documents it: `type` ("text", "bool", "integer",
// "number", "duration", "timestamp"), `default_value` as the document shows it ("json",
// "0", "required", "none", ...) and a one-line meaning.
struct OptionSpec {
  std::string_view name;
  std::string_view type;
  std::string_view default_value;
  std::string_view description;
};
using OptionList = std::span<const OptionSpec>;
// Whether `spec` accepts option `name`: the same name, or for a spec named "prefix.*" any
// name starting with "prefix." (pass-through settings such as "properties.*").
bool option_spec_matches(const OptionSpec& spec, std::string_view name);

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
  // Every option whose name starts with `prefix` ("properties."), as (name without the
  // prefix, value) in name order, all marked used: pass-through settings of a client library.
  std::vector<std::pair<std::string, std::string>> with_prefix(std::string_view prefix) const;
  // Returns an error naming any option never read; `known` is listed in the message.
  Status check_all_used() const;
  // Returns an "unknown option" error for a given option that no list in `accepted`
  // declares (options already marked used count as consumed elsewhere); the message lists
  // the accepted names.
  Status check_declared(std::initializer_list<OptionList> accepted) const;
  // The names read (or marked used) so far.
  const std::set<std::string>& used() const { return used_; }
  // The default each option was read with (the accessor's fallback) as text, durations
  // as format_duration() writes them: lets a test compare the code's defaults with the
  // documented ones.
  const std::map<std::string, std::string>& fallbacks() const { return fallbacks_; }

  const std::map<std::string, std::string>& values() const { return values_; }
  const std::string& context() const { return context_; }

 private:
  std::map<std::string, std::string> values_;  // keys lower-cased
  std::string context_;
  mutable std::set<std::string> used_;
  mutable std::map<std::string, std::string> fallbacks_;
};

}  // namespace sluice
