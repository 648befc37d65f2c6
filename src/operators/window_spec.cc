#include "operators/window_spec.h"

#include <fmt/format.h>

namespace sluice {

std::string WindowSpec::describe() const {
  std::string off = offset ? fmt::format(", offset {}", format_duration(offset)) : "";
  if (kind == Kind::kSession) return fmt::format("SESSION(gap {})", format_duration(size));
  if (kind == Kind::kTumble) return fmt::format("TUMBLE(size {}{})", format_duration(size), off);
  return fmt::format("HOP(slide {}, size {}{})", format_duration(slide), format_duration(size), off);
}

}  // namespace sluice
