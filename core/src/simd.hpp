// SPDX-License-Identifier: Apache-2.0
// Private: the xsimd batch types of the target ISA and the scratch-buffer pool of the kernels.
#pragma once

#include <cstddef>
#include <memory>

#include <xsimd/xsimd.hpp>

namespace loom::simd {

/// The widest batch of the ISA loom is compiled for (-march=LOOM_ARCH).
template <class T>
using batch = xsimd::batch<T>;

template <class T>
inline constexpr int width = static_cast<int>(batch<T>::size);

/// Number of vector registers of the ISA (32 with AVX-512, else 16).
#if XSIMD_WITH_AVX512F
inline constexpr int registers = 32;
#else
inline constexpr int registers = 16;
#endif

}  // namespace loom::simd

namespace loom::detail {

/// A 64-byte aligned scratch buffer taken from a process-wide pool and returned on destruction,
/// so that kernels called in a loop (one GEMM per time step) do not allocate every call.
class Scratch {
 public:
  explicit Scratch(std::size_t bytes);
  ~Scratch();
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  template <class T>
  T* as() noexcept {
    return static_cast<T*>(data_);
  }

 private:
  void* data_ = nullptr;
  std::size_t capacity_ = 0;
};

}  // namespace loom::detail
