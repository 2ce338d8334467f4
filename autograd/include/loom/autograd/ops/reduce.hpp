// SPDX-License-Identifier: Apache-2.0
// Differentiable sums and means.
#pragma once

#include "loom/autograd/var.hpp"
#include "loom/core/export.hpp"

namespace loom LOOM_API {

Var sum(const Var& x);                                   ///< Σ of all elements (shape ()). dx = dy everywhere
Var sum(const Var& x, int axis, bool keepdims = false);  ///< Σ over one axis. dx = dy repeated along the axis
Var mean(const Var& x);                                  ///< mean of all elements. dx = dy / n
Var mean(const Var& x, int axis, bool keepdims = false);  ///< mean over one axis. dx = dy / extent, repeated

}  // namespace loom
