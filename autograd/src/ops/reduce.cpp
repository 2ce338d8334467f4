// SPDX-License-Identifier: Apache-2.0
// Sums and means over everything or one axis.
#include "loom/autograd/ops/reduce.hpp"

#include "loom/autograd/record.hpp"
#include "loom/core/check.hpp"
#include "loom/core/elementwise.hpp"
#include "loom/core/layout.hpp"
#include "loom/core/reduce.hpp"

namespace loom {
namespace {

/// y = scale · Σ x.  dx = scale · dy everywhere.  Saves x's shape.
struct SumAllOp {
  static constexpr const char* name = "sum";
  bool mean = false;
  Shape shape;
  Tensor forward(const Tensor& x) {
    shape = x.shape();
    if (mean) LOOM_CHECK(x.numel() > 0, ValueError, "mean: x must not be empty; got shape ", x.shape(), ".");
    return mean ? core::mean(x) : core::sum(x);
  }
  void backward(const Tensor& dy, Grads& g) const {
    const double scale = mean ? 1.0 / static_cast<double>(shape.numel()) : 1.0;
    g.add(0, Tensor::full(shape, dy.item() * scale, dy.dtype()));
  }
};

/// y = scale · Σ_axis x.  dx = scale · dy repeated along the axis.
struct SumAxisOp {
  static constexpr const char* name = "sum";
  int axis;
  bool keepdims;
  bool mean = false;
  Shape shape;
  Tensor forward(const Tensor& x) {
    shape = x.shape();
    axis = x.shape().axis(axis, mean ? "mean" : "sum");
    return mean ? core::mean(x, axis, keepdims) : core::sum(x, axis, keepdims);
  }
  void backward(const Tensor& dy, Grads& g) const {
    Shape kept = shape;
    kept[axis] = 1;
    Tensor dx = core::broadcast_axis(dy.reshape(kept), axis, shape[axis]);
    if (mean) dx = core::mul(dx, 1.0 / static_cast<double>(shape[axis]));
    g.add(0, dx);
  }
};

}  // namespace

Var sum(const Var& x) { return record(SumAllOp{}, x); }
Var mean(const Var& x) { return record(SumAllOp{true, {}}, x); }
Var sum(const Var& x, int axis, bool keepdims) { return record(SumAxisOp{axis, keepdims, false, {}}, x); }
Var mean(const Var& x, int axis, bool keepdims) { return record(SumAxisOp{axis, keepdims, true, {}}, x); }

}  // namespace loom
