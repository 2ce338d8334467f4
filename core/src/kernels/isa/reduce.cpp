// SPDX-License-Identifier: Apache-2.0
// Per-ISA row reductions. A row is split into isa::kLanes virtual lanes (element i goes to lane
// i mod kLanes) whatever the register width, each lane sums in index order, and the lanes combine in
// a fixed tree, so AVX2 and AVX-512 give the same bits (and the registers still run independent
// chains).
#include "common.hpp"

namespace loom::core::LOOM_ISA_NS {
namespace {

constexpr int kLanes = isa::kLanes;

// Folds kLanes values with `op` in a fixed pairwise tree.
template <class T, class Op>
T fold_lanes(T* lanes, Op op) {
  for (int s = kLanes / 2; s > 0; s /= 2)
    for (int j = 0; j < s; ++j) lanes[j] = op(lanes[j], lanes[j + s]);
  return lanes[0];
}

// acc[r] ← step(acc[r], load(i + r·W, count)) over groups of kLanes elements; a group's missing
// elements are padded (every register of the last group runs, so each virtual lane sees the same
// sequence of operations on every ISA). Returns the lanes in `lanes`.
template <class T, class Load, class Step>
void lane_pass(std::int64_t n, T init, Load&& load, Step&& step, T* lanes) {
  using B = batch<T>;
  constexpr int W = width<T>;
  static_assert(kLanes % W == 0, "the virtual lanes must fill whole registers");
  constexpr int R = kLanes / W;
  B acc[R];
  for (int r = 0; r < R; ++r) acc[r] = B(init);
  for (std::int64_t i = 0; i < n; i += kLanes)
    for (int r = 0; r < R; ++r) acc[r] = step(acc[r], load(i + r * W, n - i - r * W));
  for (int r = 0; r < R; ++r) acc[r].store_unaligned(lanes + r * W);
}

template <class T>
T row_sum(const T* x, std::int64_t n) {
  alignas(64) T lanes[kLanes];
  lane_pass<T>(
      n, T(0), [&](std::int64_t i, std::int64_t c) { return load_at(x, i, c, T(0)); },
      [](const batch<T>& a, const batch<T>& v) { return a + v; }, lanes);
  return fold_lanes(lanes, [](T a, T b) { return a + b; });
}

template <class T>
T row_dot(const T* a, const T* b, std::int64_t n) {
  using B = batch<T>;
  alignas(64) T lanes[kLanes];
  constexpr int W = width<T>, R = kLanes / W;
  B acc[R];
  for (int r = 0; r < R; ++r) acc[r] = B(T(0));
  for (std::int64_t i = 0; i < n; i += kLanes)
    for (int r = 0; r < R; ++r) {
      const std::int64_t at = i + r * W, c = n - at;
      acc[r] = fmadd(load_at(a, at, c, T(0)), load_at(b, at, c, T(0)), acc[r]);
    }
  for (int r = 0; r < R; ++r) acc[r].store_unaligned(lanes + r * W);
  return fold_lanes(lanes, [](T u, T v) { return u + v; });
}

template <class T>
T row_max(const T* x, std::int64_t n) {
  const T lowest = -std::numeric_limits<T>::infinity();
  alignas(64) T lanes[kLanes];
  lane_pass<T>(
      n, lowest, [&](std::int64_t i, std::int64_t c) { return load_at(x, i, c, lowest); },
      [](const batch<T>& a, const batch<T>& v) { return xsimd::max(a, v); }, lanes);
  return fold_lanes(lanes, [](T a, T b) { return std::max(a, b); });
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

template <class T>
void fill(isa::Kernels<T>& k) {
  k.row_sum = &row_sum<T>;
  k.row_dot = &row_dot<T>;
  k.row_max = &row_max<T>;
  k.exp_shifted = &exp_shifted<T>;
}

}  // namespace

void fill_reduce(isa::Kernels<float>& f32, isa::Kernels<double>& f64) {
  fill(f32);
  fill(f64);
}

}  // namespace loom::core::LOOM_ISA_NS
