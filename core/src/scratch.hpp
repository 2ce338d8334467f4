// SPDX-License-Identifier: Apache-2.0
// Private: the scratch-buffer pool of the kernels.
#pragma once

#include <cstddef>

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
