// SPDX-License-Identifier: Apache-2.0
// Row-masked where, and gather (embedding lookup).
#include "loom/autograd/ops/select.hpp"

#include "loom/autograd/record.hpp"
#include "loom/core/check.hpp"
#include "loom/core/layout.hpp"

namespace loom {
namespace {

/// y = mask ? a : b per row.  da = dy on kept rows, db = dy on the others.  Saves the mask.
struct WhereOp {
  static constexpr const char* name = "where";
  Tensor mask;
  Tensor forward(const Tensor& a, const Tensor& b) { return core::where_rows(mask, a, b); }
  void backward(const Tensor& dy, Grads& g) const {
    const Tensor zeros = Tensor::zeros(dy.shape(), dy.dtype());
    if (g.needed(0)) g.add(0, core::where_rows(mask, dy, zeros));
    if (g.needed(1)) g.add(1, core::where_rows(mask, zeros, dy));
  }
};

/// y = table[indices].  dtable = scatter-add of dy into zeros.  Saves the indices and table shape.
struct GatherOp {
  static constexpr const char* name = "gather";
  Tensor indices;
  Shape shape;
  Tensor forward(const Tensor& table) {
    shape = table.shape();
    return core::gather_rows(table, indices);
  }
  void backward(const Tensor& dy, Grads& g) const {
    Tensor dt = Tensor::zeros(shape, dy.dtype());
    core::scatter_add_rows(dt, indices, dy);
    g.add(0, dt);
  }
};

}  // namespace

Var where(const Tensor& mask, const Var& a, const Var& b) { return record(WhereOp{mask}, a, b); }

Var gather(const Var& table, const Tensor& indices) { return record(GatherOp{indices, {}}, table); }

}  // namespace loom
