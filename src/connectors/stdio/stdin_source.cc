#include "connectors/stdio/stdin_source.h"

#include "connectors/connector_util.h"
#include "connectors/line_reader.h"

namespace sluice {
namespace {

class StdinSourceReader : public SourceReader {
 public:
  StdinSourceReader(int fd, const std::string& context, LineReader::Options options)
      : lines_(fd, context + ": stdin", options) {}

  Status open() override { return Status::ok(); }
  Result<PollStatus> poll(RawRecords& out, size_t max_records) override {
    return lines_.poll(out, max_records);
  }
  int64_t position() const override { return lines_.position(); }

 private:
  LineReader lines_;  // the descriptor is not ours: stdin stays open
};

class StdinSourceFactory : public SourceFactory {
 public:
  StdinSourceFactory(int fd, std::string context, FormatOptions format, LineReader::Options lines)
      : fd_(fd), context_(std::move(context)), format_(std::move(format)), line_options_(lines) {}

  int num_splits() const override { return 1; }
  Result<std::unique_ptr<SourceReader>> create_reader(int split) override {
    if (split != 0) return internal_error("{}: stdin source has one split, asked for {}", context_, split);
    return std::unique_ptr<SourceReader>(std::make_unique<StdinSourceReader>(fd_, context_, line_options_));
  }
  const FormatOptions& format() const override { return format_; }
  bool bounded() const override { return true; }
  std::string describe() const override { return fmt::format("stdin ({})", format_.format); }
  std::string identity() const override { return "stdin"; }

 private:
  int fd_;
  std::string context_;
  FormatOptions format_;
  LineReader::Options line_options_;
};

}  // namespace

Result<std::unique_ptr<SourceFactory>> make_stdin_source_factory(const SourceSpec& spec, int fd) {
  std::string context = table_context(spec.options, spec.table);
  ASSIGN_OR_RETURN(FormatOptions format, read_source_format(spec.options, context));
  ASSIGN_OR_RETURN(LineReader::Options lines, read_line_options(spec.options, format, context));
  RETURN_IF_ERROR(spec.options.check_all_used());
  return std::unique_ptr<SourceFactory>(
      std::make_unique<StdinSourceFactory>(fd, std::move(context), std::move(format), lines));
}

}  // namespace sluice
