// TextSinkWriter: the SinkWriter shared by the text sinks (console, file). Encodes each
// batch with a JSON/CSV Encoder into one buffer and hands it to a FILE* in one fwrite, so
// concurrent writers to stdout never interleave inside a batch.
//
// Lifecycle: open() obtains the stream (the sink's `open_stream` callback) and writes the
// CSV header when the output is empty; write() per batch; flush() pushes buffered bytes
// to the OS; sync() also fsyncs them; close() flushes and releases the stream. Used by
// one sink task thread. Transactions (recover/pre_commit/commit) are not this class's
// business: the file sink wraps one TextSinkWriter per part file (file/file_sink.cc).
//
// Which rows carry their operation (+I/-U/+U/-D) is the OpPolicy:
//   kInsertsOnly:  an append-only output; an update or delete row is an error (the planner
//                  should never route one here, so this catches bugs instead of writing a
//                  file that silently misrepresents the result).
//   kAlways:       a changelog output: every row has its op.
//   kOnceUpdating: console: plain rows until the first batch with a non-insert row, then
//                  the op on every row from that batch on.
#pragma once

#include <cstdio>
#include <functional>
#include <memory>
#include <string>

#include "connectors/sink.h"
#include "formats/format.h"

namespace sluice {

class TextSinkWriter : public SinkWriter {
 public:
  enum class OpPolicy { kInsertsOnly, kAlways, kOnceUpdating };

  struct Stream {
    FILE* file = nullptr;
    bool close_at_end = true;  // false for stdout
    bool empty = true;         // nothing written yet: the CSV header goes first
    // The file's path, when it is a file: flush() and close() fail if it was deleted or
    // replaced meanwhile (check_output_still_at_path). Empty for stdout.
    std::string path;
  };

  struct Config {
    std::string context;    // "table out"
    std::string name;       // "file 'out.jsonl'", "stdout": names the output in errors
    FormatOptions format;   // format.csv_header: write a header line (CSV)
    SchemaPtr schema;
    OpPolicy ops = OpPolicy::kInsertsOnly;
    bool flush_each_write = false;  // console: lines appear as soon as a batch is written
    std::function<Result<Stream>()> open_stream;
  };

  explicit TextSinkWriter(Config config);
  ~TextSinkWriter() override;

  Status open() override;
  Status write(const RecordBatch& batch) override;
  Status flush() override;
  Status close() override;

  // flush(), then fsync: the bytes written so far survive a crash of the machine (a
  // transactional file sink calls it before it renames a part into place).
  Status sync();

 private:
  Status put(const std::string& bytes);

  Config config_;
  std::unique_ptr<Encoder> encoder_;
  Stream stream_;
  bool updating_ = false;  // kOnceUpdating: a non-insert row was seen
  std::string buffer_;
};

}  // namespace sluice
