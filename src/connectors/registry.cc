// The connector registry: maps a table's `connector` option onto the factory that builds
// it and the options it accepts (see registry.h). Adding a connector = one line in a table
// below; adding an option = one line in its option list (and a row in docs/sql.md).
// Called on the planner thread.
#include "connectors/registry.h"

#include <set>
#include <string_view>
#include <type_traits>

#include "connectors/connector_util.h"
#include "connectors/blackhole/blackhole_sink.h"
#include "connectors/console/console_sink.h"
#include "connectors/file/file_sink.h"
#include "connectors/file/file_source.h"
#include "connectors/generator/generator_source.h"
#include "connectors/sink.h"
#include "connectors/source.h"
#include "connectors/sqlite/sqlite_sink.h"
#include "connectors/stdio/stdin_source.h"

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
    {"max_future_skew", "duration", "none",
     "a row further ahead of max(processing time, max event time so far) goes to the DLQ"},
    {"dlq", "text", "<table>.dlq.jsonl", "dead-letter queue: a JSON-lines file, or a SQLite database"},
    {"dlq_table", "text", "none", "the dead-letter queue is this table of the SQLite database `dlq`"},
    {"late_output", "text", "<table>.late.jsonl", "where rows too late for their window go"},
    {"late_output_table", "text", "none", "the late output is this table of the SQLite database `late_output`"},
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

constexpr OptionSpec kFileSourceOptions[] = {
    {"path", "text", "required", "the file to read"},
    {"follow", "bool", "false", "tail a growing file and never end"},
    {"rate", "integer", "0", "records per second; 0 = as fast as possible"},
    {"max_line_bytes", "integer", "67108864", "the longest record; a longer one goes to the DLQ"},
};
constexpr OptionSpec kStdinSourceOptions[] = {
    {"max_line_bytes", "integer", "67108864", "the longest record; a longer one goes to the DLQ"},
};
constexpr OptionSpec kGeneratorOptions[] = {
    {"seed", "integer", "42", "same seed, same events"},
    {"events", "integer", "0", "total events; 0 = unbounded"},
    {"rate", "number", "0", "events per second over all splits; 0 = as fast as possible"},
    {"splits", "integer", "1", "parallel readers (1..1024)"},
    {"start", "timestamp", "2024-01-01T00:00:00Z", "event time of the first event"},
    {"interval", "duration", "10ms", "event-time step between consecutive events"},
    {"out_of_order", "number", "0", "fraction of events moved back by up to max_out_of_orderness"},
    {"max_out_of_orderness", "duration", "5s", "the bound of out_of_order"},
    {"late", "number", "0", "fraction of events moved back by 2x..10x max_out_of_orderness"},
    {"malformed", "number", "0", "fraction of events emitted broken"},
    {"users", "integer", "1000", "distinct users"},
    {"pages", "integer", "100", "distinct product pages"},
    {"timestamp_format", "text", "iso", "`iso` text or `epoch_ms` numbers"},
    {"format", "text", "json", "only `json`"},
};
constexpr OptionSpec kConsoleSinkOptions[] = {
    {"changelog", "bool", "false", "show every row's op (+I/-U/+U/-D)"},
};
constexpr OptionSpec kFileSinkOptions[] = {
    {"path", "text", "required", "the output file; its directory must exist"},
    {"mode", "text", "overwrite", "`overwrite` or `append`"},
    {"changelog", "bool", "false", "write every row's op; accepts updating results"},
};
constexpr OptionSpec kSqliteSinkOptions[] = {
    {"path", "text", "required", "the database file (created if missing)"},
    {"table", "text", "the SQL table's name", "the SQLite table"},
    {"primary_key", "text", "none", "upsert by these columns ('a,b'); '' = one global row"},
};

template <typename Spec, typename Factory>
struct Entry {
  std::string_view name;
  Result<std::unique_ptr<Factory>> (*make)(const Spec&);
  OptionList options;
  OptionList format_options;  // shared by connectors with the same format handling
};

