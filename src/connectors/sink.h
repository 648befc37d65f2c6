// Sink connectors.
//
// A sink writer is owned by one sink task and called only from its thread: open(), write()
// for each batch, flush() at quiet points (end of a batch of fired windows, periodic), and
// close() at the end of the job. Batches may carry changelog rows (RowKind): an upsert sink
// applies them by its primary key; an append-only sink refuses an updating stream at
// planning time unless the user allows a changelog (then it writes the op per row).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "connectors/options.h"
#include "types/record_batch.h"

namespace sluice {

enum class SinkGuarantee { kAtLeastOnce, kIdempotent, kExactlyOnce };
const char* sink_guarantee_name(SinkGuarantee g);

struct SinkSpec {
  std::string table;      // table name in SQL
  std::string connector;  // "console", "file", "sqlite"
  SchemaPtr schema;       // the sink's columns (declared or inferred from the query)
  ConnectorOptions options;
};

class SinkWriter {
 public:
  virtual ~SinkWriter() = default;
  virtual Status open() = 0;
  virtual Status write(const RecordBatch& batch) = 0;
  virtual Status flush() = 0;
  virtual Status close() = 0;
};

struct SinkCapabilities {
  bool upsert = false;           // applies updates/deletes by primary key
  bool changelog_append = false;  // can write +I/-U/+U/-D rows with an op column
  SinkGuarantee guarantee = SinkGuarantee::kAtLeastOnce;
  std::vector<std::string> primary_key;  // for upsert sinks; empty = one global row
};

class SinkFactory {
 public:
  virtual ~SinkFactory() = default;
  virtual SinkCapabilities capabilities() const = 0;
  virtual Result<std::unique_ptr<SinkWriter>> create_writer() = 0;
  virtual std::string describe() const = 0;
};

Result<std::unique_ptr<SinkFactory>> make_sink_factory(const SinkSpec& spec);

}  // namespace sluice
