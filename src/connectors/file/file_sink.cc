#include "connectors/file/file_sink.h"

#include <sys/stat.h>

#include <cerrno>

#include "connectors/connector_util.h"
#include "connectors/text_sink.h"

namespace sluice {
namespace {

constexpr size_t kFileBufferBytes = size_t{1} << 20;

class FileSinkFactory : public SinkFactory {
 public:
  FileSinkFactory(const SinkSpec& spec, std::string context, std::string path, FormatOptions format, bool append,
                  bool changelog)
      : schema_(spec.schema), context_(std::move(context)), path_(std::move(path)), format_(std::move(format)),
        append_(append), changelog_(changelog) {}

  SinkCapabilities capabilities() const override {
    SinkCapabilities c;
    c.changelog_append = changelog_;
    c.guarantee = SinkGuarantee::kAtLeastOnce;
    return c;
  }

  Result<std::unique_ptr<SinkWriter>> create_writer() override {
    TextSinkWriter::Config c;
    c.context = context_;
    c.name = fmt::format("file '{}'", path_);
    c.format = format_;
    c.schema = schema_;
    c.ops = changelog_ ? TextSinkWriter::OpPolicy::kAlways : TextSinkWriter::OpPolicy::kInsertsOnly;
    c.open_stream = [path = path_, context = context_, append = append_]() -> Result<TextSinkWriter::Stream> {
      FILE* f = std::fopen(path.c_str(), append ? "ae" : "we");
      if (f == nullptr) {
        return io_error("{}: cannot open '{}' for writing: {}", context, path, errno_text(errno));
      }
      std::setvbuf(f, nullptr, _IOFBF, kFileBufferBytes);
      struct stat st {};
      bool empty = ::fstat(fileno(f), &st) != 0 || st.st_size == 0;
      return TextSinkWriter::Stream{f, /*close_at_end=*/true, empty};
    };
    return std::unique_ptr<SinkWriter>(std::make_unique<TextSinkWriter>(std::move(c)));
  }

  std::string describe() const override {
    return fmt::format("file {} ({}, {}{})", path_, format_.format, append_ ? "append" : "overwrite",
                       changelog_ ? ", changelog" : "");
  }

 private:
  SchemaPtr schema_;
  std::string context_;
  std::string path_;
  FormatOptions format_;
  bool append_;
  bool changelog_;
};

}  // namespace

Result<std::unique_ptr<SinkFactory>> make_file_sink_factory(const SinkSpec& spec) {
  const ConnectorOptions& o = spec.options;
  std::string context = table_context(o, spec.table);
  ASSIGN_OR_RETURN(std::string path, o.require_string("path"));
  ASSIGN_OR_RETURN(FormatOptions format, read_sink_format(o, context));
  std::string mode = o.get_string("mode", "overwrite");
  if (mode != "overwrite" && mode != "append") {
    return invalid_argument("{}: option 'mode' must be 'overwrite' or 'append', got '{}'", context, mode);
  }
  ASSIGN_OR_RETURN(bool changelog, o.get_bool("changelog", false));
  RETURN_IF_ERROR(o.check_all_used());
  RETURN_IF_ERROR(check_parent_directory(path, context));
  return std::unique_ptr<SinkFactory>(std::make_unique<FileSinkFactory>(spec, std::move(context), std::move(path),
                                                                        std::move(format), mode == "append",
                                                                        changelog));
}

}  // namespace sluice
