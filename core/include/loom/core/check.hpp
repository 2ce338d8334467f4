// SPDX-License-Identifier: Apache-2.0
// LOOM_CHECK (argument checks, always on) and LOOM_ASSERT (internal invariants, opt-in).
#pragma once

#include <sstream>
#include <string>

#include "loom/core/error.hpp"
#include "loom/core/export.hpp"

namespace loom LOOM_API {
namespace detail {

/// Concatenates the streamed form of every argument: `concat("got ", shape, ".")`.
template <class... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}

[[noreturn]] void assert_fail(const char* expr, const char* file, int line);

}  // namespace detail
}  // namespace loom

/// Throws `loom::Kind` with the concatenated message when `cond` is false. Messages follow
/// `"<api>: <argument> <requirement>; got <actual>."`. Stays on in release builds.
#define LOOM_CHECK(cond, Kind, ...)                                  \
  do {                                                               \
    if (!(cond)) [[unlikely]]                                        \
      throw ::loom::Kind(::loom::detail::concat(__VA_ARGS__));       \
  } while (false)

/// Internal invariant; compiled out unless LOOM_ENABLE_ASSERT is defined. Aborts with file:line.
#if defined(LOOM_ENABLE_ASSERT)
#define LOOM_ASSERT(cond) \
  do {                    \
    if (!(cond)) ::loom::detail::assert_fail(#cond, __FILE__, __LINE__); \
  } while (false)
#else
#define LOOM_ASSERT(cond) \
  do {                    \
  } while (false)
#endif
