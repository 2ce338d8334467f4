// SPDX-License-Identifier: Apache-2.0
// Copy kernels that move data between layouts: time/batch swaps, reversal, slicing, gathering.
#pragma once

#include <vector>

#include "loom/core/export.hpp"
#include "loom/core/tensor.hpp"

namespace loom LOOM_API {
namespace core {

/// Swaps axes 0 and 1 into new storage: (B, T, …) ↔ (T, B, …). Rank ≥ 2.
Tensor swap01(const Tensor& x);
/// Reverses `axis` into new storage (the time axis for `go_backwards`).
Tensor flip(const Tensor& x, int axis);
/// Elements [start, start+length) along `axis`, copied into new storage.
Tensor slice(const Tensor& x, int axis, std::int64_t start, std::int64_t length);
/// Joins tensors of one dtype whose shapes agree except along `axis`.
Tensor concat(const std::vector<Tensor>& xs, int axis);
/// Writes `src` into `dst` at [start, start + src.shape(axis)) along `axis`, other extents equal.
void slice_assign(Tensor& dst, const Tensor& src, int axis, std::int64_t start);
/// Repeats `x` n times along `axis`, where x has extent 1 (the backward of a reduction over it).
Tensor broadcast_axis(const Tensor& x, int axis, std::int64_t n);
/// Row-wise select: row r of the result is a's row r where mask[r] ≠ 0, else b's. `mask` is (B,) or
/// (B, 1) of any dtype; a and b share a shape (B, …) and a dtype.
Tensor where_rows(const Tensor& mask, const Tensor& a, const Tensor& b);
/// Rows of `table` (V, D…) picked by `indices` (i64, any shape, each in [0, V)):
/// result shape = indices.shape + (D…). The embedding lookup.
Tensor gather_rows(const Tensor& table, const Tensor& indices);
/// `grad[indices[i]] += rows[i]` for every i, in index order (deterministic): gather's backward.
void scatter_add_rows(Tensor& grad, const Tensor& indices, const Tensor& rows);

}  // namespace core
}  // namespace loom
