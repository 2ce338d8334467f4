// SPDX-License-Identifier: Apache-2.0
// Per-ISA GEMM: panel packing, the register-blocked micro-kernel and the macro-tile loop. The driver
// (gemm.cpp) sizes the tiles and runs them in parallel. Every element of C is one fused multiply-add
// chain per k-block in increasing k, and the blocks are added in order, with KC the same on every
// ISA, so the register tiling (12 × 32 floats on AVX-512, 6 × 16 on AVX2) never shows in the bits.
#include <immintrin.h>

#include "common.hpp"

namespace loom::core::LOOM_ISA_NS {
namespace {

/// Blocking for element type T. A micro-tile of C is MR rows × NR columns (NR = 2 vectors);
/// the accumulators of one tile fill most of the register file. KC is the depth of one
/// k-block (its A micro-panel stays in L1), NC the width of a B block kept in L2, MC the rows
/// of one parallel task.
template <class T>
struct Blocking {
  static constexpr int NV = 2;
  static constexpr int NR = NV * width<T>;
  static constexpr int MR = registers >= 32 ? 12 : 6;
  static constexpr std::int64_t KC = sizeof(T) == 4 ? 256 : 128;
  static constexpr std::int64_t NC = sizeof(T) == 4 ? 512 : 256;
  static constexpr std::int64_t MC = 8 * MR;
};

std::int64_t round_up(std::int64_t x, std::int64_t m) { return (x + m - 1) / m * m; }

/// Offset of the panel for k-block `p` (depth kcb) and panel index `j` in a packed operand whose
/// padded panel dimension is `padded` (a multiple of `width`).
std::int64_t panel_offset(std::int64_t p, std::int64_t kc, std::int64_t padded, std::int64_t j, std::int64_t kcb,
                          int w) {
  return p * kc * padded + j * kcb * w;
}

/// Square blocks that transpose_square moves: one register of 8 floats or 4 doubles with AVX, half
/// that with SSE.
#ifdef __AVX__
template <class T>
inline constexpr std::int64_t transpose_block = sizeof(T) == 4 ? 8 : 4;
#else
template <class T>
inline constexpr std::int64_t transpose_block = sizeof(T) == 4 ? 4 : 2;
#endif

/// dst[c·ld_dst + r] = src[r·ld_src + c] for a transpose_block<T>² block. Pure data movement, so the
/// same on every ISA.
inline void transpose_square(const float* src, std::int64_t ld_src, float* dst, std::int64_t ld_dst) {
#ifdef __AVX__
  __m256 r[8], t[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * ld_src);
  for (int i = 0; i < 4; ++i) {  // pairs of rows, interleaved within each 128-bit half
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 2; ++i) {  // quads of rows
    r[4 * i + 0] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; ++i) {  // the two 128-bit halves
    _mm256_storeu_ps(dst + i * ld_dst, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
    _mm256_storeu_ps(dst + (i + 4) * ld_dst, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
  }
#else
  __m128 r0 = _mm_loadu_ps(src), r1 = _mm_loadu_ps(src + ld_src), r2 = _mm_loadu_ps(src + 2 * ld_src),
         r3 = _mm_loadu_ps(src + 3 * ld_src);
  _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
  _mm_storeu_ps(dst, r0);
  _mm_storeu_ps(dst + ld_dst, r1);
  _mm_storeu_ps(dst + 2 * ld_dst, r2);
  _mm_storeu_ps(dst + 3 * ld_dst, r3);
#endif
}

inline void transpose_square(const double* src, std::int64_t ld_src, double* dst, std::int64_t ld_dst) {
#ifdef __AVX__
  __m256d r[4], t[4];
  for (int i = 0; i < 4; ++i) r[i] = _mm256_loadu_pd(src + i * ld_src);
  t[0] = _mm256_unpacklo_pd(r[0], r[1]);
  t[1] = _mm256_unpackhi_pd(r[0], r[1]);
  t[2] = _mm256_unpacklo_pd(r[2], r[3]);
  t[3] = _mm256_unpackhi_pd(r[2], r[3]);
  _mm256_storeu_pd(dst, _mm256_permute2f128_pd(t[0], t[2], 0x20));
  _mm256_storeu_pd(dst + ld_dst, _mm256_permute2f128_pd(t[1], t[3], 0x20));
  _mm256_storeu_pd(dst + 2 * ld_dst, _mm256_permute2f128_pd(t[0], t[2], 0x31));
  _mm256_storeu_pd(dst + 3 * ld_dst, _mm256_permute2f128_pd(t[1], t[3], 0x31));
#else
  const __m128d r0 = _mm_loadu_pd(src), r1 = _mm_loadu_pd(src + ld_src);
  _mm_storeu_pd(dst, _mm_unpacklo_pd(r0, r1));
  _mm_storeu_pd(dst + ld_dst, _mm_unpackhi_pd(r0, r1));
#endif
}

/// Packs columns [j0, j0+NR) of op(B) for k in [k0, k0+kcb): panel[k][c] = op(B)(k, c), zero beyond
/// column n.
template <class T>
void pack_b_panel(const T* b, std::int64_t ldb, bool trans_b, std::int64_t k0, std::int64_t kcb, std::int64_t j0,
                  std::int64_t n, T* panel) {
  constexpr int NR = Blocking<T>::NR;
  const std::int64_t cols = std::min<std::int64_t>(NR, n - j0);
  if (!trans_b) {
    for (std::int64_t k = 0; k < kcb; ++k) {
      T* dst = panel + k * NR;
      std::memcpy(dst, b + (k0 + k) * ldb + j0, static_cast<std::size_t>(cols) * sizeof(T));
      for (std::int64_t c = cols; c < NR; ++c) dst[c] = T(0);
    }
    return;
  }
  // Bᵀ: square blocks transposed in registers (rows of B in, rows of the panel out), the edges one
  // element at a time. Packing is the whole cost of a product with a few rows beyond the multiply-adds.
  constexpr std::int64_t TB = transpose_block<T>;
  std::int64_t c0 = 0;
  for (; c0 + TB <= cols; c0 += TB) {
    const T* src = b + (j0 + c0) * ldb + k0;
    std::int64_t k = 0;
    for (; k + TB <= kcb; k += TB) transpose_square(src + k, ldb, panel + k * NR + c0, NR);
    for (; k < kcb; ++k)
      for (std::int64_t c = 0; c < TB; ++c) panel[k * NR + c0 + c] = src[c * ldb + k];
  }
  for (std::int64_t c = c0; c < cols; ++c) {
    const T* src = b + (j0 + c) * ldb + k0;
    for (std::int64_t k = 0; k < kcb; ++k) panel[k * NR + c] = src[k];
  }
  for (std::int64_t c = cols; c < NR; ++c)
    for (std::int64_t k = 0; k < kcb; ++k) panel[k * NR + c] = T(0);
}

/// Packs MR rows of op(A) starting at row i0 for k in [k0, k0+kcb): panel[k][r] = op(A)(r, k),
/// zero beyond row m.
template <class T>
void pack_a_panel(const T* a, std::int64_t lda, bool trans_a, std::int64_t k0, std::int64_t kcb, std::int64_t i0,
                  std::int64_t m, T* panel) {
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

/// The micro-kernel: tile[M][G·NR] = Σ_k a(i, k) · [bpanel_0 … bpanel_{G−1}][k][:], one fused
/// multiply-add chain per element in increasing k. `a(i, k) = a[i·a_rs + k·a_cs]`, so packed panels
/// (a_rs = 1, a_cs = MR) and raw rows of A (either transpose) share the code and the arithmetic.
/// Panel g starts at b + g·b_stride and its row k at k·b_ks further (NR in a packed panel; B's own
/// row stride when full panels of a row-major B are read in place). G > 1 serves products with a
/// few rows (an RNN step at batch 1): one panel gives them too few independent chains to hide the
/// multiply-add latency.
template <class T, int M, int G = 1>
[[gnu::always_inline]] inline void micro_kernel(std::int64_t kc, const T* a, std::int64_t a_rs, std::int64_t a_cs,
                                                const T* b, std::int64_t b_stride, std::int64_t b_ks, T* tile) {
  using B = batch<T>;
  constexpr int W = width<T>;
  constexpr int NR = Blocking<T>::NR;
  B c[G][M][2];
#pragma GCC unroll 4
  for (int g = 0; g < G; ++g)
#pragma GCC unroll 16
    for (int i = 0; i < M; ++i) c[g][i][0] = c[g][i][1] = B(T(0));
#pragma GCC unroll 2
  for (std::int64_t k = 0; k < kc; ++k) {
    const T* ak = a + k * a_cs;
#pragma GCC unroll 4
    for (int g = 0; g < G; ++g) {
      const B b0 = B::load_unaligned(b + g * b_stride + k * b_ks);
      const B b1 = B::load_unaligned(b + g * b_stride + k * b_ks + W);
#pragma GCC unroll 16
      for (int i = 0; i < M; ++i) {
        const B ai(ak[i * a_rs]);
        c[g][i][0] = xsimd::fma(ai, b0, c[g][i][0]);
        c[g][i][1] = xsimd::fma(ai, b1, c[g][i][1]);
      }
    }
  }
#pragma GCC unroll 4
  for (int g = 0; g < G; ++g)
#pragma GCC unroll 16
    for (int i = 0; i < M; ++i) {
      c[g][i][0].store_aligned(tile + i * G * NR + g * NR);
      c[g][i][1].store_aligned(tile + i * G * NR + g * NR + W);
    }
}

/// Panels a few-row tile takes at once: enough chains in flight, within the register file.
template <class T, int M>
constexpr int group_of() {
  return M * 2 * 4 <= registers - 4 ? 4 : M * 2 * 2 <= registers - 4 ? 2 : 1;
}

// Micro-kernel on raw (unpacked) rows of A for a row count m < MR known only at run time, over
// `groups` consecutive panels (1 or group_of<T, M>()).
template <class T, int M = 1>
void raw_kernel(int m, int groups, std::int64_t kc, const T* a, std::int64_t a_rs, std::int64_t a_cs, const T* b,
                std::int64_t b_stride, std::int64_t b_ks, T* tile) {
  if constexpr (M < Blocking<T>::MR) {
    if (m != M) return raw_kernel<T, M + 1>(m, groups, kc, a, a_rs, a_cs, b, b_stride, b_ks, tile);
  }
  constexpr int G = group_of<T, M>();
  if constexpr (G > 1) {
    if (groups == G) return micro_kernel<T, M, G>(kc, a, a_rs, a_cs, b, b_stride, b_ks, tile);
  }
  micro_kernel<T, M>(kc, a, a_rs, a_cs, b, b_stride, b_ks, tile);
}

template <class T>
int raw_group(int m) {
  return [&]<int... M>(std::integer_sequence<int, M...>) {
    int g = 1;
    ((m == M + 1 ? (g = group_of<T, M + 1>()) : 0), ...);
    return g;
  }(std::make_integer_sequence<int, Blocking<T>::MR>{});
}

/// C[m×n] ← first k-block: alpha·tile + beta·C (C not read when beta == 0); later blocks:
/// C + alpha·tile. Scalar, and with contraction off, so each ISA rounds the same operations.
/// `ts` is the tile's row stride.
template <class T>
void update_c(T* c, std::int64_t ldc, const T* tile, std::int64_t ts, std::int64_t m, std::int64_t n, T alpha, T beta,
              bool first) {
  for (std::int64_t i = 0; i < m; ++i) {
    T* ci = c + i * ldc;
    const T* ti = tile + i * ts;
    if (!first) {
      for (std::int64_t j = 0; j < n; ++j) ci[j] = ci[j] + alpha * ti[j];
    } else if (beta == T(0)) {
      for (std::int64_t j = 0; j < n; ++j) ci[j] = alpha * ti[j];
    } else {
      for (std::int64_t j = 0; j < n; ++j) ci[j] = alpha * ti[j] + beta * ci[j];
    }
  }
}

// Tasks [t0, t1) of packing an operand of depth k and `extent` rows or columns into panels of
// `Width`: task t is k-block t / panels, panel t % panels.
template <class T, int Width, auto PackPanel>
void pack_tasks(const T* src, std::int64_t ld, bool trans, std::int64_t k, std::int64_t extent, T* out, std::int64_t t0,
                std::int64_t t1) {
  constexpr std::int64_t KC = Blocking<T>::KC;
  const std::int64_t npanels = round_up(extent, Width) / Width, padded = npanels * Width;
  for (std::int64_t t = t0; t < t1; ++t) {
    const std::int64_t p = t / npanels, j = t % npanels;
    const std::int64_t kcb = std::min(KC, k - p * KC);
    PackPanel(src, ld, trans, p * KC, kcb, j * Width, extent, out + panel_offset(p, KC, padded, j, kcb, Width));
  }
}

template <class T>
void pack_b(const T* b, std::int64_t ldb, bool trans_b, std::int64_t k, std::int64_t n, T* out, std::int64_t t0,
            std::int64_t t1) {
  pack_tasks<T, Blocking<T>::NR, &pack_b_panel<T>>(b, ldb, trans_b, k, n, out, t0, t1);
}

template <class T>
void pack_a(const T* a, std::int64_t lda, bool trans_a, std::int64_t m, std::int64_t k, T* out, std::int64_t t0,
            std::int64_t t1) {
  pack_tasks<T, Blocking<T>::MR, &pack_a_panel<T>>(a, lda, trans_a, k, m, out, t0, t1);
}

template <class T>
void gemm_tiles(const isa::GemmCall<T>& g, std::int64_t t0, std::int64_t t1, T* b_block) {
  using Bk = Blocking<T>;
  alignas(64) T tile[Bk::MR * Bk::NR * 4];  // MR × NR, or a few rows × 4 panels
  const std::int64_t a_rs = g.trans_a ? 1 : g.lda, a_cs = g.trans_a ? g.lda : 1;
  const std::int64_t mpad = round_up(g.m, Bk::MR), npad = round_up(g.n, Bk::NR);
  const std::int64_t kblocks = (g.k + Bk::KC - 1) / Bk::KC;
  for (std::int64_t t = t0; t < t1; ++t) {
    const std::int64_t ic = (t / g.ntiles) * Bk::MC, jc = (t % g.ntiles) * g.nc_max;
    const std::int64_t mc = std::min(Bk::MC, g.m - ic), nc = std::min(g.nc_max, g.n - jc);
    for (std::int64_t p = 0; p < kblocks; ++p) {
      const std::int64_t kcb = std::min(Bk::KC, g.k - p * Bk::KC);
      if (!g.packed_b && !g.direct_b)
        for (std::int64_t jr = 0; jr < nc; jr += Bk::NR)
          pack_b_panel(g.raw_b, g.ldb, g.trans_b, p * Bk::KC, kcb, jc + jr, g.n, b_block + jr * kcb);
      // A last, partial panel read in place would run past B's last row: it is packed (zero-padded).
      const std::int64_t full = nc / Bk::NR * Bk::NR;
      if (g.direct_b && full < nc) pack_b_panel(g.raw_b, g.ldb, false, p * Bk::KC, kcb, jc + full, g.n, b_block);
      // Consecutive panels lie kcb·NR apart in both packed layouts, NR apart in B itself.
      const std::int64_t b_stride = kcb * Bk::NR;
      for (std::int64_t ir = 0; ir < mc; ir += Bk::MR) {
        const int mr = static_cast<int>(std::min<std::int64_t>(Bk::MR, mc - ir));
        const T* a_panel = g.packed_a ? g.packed_a + panel_offset(p, Bk::KC, mpad, (ic + ir) / Bk::MR, kcb, Bk::MR)
                                      : g.a + (ic + ir) * a_rs + p * Bk::KC * a_cs;
        const int group = mr == Bk::MR ? 1 : raw_group<T>(mr);
        for (std::int64_t jr = 0; jr < nc;) {
          const int panels = nc - jr >= group * Bk::NR ? group : 1;
          const T* b_panel;
          std::int64_t stride = b_stride, ks = Bk::NR;
          if (g.packed_b) {
            b_panel = g.packed_b + panel_offset(p, Bk::KC, npad, (jc + jr) / Bk::NR, kcb, Bk::NR);
          } else if (!g.direct_b) {
            b_panel = b_block + jr * kcb;
          } else if (jr < full) {
            b_panel = g.raw_b + p * Bk::KC * g.ldb + jc + jr;
            stride = Bk::NR;
            ks = g.ldb;
          } else {
            b_panel = b_block;
          }
          if (g.packed_a && mr == Bk::MR)
            micro_kernel<T, Bk::MR>(kcb, a_panel, 1, Bk::MR, b_panel, stride, ks, tile);
          else if (g.packed_a)
            raw_kernel<T>(mr, panels, kcb, a_panel, 1, Bk::MR, b_panel, stride, ks, tile);
          else
            raw_kernel<T>(mr, panels, kcb, a_panel, a_rs, a_cs, b_panel, stride, ks, tile);
          const std::int64_t width = std::min<std::int64_t>(panels * Bk::NR, nc - jr);
          update_c(g.c + (ic + ir) * g.ldc + jc + jr, g.ldc, tile, panels * Bk::NR, mr, width, g.alpha, g.beta, p == 0);
          jr += panels * Bk::NR;
        }
      }
    }
  }
}

template <class T>
void fill(isa::Kernels<T>& k) {
  using Bk = Blocking<T>;
  k.gemm = {Bk::MR, Bk::NR, Bk::KC, Bk::NC, Bk::MC};
  k.pack_b = &pack_b<T>;
  k.pack_a = &pack_a<T>;
  k.gemm_tiles = &gemm_tiles<T>;
}

}  // namespace

void fill_gemm(isa::Kernels<float>& f32, isa::Kernels<double>& f64) {
  fill(f32);
  fill(f64);
}

}  // namespace loom::core::LOOM_ISA_NS
