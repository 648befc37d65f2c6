// The connector registry: maps a table's `connector` option onto the factory that builds
// it and the options it accepts (see registry.h). Connectors register themselves
// (<name>/<name>_connector.cc); the options every source accepts and the shared format
// options are listed here. Adding an option = one line in its option list (and a row in
// docs/sql.md). Called on the planner thread.
#include "connectors/registry.h"

#include <algorithm>
#include <set>
#include <string_view>
#include <type_traits>

#include "common/logging.h"
#include "connectors/connector_util.h"

namespace sluice {
namespace {

// Option lists, as docs/sql.md shows them (type, default, meaning). Paths are relative to
// the working directory of `sluice run`.

// Read by the planner for every source (kept out of the connector's options).
constexpr OptionSpec kCommonSourceOptions[] = {
    {"event_time", "text", "none", "the TIMESTAMP column that carries event time"},
    {"watermark_delay", "duration", "0s", "allowed out-of-orderness: watermark = max event time - delay"},
    {"allowed_lateness", "duration", "SET allowed_lateness (0s)",
     "keep windows open for updates this long after they fire"},
    {"idle_timeout", "duration", "none", "a split without data this long stops holding back the watermark"},
    {"readers", "integer", "1 (generator: splits)", "reader tasks (threads) of the source; each reads several splits"},
    {"max_future_skew", "duration", "none",
     "a row further ahead of max(processing time, max event time so far) goes to the DLQ"},
    {"dlq", "text", "<table>.dlq.jsonl", "dead-letter queue: a JSON-lines file, or a SQLite database"},
    {"dlq_table", "text", "none", "the dead-letter queue is this table of the SQLite database `dlq`"},
    {"late_output", "text", "<table>.late.jsonl", "where rows too late for their window go"},
    {"late_output_table", "text", "none", "the late output is this table of the SQLite database `late_output`"},
};

// Options every sink table accepts, read by the planner rather than the connector.
constexpr OptionSpec kCommonSinkOptions[] = {
    {"sink.parallelism", "integer", "1",
     "writer instances of the sink, fed by a hash exchange on the primary key (or on every column): each key's "
     "rows stay in order; only for sinks that allow several writers"},
    {"sink.flush_interval", "duration", "200ms",
     "without checkpoints: rows written are made visible (flushed) at most this often; 0s: after every batch"},
};

// Read by read_source_format / read_sink_format (connector_util.h).
constexpr OptionSpec kSourceFormatOptions[] = {
    {"format", "text", "json", "`json` (one object per line) or `csv`"},
    {"delimiter", "text", ",", "CSV only: the field separator, one character or `tab`"},
    {"header", "bool", "false", "CSV only: the first line is a header"},
    {"timestamp_unit", "text", "ms", "the unit of epoch numbers in TIMESTAMP and INTERVAL fields: `s`, `ms`, `us`"},
};
constexpr OptionSpec kSinkFormatOptions[] = {
    {"format", "text", "json", "`json` (one object per line) or `csv`"},
    {"delimiter", "text", ",", "CSV only: the field separator, one character or `tab`"},
    {"header", "bool", "true", "CSV only: write a header line"},
};


bool declares(OptionList list, std::string_view name) {
  for (const OptionSpec& o : list) {
    if (option_spec_matches(o, name)) return true;
  }
  return false;
}

template <typename Spec, typename Factory>
OptionList common_options(const ConnectorEntry<Spec, Factory>&) {
  if constexpr (std::is_same_v<Spec, SourceSpec>) {
    return kCommonSourceOptions;
  } else if constexpr (std::is_same_v<Spec, LookupSpec>) {
    return {};
  } else {
    return kCommonSinkOptions;
  }
}

// Runs the connector's factory with the options its list declares: an undeclared option
// is refused before the connector sees it, and a connector that reads an option missing
// from its list is a programming error (the list is what docs/sql.md is checked against).
template <typename Spec, typename Factory>
Result<std::unique_ptr<Factory>> make_declared(const Spec& spec, const ConnectorEntry<Spec, Factory>& e) {
  // Options marked used before dispatch are consumed elsewhere (the planner's own).
  const std::set<std::string> consumed_elsewhere = spec.options.used();
  RETURN_IF_ERROR(spec.options.check_declared({e.options, e.format_options, common_options(e)}));
  ASSIGN_OR_RETURN(std::unique_ptr<Factory> factory, e.make(spec));
  for (const std::string& name : spec.options.used()) {
    if (consumed_elsewhere.count(name) || declares(e.options, name) || declares(e.format_options, name)) continue;
    return internal_error("{}: connector '{}' reads option '{}', which its option list "
                          "does not declare (declare it there and document it in docs/sql.md)",
                          table_context(spec.options, spec.table), e.name, name);
  }
  return factory;
}

template <typename Spec, typename Factory>
Result<std::unique_ptr<Factory>> dispatch(const Spec& spec, const std::vector<ConnectorEntry<Spec, Factory>>& entries) {
  const std::string context = table_context(spec.options, spec.table);
  for (const auto& e : entries) {
    if (spec.connector != e.name) continue;
    ASSIGN_OR_RETURN(std::unique_ptr<Factory> factory, make_declared(spec, e));
    // Every connector checks this itself before touching files; checked again here so a
    // connector that forgets cannot let a misspelled option pass.
    RETURN_IF_ERROR(spec.options.check_all_used());
    return factory;
  }
  std::string available;
  for (const auto& e : entries) {
    if (!available.empty()) available += ", ";
    available += e.name;
  }
  if (spec.connector.empty()) {
    return invalid_argument("{}: missing option 'connector' (available: {})", context, available);
  }
  return invalid_argument("{}: unknown connector '{}' (available: {})", context, spec.connector, available);
}

template <typename Entry>
void add_sorted(std::vector<Entry>& entries, const Entry& e) {
  for (const Entry& other : entries) {
    if (other.name == e.name) {
      log_error("connector '{}' registered twice; the first registration is kept", e.name);
      return;
    }
  }
  auto at = std::find_if(entries.begin(), entries.end(), [&](const Entry& o) { return e.name < o.name; });
  entries.insert(at, e);
}

}  // namespace

void ConnectorRegistry::add_source(const SourceConnector& c) { add_sorted(sources_, c); }

void ConnectorRegistry::add_sink(const SinkConnector& c) { add_sorted(sinks_, c); }

void ConnectorRegistry::add_lookup(const LookupConnector& c) { add_sorted(lookups_, c); }

Result<std::unique_ptr<LookupReader>> ConnectorRegistry::make_lookup_reader(const LookupSpec& spec) const {
  for (const auto& e : lookups_) {
    if (spec.connector == e.name) return dispatch(spec, lookups_);
  }
  return std::unique_ptr<LookupReader>();
}

void ConnectorRegistry::set_database_side_output(DatabaseSideOutputFactory make) {
  database_side_output_ = make;
}

Result<std::unique_ptr<SourceFactory>> ConnectorRegistry::make_source_factory(const SourceSpec& spec) const {
  return dispatch(spec, sources_);
}

Result<std::unique_ptr<SinkFactory>> ConnectorRegistry::make_sink_factory(const SinkSpec& spec) const {
  // Sinks encode rows by their schema; sources only produce bytes and do not need one.
  if (!spec.schema) return internal_error("{}: sink has no schema", table_context(spec.options, spec.table));
  return dispatch(spec, sinks_);
}

Result<std::unique_ptr<DeadLetterQueue>> ConnectorRegistry::make_side_output(const std::string& path,
                                                                             const std::string& table,
                                                                             SideOutputKind kind) const {
  if (!dead_letter_uses_sqlite(path, table)) return make_file_dead_letter_queue(path, kind);
  if (database_side_output_ == nullptr) {
    return invalid_argument("{} {}: a SQLite destination, but the sqlite connector is not in this build",
                            side_output_kind_name(kind), path);
  }
  return database_side_output_(path, table, kind);
}

std::vector<ConnectorInfo> ConnectorRegistry::connectors() const {
  std::vector<ConnectorInfo> out;
  auto add = [&](std::string_view kind, std::string_view name, OptionList own, OptionList format) {
    ConnectorInfo info{kind, name, {}};
    info.options.assign(own.begin(), own.end());
    info.options.insert(info.options.end(), format.begin(), format.end());
    out.push_back(std::move(info));
  };
  for (const auto& e : sources_) add("source", e.name, e.options, e.format_options);
  for (const auto& e : sinks_) add("sink", e.name, e.options, e.format_options);
  return out;
}

std::string connector_names() {
  std::string out;
  std::set<std::string_view> seen;
  for (const ConnectorInfo& c : registered_connectors()) {
    if (!seen.insert(c.name).second) continue;
    if (!out.empty()) out += ", ";
    out += c.name;
  }
  return out;
}

OptionList source_format_options() { return kSourceFormatOptions; }

OptionList sink_format_options() { return kSinkFormatOptions; }

OptionList common_source_options() { return kCommonSourceOptions; }

bool is_common_source_option(std::string_view name) { return declares(kCommonSourceOptions, name); }

OptionList common_sink_options() { return kCommonSinkOptions; }

bool is_common_sink_option(std::string_view name) { return declares(kCommonSinkOptions, name); }

const char* sink_guarantee_name(SinkGuarantee g) {
  switch (g) {
    case SinkGuarantee::kAtLeastOnce: return "at-least-once";
    case SinkGuarantee::kIdempotent: return "idempotent";
    case SinkGuarantee::kExactlyOnce: return "exactly-once";
  }
  return "unknown";
}

}  // namespace sluice
