// SPDX-License-Identifier: Apache-2.0
// Shared by the fuzz targets: a file holding the input (the readers under test take paths), and the
// rule every target checks: bad input may throw loom::Error and nothing else.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "loom/loom.hpp"

namespace loom_fuzz {

/// The input written to a per-process file in /dev/shm (or /tmp); its path.
inline const std::string& as_file(const std::uint8_t* data, std::size_t size) {
  static const std::string path = [] {
    const char* dir = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    return std::string(dir) + "/loom_fuzz_" + std::to_string(::getpid()) + ".safetensors";
  }();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return path;
}

/// Same shape, dtype and bytes (NaN weights compare equal to themselves).
inline bool same_bits(const loom::Tensor& a, const loom::Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

/// Runs `fn`; a loom::Error is the expected answer to a bad input, anything else escapes and is
/// reported by libFuzzer as a crash.
template <class Fn>
void expect_only_loom_errors(Fn&& fn) {
  try {
    fn();
  } catch (const loom::Error&) {
  }
}

}  // namespace loom_fuzz
