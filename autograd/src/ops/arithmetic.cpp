// SPDX-License-Identifier: Apache-2.0
// Arithmetic ops. Binary ops keep the operand shapes to sum broadcast gradients back.
#include "loom/autograd/ops/arithmetic.hpp"

#include "loom/autograd/record.hpp"
#include "loom/core/check.hpp"
#include "loom/core/elementwise.hpp"
#include "loom/core/reduce.hpp"

namespace loom {
namespace {

using detail::OpInfo;
using detail::OpKind;

void check_operands(const char* api, const Tensor& a, const Tensor& b) {
  LOOM_CHECK(is_floating(a.dtype()) && a.dtype() == b.dtype(), TypeError, api,
             ": operands must share a floating dtype; got ", a.dtype(), " and ", b.dtype(), ".");
  core::broadcast_shape(a.shape(), b.shape(), api);
}

/// z = a + b.  da = dy,  db = dy (each summed to its operand's shape).
struct AddOp {
  static constexpr const char* name = "add";
  OpInfo info() const { return {OpKind::binary, 0, sa, sb, core::EwOp::add}; }
  Shape sa, sb;
  Tensor forward(const Tensor& a, const Tensor& b) {
    check_operands(name, a, b);
    sa = a.shape();
    sb = b.shape();
    return core::add(a, b);
  }
  void backward(const Tensor& dy, Grads& g) const {
    if (g.needed(0)) g.add(0, core::sum_to(dy, sa));
    if (g.needed(1)) g.add(1, core::sum_to(dy, sb));
  }
};

/// z = a − b.  da = dy,  db = −dy.
struct SubOp {
  static constexpr const char* name = "sub";
  OpInfo info() const { return {OpKind::binary, 0, sa, sb, core::EwOp::sub}; }
  Shape sa, sb;
  Tensor forward(const Tensor& a, const Tensor& b) {
    check_operands(name, a, b);
    sa = a.shape();
    sb = b.shape();
    return core::sub(a, b);
  }
  void backward(const Tensor& dy, Grads& g) const {
    if (g.needed(0)) g.add(0, core::sum_to(dy, sa));
    if (g.needed(1)) g.add(1, core::neg(core::sum_to(dy, sb)));
  }
};

/// z = a ⊙ b.  da = dy ⊙ b,  db = dy ⊙ a.  Saves both operands.
struct MulOp {
  static constexpr const char* name = "mul";
  OpInfo info() const { return {OpKind::binary, 0, a.shape(), b.shape(), core::EwOp::mul}; }
  Tensor a, b;
  Tensor forward(const Tensor& a_in, const Tensor& b_in) {
    check_operands(name, a_in, b_in);
    a = a_in;
    b = b_in;
    return core::mul(a, b);
  }
  void backward(const Tensor& dy, Grads& g) const {
    if (g.needed(0)) g.add(0, core::sum_to(core::mul(dy, b), a.shape()));
    if (g.needed(1)) g.add(1, core::sum_to(core::mul(dy, a), b.shape()));
  }
};

/// z = a / b.  da = dy / b,  db = −dy ⊙ z / b.  Saves b and the output z.
struct DivOp {
  static constexpr const char* name = "div";
  OpInfo info() const { return {OpKind::binary, 0, sa, b.shape(), core::EwOp::div}; }
  Tensor b, z;
  Shape sa;
  Tensor forward(const Tensor& a, const Tensor& b_in) {
    check_operands(name, a, b_in);
    sa = a.shape();
    b = b_in;
    z = core::div(a, b);
    return z;
  }
  void backward(const Tensor& dy, Grads& g) const {
    const Tensor q = core::div(dy, b);
    if (g.needed(0)) g.add(0, core::sum_to(q, sa));
    if (g.needed(1)) g.add(1, core::sum_to(core::neg(core::mul(q, z)), b.shape()));
  }
};

/// z = −x.  dx = −dy.
struct NegOp {
  static constexpr const char* name = "neg";
  static OpInfo info() { return {OpKind::unary, 0, {}, {}, core::EwOp::neg, 0}; }
  Tensor forward(const Tensor& x) { return core::neg(x); }
  void backward(const Tensor& dy, Grads& g) const { g.add(0, core::neg(dy)); }
};

/// z = x + s.  dx = dy.
struct AddScalarOp {
  static constexpr const char* name = "add";
  OpInfo info() const { return {OpKind::unary, 0, {}, {}, core::EwOp::add_scalar, s}; }
  double s;
  Tensor forward(const Tensor& x) { return core::add(x, s); }
  void backward(const Tensor& dy, Grads& g) const { g.add(0, dy); }
};

/// z = x · s.  dx = s · dy.
struct MulScalarOp {
  static constexpr const char* name = "mul";
  OpInfo info() const { return {OpKind::unary, 0, {}, {}, core::EwOp::mul_scalar, s}; }
  double s;
  Tensor forward(const Tensor& x) { return core::mul(x, s); }
  void backward(const Tensor& dy, Grads& g) const { g.add(0, core::mul(dy, s)); }
};

/// z = s − x.  dx = −dy.
struct RSubScalarOp {
  static constexpr const char* name = "sub";
  OpInfo info() const { return {OpKind::unary, 0, {}, {}, core::EwOp::rsub_scalar, s}; }
  double s;
  Tensor forward(const Tensor& x) { return core::rsub(s, x); }
  void backward(const Tensor& dy, Grads& g) const { g.add(0, core::neg(dy)); }
};

/// z = s / x.  dx = −dy ⊙ z / x.  Saves x and z.
struct RDivScalarOp {
  static constexpr const char* name = "div";
  OpInfo info() const { return {OpKind::unary, 0, {}, {}, core::EwOp::rdiv_scalar, s}; }
  double s;
  Tensor x, z;
  Tensor forward(const Tensor& x_in) {
    x = x_in;
    z = core::rdiv(s, x);
    return z;
  }
  void backward(const Tensor& dy, Grads& g) const { g.add(0, core::neg(core::mul(dy, core::div(z, x)))); }
};

}  // namespace

Var add(const Var& a, const Var& b) { return record(AddOp{}, a, b); }
Var sub(const Var& a, const Var& b) { return record(SubOp{}, a, b); }
Var mul(const Var& a, const Var& b) { return record(MulOp{}, a, b); }
Var div(const Var& a, const Var& b) { return record(DivOp{}, a, b); }
Var neg(const Var& x) { return record(NegOp{}, x); }
Var add(const Var& x, double s) { return record(AddScalarOp{s}, x); }
Var mul(const Var& x, double s) { return record(MulScalarOp{s}, x); }
Var rsub(double s, const Var& x) { return record(RSubScalarOp{s}, x); }
Var rdiv(double s, const Var& x) { return record(RDivScalarOp{s, {}, {}}, x); }

Var operator+(const Var& a, const Var& b) { return add(a, b); }
Var operator-(const Var& a, const Var& b) { return sub(a, b); }
Var operator*(const Var& a, const Var& b) { return mul(a, b); }
Var operator/(const Var& a, const Var& b) { return div(a, b); }
Var operator-(const Var& x) { return neg(x); }
Var operator+(const Var& x, double s) { return add(x, s); }
Var operator+(double s, const Var& x) { return add(x, s); }
Var operator-(const Var& x, double s) { return add(x, -s); }
Var operator-(double s, const Var& x) { return rsub(s, x); }
Var operator*(const Var& x, double s) { return mul(x, s); }
Var operator*(double s, const Var& x) { return mul(x, s); }
Var operator/(const Var& x, double s) { return mul(x, 1.0 / s); }
Var operator/(double s, const Var& x) { return rdiv(s, x); }

}  // namespace loom