// Sorted by name: the order they are listed in errors.
const Entry<SourceSpec, SourceFactory> kSources[] = {
    {"file", &make_file_source_factory, kFileSourceOptions, kSourceFormatOptions},
    {"generator", &make_generator_source_factory, kGeneratorOptions, {}},
    {"stdin", [](const SourceSpec& s) { return make_stdin_source_factory(s); }, kStdinSourceOptions,
     kSourceFormatOptions},
};

const Entry<SinkSpec, SinkFactory> kSinks[] = {
    {"blackhole", &make_blackhole_sink_factory, {}, {}},
    {"console", [](const SinkSpec& s) { return make_console_sink_factory(s); }, kConsoleSinkOptions,
     kSinkFormatOptions},
    {"file", &make_file_sink_factory, kFileSinkOptions, kSinkFormatOptions},
    {"sqlite", &make_sqlite_sink_factory, kSqliteSinkOptions, {}},
};

bool declares(OptionList list, std::string_view name) {
  for (const OptionSpec& o : list) {
    if (o.name == name) return true;
  }
  return false;
}

template <typename Spec, typename Factory>
OptionList common_options(const Entry<Spec, Factory>&) {
  if constexpr (std::is_same_v<Spec, SourceSpec>) return kCommonSourceOptions;
  return {};
}

// Runs the connector's factory with the options its list declares: an undeclared option
// is refused before the connector sees it, and a connector that reads an option missing
// from its list is a programming error (the list is what docs/sql.md is checked against).
template <typename Spec, typename Factory>
Result<std::unique_ptr<Factory>> make_declared(const Spec& spec, const Entry<Spec, Factory>& e) {
  // Options marked used before dispatch are consumed elsewhere (the planner's own).
  const std::set<std::string> consumed_elsewhere = spec.options.used();
  RETURN_IF_ERROR(spec.options.check_declared({e.options, e.format_options, common_options(e)}));
  ASSIGN_OR_RETURN(std::unique_ptr<Factory> factory, e.make(spec));
  for (const std::string& name : spec.options.used()) {
    if (consumed_elsewhere.count(name) || declares(e.options, name) || declares(e.format_options, name)) continue;
    return internal_error("{}: connector '{}' reads option '{}', which its list in src/connectors/registry.cc "
                          "does not declare (declare it there and document it in docs/sql.md)",
                          table_context(spec.options, spec.table), e.name, name);
  }
  return factory;
}

template <typename Spec, typename Factory, size_t N>
Result<std::unique_ptr<Factory>> dispatch(const Spec& spec, const Entry<Spec, Factory> (&entries)[N]) {
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

}  // namespace

Result<std::unique_ptr<SourceFactory>> make_source_factory(const SourceSpec& spec) { return dispatch(spec, kSources); }

Result<std::unique_ptr<SinkFactory>> make_sink_factory(const SinkSpec& spec) {
  // Sinks encode rows by their schema; sources only produce bytes and do not need one.
  if (!spec.schema) return internal_error("{}: sink has no schema", table_context(spec.options, spec.table));
  return dispatch(spec, kSinks);
}

std::vector<ConnectorInfo> registered_connectors() {
  std::vector<ConnectorInfo> out;
  auto add = [&](std::string_view kind, std::string_view name, OptionList own, OptionList format) {
    ConnectorInfo info{kind, name, {}};
    info.options.assign(own.begin(), own.end());
    info.options.insert(info.options.end(), format.begin(), format.end());
    out.push_back(std::move(info));
  };
  for (const auto& e : kSources) add("source", e.name, e.options, e.format_options);
  for (const auto& e : kSinks) add("sink", e.name, e.options, e.format_options);
  return out;
}

OptionList common_source_options() { return kCommonSourceOptions; }

bool is_common_source_option(std::string_view name) { return declares(kCommonSourceOptions, name); }

const char* sink_guarantee_name(SinkGuarantee g) {
  switch (g) {
    case SinkGuarantee::kAtLeastOnce: return "at-least-once";
    case SinkGuarantee::kIdempotent: return "idempotent";
    case SinkGuarantee::kExactlyOnce: return "exactly-once";
  }
  return "unknown";
}

}  // namespace sluice
