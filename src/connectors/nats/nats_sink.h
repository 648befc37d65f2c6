// NATS JetStream sink (connector = 'nats', libnats): one message per row (the row as a JSON
// object) published to `subject`, which a JetStream stream must capture. docs/nats.md.
//
// Exactly-once with checkpoints: the rows of a checkpoint travel in it (BufferedRowsTarget)
// and are published when it completes, each with the header Nats-Msg-Id =
// '<job id>/<sink id>/<run>/<checkpoint id>/<row>' (run: counts the job's fresh starts, so a
// --start-over publishes anew): a commit replayed after a crash publishes the same ids
// again and the stream's duplicate window drops them. After every message of a
// commit is acknowledged by the stream, the checkpoint id is recorded in the JetStream
// key-value bucket 'sluice_commits' (key '<job id>.<sink id>'), so a later replay is skipped
// even after the duplicate window; key 'dirs.<hash of the checkpoint directory>.<sink id>'
// names the job id that last committed from that directory, so a job whose checkpoint
// directory was deleted (a new job id) is refused (TransactionalSinkWriter::start_fresh():
// published messages cannot be taken back, --start-over accepts them). Without checkpoints rows are published at each flush
// and acknowledged before the flush returns (at-least-once).
//
// Threads: one sink task uses a writer (libnats runs its own I/O threads; the publish
// acknowledgement handler only records the first failure, under a mutex).
#pragma once

#include <memory>

#include "connectors/sink.h"

namespace sluice {

Result<std::unique_ptr<SinkFactory>> make_nats_sink_factory(const SinkSpec& spec);

}  // namespace sluice
