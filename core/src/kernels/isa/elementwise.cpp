// SPDX-License-Identifier: Apache-2.0
// Per-ISA element-wise spans. Every element goes through the same vector code (a tail is computed
// on a padded copy), so a value never depends on its position, the chunking or the thread count;
// the formulas are written once per lane, so AVX2 and AVX-512 give the same bits.
#include "common.hpp"

namespace loom::core::LOOM_ISA_NS {
namespace {

// Functors are generic over the batch type so one definition serves f32 and f64.
struct Add { template <class V> V operator()(const V& a, const V& b, double) const { return a + b; } };
struct Sub { template <class V> V operator()(const V& a, const V& b, double) const { return a - b; } };
struct Mul { template <class V> V operator()(const V& a, const V& b, double) const { return a * b; } };
struct Div { template <class V> V operator()(const V& a, const V& b, double) const { return a / b; } };
struct Axpy {  // acc + x·alpha
  template <class V> V operator()(const V& acc, const V& x, double alpha) const {
    return acc + x * V(static_cast<typename V::value_type>(alpha));
  }
};
struct TanhGrad {
  template <class V> V operator()(const V& dy, const V& y, double) const {
    using T = typename V::value_type;
    return dy * (V(T(1)) - y * y);
  }
};
struct SigmoidGrad {
  template <class V> V operator()(const V& dy, const V& y, double) const {
    using T = typename V::value_type;
    return dy * y * (V(T(1)) - y);
  }
};
struct ReluGrad {
  template <class V> V operator()(const V& dy, const V& y, double) const {
    using T = typename V::value_type;
    return xsimd::select(y > V(T(0)), dy, V(T(0)));
  }
};
struct HardSigmoidGrad {
  template <class V> V operator()(const V& dy, const V& x, double) const {
    using T = typename V::value_type;
    return xsimd::select((x > V(T(-2.5))) && (x < V(T(2.5))), dy * V(T(0.2)), V(T(0)));
  }
};

struct Neg { template <class V> V operator()(const V& x) const { return -x; } };
struct Exp { template <class V> V operator()(const V& x) const { return xsimd::exp(x); } };
struct Log { template <class V> V operator()(const V& x) const { return xsimd::log(x); } };
struct Tanh { template <class V> V operator()(const V& x) const { return xsimd::tanh(x); } };
struct Sigmoid {
  template <class V> V operator()(const V& x) const {
    using T = typename V::value_type;
    return V(T(1)) / (V(T(1)) + xsimd::exp(-x));
  }
};
struct HardSigmoid {
  template <class V> V operator()(const V& x) const {
    using T = typename V::value_type;
    return xsimd::min(xsimd::max(x * V(T(0.2)) + V(T(0.5)), V(T(0))), V(T(1)));
  }
};
struct Relu {
  template <class V> V operator()(const V& x) const {
    using T = typename V::value_type;
    return xsimd::select(x > V(T(0)), x, V(T(0)));
  }
};

template <class T, class Op>
void unary_span(const T* x, T* y, std::int64_t n) {
  using B = batch<T>;
  constexpr int W = width<T>;
  const Op op{};
  std::int64_t i = 0;
  for (; i + W <= n; i += W) op(B::load_unaligned(x + i)).store_unaligned(y + i);
  if (i < n) store_partial(op(load_padded(x + i, n - i, T(0))), y + i, n - i);
}

template <class T, class Op>
void binary_span(const T* a, int sa, const T* b, int sb, T* y, std::int64_t n, double param) {
  using B = batch<T>;
  constexpr int W = width<T>;
  const Op op{};
  const B av = sa ? B(T(0)) : B(a[0]);
  const B bv = sb ? B(T(0)) : B(b[0]);
  std::int64_t i = 0;
  for (; i + W <= n; i += W) {
    const B x = sa ? B::load_unaligned(a + i) : av;
    const B z = sb ? B::load_unaligned(b + i) : bv;
    op(x, z, param).store_unaligned(y + i);
  }
  if (i < n) {
    const B x = sa ? load_padded(a + i, n - i, T(0)) : av;
    const B z = sb ? load_padded(b + i, n - i, T(0)) : bv;
    store_partial(op(x, z, param), y + i, n - i);
  }
}

template <class T>
void fill(isa::Kernels<T>& k) {
  using isa::Binary;
  using isa::Unary;
  auto u = [&](Unary op, auto f) { k.unary[static_cast<int>(op)] = f; };
  u(Unary::neg, &unary_span<T, Neg>);
  u(Unary::exp, &unary_span<T, Exp>);
  u(Unary::log, &unary_span<T, Log>);
  u(Unary::tanh, &unary_span<T, Tanh>);
  u(Unary::sigmoid, &unary_span<T, Sigmoid>);
  u(Unary::hard_sigmoid, &unary_span<T, HardSigmoid>);
  u(Unary::relu, &unary_span<T, Relu>);
  auto b = [&](Binary op, auto f) { k.binary[static_cast<int>(op)] = f; };
  b(Binary::add, &binary_span<T, Add>);
  b(Binary::sub, &binary_span<T, Sub>);
  b(Binary::mul, &binary_span<T, Mul>);
  b(Binary::div, &binary_span<T, Div>);
  b(Binary::axpy, &binary_span<T, Axpy>);
  b(Binary::tanh_grad, &binary_span<T, TanhGrad>);
  b(Binary::sigmoid_grad, &binary_span<T, SigmoidGrad>);
  b(Binary::relu_grad, &binary_span<T, ReluGrad>);
  b(Binary::hard_sigmoid_grad, &binary_span<T, HardSigmoidGrad>);
}

}  // namespace

void fill_elementwise(isa::Kernels<float>& f32, isa::Kernels<double>& f64) {
  fill(f32);
  fill(f64);
}

}  // namespace loom::core::LOOM_ISA_NS
