// SPDX-License-Identifier: Apache-2.0
// Dropout and fixed-mask multiplication.
#include "loom/autograd/ops/nn.hpp"

#include "loom/autograd/record.hpp"
#include "loom/core/check.hpp"
#include "loom/core/elementwise.hpp"
#include "loom/core/reduce.hpp"

namespace loom {
namespace {

/// y = x ⊙ mask.  dx = dy ⊙ mask (summed to x's shape if x was the broadcast operand).  Saves the mask.
struct MaskOp {
  static constexpr const char* name = "dropout";
  Tensor mask;
  Shape shape;
  Tensor forward(const Tensor& x) {
    shape = x.shape();
    LOOM_CHECK(mask.dtype() == x.dtype(), TypeError, name, ": the mask must have x's dtype ", x.dtype(), "; got ",
               mask.dtype(), ".");
    LOOM_CHECK(core::broadcast_shape(x.shape(), mask.shape(), name) == x.shape(), ValueError, name,
               ": the mask's shape ", mask.shape(), " must broadcast to x's shape ", x.shape(), ".");
    return core::mul(x, mask);
  }
  void backward(const Tensor& dy, Grads& g) const { g.add(0, core::mul(dy, mask)); }
};

void check_rate(double rate) {
  LOOM_CHECK(rate >= 0.0 && rate < 1.0, ValueError, "dropout: rate must be in [0, 1); got ", rate, ".");
}

}  // namespace

Tensor dropout_mask(const Shape& shape, double rate, DType dtype, Generator& gen) {
  check_rate(rate);
  Tensor mask = Tensor::empty(shape, dtype);
  bernoulli_(mask, 1.0 - rate, gen);
  return rate == 0.0 ? mask : core::mul(mask, 1.0 / (1.0 - rate));
}

Var dropout(const Var& x, double rate, bool training, Generator& gen) {
  check_rate(rate);
  if (!training || rate == 0.0) return x;
  return record(MaskOp{dropout_mask(x.shape(), rate, x.dtype(), gen), {}}, x);
}

Var apply_mask(const Var& x, const Tensor& mask) { return record(MaskOp{mask, {}}, x); }

}  // namespace loom
