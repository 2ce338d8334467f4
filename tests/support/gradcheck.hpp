// SPDX-License-Identifier: Apache-2.0
// Test helper: run loom::gradcheck with torch's default tolerances and report the worst element.
#pragma once

#include "support/reference.hpp"

namespace loom::testing {

/// f64 uniform inputs in [lo, hi) for gradchecks.
inline Tensor input64(const Shape& shape, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Generator gen(seed);
  return Tensor::uniform(shape, lo, hi, DType::f64, &gen);
}

inline void check_gradients(const std::function<Var(const std::vector<Var>&)>& f, const std::vector<Tensor>& inputs,
                            GradcheckOptions options = {}) {
  const GradcheckResult r = gradcheck(f, inputs, options);
  INFO(r.message);
  CHECK(r.ok);
  CHECK(r.checked > 0);
}

}  // namespace loom::testing
