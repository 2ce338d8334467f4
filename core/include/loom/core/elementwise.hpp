// SPDX-License-Identifier: Apache-2.0
// Element-wise kernels: arithmetic with broadcasting, activations and their fused derivatives.
#pragma once

#include "loom/core/export.hpp"
#include "loom/core/tensor.hpp"

namespace loom LOOM_API {
namespace core {

// Broadcasting rule of the binary functions: the operands have equal shapes, or one operand's
// shape is a trailing part of the other's (a row vector (N,) against (B, N), a (T, N) slab against
// (B, T, N)), or one operand has a single element (a scalar). The result has the larger shape.
// Anything else throws ValueError naming both shapes. Both operands must share a floating dtype
// (TypeError otherwise). The `out` forms write into `out` (result shape and dtype required; it may
// be one of the operands) and return it.

/// Shape of `a ⊕ b` under the rule above; throws ValueError naming `api` and both shapes.
Shape broadcast_shape(const Shape& a, const Shape& b, const char* api);

Tensor add(const Tensor& a, const Tensor& b);  ///< a + b
Tensor sub(const Tensor& a, const Tensor& b);  ///< a − b
Tensor mul(const Tensor& a, const Tensor& b);  ///< a ⊙ b
Tensor div(const Tensor& a, const Tensor& b);  ///< a / b
Tensor& add(const Tensor& a, const Tensor& b, Tensor& out);
Tensor& sub(const Tensor& a, const Tensor& b, Tensor& out);
Tensor& mul(const Tensor& a, const Tensor& b, Tensor& out);
Tensor& div(const Tensor& a, const Tensor& b, Tensor& out);

Tensor add(const Tensor& a, double s);  ///< a + s
Tensor mul(const Tensor& a, double s);  ///< a · s
Tensor rsub(double s, const Tensor& a);  ///< s − a
Tensor rdiv(double s, const Tensor& a);  ///< s / a
/// `acc += x` in place (x broadcast to acc's shape); the gradient-accumulation primitive.
Tensor& add_(Tensor& acc, const Tensor& x);
/// `acc += alpha · x` in place, x of acc's shape.
Tensor& axpy_(Tensor& acc, double alpha, const Tensor& x);

Tensor neg(const Tensor& x);           ///< −x
Tensor exp(const Tensor& x);           ///< eˣ
Tensor log(const Tensor& x);           ///< ln x
Tensor tanh(const Tensor& x);          ///< tanh x
Tensor sigmoid(const Tensor& x);       ///< 1 / (1 + e⁻ˣ)
Tensor hard_sigmoid(const Tensor& x);  ///< clip(0.2·x + 0.5, 0, 1) (the TF2 Keras definition)
Tensor relu(const Tensor& x);          ///< max(x, 0)
Tensor& tanh(const Tensor& x, Tensor& out);
Tensor& sigmoid(const Tensor& x, Tensor& out);
Tensor& relu(const Tensor& x, Tensor& out);
Tensor& exp(const Tensor& x, Tensor& out);

// Fused derivatives. `y` is the activation's output, `x` its input, `dy` the upstream gradient.
Tensor tanh_backward(const Tensor& dy, const Tensor& y);          ///< dy · (1 − y²)
Tensor sigmoid_backward(const Tensor& dy, const Tensor& y);       ///< dy · y · (1 − y)
Tensor relu_backward(const Tensor& dy, const Tensor& y);          ///< dy · [y > 0]
Tensor hard_sigmoid_backward(const Tensor& dy, const Tensor& x);  ///< dy · 0.2 · [−2.5 < x < 2.5]

}  // namespace core
}  // namespace loom

namespace loom LOOM_API {

// Arithmetic operators on Tensors (found by argument-dependent lookup); same rules as core::add & co.
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, double s);
Tensor operator+(double s, const Tensor& a);
Tensor operator-(const Tensor& a, double s);
Tensor operator-(double s, const Tensor& a);
Tensor operator*(const Tensor& a, double s);
Tensor operator*(double s, const Tensor& a);
Tensor operator/(const Tensor& a, double s);
Tensor operator/(double s, const Tensor& a);
Tensor operator-(const Tensor& a);

}  // namespace loom
