// SPDX-License-Identifier: Apache-2.0
// Private, per-ISA sources only: the xsimd batch of the ISA being compiled and the helpers the
// kernels share. Everything is declared inside LOOM_ISA_NS, so each ISA gets its own copy.
#pragma once

#ifndef LOOM_ISA_NS
#error "kernels/isa/ sources are compiled once per ISA by CMake, with LOOM_ISA_NS defined"
#endif

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "../isa.hpp"

namespace loom::core::LOOM_ISA_NS {

// The xsimd architecture, named explicitly: fma3<avx2> on AVX2 (its fma kernels match the AVX-512
// ones below), avx512bw on AVX-512. xsimd::fma is then one rounding on both, and a multiply and an
// add on the baseline, which has no FMA.
#if XSIMD_WITH_AVX512BW
using arch = xsimd::avx512bw;
#elif XSIMD_WITH_AVX512F
using arch = xsimd::avx512f;
#elif XSIMD_WITH_FMA3_AVX2
using arch = xsimd::fma3<xsimd::avx2>;
#else
using arch = xsimd::default_arch;
#endif

template <class T>
using batch = xsimd::batch<T, arch>;

}  // namespace loom::core::LOOM_ISA_NS

#if XSIMD_WITH_AVX512F
// xsimd 8.1 has no AVX-512 fma/fms/fnma/fnms kernels: it would multiply, then add. These templates,
// more specialised than xsimd's (the architecture is fixed), are preferred wherever they are found,
// and xsimd's own formulas (exp, log, tanh, …) find them too (their calls are unqualified), so those
// fuse at the same places as with fma3<avx2>, whose kernels xsimd has, and give the same bits.
namespace xsimd {
template <class T>
using loom_batch = batch<T, loom::core::LOOM_ISA_NS::arch>;

template <class T>
loom_batch<T> fma(loom_batch<T> const& x, loom_batch<T> const& y, loom_batch<T> const& z) noexcept {
  if constexpr (std::is_same_v<T, float>) return _mm512_fmadd_ps(x, y, z);
  else return _mm512_fmadd_pd(x, y, z);
}
template <class T>
loom_batch<T> fms(loom_batch<T> const& x, loom_batch<T> const& y, loom_batch<T> const& z) noexcept {
  if constexpr (std::is_same_v<T, float>) return _mm512_fmsub_ps(x, y, z);
  else return _mm512_fmsub_pd(x, y, z);
}
template <class T>
loom_batch<T> fnma(loom_batch<T> const& x, loom_batch<T> const& y, loom_batch<T> const& z) noexcept {
  if constexpr (std::is_same_v<T, float>) return _mm512_fnmadd_ps(x, y, z);
  else return _mm512_fnmadd_pd(x, y, z);
}
template <class T>
loom_batch<T> fnms(loom_batch<T> const& x, loom_batch<T> const& y, loom_batch<T> const& z) noexcept {
  if constexpr (std::is_same_v<T, float>) return _mm512_fnmsub_ps(x, y, z);
  else return _mm512_fnmsub_pd(x, y, z);
}
}  // namespace xsimd
#endif

