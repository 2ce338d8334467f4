// SPDX-License-Identifier: Apache-2.0
// Differentiable matrix product.
#pragma once

#include "loom/autograd/var.hpp"
#include "loom/core/export.hpp"

namespace loom LOOM_API {

/// z = x · w for x (n, k) or batched x (…, k) — e.g. (B, T, k) — and w (k, m); z is (…, m).
/// dx = dz · wᵀ, dw = xᵀ · dz (summed over all leading axes of x).
Var matmul(const Var& x, const Var& w);

}  // namespace loom
