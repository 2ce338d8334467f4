// SPDX-License-Identifier: Apache-2.0
// Deterministic reductions and softmax: fixed blocking and a fixed combine order for any thread count.
#pragma once

#include "loom/core/export.hpp"
#include "loom/core/tensor.hpp"

namespace loom LOOM_API {
namespace core {

// `axis` may be negative (counted from the end); an out-of-range axis throws ValueError.
// Inputs must be f32 or f64 (TypeError otherwise); results keep the dtype, except argmax (i64).

Tensor sum(const Tensor& x);                                   ///< sum of all elements, shape ()
Tensor sum(const Tensor& x, int axis, bool keepdims = false);  ///< sum over one axis
Tensor mean(const Tensor& x);                                  ///< mean of all elements, shape ()
Tensor mean(const Tensor& x, int axis, bool keepdims = false);
Tensor max(const Tensor& x);                                   ///< largest element (ValueError if empty)
Tensor max(const Tensor& x, int axis, bool keepdims = false);
Tensor argmax(const Tensor& x, int axis, bool keepdims = false);  ///< first index of the maximum (i64)
/// Sums all leading axes away: x (…, N) → (N,) for a row, or to `shape`, a trailing part of
/// x's shape. The reverse of the broadcasting rule of the binary element-wise functions.
Tensor sum_to(const Tensor& x, const Shape& shape);

/// softmax over the last axis, computed as exp(x − max) / Σ exp(x − max).
Tensor softmax(const Tensor& x);
/// log-softmax over the last axis: (x − max) − log Σ exp(x − max).
Tensor log_softmax(const Tensor& x);
/// Gradient of softmax: y ⊙ (dy − Σ dy ⊙ y) per row, y = softmax output.
Tensor softmax_backward(const Tensor& dy, const Tensor& y);
/// Gradient of log-softmax: dy − exp(y) · Σ dy per row, y = log-softmax output.
Tensor log_softmax_backward(const Tensor& dy, const Tensor& y);

}  // namespace core
}  // namespace loom
