#include "connectors/blackhole/blackhole_sink.h"

#include "connectors/connector_util.h"

namespace sluice {
namespace {

class BlackholeWriter : public SinkWriter {
 public:
  Status open() override { return Status::ok(); }
  Status write(const RecordBatch& batch) override {
    rows_ += batch.num_rows;
    return Status::ok();
  }
  Status flush() override { return Status::ok(); }
  Status close() override { return Status::ok(); }

 private:
  uint64_t rows_ = 0;
};

class BlackholeSinkFactory : public SinkFactory {
 public:
  SinkCapabilities capabilities() const override {
    SinkCapabilities c;
    c.changelog_append = true;  // nothing is stored, so any stream is accepted
    // Writing nothing, it can neither lose nor repeat anything.
    c.guarantee = SinkGuarantee::kExactlyOnce;
    c.parallel_writers = true;
    return c;
  }
  Result<std::unique_ptr<SinkWriter>> create_writer() override {
    return std::unique_ptr<SinkWriter>(std::make_unique<BlackholeWriter>());
  }
  std::string describe() const override { return "blackhole (discards every row)"; }
};

}  // namespace

Result<std::unique_ptr<SinkFactory>> make_blackhole_sink_factory(const SinkSpec& spec) {
  RETURN_IF_ERROR(spec.options.check_all_used());
  return std::unique_ptr<SinkFactory>(std::make_unique<BlackholeSinkFactory>());
}

}  // namespace sluice