namespace loom::core::LOOM_ISA_NS {

template <class T>
inline constexpr int width = static_cast<int>(batch<T>::size);

/// Vector registers of the ISA (32 with AVX-512, else 16).
#if XSIMD_WITH_AVX512F
inline constexpr int registers = 32;
#else
inline constexpr int registers = 16;
#endif

/// The last levels of a virtual-lane reduction: folds the lanes of one register pairwise, lane j
/// with lane j + W/2, then with j + W/4, … down to lane 0, with `Op` (Sum or Max below) at every
/// width. Halving the register in place keeps the pairs, and so the bits, those of a scalar tree
/// over the same lanes on every ISA.
struct Sum {
  static __m128 f(__m128 a, __m128 b) { return _mm_add_ps(a, b); }
  static __m128d f(__m128d a, __m128d b) { return _mm_add_pd(a, b); }
#if XSIMD_WITH_AVX2
  static __m256 f(__m256 a, __m256 b) { return _mm256_add_ps(a, b); }
  static __m256d f(__m256d a, __m256d b) { return _mm256_add_pd(a, b); }
#endif
#if XSIMD_WITH_AVX512F
  static __m512 f(__m512 a, __m512 b) { return _mm512_add_ps(a, b); }
  static __m512d f(__m512d a, __m512d b) { return _mm512_add_pd(a, b); }
#endif
};
/// max(a, b) = a < b ? b : a, the formula of std::max and of the reductions' vector steps.
struct Max {
  static __m128 f(__m128 a, __m128 b) { return _mm_blendv_ps(a, b, _mm_cmplt_ps(a, b)); }
  static __m128d f(__m128d a, __m128d b) { return _mm_blendv_pd(a, b, _mm_cmplt_pd(a, b)); }
#if XSIMD_WITH_AVX2
  static __m256 f(__m256 a, __m256 b) { return _mm256_blendv_ps(a, b, _mm256_cmp_ps(a, b, _CMP_LT_OQ)); }
  static __m256d f(__m256d a, __m256d b) { return _mm256_blendv_pd(a, b, _mm256_cmp_pd(a, b, _CMP_LT_OQ)); }
#endif
#if XSIMD_WITH_AVX512F
  static __m512 f(__m512 a, __m512 b) { return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), a, b); }
  static __m512d f(__m512d a, __m512d b) { return _mm512_mask_blend_pd(_mm512_cmp_pd_mask(a, b, _CMP_LT_OQ), a, b); }
#endif
};

template <class Op>
inline float fold_register(__m128 v) {
  const __m128 two = Op::f(v, _mm_movehl_ps(v, v));                  // lanes 0, 1 with 2, 3
  return _mm_cvtss_f32(Op::f(two, _mm_shuffle_ps(two, two, 0x1)));  // lane 0 with 1
}
template <class Op>
inline double fold_register(__m128d v) {
  return _mm_cvtsd_f64(Op::f(v, _mm_unpackhi_pd(v, v)));
}
#if XSIMD_WITH_AVX2
template <class Op>
inline float fold_register(__m256 v) {
  return fold_register<Op>(Op::f(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1)));
}
template <class Op>
inline double fold_register(__m256d v) {
  return fold_register<Op>(Op::f(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1)));
}
#endif
#if XSIMD_WITH_AVX512F
template <class Op>
inline float fold_register(__m512 v) {
  const __m256 lo = _mm512_castps512_ps256(v);
  const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
  return fold_register<Op>(Op::f(lo, hi));
}
template <class Op>
inline double fold_register(__m512d v) {
  return fold_register<Op>(Op::f(_mm512_castpd512_pd256(v), _mm512_extractf64x4_pd(v, 1)));
}
#endif

/// `count` elements from p, the rest of the batch `pad`.
template <class T>
inline batch<T> load_padded(const T* p, std::int64_t count, T pad) {
  constexpr int W = width<T>;
  if (count >= W) return batch<T>::load_unaligned(p);
  alignas(64) T buf[W];
  for (int j = 0; j < W; ++j) buf[j] = j < count ? p[j] : pad;
  return batch<T>::load_aligned(buf);
}

/// The batch at p + at holding `count` elements (none when count ≤ 0), padded with `pad`.
template <class T>
inline batch<T> load_at(const T* p, std::int64_t at, std::int64_t count, T pad) {
  return count > 0 ? load_padded(p + at, count, pad) : batch<T>(pad);
}

/// Stores the first `count` lanes of v at p.
template <class T>
inline void store_partial(const batch<T>& v, T* p, std::int64_t count) {
  constexpr int W = width<T>;
  if (count >= W) return v.store_unaligned(p);
  alignas(64) T buf[W];
  v.store_aligned(buf);
  std::copy(buf, buf + count, p);
}

}  // namespace loom::core::LOOM_ISA_NS
