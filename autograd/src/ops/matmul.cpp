// SPDX-License-Identifier: Apache-2.0
// Matrix product.
#include "loom/autograd/ops/matmul.hpp"

#include "loom/autograd/record.hpp"
#include "loom/core/check.hpp"
#include "loom/core/gemm.hpp"

namespace loom {
namespace {

using detail::OpInfo;
using detail::OpKind;

/// z = x · w for x (…, k), w (k, m).  dx = dz · wᵀ,  dw = xᵀ · dz.  Saves both operands.
struct MatMulOp {
  static constexpr const char* name = "matmul";
  OpInfo info() const { return {OpKind::matmul, 0, x.shape(), w.shape()}; }
  Tensor x, w;
  Tensor forward(const Tensor& x_in, const Tensor& w_in) {
    LOOM_CHECK(x_in.dimension() >= 2 && w_in.dimension() == 2, ValueError, name,
               ": expects x of rank >= 2 and a 2-D w; got shapes ", x_in.shape(), " and ", w_in.shape(), ".");
    LOOM_CHECK(x_in.shape(-1) == w_in.shape(0), ValueError, name, ": inner dimensions differ: ", x_in.shape(),
               " · ", w_in.shape(), ".");
    LOOM_CHECK(x_in.dtype() == w_in.dtype(), TypeError, name, ": operands must share a dtype; got ", x_in.dtype(),
               " and ", w_in.dtype(), ".");
    x = x_in;
    w = w_in;
    // Under a packed-weights scope, backward's dz·wᵀ reuses wᵀ's panels (packed once, when first asked).
    if (detail::recording())
      if (const core::PackedB* p = core::find_packed(w, true)) w_t = *p;
    return core::matmul(x, w);
  }
  void backward(const Tensor& dz, Grads& g) const {
    if (g.needed(0)) {
      if (w_t.defined()) {  // dz·wᵀ from the panels packed at forward time: the same bits, no repacking
        Tensor dx = Tensor::empty(x.shape(), x.dtype());
        Tensor dx_rows = dx.reshape({-1, w.shape(0)});
        core::gemm(dz.reshape({-1, w.shape(1)}), false, w_t, dx_rows);
        g.add(0, dx);
      } else {
        g.add(0, core::matmul_nt(dz, w));
      }
    }
    if (g.needed(1)) g.add(1, core::matmul_tn(x, dz));
  }
  core::PackedB w_t;
};

}  // namespace

Var matmul(const Var& x, const Var& w) { return record(MatMulOp{}, x, w); }

}  // namespace loom
