// SPDX-License-Identifier: Apache-2.0
// Differentiable activations and softmax.
#pragma once

#include "loom/autograd/var.hpp"
#include "loom/core/export.hpp"

namespace loom LOOM_API {

Var tanh(const Var& x);          ///< y = tanh x.                 dx = dy ⊙ (1 − y²)
Var sigmoid(const Var& x);       ///< y = 1/(1 + e⁻ˣ).            dx = dy ⊙ y ⊙ (1 − y)
Var hard_sigmoid(const Var& x);  ///< y = clip(0.2x + 0.5, 0, 1). dx = 0.2·dy where −2.5 < x < 2.5, else 0
Var relu(const Var& x);          ///< y = max(x, 0).              dx = dy where y > 0, else 0
Var exp(const Var& x);           ///< y = eˣ.                     dx = dy ⊙ y
Var log(const Var& x);           ///< y = ln x.                   dx = dy / x
Var softmax(const Var& x);       ///< softmax over the last axis. dx = y ⊙ (dy − Σ dy ⊙ y)
Var log_softmax(const Var& x);   ///< log-softmax, last axis.     dx = dy − eʸ · Σ dy

}  // namespace loom
