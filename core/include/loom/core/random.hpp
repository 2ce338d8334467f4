// SPDX-License-Identifier: Apache-2.0
// Counter-based random numbers (Philox-4x32-10): the same numbers for any thread count.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "loom/core/export.hpp"

namespace loom LOOM_API {

class Tensor;

/// Philox-4x32-10 generator keyed by (seed, stream). Every value is a pure function of
/// (seed, stream, counter), so fills are identical whatever the number of threads that compute them.
/// Each fill reserves a contiguous range of counters (the `offset` advances), so consecutive fills
/// draw fresh numbers. `offset()`/`set_offset()` save and restore the position exactly.
///
/// Example:
///   Generator gen(42);
///   Tensor w = Tensor::uniform({64, 128}, -0.1, 0.1, DType::f32, &gen);
class Generator {
 public:
  explicit Generator(std::uint64_t seed = 0, std::uint64_t stream = 0) noexcept
      : seed_(seed), stream_(stream) {}
  Generator(const Generator& other) noexcept
      : seed_(other.seed_), stream_(other.stream_), offset_(other.offset()) {}
  Generator& operator=(const Generator& other) noexcept;

  std::uint64_t seed() const noexcept { return seed_; }
  std::uint64_t stream() const noexcept { return stream_; }
  /// Number of 128-bit counter blocks consumed so far.
  std::uint64_t offset() const noexcept { return offset_.load(std::memory_order_relaxed); }
  void set_offset(std::uint64_t offset) noexcept { offset_.store(offset, std::memory_order_relaxed); }
  /// Re-keys the generator and rewinds it to offset 0.
  void manual_seed(std::uint64_t seed) noexcept;

  /// Claims `blocks` consecutive counters and returns the first (thread-safe).
  std::uint64_t reserve(std::uint64_t blocks) noexcept {
    return offset_.fetch_add(blocks, std::memory_order_relaxed);
  }
  /// The four 32-bit words of counter `counter` (pure function of seed, stream and counter).
  std::array<std::uint32_t, 4> block(std::uint64_t counter) const noexcept;

 private:
  std::uint64_t seed_;
  std::uint64_t stream_;
  std::atomic<std::uint64_t> offset_{0};
};

/// The process-wide generator used when none is given.
Generator& default_generator() noexcept;

/// Seeds the default generator (and rewinds it), like `torch.manual_seed`.
void manual_seed(std::uint64_t seed) noexcept;

/// Fills `t` (f32 or f64) with values uniform in [low, high).
void uniform_(Tensor& t, double low, double high, Generator& gen = default_generator());
/// Fills `t` (f32 or f64) with normal values N(mean, stddev²) (Box–Muller).
void normal_(Tensor& t, double mean, double stddev, Generator& gen = default_generator());
/// Fills `t` (f32 or f64) with 1 where a uniform draw is below `p`, else 0.
void bernoulli_(Tensor& t, double p, Generator& gen = default_generator());

}  // namespace loom
