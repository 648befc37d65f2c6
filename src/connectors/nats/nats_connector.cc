// The nats connector (JetStream source and sink, libnats) and its options; registered by
// builtin_connectors.cc when the build has libnats (SLUICE_WITH_NATS). docs/nats.md
// explains each option and the guarantees.
#include "connectors/nats/nats_sink.h"
#include "connectors/nats/nats_source.h"
#include "connectors/registry.h"

namespace sluice {
namespace {

// As docs/sql.md shows it (type, default, meaning).
constexpr OptionSpec kNatsSourceOptions[] = {
    {"url", "text", "required", "the servers, `nats://host:port[,nats://host:port...]`"},
    {"stream", "text", "required", "the JetStream stream"},
    {"subject", "text", "required", "the subject (wildcards allowed) of the stream's messages to read"},
    {"consumer", "text", "'sluice-<table>'", "the durable consumer's name; keep it stable across restarts"},
    {"startup_mode", "text", "earliest", "a new consumer starts at `earliest` (the stream's first message) or `latest`"},
    {"bounded_mode", "text", "none", "`latest`: read up to the stream's last message at the start, then end"},
    {"ack_wait", "duration", "10m", "redelivery timeout of the consumer (longer than a checkpoint interval)"},
    {"user", "text", "none", "user name"},
    {"password_env", "text", "none", "environment variable holding the user's password"},
    {"token_env", "text", "none", "environment variable holding an authentication token"},
};
constexpr OptionSpec kNatsSinkOptions[] = {
    {"url", "text", "required", "the servers, `nats://host:port[,nats://host:port...]`"},
    {"subject", "text", "required", "the subject published to (a stream must capture it)"},
    {"user", "text", "none", "user name"},
    {"password_env", "text", "none", "environment variable holding the user's password"},
    {"token_env", "text", "none", "environment variable holding an authentication token"},
};

}  // namespace

void register_nats_connector(ConnectorRegistry& r) {
  r.add_source({"nats", &make_nats_source_factory, kNatsSourceOptions, source_format_options()});
  r.add_sink({"nats", &make_nats_sink_factory, kNatsSinkOptions, {}});
}

}  // namespace sluice
