// SPDX-License-Identifier: Apache-2.0
// Private: blocking parameters, panel packing and the register-blocked xsimd micro-kernel of the GEMM.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "../simd.hpp"

namespace loom::gemm_detail {

/// Blocking for element type T. A micro-tile of C is MR rows × NR columns (NR = 2 vectors);
/// the accumulators of one tile fill most of the register file. KC is the depth of one
/// k-block (its A micro-panel stays in L1), NC the width of a B block kept in L2, MC the rows
/// of one parallel task.
template <class T>
struct Blocking {
  static constexpr int NV = 2;
  static constexpr int NR = NV * simd::width<T>;
  static constexpr int MR = simd::registers >= 32 ? 12 : 6;
  static constexpr std::int64_t KC = sizeof(T) == 4 ? 256 : 128;
  static constexpr std::int64_t NC = sizeof(T) == 4 ? 512 : 256;
  static constexpr std::int64_t MC = 8 * MR;
};

inline std::int64_t round_up(std::int64_t x, std::int64_t m) { return (x + m - 1) / m * m; }

/// Offset of the panel for k-block `p` (depth kcb) and panel index `j` in a packed operand whose
/// padded panel dimension is `padded` (a multiple of `width`).
inline std::int64_t panel_offset(std::int64_t p, std::int64_t kc, std::int64_t padded, std::int64_t j,
                                 std::int64_t kcb, int width) {
  return p * kc * padded + j * kcb * width;
}

/// Packs rows [j·NR, j·NR+NR) of op(B)'s columns for k in [k0, k0+kcb): panel[k][c] = op(B)(k, c),
/// zero beyond column n.
template <class T>
void pack_b_panel(const T* b, std::int64_t ldb, bool trans_b, std::int64_t k0, std::int64_t kcb,
                  std::int64_t j0, std::int64_t n, T* panel) {
  constexpr int NR = Blocking<T>::NR;
  const std::int64_t cols = std::min<std::int64_t>(NR, n - j0);
  for (std::int64_t k = 0; k < kcb; ++k) {
    T* dst = panel + k * NR;
    if (!trans_b) {
      std::memcpy(dst, b + (k0 + k) * ldb + j0, static_cast<std::size_t>(cols) * sizeof(T));
    } else {
      for (std::int64_t c = 0; c < cols; ++c) dst[c] = b[(j0 + c) * ldb + k0 + k];
    }
    for (std::int64_t c = cols; c < NR; ++c) dst[c] = T(0);
  }
}

/// Packs MR rows of op(A) starting at row i0 for k in [k0, k0+kcb): panel[k][r] = op(A)(r, k),
/// zero beyond row m.
template <class T>
void pack_a_panel(const T* a, std::int64_t lda, bool trans_a, std::int64_t k0, std::int64_t kcb,
                  std::int64_t i0, std::int64_t m, T* panel) {
  constexpr int MR = Blocking<T>::MR;
  const std::int64_t rows = std::min<std::int64_t>(MR, m - i0);
  if (trans_a) {
    for (std::int64_t k = 0; k < kcb; ++k) {
      T* dst = panel + k * MR;
      std::memcpy(dst, a + (k0 + k) * lda + i0, static_cast<std::size_t>(rows) * sizeof(T));
      for (std::int64_t r = rows; r < MR; ++r) dst[r] = T(0);
    }
  } else {
    for (std::int64_t r = 0; r < MR; ++r) {
      if (r < rows) {
        const T* src = a + (i0 + r) * lda + k0;
        for (std::int64_t k = 0; k < kcb; ++k) panel[k * MR + r] = src[k];
      } else {
        for (std::int64_t k = 0; k < kcb; ++k) panel[k * MR + r] = T(0);
      }
    }
  }
}

/// The micro-kernel: tile[M][NR] = Σ_k a(i, k) · bpanel[k][:], one fused multiply-add chain per
/// element in increasing k. `a(i, k) = a[i·a_rs + k·a_cs]`, so packed panels (a_rs = 1,
/// a_cs = MR) and raw rows of A (either transpose) share the code and the arithmetic.
template <class T, int M>
[[gnu::always_inline]] inline void micro_kernel(std::int64_t kc, const T* a, std::int64_t a_rs,
                                                std::int64_t a_cs, const T* b, T* tile) {
  using B = simd::batch<T>;
  constexpr int W = simd::width<T>;
  constexpr int NR = Blocking<T>::NR;
  B c0[M], c1[M];
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) {
    c0[i] = B(T(0));
    c1[i] = B(T(0));
  }
#pragma GCC unroll 2
  for (std::int64_t k = 0; k < kc; ++k) {
    const B b0 = B::load_aligned(b + k * NR);
    const B b1 = B::load_aligned(b + k * NR + W);
    const T* ak = a + k * a_cs;
#pragma GCC unroll 16
    for (int i = 0; i < M; ++i) {
      const B ai(ak[i * a_rs]);
      c0[i] = xsimd::fma(ai, b0, c0[i]);
      c1[i] = xsimd::fma(ai, b1, c1[i]);
    }
  }
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) {
    c0[i].store_aligned(tile + i * NR);
    c1[i].store_aligned(tile + i * NR + W);
  }
}

/// C[m×n] ← first k-block: alpha·tile + beta·C (C not read when beta == 0); later blocks: C + alpha·tile.
template <class T>
inline void update_c(T* c, std::int64_t ldc, const T* tile, std::int64_t m, std::int64_t n, T alpha,
                     T beta, bool first) {
  constexpr int NR = Blocking<T>::NR;
  for (std::int64_t i = 0; i < m; ++i) {
    T* ci = c + i * ldc;
    const T* ti = tile + i * NR;
    if (!first) {
      for (std::int64_t j = 0; j < n; ++j) ci[j] = ci[j] + alpha * ti[j];
    } else if (beta == T(0)) {
      for (std::int64_t j = 0; j < n; ++j) ci[j] = alpha * ti[j];
    } else {
      for (std::int64_t j = 0; j < n; ++j) ci[j] = alpha * ti[j] + beta * ci[j];
    }
  }
}

}  // namespace loom::gemm_detail
