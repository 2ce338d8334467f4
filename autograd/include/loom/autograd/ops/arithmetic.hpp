// SPDX-License-Identifier: Apache-2.0
// Differentiable arithmetic. Broadcasting follows core::broadcast_shape: equal shapes, a trailing row
// ((N,), (1, N), (T, N) against (B, T, N)) or a single-element scalar; gradients are summed back to
// each operand's shape.
#pragma once

#include "loom/autograd/var.hpp"
#include "loom/core/export.hpp"

namespace loom LOOM_API {

Var add(const Var& a, const Var& b);  ///< a + b.        da = dy,      db = dy
Var sub(const Var& a, const Var& b);  ///< a − b.        da = dy,      db = −dy
Var mul(const Var& a, const Var& b);  ///< a ⊙ b.        da = dy ⊙ b,  db = dy ⊙ a
Var div(const Var& a, const Var& b);  ///< a / b.        da = dy / b,  db = −dy ⊙ a / b²
Var neg(const Var& x);                ///< −x.           dx = −dy
Var add(const Var& x, double s);      ///< x + s.        dx = dy
Var mul(const Var& x, double s);      ///< x · s.        dx = s · dy
Var rsub(double s, const Var& x);     ///< s − x.        dx = −dy
Var rdiv(double s, const Var& x);     ///< s / x.        dx = −s · dy / x²

Var operator+(const Var& a, const Var& b);
Var operator-(const Var& a, const Var& b);
Var operator*(const Var& a, const Var& b);
Var operator/(const Var& a, const Var& b);
Var operator-(const Var& x);
Var operator+(const Var& x, double s);
Var operator+(double s, const Var& x);
Var operator-(const Var& x, double s);
Var operator-(double s, const Var& x);
Var operator*(const Var& x, double s);
Var operator*(double s, const Var& x);
Var operator/(const Var& x, double s);
Var operator/(double s, const Var& x);

}  // namespace loom
