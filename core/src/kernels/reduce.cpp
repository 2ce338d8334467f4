// SPDX-License-Identifier: Apache-2.0
// Reductions and softmax. Each result element is reduced by one task in a fixed order (the ISA's
// virtual-lane row kernels, then fixed-size blocks combined serially), so the bits depend neither on
// the thread count nor on the register width.
#include "loom/core/reduce.hpp"

#include "loom/core/elementwise.hpp"

#include <cmath>
#include <limits>
#include <type_traits>

#include "../dispatch.hpp"
#include "../parallel.hpp"
#include "isa.hpp"

namespace loom::core {
namespace {

constexpr std::int64_t kBlock = 16384;

template <class T>
T row_sum(const T* x, std::int64_t n) {
  return isa::get<T>().row_sum(x, n);
}
template <class T>
T row_dot(const T* a, const T* b, std::int64_t n) {
  return isa::get<T>().row_dot(a, b, n);
}

// Views x as (outer, len, inner) around `axis`.
struct AxisView {
  std::int64_t outer, len, inner;
  Shape out_shape;
};

AxisView axis_view(const char* api, const Tensor& x, int axis, bool keepdims) {
  detail::check_defined(api, "x", x);
  const int a = x.shape().axis(axis, api);
  AxisView v{x.shape().numel(0, a), x.shape(a), x.shape().numel(a + 1, x.dimension()), {}};
  for (int i = 0; i < x.dimension(); ++i) {
    if (i != a)
      v.out_shape.push_back(x.shape(i));
    else if (keepdims)
      v.out_shape.push_back(1);
  }
  return v;
}

// out[o, j] = reduce over l of x[o, l, j]. `contig(ptr, rows, len, out)` reduces contiguous rows (inner == 1);
// `combine(acc_row, row, n)` folds one row into the accumulator row (inner > 1).
template <class T, class Contig, class Combine>
void reduce_axis(const AxisView& v, const T* x, T* out, Contig&& contig, Combine&& combine) {
  if (v.inner == 1) {
    detail::parallel_chunks(v.outer, std::max<std::int64_t>(1, kBlock / std::max<std::int64_t>(v.len, 1)),
                            [&](std::int64_t o0, std::int64_t o1) {
                              contig(x + o0 * v.len, o1 - o0, v.len, out + o0);
                            });
    return;
  }
  constexpr std::int64_t kCols = 1024;
  const std::int64_t col_chunks = (v.inner + kCols - 1) / kCols;
  detail::parallel_chunks(v.outer * col_chunks, 1, [&](std::int64_t t0, std::int64_t t1) {
    for (std::int64_t t = t0; t < t1; ++t) {
      const std::int64_t o = t / col_chunks, j0 = (t % col_chunks) * kCols;
      const std::int64_t n = std::min(kCols, v.inner - j0);
      T* acc = out + o * v.inner + j0;
      const T* base = x + o * v.len * v.inner + j0;
      std::copy(base, base + n, acc);
      for (std::int64_t l = 1; l < v.len; ++l) combine(acc, base + l * v.inner, n);
    }
  });
}

template <class T>
void add_row(T* acc, const T* row, std::int64_t n) {
  isa::get<T>().add_row(acc, row, n);
}

template <class T>
void max_row(T* acc, const T* row, std::int64_t n) {
  isa::get<T>().max_row(acc, row, n);
}

// y[j] = op(a[j], s) (sa = 1) or op(s, b[j]) over a row, with the ISA's span kernels.
template <class T>
void with_scalar(isa::Binary op, const T* a, T s, T* y, std::int64_t n) {
  isa::get<T>().binary[static_cast<int>(op)](a, 1, &s, 0, y, n, 0.0);
}

// Softmax-family helper: calls fn(in, rows, n, out) for chunks of rows of the last axis, in parallel.
template <class T, class Fn>
void for_rows(const Tensor& x, Tensor& out, Fn&& fn) {
  const std::int64_t n = x.shape(-1), rows = n ? x.numel() / n : 0;
  const T* px = x.data<T>();
  T* py = out.data<T>();
  detail::parallel_chunks(rows, std::max<std::int64_t>(1, kBlock / std::max<std::int64_t>(n, 1)),
                          [&](std::int64_t r0, std::int64_t r1) { fn(px + r0 * n, r1 - r0, n, py + r0 * n); });
}


Tensor last_axis_input(const char* api, const Tensor& x) {
  detail::check_defined(api, "x", x);
  LOOM_CHECK(x.dimension() >= 1, ValueError, api, ": x must be at least 1-D; got shape ", x.shape(), ".");
  return x;
}

}  // namespace

Tensor sum(const Tensor& x) {
  detail::check_defined("sum", "x", x);
  return detail::dispatch_float(x.dtype(), "sum", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t n = x.numel(), blocks = (n + kBlock - 1) / kBlock;
    std::vector<T> partial(static_cast<std::size_t>(std::max<std::int64_t>(blocks, 1)), T(0));
    const T* p = x.data<T>();
    detail::parallel_chunks(blocks, 1, [&](std::int64_t b0, std::int64_t b1) {
      for (std::int64_t b = b0; b < b1; ++b)
        partial[b] = row_sum(p + b * kBlock, std::min(kBlock, n - b * kBlock));
    });
    T total = T(0);
    for (T v : partial) total = total + v;
    return Tensor::full({}, total, x.dtype());
  });
}

