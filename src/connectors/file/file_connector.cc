// The file connector (source and sink) and its options; registered by builtin_connectors.cc.
#include "connectors/registry.h"
#include "connectors/file/file_sink.h"
#include "connectors/file/file_source.h"

namespace sluice {
namespace {

// As docs/sql.md shows it (type, default, meaning). Paths are relative to the working
// directory of `sluice run`.
constexpr OptionSpec kFileSourceOptions[] = {
    {"path", "text", "required", "the file to read; a directory (`dir/`) or a glob (`logs/*.jsonl`) reads its files"},
    {"follow", "bool", "false", "tail a growing file and never end"},
    {"discovery_interval", "duration", "1s", "follow mode, directory or glob: how often new files are looked for"},
    {"rate", "integer", "0", "records per second; 0 = as fast as possible"},
    {"max_line_bytes", "integer", "67108864", "the longest record; a longer one goes to the DLQ"},
};
constexpr OptionSpec kFileSinkOptions[] = {
    {"path", "text", "required", "the output file; its directory must exist"},
    {"mode", "text", "overwrite", "`overwrite` or `append`"},
    {"changelog", "bool", "false", "write every row's op; accepts updating results"},
};

}  // namespace

void register_file_connector(ConnectorRegistry& r) {
  r.add_source({"file", &make_file_source_factory, kFileSourceOptions, source_format_options()});
  r.add_sink({"file", &make_file_sink_factory, kFileSinkOptions, sink_format_options()});
}

}  // namespace sluice
