#include "operators/window_spec.h"

#include <fmt/format.h>

namespace sluice {

std::string WindowSpec::describe() const {
  std::string off = offset ? fmt::format(", offset {}", format_duration(offset)) : "";
  if (kind == Kind::kSession) return fmt::format("SESSION(gap {})", format_duration(size));
  if (kind == Kind::kTumble) return fmt::format("TUMBLE(size {}{})", format_duration(size), off);
  return fmt::format("HOP(slide {}, size {}{})", format_duration(slide), format_duration(size), off);
}

Status WindowSpec::validate() const {
  const char* what = kind == Kind::kSession ? "the session gap" : "the window size";
  if (size <= 0) return invalid_argument("{} must be positive, got {}", what, format_duration(size));
  if (size > kMaxWindowDuration) {
    return invalid_argument("{} {} is too large (at most {})", what, format_duration(size),
                            format_duration(kMaxWindowDuration));
  }
  if (offset > kMaxWindowDuration || offset < -kMaxWindowDuration) {
    return invalid_argument("the window offset {} is too large (at most {} either way)", format_duration(offset),
                            format_duration(kMaxWindowDuration));
  }
  if (kind != Kind::kHop) return Status::ok();
  if (slide <= 0) return invalid_argument("the hop slide must be positive, got {}", format_duration(slide));
  if (slide > size) {
    return invalid_argument(
        "the hop slide {} is larger than the window size {}: rows between two windows would belong to none",
        format_duration(slide), format_duration(size));
  }
  if (windows_per_row() > kMaxWindowsPerRow) {
    return invalid_argument(
        "HOP(slide {}, size {}) puts every row into {} windows; at most {} are allowed (use a larger slide)",
        format_duration(slide), format_duration(size), windows_per_row(), kMaxWindowsPerRow);
  }
  return Status::ok();
}

}  // namespace sluice
