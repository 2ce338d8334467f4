// SPDX-License-Identifier: Apache-2.0
// Activations and softmax. Each saves the one tensor its derivative needs (mostly the output).
#include "loom/autograd/ops/activation.hpp"

#include "loom/autograd/record.hpp"
#include "loom/core/elementwise.hpp"
#include "loom/core/reduce.hpp"

namespace loom {
namespace {

using detail::OpInfo;
using detail::OpKind;

/// y = tanh x.  dx = dy ⊙ (1 − y²).  Saves y.
struct TanhOp {
  static constexpr const char* name = "tanh";
  static OpInfo info() { return {OpKind::unary, 0, {}, {}, core::EwOp::tanh, 0}; }
  Tensor y;
  Tensor forward(const Tensor& x) { return y = core::tanh(x); }
  void backward(const Tensor& dy, Grads& g) const { g.add(0, core::tanh_backward(dy, y)); }
};

/// y = σ(x).  dx = dy ⊙ y ⊙ (1 − y).  Saves y.
struct SigmoidOp {
  static constexpr const char* name = "sigmoid";
  static OpInfo info() { return {OpKind::unary, 0, {}, {}, core::EwOp::sigmoid, 0}; }
  Tensor y;
  Tensor forward(const Tensor& x) { return y = core::sigmoid(x); }
  void backward(const Tensor& dy, Grads& g) const { g.add(0, core::sigmoid_backward(dy, y)); }
};

/// y = clip(0.2x + 0.5, 0, 1).  dx = 0.2·dy inside (−2.5, 2.5).  Saves x (y cannot tell the edges).
struct HardSigmoidOp {
  static constexpr const char* name = "hard_sigmoid";
  static OpInfo info() { return {OpKind::unary, 0, {}, {}, core::EwOp::hard_sigmoid, 0}; }
  Tensor x;
  Tensor forward(const Tensor& x_in) {
    x = x_in;
    return core::hard_sigmoid(x);
  }
  void backward(const Tensor& dy, Grads& g) const { g.add(0, core::hard_sigmoid_backward(dy, x)); }
};

/// y = max(x, 0).  dx = dy where y > 0.  Saves y.
struct ReluOp {
  static constexpr const char* name = "relu";
  static OpInfo info() { return {OpKind::unary, 0, {}, {}, core::EwOp::relu, 0}; }
  Tensor y;
  Tensor forward(const Tensor& x) { return y = core::relu(x); }
  void backward(const Tensor& dy, Grads& g) const { g.add(0, core::relu_backward(dy, y)); }
};

/// y = eˣ.  dx = dy ⊙ y.  Saves y.
struct ExpOp {
  static constexpr const char* name = "exp";
  static OpInfo info() { return {OpKind::unary, 0, {}, {}, core::EwOp::exp, 0}; }
  Tensor y;
  Tensor forward(const Tensor& x) { return y = core::exp(x); }
  void backward(const Tensor& dy, Grads& g) const { g.add(0, core::mul(dy, y)); }
};

/// y = ln x.  dx = dy / x.  Saves x.
struct LogOp {
  static constexpr const char* name = "log";
  static OpInfo info() { return {OpKind::unary, 0, {}, {}, core::EwOp::log, 0}; }
  Tensor x;
  Tensor forward(const Tensor& x_in) {
    x = x_in;
    return core::log(x);
  }
  void backward(const Tensor& dy, Grads& g) const { g.add(0, core::div(dy, x)); }
};

/// y = softmax(x) over the last axis.  dx = y ⊙ (dy − Σ dy ⊙ y).  Saves y.
struct SoftmaxOp {
  static constexpr const char* name = "softmax";
  OpInfo info() const { return {OpKind::along_axis, y.dimension() - 1, {}, {}}; }
  Tensor y;
  Tensor forward(const Tensor& x) { return y = core::softmax(x); }
  void backward(const Tensor& dy, Grads& g) const { g.add(0, core::softmax_backward(dy, y)); }
};

/// y = log_softmax(x) over the last axis.  dx = dy − eʸ · Σ dy.  Saves y.
struct LogSoftmaxOp {
  static constexpr const char* name = "log_softmax";
  OpInfo info() const { return {OpKind::along_axis, y.dimension() - 1, {}, {}}; }
  Tensor y;
  Tensor forward(const Tensor& x) { return y = core::log_softmax(x); }
  void backward(const Tensor& dy, Grads& g) const { g.add(0, core::log_softmax_backward(dy, y)); }
};

}  // namespace

Var tanh(const Var& x) { return record(TanhOp{}, x); }
Var sigmoid(const Var& x) { return record(SigmoidOp{}, x); }
Var hard_sigmoid(const Var& x) { return record(HardSigmoidOp{}, x); }
Var relu(const Var& x) { return record(ReluOp{}, x); }
Var exp(const Var& x) { return record(ExpOp{}, x); }
Var log(const Var& x) { return record(LogOp{}, x); }
Var softmax(const Var& x) { return record(SoftmaxOp{}, x); }
Var log_softmax(const Var& x) { return record(LogSoftmaxOp{}, x); }

}  // namespace loom
