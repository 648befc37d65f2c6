// The connector registry: maps a table's `connector` option onto the factory that builds
// it. Adding a connector = one line in a table below. Called on the planner thread.
#include <string_view>

#include "connectors/connector_util.h"
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

template <typename Spec, typename Factory>
struct Entry {
  std::string_view name;
  Result<std::unique_ptr<Factory>> (*make)(const Spec&);
};

// Sorted by name: the order they are listed in errors.
const Entry<SourceSpec, SourceFactory> kSources[] = {
    {"file", &make_file_source_factory},
    {"generator", &make_generator_source_factory},
    {"stdin", [](const SourceSpec& s) { return make_stdin_source_factory(s); }},
};

const Entry<SinkSpec, SinkFactory> kSinks[] = {
    {"console", [](const SinkSpec& s) { return make_console_sink_factory(s); }},
    {"file", &make_file_sink_factory},
    {"sqlite", &make_sqlite_sink_factory},
};

template <typename Spec, typename Factory, size_t N>
Result<std::unique_ptr<Factory>> dispatch(const Spec& spec, const Entry<Spec, Factory> (&entries)[N]) {
  const std::string context = table_context(spec.options, spec.table);
  for (const auto& e : entries) {
    if (spec.connector != e.name) continue;
    ASSIGN_OR_RETURN(std::unique_ptr<Factory> factory, e.make(spec));
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

const char* sink_guarantee_name(SinkGuarantee g) {
  switch (g) {
    case SinkGuarantee::kAtLeastOnce: return "at-least-once";
    case SinkGuarantee::kIdempotent: return "idempotent";
    case SinkGuarantee::kExactlyOnce: return "exactly-once";
  }
  return "unknown";
}

}  // namespace sluice
