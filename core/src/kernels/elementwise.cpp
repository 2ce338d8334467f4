// SPDX-License-Identifier: Apache-2.0
// Element-wise functions: checks, broadcasting and parallel chunks; the spans run in the ISA's
// kernels (kernels/isa/elementwise.cpp).
#include "loom/core/elementwise.hpp"

#include "../dispatch.hpp"
#include "../parallel.hpp"
#include "isa.hpp"

namespace loom::core {
namespace {

constexpr std::int64_t kGrain = 16384;  // elements per parallel chunk (a multiple of every width)

using isa::Unary;

// One binary kernel of the ISA's table, with its parameter (axpy's alpha).
struct BinOp {
  isa::Binary op;
  double param = 0;
};

template <class T>
void unary_run(const T* x, T* y, std::int64_t n, isa::Unary op) {
  const auto span = isa::get<T>().unary[static_cast<int>(op)];
  detail::parallel_chunks(n, kGrain, [&](std::int64_t b, std::int64_t e) { span(x + b, y + b, e - b); });
}

// out = op(a, b) under the broadcasting rule (shapes already checked).
template <class T>
void binary_run(const Tensor& a, const Tensor& b, Tensor& out, const BinOp& op) {
  const auto binary_span = isa::get<T>().binary[static_cast<int>(op.op)];
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  T* py = out.data<T>();
  const std::int64_t n = out.numel(), na = a.numel(), nb = b.numel();
  if (n == 0) return;  // an empty batch: nothing to compute (and no row length to divide by)
  if (na == n && nb == n) {
    detail::parallel_chunks(n, kGrain, [&](std::int64_t s, std::int64_t e) {
      binary_span(pa + s, 1, pb + s, 1, py + s, e - s, op.param);
    });
  } else if (na == 1 || nb == 1) {
    const int sa = na == 1 ? 0 : 1, sb = nb == 1 ? 0 : 1;
    detail::parallel_chunks(n, kGrain, [&](std::int64_t s, std::int64_t e) {
      binary_span(pa + s * sa, sa, pb + s * sb, sb, py + s, e - s, op.param);
    });
  } else {
    // One operand is a row of `row` elements repeated over the leading axes of the other.
    const std::int64_t row = std::min(na, nb), rows = n / row;
    const bool a_is_row = na == row;
    detail::parallel_chunks(rows, std::max<std::int64_t>(1, kGrain / row), [&](std::int64_t r0, std::int64_t r1) {
      for (std::int64_t r = r0; r < r1; ++r) {
        const T* ar = a_is_row ? pa : pa + r * row;
        const T* br = a_is_row ? pb + r * row : pb;
        binary_span(ar, 1, br, 1, py + r * row, row, op.param);
      }
    });
  }
}

bool is_suffix(const Shape& small, const Shape& big) {
  if (small.rank() > big.rank()) return false;
  for (int i = 1; i <= small.rank(); ++i)
    if (small[-i] != big[-i]) return false;
  return true;
}

Tensor& binary_into(const char* api, const Tensor& a, const Tensor& b, Tensor& out, const BinOp& op) {
  detail::check_defined(api, "a", a);
  detail::check_defined(api, "b", b);
  detail::check_same_dtype(api, a, b);
  const Shape s = broadcast_shape(a.shape(), b.shape(), api);
  detail::check_defined(api, "out", out);
  LOOM_CHECK(out.shape() == s, ValueError, api, ": out must have shape ", s, "; got ", out.shape(), ".");
  detail::check_same_dtype(api, a, out);
  detail::dispatch_float(a.dtype(), api, [&](auto tag) { binary_run<decltype(tag)>(a, b, out, op); });
  return out;
}

Tensor binary(const char* api, const Tensor& a, const Tensor& b, const BinOp& op) {
  detail::check_defined(api, "a", a);
  detail::check_defined(api, "b", b);
  Tensor out = Tensor::empty(broadcast_shape(a.shape(), b.shape(), api), a.dtype());
  return binary_into(api, a, b, out, op);
}

Tensor& unary_into(const char* api, const Tensor& x, Tensor& out, Unary op) {
  detail::check_defined(api, "x", x);
  detail::check_defined(api, "out", out);
  LOOM_CHECK(out.shape() == x.shape(), ValueError, api, ": out must have shape ", x.shape(), "; got ",
             out.shape(), ".");
  detail::check_same_dtype(api, x, out);
  detail::dispatch_float(x.dtype(), api, [&](auto tag) {
    using T = decltype(tag);
    unary_run(x.data<T>(), out.data<T>(), x.numel(), op);
  });
  return out;
}

Tensor unary(const char* api, const Tensor& x, Unary op) {
  detail::check_defined(api, "x", x);
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  return unary_into(api, x, out, op);
}

constexpr BinOp Add{isa::Binary::add}, Sub{isa::Binary::sub}, Mul{isa::Binary::mul}, Div{isa::Binary::div};
constexpr BinOp TanhGrad{isa::Binary::tanh_grad}, SigmoidGrad{isa::Binary::sigmoid_grad},
    ReluGrad{isa::Binary::relu_grad}, HardSigmoidGrad{isa::Binary::hard_sigmoid_grad};

Tensor scalar_like(const Tensor& a, double s) { return Tensor::full({}, s, a.dtype()); }

Tensor same_shape(const char* api, const Tensor& dy, const Tensor& y, const BinOp& op) {
  detail::check_defined(api, "dy", dy);
  detail::check_defined(api, "y", y);
  LOOM_CHECK(dy.shape() == y.shape(), ValueError, api, ": dy and its activation must have one shape; got ",
             dy.shape(), " and ", y.shape(), ".");
  return binary(api, dy, y, op);
}

}  // namespace

Shape broadcast_shape(const Shape& a, const Shape& b, const char* api) {
  if (a == b) return a;
  const bool a_big = a.rank() > b.rank() || (a.rank() == b.rank() && a.numel() >= b.numel());
  const Shape& big = a_big ? a : b;
  const Shape& small = a_big ? b : a;
  Shape core;  // small without its leading unit extents: (1, N) broadcasts like (N,)
  int first = 0;
  while (first < small.rank() && small[first] == 1) ++first;
  for (int i = first; i < small.rank(); ++i) core.push_back(small[i]);
  LOOM_CHECK(small.numel() == 1 || is_suffix(core, big), ValueError, api, ": shapes ", a, " and ", b,
             " do not broadcast; one must equal a trailing part of the other, or have one element.");
  return big;
}

Tensor add(const Tensor& a, const Tensor& b) { return binary("add", a, b, Add); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary("sub", a, b, Sub); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary("mul", a, b, Mul); }
Tensor div(const Tensor& a, const Tensor& b) { return binary("div", a, b, Div); }
Tensor& add(const Tensor& a, const Tensor& b, Tensor& out) { return binary_into("add", a, b, out, Add); }
Tensor& sub(const Tensor& a, const Tensor& b, Tensor& out) { return binary_into("sub", a, b, out, Sub); }
Tensor& mul(const Tensor& a, const Tensor& b, Tensor& out) { return binary_into("mul", a, b, out, Mul); }
Tensor& div(const Tensor& a, const Tensor& b, Tensor& out) { return binary_into("div", a, b, out, Div); }

Tensor add(const Tensor& a, double s) { return binary("add", a, scalar_like(a, s), Add); }
Tensor mul(const Tensor& a, double s) { return binary("mul", a, scalar_like(a, s), Mul); }
Tensor rsub(double s, const Tensor& a) { return binary("sub", scalar_like(a, s), a, Sub); }
Tensor rdiv(double s, const Tensor& a) { return binary("div", scalar_like(a, s), a, Div); }

Tensor& add_(Tensor& acc, const Tensor& x) { return binary_into("add_", acc, x, acc, Add); }
Tensor& axpy_(Tensor& acc, double alpha, const Tensor& x) {
  detail::check_defined("axpy_", "x", x);
  LOOM_CHECK(acc.shape() == x.shape(), ValueError, "axpy_: x must have the accumulator's shape ",
             acc.shape(), "; got ", x.shape(), ".");
  return binary_into("axpy_", acc, x, acc, BinOp{isa::Binary::axpy, alpha});
}

Tensor neg(const Tensor& x) { return unary("neg", x, Unary::neg); }
Tensor exp(const Tensor& x) { return unary("exp", x, Unary::exp); }
Tensor log(const Tensor& x) { return unary("log", x, Unary::log); }
Tensor tanh(const Tensor& x) { return unary("tanh", x, Unary::tanh); }
Tensor sigmoid(const Tensor& x) { return unary("sigmoid", x, Unary::sigmoid); }
Tensor hard_sigmoid(const Tensor& x) { return unary("hard_sigmoid", x, Unary::hard_sigmoid); }
Tensor relu(const Tensor& x) { return unary("relu", x, Unary::relu); }
Tensor& tanh(const Tensor& x, Tensor& out) { return unary_into("tanh", x, out, Unary::tanh); }
Tensor& sigmoid(const Tensor& x, Tensor& out) { return unary_into("sigmoid", x, out, Unary::sigmoid); }
Tensor& relu(const Tensor& x, Tensor& out) { return unary_into("relu", x, out, Unary::relu); }
Tensor& exp(const Tensor& x, Tensor& out) { return unary_into("exp", x, out, Unary::exp); }

Tensor tanh_backward(const Tensor& dy, const Tensor& y) {
  return same_shape("tanh_backward", dy, y, TanhGrad);
}
Tensor sigmoid_backward(const Tensor& dy, const Tensor& y) {
  return same_shape("sigmoid_backward", dy, y, SigmoidGrad);
}
Tensor relu_backward(const Tensor& dy, const Tensor& y) {
  return same_shape("relu_backward", dy, y, ReluGrad);
}
Tensor hard_sigmoid_backward(const Tensor& dy, const Tensor& x) {
  return same_shape("hard_sigmoid_backward", dy, x, HardSigmoidGrad);
}

}  // namespace loom::core

namespace loom {

Tensor operator+(const Tensor& a, const Tensor& b) { return core::add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return core::sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return core::mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return core::div(a, b); }
Tensor operator+(const Tensor& a, double s) { return core::add(a, s); }
Tensor operator+(double s, const Tensor& a) { return core::add(a, s); }
Tensor operator-(const Tensor& a, double s) { return core::add(a, -s); }
Tensor operator-(double s, const Tensor& a) { return core::rsub(s, a); }
Tensor operator*(const Tensor& a, double s) { return core::mul(a, s); }
Tensor operator*(double s, const Tensor& a) { return core::mul(a, s); }
Tensor operator/(const Tensor& a, double s) { return core::div(a, Tensor::full({}, s, a.dtype())); }
Tensor operator/(double s, const Tensor& a) { return core::rdiv(s, a); }
Tensor operator-(const Tensor& a) { return core::neg(a); }

}  // namespace loom
