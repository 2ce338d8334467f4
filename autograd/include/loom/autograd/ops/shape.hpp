// SPDX-License-Identifier: Apache-2.0
// Differentiable shape and layout ops: reshape, transpose, slice, concat, stack, unstack, split.
#pragma once

#include <vector>

#include "loom/autograd/var.hpp"
#include "loom/core/export.hpp"

namespace loom LOOM_API {

/// Same elements, new shape (one extent may be −1). dx = reshape(dy, x.shape)
Var reshape(const Var& x, const Shape& shape);
Var reshape(const Var& x, std::initializer_list<std::int64_t> dims);
/// Swaps the last two axes. dx = transpose(dy)
Var transpose(const Var& x);
/// The elements along `axis` in reverse order. dx = reverse(dy)
Var reverse(const Var& x, int axis);
/// Elements [start, start+length) along `axis`. dx = dy placed at that range, zeros elsewhere
Var slice(const Var& x, int axis, std::int64_t start, std::int64_t length);
/// Joins along `axis` (extents elsewhere equal). dxᵢ = the matching slice of dy
Var concat(const std::vector<Var>& xs, int axis);
/// Stacks equal-shaped Vars along a new axis `axis`. dxᵢ = dy's i-th entry along it
Var stack(const std::vector<Var>& xs, int axis = 0);
/// Splits along `axis` into its entries (that axis removed). dx = stack of the dys (zeros where none)
std::vector<Var> unstack(const Var& x, int axis = 0);
/// Splits `axis` into `parts` equal pieces (the gates of an LSTM: split(z, 4, -1)). dx = concat of dys
std::vector<Var> split(const Var& x, int parts, int axis = -1);

}  // namespace loom
