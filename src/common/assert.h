// SLUICE_ASSERT: invariants that only a bug can break. Never reachable from user input,
// which gets a Status instead. Logs the condition with context and aborts.
#pragma once

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>

#define SLUICE_ASSERT(cond, ...)                                                        \
  do {                                                                                  \
    if (!(cond)) [[unlikely]] {                                                         \
      std::fprintf(stderr, "sluice: assertion failed at %s:%d: %s: %s\n", __FILE__,     \
                   __LINE__, #cond, ::fmt::format(__VA_ARGS__).c_str());               \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)
