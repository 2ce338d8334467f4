// SPDX-License-Identifier: Apache-2.0
// Private: dtype dispatch for the floating-point kernels.
#pragma once

#include "loom/core/check.hpp"
#include "loom/core/tensor.hpp"

namespace loom::detail {

/// Calls `fn(T{})` with T = float or double for the dtype; TypeError naming `api` for i64.
template <class Fn>
decltype(auto) dispatch_float(DType dtype, const char* api, Fn&& fn) {
  LOOM_CHECK(is_floating(dtype), TypeError, api, ": expected a floating dtype (f32 or f64); got ",
             dtype, ".");
  if (dtype == DType::f32) return fn(float{});
  return fn(double{});
}

/// Checks that every tensor shares `a`'s dtype; TypeError naming `api` otherwise.
inline void check_same_dtype(const char* api, const Tensor& a, const Tensor& b) {
  LOOM_CHECK(a.dtype() == b.dtype(), TypeError, api, ": operands must share a dtype; got ",
             a.dtype(), " and ", b.dtype(), ".");
}

inline void check_defined(const char* api, const char* arg, const Tensor& t) {
  LOOM_CHECK(t.defined(), ValueError, api, ": ", arg, " is an undefined tensor.");
}

}  // namespace loom::detail
