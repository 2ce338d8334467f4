// SPDX-License-Identifier: Apache-2.0
// Per-ISA row reductions. A row is split into isa::kLanes<T> virtual lanes (element i goes to lane
// i mod kLanes) whatever the register width, each lane sums in index order, and the lanes combine in
// a fixed tree, so AVX2 and AVX-512 give the same bits (and the registers still run independent
// chains).
#include <cmath>

#include "common.hpp"

namespace loom::core::LOOM_ISA_NS {
namespace {

// Folds the kLanes<T> virtual lanes (acc[r] holds lanes r·W … r·W + W − 1) in a fixed pairwise
// tree: lane j with lane j + s for s = L/2, L/4, …, 1. While s spans whole registers the pairs are
// register against register; the last log2(W) levels halve acc[0] in place (fold_register). The
// pairs, and so the bits, are the same for every register width.
template <class T, int R, class Op>
T fold_lanes(batch<T>* acc) {
  for (int regs = R / 2; regs > 0; regs /= 2)
    for (int r = 0; r < regs; ++r) acc[r] = batch<T>(Op::f(acc[r], acc[r + regs]));
  return fold_register<Op>(acc[0]);
}

// acc[r] ← step(acc[r], v(r)) over the groups of kLanes<T> elements, v(r) the r-th vector of the
// group; the last, partial group is padded with `pad`, and every register of it runs, so each
// virtual lane sees the same sequence of operations on every ISA. Then the lanes fold with Op, whose
// formula `step` must be.
template <class T, class Op, class Step>
T lane_pass(const T* x, std::int64_t n, T pad, Step step) {
  using B = batch<T>;
  constexpr int W = width<T>, L = isa::kLanes<T>;
  static_assert(L % W == 0, "the virtual lanes must fill whole registers");
  constexpr int R = L / W;
  B acc[R];
  for (int r = 0; r < R; ++r) acc[r] = B(pad);
  std::int64_t i = 0;
  for (; i + L <= n; i += L)
    for (int r = 0; r < R; ++r) acc[r] = step(acc[r], B::load_unaligned(x + i + r * W));
  if (i < n)
    for (int r = 0; r < R; ++r) acc[r] = step(acc[r], load_at(x, i + r * W, n - i - r * W, pad));
  return fold_lanes<T, R, Op>(acc);
}

template <class T>
T row_sum(const T* x, std::int64_t n) {
  return lane_pass<T, Sum>(x, n, T(0), [](const batch<T>& a, const batch<T>& v) { return a + v; });
}

template <class T>
T row_dot(const T* a, const T* b, std::int64_t n) {
  using B = batch<T>;
  constexpr int W = width<T>, L = isa::kLanes<T>, R = L / W;
  B acc[R];
  for (int r = 0; r < R; ++r) acc[r] = B(T(0));
  std::int64_t i = 0;
  for (; i + L <= n; i += L)
    for (int r = 0; r < R; ++r)
      acc[r] = xsimd::fma(B::load_unaligned(a + i + r * W), B::load_unaligned(b + i + r * W), acc[r]);
  if (i < n)
    for (int r = 0; r < R; ++r) {
      const std::int64_t at = i + r * W, c = n - at;
      acc[r] = xsimd::fma(load_at(a, at, c, T(0)), load_at(b, at, c, T(0)), acc[r]);
    }
  return fold_lanes<T, R, Sum>(acc);
}

template <class T>
T row_max(const T* x, std::int64_t n) {
  const T lowest = -std::numeric_limits<T>::infinity();
  // max(a, b) = a < b ? b : a, as std::max and Max.
  return lane_pass<T, Max>(x, n, lowest, [](const batch<T>& a, const batch<T>& v) { return xsimd::select(a < v, v, a); });
}

// acc[j] = op(acc[j], row[j]): element by element, so any width gives the same bits.
template <class T, class Op>
void combine_row(T* acc, const T* row, std::int64_t n, Op op) {
  using B = batch<T>;
  constexpr int W = width<T>;
  std::int64_t j = 0;
  for (; j + W <= n; j += W) op(B::load_unaligned(acc + j), B::load_unaligned(row + j)).store_unaligned(acc + j);
  if (j < n) store_partial(op(load_padded(acc + j, n - j, T(0)), load_padded(row + j, n - j, T(0))), acc + j, n - j);
}

template <class T>
void add_row(T* acc, const T* row, std::int64_t n) {
  combine_row(acc, row, n, [](const batch<T>& a, const batch<T>& b) { return a + b; });
}

template <class T>
void max_row(T* acc, const T* row, std::int64_t n) {
  // std::max(a, b) is b < a ? a : b per element.
  combine_row(acc, row, n, [](const batch<T>& a, const batch<T>& b) { return xsimd::select(a < b, b, a); });
}

template <class T>
void exp_shifted(const T* x, T shift, T* y, std::int64_t n) {
  using B = batch<T>;
  constexpr int W = width<T>;
  for (std::int64_t i = 0; i < n; i += W) {
    const std::int64_t c = n - i;
    store_partial(B(xsimd::exp(load_padded(x + i, c, T(0)) - B(shift))), y + i, c);
  }
}

// Whole rows at a time, so that a reduction over the last axis pays one call per chunk of rows.
template <class T>
void sum_rows(const T* x, std::int64_t rows, std::int64_t len, T* out) {
  for (std::int64_t o = 0; o < rows; ++o) out[o] = row_sum(x + o * len, len);
}

template <class T>
void max_rows(const T* x, std::int64_t rows, std::int64_t len, T* out) {
  for (std::int64_t o = 0; o < rows; ++o) out[o] = row_max(x + o * len, len);
}

// y = x / s over a row (division, as the formula says: no reciprocal).
template <class T>
void div_row(T* y, T s, std::int64_t n) {
  using B = batch<T>;
  constexpr int W = width<T>;
  const B sv(s);
  std::int64_t j = 0;
  for (; j + W <= n; j += W) (B::load_unaligned(y + j) / sv).store_unaligned(y + j);
  if (j < n) store_partial(B(load_padded(y + j, n - j, T(1)) / sv), y + j, n - j);
}

template <class T>
void softmax_rows(const T* x, std::int64_t rows, std::int64_t n, T* y) {
  for (std::int64_t o = 0; o < rows; ++o) {
    const T* in = x + o * n;
    T* out = y + o * n;
    exp_shifted(in, row_max(in, n), out, n);
    div_row(out, row_sum(out, n), n);
  }
}

template <class T>
void log_softmax_rows(const T* x, std::int64_t rows, std::int64_t n, T* y) {
  using B = batch<T>;
  constexpr int W = width<T>;
  for (std::int64_t o = 0; o < rows; ++o) {
    const T* in = x + o * n;
    T* out = y + o * n;
    const T m = row_max(in, n);
    exp_shifted(in, m, out, n);
    const B lse(m + std::log(row_sum(out, n)));  // libm's log: the same function under every ISA
    std::int64_t j = 0;
    for (; j + W <= n; j += W) (B::load_unaligned(in + j) - lse).store_unaligned(out + j);
    if (j < n) store_partial(B(load_padded(in + j, n - j, T(0)) - lse), out + j, n - j);
  }
}

template <class T>
void fill(isa::Kernels<T>& k) {
  k.row_sum = &row_sum<T>;
  k.row_dot = &row_dot<T>;
  k.add_row = &add_row<T>;
  k.max_row = &max_row<T>;
  k.sum_rows = &sum_rows<T>;
  k.max_rows = &max_rows<T>;
  k.softmax_rows = &softmax_rows<T>;
  k.log_softmax_rows = &log_softmax_rows<T>;
}

}  // namespace

void fill_reduce(isa::Kernels<float>& f32, isa::Kernels<double>& f64) {
  fill(f32);
  fill(f64);
}

}  // namespace loom::core::LOOM_ISA_NS