Tensor sum(const Tensor& x, int axis, bool keepdims) {
  const AxisView v = axis_view("sum", x, axis, keepdims);
  return detail::dispatch_float(x.dtype(), "sum", [&](auto tag) {
    using T = decltype(tag);
    Tensor out = Tensor::zeros(v.out_shape, x.dtype());
    if (v.len > 0)
      reduce_axis<T>(v, x.data<T>(), out.data<T>(), isa::get<T>().sum_rows, add_row<T>);
    return out;
  });
}

Tensor mean(const Tensor& x) {
  detail::check_defined("mean", "x", x);
  LOOM_CHECK(x.numel() > 0, ValueError, "mean: x must not be empty; got shape ", x.shape(), ".");
  return sum(x) / static_cast<double>(x.numel());
}

Tensor mean(const Tensor& x, int axis, bool keepdims) {
  const AxisView v = axis_view("mean", x, axis, keepdims);
  LOOM_CHECK(v.len > 0, ValueError, "mean: the reduced axis is empty in shape ", x.shape(), ".");
  return sum(x, axis, keepdims) / static_cast<double>(v.len);
}

Tensor max(const Tensor& x) {
  detail::check_defined("max", "x", x);
  LOOM_CHECK(x.numel() > 0, ValueError, "max: x must not be empty; got shape ", x.shape(), ".");
  return max(x.reshape({x.numel()}), 0, false);
}

Tensor max(const Tensor& x, int axis, bool keepdims) {
  const AxisView v = axis_view("max", x, axis, keepdims);
  LOOM_CHECK(v.len > 0, ValueError, "max: the reduced axis is empty in shape ", x.shape(), ".");
  return detail::dispatch_float(x.dtype(), "max", [&](auto tag) {
    using T = decltype(tag);
    Tensor out = Tensor::empty(v.out_shape, x.dtype());
    reduce_axis<T>(v, x.data<T>(), out.data<T>(), isa::get<T>().max_rows, max_row<T>);
    return out;
  });
}

