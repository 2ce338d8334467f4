// SPDX-License-Identifier: Apache-2.0
// Activation functions by Keras name.
#include "loom/layers/activations.hpp"

#include "loom/autograd/ops/activation.hpp"
#include "loom/core/check.hpp"

namespace loom {

Var activate(Activation a, const Var& x) {
  switch (a) {
    case Activation::linear: return x;
    case Activation::tanh: return tanh(x);
    case Activation::sigmoid: return sigmoid(x);
    case Activation::hard_sigmoid: return hard_sigmoid(x);
    case Activation::relu: return relu(x);
    case Activation::softmax: return softmax(x);
  }
  return x;
}

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::linear: return "linear";
    case Activation::tanh: return "tanh";
    case Activation::sigmoid: return "sigmoid";
    case Activation::hard_sigmoid: return "hard_sigmoid";
    case Activation::relu: return "relu";
    case Activation::softmax: return "softmax";
  }
  return "linear";
}

Activation activation_from_name(const std::string& name, const char* api) {
  for (Activation a : {Activation::linear, Activation::tanh, Activation::sigmoid, Activation::hard_sigmoid,
                       Activation::relu, Activation::softmax})
    if (name == activation_name(a)) return a;
  if (name.empty() || name == "None") return Activation::linear;
  LOOM_CHECK(false, ValueError, api, ": unknown activation '", name,
             "'; expected one of linear, tanh, sigmoid, hard_sigmoid, relu, softmax.");
  return Activation::linear;
}

}  // namespace loom
