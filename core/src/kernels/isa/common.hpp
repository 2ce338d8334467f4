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

// The xsimd architecture, named explicitly: plain `avx2`, not the `fma3<avx2>` xsimd would pick,
// so that xsimd's own formulas (exp, tanh, log) contain no FMA on any ISA (xsimd 8.1 has none for
// AVX-512) and give the same bits on AVX2 and AVX-512. Fused multiply-adds are written explicitly,
// with fmadd() below.
#if XSIMD_WITH_AVX512BW
using arch = xsimd::avx512bw;
#elif XSIMD_WITH_AVX512F
using arch = xsimd::avx512f;
#elif XSIMD_WITH_AVX2
using arch = xsimd::avx2;
#else
using arch = xsimd::default_arch;
#endif

template <class T>
using batch = xsimd::batch<T, arch>;

template <class T>
inline constexpr int width = static_cast<int>(batch<T>::size);

/// Vector registers of the ISA (32 with AVX-512, else 16).
#if XSIMD_WITH_AVX512F
inline constexpr int registers = 32;
#else
inline constexpr int registers = 16;
#endif

/// a·b + c rounded once, with the ISA's FMA instruction; the baseline (no FMA) rounds a·b first.
template <class T>
inline batch<T> fmadd(const batch<T>& a, const batch<T>& b, const batch<T>& c) {
#if XSIMD_WITH_AVX512F
  if constexpr (std::is_same_v<T, float>)
    return _mm512_fmadd_ps(a, b, c);
  else
    return _mm512_fmadd_pd(a, b, c);
#elif XSIMD_WITH_AVX2 && defined(__FMA__)
  if constexpr (std::is_same_v<T, float>)
    return _mm256_fmadd_ps(a, b, c);
  else
    return _mm256_fmadd_pd(a, b, c);
#else
  return a * b + c;
#endif
}

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
