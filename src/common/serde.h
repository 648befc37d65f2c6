// ByteWriter / ByteReader: the little binary encoding of checkpointed state.
//
// Fixed-width little-endian integers and doubles, and length-prefixed byte strings (LEB128
// varint length). The reader never reads past its input: every getter checks the remaining
// size, and on a short or malformed input it returns a zero value and remembers the
// failure; callers check ok()/status() once after reading a whole record. Lengths read
// from a checkpoint are validated against the bytes actually present, so a corrupt file
// cannot make the reader allocate or copy more than the file holds.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice {

class ByteWriter {
 public:
  explicit ByteWriter(std::string* out) : out_(out) {}
  void u8(uint8_t v) { out_->push_back(static_cast<char>(v)); }
  void u32(uint32_t v) { raw(&v, sizeof v); }
  void u64(uint64_t v) { raw(&v, sizeof v); }
  void i64(int64_t v) { raw(&v, sizeof v); }
  void f64(double v) { raw(&v, sizeof v); }
  void varint(uint64_t v) {
    while (v >= 0x80) {
      out_->push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_->push_back(static_cast<char>(v));
  }
  void str(std::string_view s) {
    varint(s.size());
    out_->append(s.data(), s.size());
  }
  void raw(const void* p, size_t n) { out_->append(static_cast<const char*>(p), n); }
  std::string& buffer() { return *out_; }

 private:
  std::string* out_;
};

class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}
  uint8_t u8() {
    uint8_t v = 0;
    raw(&v, 1);
    return v;
  }
  uint32_t u32() {
    uint32_t v = 0;
    raw(&v, sizeof v);
    return v;
  }
  uint64_t u64() {
    uint64_t v = 0;
    raw(&v, sizeof v);
    return v;
  }
  int64_t i64() {
    int64_t v = 0;
    raw(&v, sizeof v);
    return v;
  }
  double f64() {
    double v = 0;
    raw(&v, sizeof v);
    return v;
  }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) return fail();
      uint8_t b = static_cast<uint8_t>(in_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return v;
    }
    return fail();
  }
  // A view into the input (valid as long as the input is).
  std::string_view str() {
    uint64_t n = varint();
    if (failed_ || n > in_.size() - pos_) return fail(), std::string_view();
    std::string_view s = in_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  // A count of elements that each take at least `min_bytes`: fails when the input cannot
  // hold that many (so a corrupt count never drives a huge allocation).
  uint64_t count(size_t min_bytes = 1) {
    uint64_t n = varint();
    if (failed_) return 0;
    if (min_bytes > 0 && n > (in_.size() - pos_) / min_bytes) return fail();
    return n;
  }
  void raw(void* p, size_t n) {
    if (failed_ || n > in_.size() - pos_) {
      fail();
      std::memset(p, 0, n);
      return;
    }
    std::memcpy(p, in_.data() + pos_, n);
    pos_ += n;
  }
  bool ok() const { return !failed_; }
  bool at_end() const { return pos_ == in_.size(); }
  size_t position() const { return pos_; }
  size_t remaining() const { return failed_ ? 0 : in_.size() - pos_; }
  // Marks the input malformed (a value out of range, an unknown tag).
  uint64_t fail() {
    failed_ = true;
    return 0;
  }
  Status status(std::string_view what) const {
    if (!failed_) return Status::ok();
    return Status(StatusCode::kDataLoss, std::string("malformed ") + std::string(what) + " at byte " + std::to_string(pos_));
  }

 private:
  std::string_view in_;
  size_t pos_ = 0;
  bool failed_ = false;
};

}  // namespace sluice
