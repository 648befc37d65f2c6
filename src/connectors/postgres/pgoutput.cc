#include "connectors/postgres/pgoutput.h"

#include <charconv>

#include <fmt/format.h>

namespace sluice {
namespace {

// Big-endian reads with bounds checks; the first failure is kept.
class Reader {
 public:
  Reader(std::string_view bytes, char type) : bytes_(bytes), type_(type) {}
  bool ok() const { return ok_; }
  size_t offset() const { return pos_; }
  bool at_end() const { return pos_ == bytes_.size(); }

  uint64_t uint(int size) {
    if (!need(static_cast<size_t>(size))) return 0;
    uint64_t v = 0;
    for (int i = 0; i < size; ++i) v = (v << 8) | static_cast<uint8_t>(bytes_[pos_++]);
    return v;
  }
  uint8_t u8() { return static_cast<uint8_t>(uint(1)); }
  int16_t i16() { return static_cast<int16_t>(uint(2)); }
  int32_t i32() { return static_cast<int32_t>(uint(4)); }
  uint32_t u32() { return static_cast<uint32_t>(uint(4)); }
  uint64_t u64() { return uint(8); }
  int64_t i64() { return static_cast<int64_t>(uint(8)); }
  std::string_view bytes(size_t n) {
    if (!need(n)) return {};
    std::string_view v = bytes_.substr(pos_, n);
    pos_ += n;
    return v;
  }
  // A NUL-terminated string.
  std::string_view cstring() {
    const size_t end = bytes_.find('\0', pos_);
    if (end == std::string_view::npos) {
      ok_ = false;
      return {};
    }
    std::string_view v = bytes_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return v;
  }
  Status error(std::string_view what) const {
    return invalid_argument("pgoutput message '{}': {} at byte {} of {}", type_, what, pos_, bytes_.size());
  }

 private:
  bool need(size_t n) {
    if (!ok_ || bytes_.size() - pos_ < n) {
      ok_ = false;
      return false;
    }
    return true;
  }
  std::string_view bytes_;
  char type_;
  size_t pos_ = 0;
  bool ok_ = true;
};

Status read_tuple(Reader& r, std::vector<PgOutputValue>& values) {
  const int16_t n = r.i16();
  if (!r.ok() || n < 0) return r.error("bad column count");
  values.resize(static_cast<size_t>(n));
  for (auto& v : values) {
    const char kind = static_cast<char>(r.u8());
    v.text = {};
    switch (kind) {
      case 'n': v.kind = PgOutputValue::Kind::kNull; break;
      case 'u': v.kind = PgOutputValue::Kind::kUnchangedToast; break;
      case 't': {
        const int32_t len = r.i32();
        if (len < 0) return r.error("negative value length");
        v.kind = PgOutputValue::Kind::kText;
        v.text = r.bytes(static_cast<size_t>(len));
        break;
      }
      case 'b': return r.error("binary tuple values (the 'binary' option) are not requested");
      default: return r.ok() ? r.error(fmt::format("unknown tuple value kind '{}'", kind)) : r.error("truncated tuple");
    }
  }
  return r.ok() ? Status::ok() : r.error("truncated tuple");
}

}  // namespace

std::string format_lsn(uint64_t lsn) {
  return fmt::format("{:X}/{:X}", static_cast<uint32_t>(lsn >> 32), static_cast<uint32_t>(lsn));
}

std::optional<uint64_t> parse_lsn(std::string_view text) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == text.size()) return std::nullopt;
  uint32_t hi = 0, lo = 0;
  auto a = std::from_chars(text.data(), text.data() + slash, hi, 16);
  auto b = std::from_chars(text.data() + slash + 1, text.data() + text.size(), lo, 16);
  if (a.ec != std::errc() || a.ptr != text.data() + slash || b.ec != std::errc() ||
      b.ptr != text.data() + text.size()) {
    return std::nullopt;
  }
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

