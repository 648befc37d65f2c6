#include "connectors/console/console_sink.h"

#include "connectors/connector_util.h"
#include "connectors/text_sink.h"

namespace sluice {
namespace {

class ConsoleSinkFactory : public SinkFactory {
 public:
  ConsoleSinkFactory(const SinkSpec& spec, std::string context, FormatOptions format, bool changelog, FILE* out)
      : schema_(spec.schema), context_(std::move(context)), format_(std::move(format)), changelog_(changelog),
        out_(out) {}

  SinkCapabilities capabilities() const override {
    SinkCapabilities c;
    c.changelog_append = true;  // a console can always show what changed
    return c;
  }

  Result<std::unique_ptr<SinkWriter>> create_writer() override {
    TextSinkWriter::Config c;
    c.context = context_;
    c.name = "stdout";
    c.format = format_;
    c.schema = schema_;
    c.ops = changelog_ ? TextSinkWriter::OpPolicy::kAlways : TextSinkWriter::OpPolicy::kOnceUpdating;
    c.flush_each_write = true;
    FILE* out = out_;
    c.open_stream = [out]() -> Result<TextSinkWriter::Stream> {
      return TextSinkWriter::Stream{out, /*close_at_end=*/false, /*empty=*/true, /*path=*/""};
    };
    return std::unique_ptr<SinkWriter>(std::make_unique<TextSinkWriter>(std::move(c)));
  }

  std::string describe() const override {
    return fmt::format("console ({}{})", format_.format, changelog_ ? ", changelog" : "");
  }

 private:
  SchemaPtr schema_;
  std::string context_;
  FormatOptions format_;
  bool changelog_;
  FILE* out_;
};

}  // namespace

Result<std::unique_ptr<SinkFactory>> make_console_sink_factory(const SinkSpec& spec, FILE* out) {
  std::string context = table_context(spec.options, spec.table);
  ASSIGN_OR_RETURN(FormatOptions format, read_sink_format(spec.options, context));
  ASSIGN_OR_RETURN(bool changelog, spec.options.get_bool("changelog", false));
  RETURN_IF_ERROR(spec.options.check_all_used());
  return std::unique_ptr<SinkFactory>(
      std::make_unique<ConsoleSinkFactory>(spec, std::move(context), std::move(format), changelog, out));
}

}  // namespace sluice
