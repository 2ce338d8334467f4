// SPDX-License-Identifier: Apache-2.0
// Activation functions by Keras name.
#pragma once

#include <string>

#include "loom/autograd/var.hpp"
#include "loom/core/export.hpp"

namespace loom LOOM_API {

/// The activations layers accept. `hard_sigmoid` is TF2 Keras's clip(0.2x + 0.5, 0, 1); `linear`
/// is the identity (Keras's `None`).
enum class Activation { linear, tanh, sigmoid, hard_sigmoid, relu, softmax };

/// Applies `a` to x.
Var activate(Activation a, const Var& x);
/// The Keras name: "tanh", "sigmoid", "hard_sigmoid", "relu", "softmax", "linear".
const char* activation_name(Activation a);
/// Parses a Keras name ("linear" and "" both mean identity). ValueError naming `api` otherwise.
Activation activation_from_name(const std::string& name, const char* api = "activation");

}  // namespace loom
