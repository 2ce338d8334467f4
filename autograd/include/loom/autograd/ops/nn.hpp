// SPDX-License-Identifier: Apache-2.0
// Differentiable neural-network ops: dropout.
#pragma once

#include "loom/autograd/var.hpp"
#include "loom/core/export.hpp"
#include "loom/core/random.hpp"

namespace loom LOOM_API {

/// Inverted dropout: with `training`, each element is kept with probability 1 − rate and scaled by
/// 1/(1 − rate); the mask comes from `gen`'s counter-based stream (same bits for any thread count).
/// Without `training` (or rate 0) returns x unchanged. rate must be in [0, 1). dx = dy ⊙ mask.
Var dropout(const Var& x, double rate, bool training = true, Generator& gen = default_generator());

/// Multiplies x by a given 0/scale mask of x's shape (or a trailing part of it): the form RNN cells
/// use to apply one dropout mask at every time step. dx = dy ⊙ mask.
Var apply_mask(const Var& x, const Tensor& mask);

/// The inverted-dropout mask `dropout` would use: entries 0 or 1/(1 − rate).
Tensor dropout_mask(const Shape& shape, double rate, DType dtype = DType::f32, Generator& gen = default_generator());

}  // namespace loom