Status decode_pgoutput(std::string_view bytes, PgOutputMessage& out) {
  if (bytes.empty()) return invalid_argument("pgoutput: empty message");
  const char type = bytes[0];
  Reader r(bytes.substr(1), type);
  switch (type) {
    case 'B':
      out.kind = PgOutputMessage::Kind::kBegin;
      out.final_lsn = r.u64();
      out.timestamp_us = r.i64();
      out.xid = r.u32();
      break;
    case 'C':
      out.kind = PgOutputMessage::Kind::kCommit;
      (void)r.u8();  // flags (unused)
      out.commit_lsn = r.u64();
      out.end_lsn = r.u64();
      out.timestamp_us = r.i64();
      break;
    case 'O':
      out.kind = PgOutputMessage::Kind::kOrigin;
      (void)r.u64();
      (void)r.cstring();
      break;
    case 'R': {
      out.kind = PgOutputMessage::Kind::kRelation;
      PgOutputRelation& rel = out.relation;
      rel.id = r.u32();
      rel.schema = r.cstring();
      rel.name = r.cstring();
      rel.replica_identity = static_cast<char>(r.u8());
      const int16_t n = r.i16();
      if (!r.ok() || n < 0) return r.error("bad column count");
      rel.columns.resize(static_cast<size_t>(n));
      for (auto& c : rel.columns) {
        c.key = (r.u8() & 1) != 0;
        c.name = r.cstring();
        c.type_oid = r.u32();
        c.type_modifier = r.i32();
      }
      break;
    }
    case 'Y':
      out.kind = PgOutputMessage::Kind::kType;
      (void)r.u32();
      (void)r.cstring();
      (void)r.cstring();
      break;
    case 'I': {
      out.kind = PgOutputMessage::Kind::kInsert;
      out.relation_id = r.u32();
      out.old_kind = 0;
      out.old_values.clear();
      if (r.u8() != 'N') return r.error("expected 'N' (new tuple)");
      RETURN_IF_ERROR(read_tuple(r, out.new_values));
      break;
    }
    case 'U': {
      out.kind = PgOutputMessage::Kind::kUpdate;
      out.relation_id = r.u32();
      out.old_kind = 0;
      out.old_values.clear();
      char marker = static_cast<char>(r.u8());
      if (marker == 'K' || marker == 'O') {
        out.old_kind = marker;
        RETURN_IF_ERROR(read_tuple(r, out.old_values));
        marker = static_cast<char>(r.u8());
      }
      if (marker != 'N') return r.error("expected 'N' (new tuple)");
      RETURN_IF_ERROR(read_tuple(r, out.new_values));
      break;
    }
    case 'D': {
      out.kind = PgOutputMessage::Kind::kDelete;
      out.relation_id = r.u32();
      out.new_values.clear();
      const char marker = static_cast<char>(r.u8());
      if (marker != 'K' && marker != 'O') return r.error("expected 'K' or 'O' (old tuple)");
      out.old_kind = marker;
      RETURN_IF_ERROR(read_tuple(r, out.old_values));
      break;
    }
    case 'T': {
      out.kind = PgOutputMessage::Kind::kTruncate;
      const int32_t n = r.i32();
      (void)r.u8();  // options (CASCADE, RESTART IDENTITY)
      if (!r.ok() || n < 0) return r.error("bad relation count");
      out.truncated.resize(static_cast<size_t>(n));
      for (auto& id : out.truncated) id = r.u32();
      break;
    }
    case 'M':
      out.kind = PgOutputMessage::Kind::kMessage;
      return Status::ok();  // logical decoding messages (only sent when asked for): ignored
    default: return invalid_argument("pgoutput: unknown message type '{}' ({} bytes)", type, bytes.size());
  }
  if (!r.ok()) return r.error("truncated message");
  if (!r.at_end()) return r.error("trailing bytes");
  return Status::ok();
}

Status decode_replication_frame(std::string_view bytes, ReplicationFrame& out) {
  if (bytes.empty()) return invalid_argument("replication stream: empty message");
  Reader r(bytes.substr(1), bytes[0]);
  switch (bytes[0]) {
    case 'w':
      out.kind = ReplicationFrame::Kind::kXLogData;
      out.wal_start = r.u64();
      out.wal_end = r.u64();
      (void)r.i64();  // the server's clock
      out.reply_requested = false;
      if (!r.ok()) return r.error("truncated XLogData header");
      out.data = bytes.substr(1 + r.offset());
      return Status::ok();
    case 'k':
      out.kind = ReplicationFrame::Kind::kKeepalive;
      out.wal_end = r.u64();
      (void)r.i64();
      out.reply_requested = r.u8() != 0;
      out.data = {};
      if (!r.ok()) return r.error("truncated keepalive");
      return Status::ok();
    default: return invalid_argument("replication stream: unknown message type '{}'", bytes[0]);
  }
}

std::string standby_status_update(uint64_t written, uint64_t flushed, uint64_t applied, int64_t now_us,
                                  bool reply_requested) {
  std::string out;
  out.reserve(34);
  out.push_back('r');
  auto put64 = [&](uint64_t v) {
    for (int s = 56; s >= 0; s -= 8) out.push_back(static_cast<char>(v >> s));
  };
  put64(written);
  put64(flushed);
  put64(applied);
  put64(static_cast<uint64_t>(now_us));
  out.push_back(reply_requested ? 1 : 0);
  return out;
}

}  // namespace sluice
