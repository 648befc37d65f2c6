#include "connectors/stdio/stdin_source.h"

#include "connectors/connector_util.h"
#include "connectors/file/file_source.h"
#include "connectors/line_reader.h"

namespace sluice {
namespace {

class StdinSourceReader : public SourceReader {
 public:
  StdinSourceReader(int fd, const std::string& context)
      : lines_(fd, context + ": stdin", line_options()) {}

  Status open() override { return Status::ok(); }
  Result<PollStatus> poll(RawRecords& out, size_t max_records) override {
    return lines_.poll(out, max_records);
  }
  int64_t position() const override { return lines_.position(); }

 private:
  static LineReader::Options line_options() {
    LineReader::Options o;
    o.max_line_bytes = kMaxLineBytes;
    return o;
  }
  LineReader lines_;  // the descriptor is not ours: stdin stays open
};

class StdinSourceFactory : public SourceFactory {
 public:
  StdinSourceFactory(int fd, std::string context, FormatOptions format)
      : fd_(fd), context_(std::move(context)), format_(std::move(format)) {}

  int num_splits() const override { return 1; }
  Result<std::unique_ptr<SourceReader>> create_reader(int split) override {
    if (split != 0) return internal_error("{}: stdin source has one split, asked for {}", context_, split);
    return std::unique_ptr<SourceReader>(std::make_unique<StdinSourceReader>(fd_, context_));
  }
  const FormatOptions& format() const override { return format_; }
  bool bounded() const override { return true; }
  std::string describe() const override { return fmt::format("stdin ({})", format_.format); }
  std::string identity() const override { return "stdin"; }

 private:
  int fd_;
  std::string context_;
  FormatOptions format_;
};

}  // namespace

Result<std::unique_ptr<SourceFactory>> make_stdin_source_factory(const SourceSpec& spec, int fd) {
  std::string context = table_context(spec.options, spec.table);
  ASSIGN_OR_RETURN(FormatOptions format, read_source_format(spec.options, context));
  RETURN_IF_ERROR(spec.options.check_all_used());
  return std::unique_ptr<SourceFactory>(
      std::make_unique<StdinSourceFactory>(fd, std::move(context), std::move(format)));
}

}  // namespace sluice
