// Lookup tables: tables a processing-time lookup join reads (JOIN lookup(t, ...),
// operators/lookup_join.h) rather than streams. A LookupReader reads every row of the table
// as it is now; the lookup join calls it when it opens and then again every refresh
// interval, on its own loader thread, never from a task's processing step.
//
// Connectors that can be read this way register a lookup entry (registry.h add_lookup):
// 'sqlite' (a table of a database file) and 'postgres' (a table or view, with libpq).
// Any bounded source connector ('file') is read through its source readers and decoder,
// the whole input each time (read_bounded_source below).
//
// Threads: a reader is used by one thread at a time.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "connectors/options.h"
#include "types/record_batch.h"
#include "types/schema.h"

namespace sluice {

struct LookupSpec {
  std::string table;      // table name, for errors
  std::string connector;  // "sqlite", "postgres", "file"
  SchemaPtr schema;       // declared columns, read by name
  ConnectorOptions options;
};

class LookupReader {
 public:
  virtual ~LookupReader() = default;
  // Every row of the table now, in the declared columns. An error leaves the caller's
  // previous rows in use (a refresh is retried at the next interval).
  virtual Result<MutableBatchPtr> read_all() = 0;
  virtual std::string describe() const = 0;
};

// Validates `spec`'s options and creates its reader (the connector's lookup entry, else the
// bounded source of that connector).
Result<std::unique_ptr<LookupReader>> make_lookup_reader(const LookupSpec& spec);

}  // namespace sluice
