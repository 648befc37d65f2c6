#include "connectors/split.h"

#include <charconv>

#include "connectors/source.h"

namespace sluice {

Status StaticSplitEnumerator::restore(const std::vector<SourceSplit>& recorded, std::string_view state) {
  recorded_.assign(static_cast<size_t>(splits_), false);
  for (const auto& s : recorded) {
    if (s.number >= 0 && s.number < splits_) recorded_[static_cast<size_t>(s.number)] = true;
  }
  return Status::ok();
}

Result<SplitChanges> StaticSplitEnumerator::discover() {
  SplitChanges changes;
  changes.complete = true;
  if (done_) return changes;
  done_ = true;
  for (int i = 0; i < splits_; ++i) {
    if (!recorded_.empty() && recorded_[static_cast<size_t>(i)]) continue;
    changes.added.push_back(SourceSplit{std::to_string(i), i, std::string()});
  }
  return changes;
}

namespace {
// "O1 <offset> <line> <fingerprint>": text, so checkpoints stay readable.
constexpr std::string_view kOffsetTag = "O1 ";

bool parse_int(std::string_view& s, int64_t* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  if (ec != std::errc() || p == s.data() + s.size() || *p != ' ') return false;
  s.remove_prefix(static_cast<size_t>(p - s.data()) + 1);
  return true;
}
}  // namespace

std::string encode_offset_position(const SourcePosition& pos) {
  return fmt::format("{}{} {} {}", kOffsetTag, pos.offset, pos.line, pos.fingerprint);
}

std::optional<SourcePosition> decode_offset_position(std::string_view bytes) {
  if (bytes.substr(0, kOffsetTag.size()) != kOffsetTag) return std::nullopt;
  bytes.remove_prefix(kOffsetTag.size());
  SourcePosition pos;
  if (!parse_int(bytes, &pos.offset) || !parse_int(bytes, &pos.line)) return std::nullopt;
  pos.fingerprint = std::string(bytes);
  return pos;
}

Status SourceReader::check_checkpoint_position(std::string_view bytes) {
  auto pos = decode_offset_position(bytes);
  if (!pos) return Status(StatusCode::kDataLoss, "unreadable recorded position");
  return check_position(*pos);
}

Status SourceReader::seek_checkpoint_position(std::string_view bytes) {
  auto pos = decode_offset_position(bytes);
  if (!pos) return Status(StatusCode::kDataLoss, "unreadable recorded position");
  return seek(*pos);
}

Result<std::unique_ptr<SourceReader>> SourceFactory::create_split_reader(const SourceSplit& split) {
  return create_reader(split.number);
}

}  // namespace sluice