Tensor argmax(const Tensor& x, int axis, bool keepdims) {
  const AxisView v = axis_view("argmax", x, axis, keepdims);
  LOOM_CHECK(v.len > 0, ValueError, "argmax: the reduced axis is empty in shape ", x.shape(), ".");
  return detail::dispatch_float(x.dtype(), "argmax", [&](auto tag) {
    using T = decltype(tag);
    Tensor out = Tensor::empty(v.out_shape, DType::i64);
    const T* p = x.data<T>();
    std::int64_t* o = out.data<std::int64_t>();
    detail::parallel_chunks(v.outer * v.inner, std::max<std::int64_t>(1, kBlock / v.len),
                            [&](std::int64_t t0, std::int64_t t1) {
                              for (std::int64_t t = t0; t < t1; ++t) {
                                const T* base = p + (t / v.inner) * v.len * v.inner + t % v.inner;
                                std::int64_t best = 0;
                                for (std::int64_t l = 1; l < v.len; ++l)
                                  if (base[l * v.inner] > base[best * v.inner]) best = l;
                                o[t] = best;
                              }
                            });
    return out;
  });
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  detail::check_defined("sum_to", "x", x);
  if (x.shape() == shape) return x;
  const std::int64_t n = shape.numel();
  LOOM_CHECK(n > 0 && x.numel() % n == 0 && broadcast_shape(x.shape(), shape, "sum_to") == x.shape(),
             ValueError, "sum_to: shape ", shape, " is not a broadcastable part of ", x.shape(), ".");
  if (n == 1) return sum(x).reshape(shape);
  return sum(x.reshape({-1, n}), 0, false).reshape(shape);
}

Tensor softmax(const Tensor& x) {
  last_axis_input("softmax", x);
  return detail::dispatch_float(x.dtype(), "softmax", [&](auto tag) {
    using T = decltype(tag);
    Tensor out = Tensor::empty(x.shape(), x.dtype());
    for_rows<T>(x, out, isa::get<T>().softmax_rows);
    return out;
  });
}

Tensor log_softmax(const Tensor& x) {
  last_axis_input("log_softmax", x);
  return detail::dispatch_float(x.dtype(), "log_softmax", [&](auto tag) {
    using T = decltype(tag);
    Tensor out = Tensor::empty(x.shape(), x.dtype());
    for_rows<T>(x, out, isa::get<T>().log_softmax_rows);
    return out;
  });
}

namespace {
template <class Fn>
Tensor softmax_grad(const char* api, const Tensor& dy, const Tensor& y, Fn&& fn) {
  last_axis_input(api, y);
  detail::check_defined(api, "dy", dy);
  LOOM_CHECK(dy.shape() == y.shape(), ValueError, api, ": dy must have shape ", y.shape(), "; got ",
             dy.shape(), ".");
  detail::check_same_dtype(api, dy, y);
  return detail::dispatch_float(y.dtype(), api, [&](auto tag) {
    using T = decltype(tag);
    Tensor out = Tensor::empty(y.shape(), y.dtype());
    const T* pd = dy.data<T>();
    const T* base = y.data<T>();
    for_rows<T>(y, out, [&](const T* yr, std::int64_t rows, std::int64_t len, T* o) {
      for (std::int64_t r = 0; r < rows; ++r) fn(pd + (yr - base) + r * len, yr + r * len, o + r * len, len);
    });
    return out;
  });
}
}  // namespace

Tensor softmax_backward(const Tensor& dy, const Tensor& y) {
  return softmax_grad("softmax_backward", dy, y, [](const auto* d, const auto* yr, auto* o, std::int64_t n) {
    using T = std::remove_const_t<std::remove_pointer_t<decltype(yr)>>;
    const isa::Kernels<T>& k = isa::get<T>();
    const T dot = row_dot(d, yr, n);
    with_scalar(isa::Binary::sub, d, dot, o, n);                              // d − dot
    k.binary[static_cast<int>(isa::Binary::mul)](yr, 1, o, 1, o, n, 0.0);  // y · (d − dot)
  });
}

Tensor log_softmax_backward(const Tensor& dy, const Tensor& y) {
  return softmax_grad("log_softmax_backward", dy, y, [](const auto* d, const auto* yr, auto* o, std::int64_t n) {
    using T = std::remove_const_t<std::remove_pointer_t<decltype(yr)>>;
    const isa::Kernels<T>& k = isa::get<T>();
    const T s = row_sum(d, n);
    k.unary[static_cast<int>(isa::Unary::exp)](yr, o, n);                  // softmax = exp(log_softmax)
    with_scalar(isa::Binary::mul, o, s, o, n);                               // · Σ d
    k.binary[static_cast<int>(isa::Binary::sub)](d, 1, o, 1, o, n, 0.0);   // d − softmax · Σ d
  });
}

}  // namespace loom::core
