// The generator source (synthetic clickstream) and its options; registered by
// builtin_connectors.cc.
#include "connectors/registry.h"
#include "connectors/generator/generator_source.h"

namespace sluice {
namespace {

// As docs/sql.md shows it (type, default, meaning). Paths are relative to the working
// directory of `sluice run`.
constexpr OptionSpec kGeneratorOptions[] = {
    {"seed", "integer", "42", "same seed, same events"},
    {"events", "integer", "0", "total events; 0 = unbounded"},
    {"rate", "number", "0", "events per second over all splits; 0 = as fast as possible"},
    {"splits", "integer", "1", "splits (1..1024); each reader task reads several"},
    {"initial_splits", "integer", "same as splits", "splits that exist at the start; one more is added every split_interval"},
    {"split_interval", "duration", "1s", "with initial_splits < splits: time between two added splits"},
    {"rebalance_interval", "duration", "0s", "take one split back from its reader and give it to the next reader this often; 0 = never"},
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

}  // namespace

void register_generator_connector(ConnectorRegistry& r) {
  r.add_source({"generator", &make_generator_source_factory, kGeneratorOptions, {}});
}

}  // namespace sluice
