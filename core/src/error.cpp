// SPDX-License-Identifier: Apache-2.0
// Out-of-line parts of the error and dtype helpers.
#include <cstdio>
#include <cstdlib>
#include <ostream>

#include "loom/core/check.hpp"
#include "loom/core/dtype.hpp"

namespace loom {

void detail::assert_fail(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "loom: internal assertion failed: %s (%s:%d)\n", expr, file, line);
  std::abort();
}

const char* dtype_name(DType d) noexcept {
  switch (d) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::i64: return "i64";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& out, DType d) { return out << dtype_name(d); }

}  // namespace loom
