#include "connectors/blackhole/blackhole_sink.h"

#include <chrono>
#include <thread>

#include "connectors/connector_util.h"

namespace sluice {
namespace {

class BlackholeWriter : public SinkWriter {
 public:
  explicit BlackholeWriter(Micros commit_delay) : commit_delay_(commit_delay) {}
  Status open() override { return Status::ok(); }
  Status write(const RecordBatch& batch) override {
    rows_ += batch.num_rows;
    return Status::ok();
  }
  // Without checkpoints a flush is the commit. (The sink task calls these between batches,
  // never inside an operator's process step: a slow commit there is what a real sink's is.)
  Status flush() override { return wait(); }
  Status commit(uint64_t) override { return wait(); }
  Status close() override { return Status::ok(); }

 private:
  Status wait() {
    if (commit_delay_ > 0) std::this_thread::sleep_for(std::chrono::microseconds(commit_delay_));
    return Status::ok();
  }
  const Micros commit_delay_;
  uint64_t rows_ = 0;
};

class BlackholeSinkFactory : public SinkFactory {
 public:
  explicit BlackholeSinkFactory(Micros commit_delay) : commit_delay_(commit_delay) {}
  SinkCapabilities capabilities() const override {
    SinkCapabilities c;
    c.changelog_append = true;  // nothing is stored, so any stream is accepted
    // Writing nothing, it can neither lose nor repeat anything.
    c.guarantee = SinkGuarantee::kExactlyOnce;
    c.parallel_writers = true;
    return c;
  }
  Result<std::unique_ptr<SinkWriter>> create_writer() override {
    return std::unique_ptr<SinkWriter>(std::make_unique<BlackholeWriter>(commit_delay_));
  }
  std::string describe() const override {
    return commit_delay_ > 0 ? "blackhole (discards every row; commits take " + format_duration(commit_delay_) + ")"
                             : "blackhole (discards every row)";
  }

 private:
  const Micros commit_delay_;
};

}  // namespace

Result<std::unique_ptr<SinkFactory>> make_blackhole_sink_factory(const SinkSpec& spec) {
  ASSIGN_OR_RETURN(Micros commit_delay, spec.options.get_duration("commit_delay", 0));
  if (commit_delay < 0) return invalid_argument("{}: option 'commit_delay' must be >= 0", spec.options.context());
  RETURN_IF_ERROR(spec.options.check_all_used());
  return std::unique_ptr<SinkFactory>(std::make_unique<BlackholeSinkFactory>(commit_delay));
}

}  // namespace sluice
