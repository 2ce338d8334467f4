// SPDX-License-Identifier: Apache-2.0
// Differentiable selection: row-masked where, and gathering rows (embedding lookup).
#pragma once

#include "loom/autograd/var.hpp"
#include "loom/core/export.hpp"

namespace loom LOOM_API {

/// Row-wise select: out[b, …] = mask[b] ≠ 0 ? a[b, …] : b[b, …]. `mask` is (B,) or (B, 1), floating
/// (any non-zero keeps `a`); a and b share a shape (B, …) of any rank ≥ 1. The mask is not
/// differentiable. da = dy on kept rows, db = dy on the others.
Var where(const Tensor& mask, const Var& a, const Var& b);

/// Rows of `table` (V, D…) picked by i64 `indices` of any shape: the result is indices.shape + (D…).
/// dtable = the dys scattered back (added where an index repeats).
Var gather(const Var& table, const Tensor& indices);

}  // namespace loom
