// SPDX-License-Identifier: Apache-2.0
// Philox-4x32-10 and the uniform / normal / bernoulli fills built on it.
#include "loom/core/random.hpp"

#include <cmath>
#include <numbers>

#include "dispatch.hpp"
#include "loom/core/tensor.hpp"
#include "parallel.hpp"

namespace loom {
namespace {

constexpr std::uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
constexpr std::uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
constexpr std::int64_t kBlocksPerTask = 4096;

inline void mulhilo(std::uint32_t a, std::uint32_t b, std::uint32_t& hi, std::uint32_t& lo) {
  const std::uint64_t p = static_cast<std::uint64_t>(a) * b;
  hi = static_cast<std::uint32_t>(p >> 32);
  lo = static_cast<std::uint32_t>(p);
}

// 24 random bits → [0, 1) exactly representable in float.
inline double unit24(std::uint32_t x) { return static_cast<double>(x >> 8) * 0x1.0p-24; }
// 53 random bits → [0, 1).
inline double unit53(std::uint32_t a, std::uint32_t b) {
  return static_cast<double>(((static_cast<std::uint64_t>(a) << 32) | b) >> 11) * 0x1.0p-53;
}

// Fills n elements: element i takes value `per_block` at a time from block (first + i / per_block).
template <class T, class Fn>
void fill_blocks(T* p, std::int64_t n, int per_block, const Generator& gen, std::uint64_t first,
                 Fn&& make) {
  const std::int64_t blocks = (n + per_block - 1) / per_block;
  detail::parallel_chunks(blocks, kBlocksPerTask, [&](std::int64_t b0, std::int64_t b1) {
    T vals[4] = {};
    for (std::int64_t b = b0; b < b1; ++b) {
      make(gen.block(first + static_cast<std::uint64_t>(b)), vals);
      const std::int64_t base = b * per_block;
      for (int j = 0; j < per_block && base + j < n; ++j) p[base + j] = vals[j];
    }
  });
}

}  // namespace

Generator& Generator::operator=(const Generator& other) noexcept {
  seed_ = other.seed_;
  stream_ = other.stream_;
  set_offset(other.offset());
  return *this;
}

void Generator::manual_seed(std::uint64_t seed) noexcept {
  seed_ = seed;
  set_offset(0);
}

std::array<std::uint32_t, 4> Generator::block(std::uint64_t counter) const noexcept {
  std::uint32_t c0 = static_cast<std::uint32_t>(counter), c1 = static_cast<std::uint32_t>(counter >> 32);
  std::uint32_t c2 = static_cast<std::uint32_t>(stream_), c3 = static_cast<std::uint32_t>(stream_ >> 32);
  std::uint32_t k0 = static_cast<std::uint32_t>(seed_), k1 = static_cast<std::uint32_t>(seed_ >> 32);
  for (int round = 0; round < 10; ++round) {
    std::uint32_t hi0, lo0, hi1, lo1;
    mulhilo(kMul0, c0, hi0, lo0);
    mulhilo(kMul1, c2, hi1, lo1);
    const std::uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
  return {c0, c1, c2, c3};
}

Generator& default_generator() noexcept {
  static Generator gen(0);
  return gen;
}

void manual_seed(std::uint64_t seed) noexcept { default_generator().manual_seed(seed); }

void uniform_(Tensor& t, double low, double high, Generator& gen) {
  LOOM_CHECK(t.defined(), ValueError, "uniform_: the tensor is undefined.");
  LOOM_CHECK(low <= high, ValueError, "uniform_: low must be <= high; got low=", low, ", high=", high,
             ".");
  detail::dispatch_float(t.dtype(), "uniform_", [&](auto tag) {
    using T = decltype(tag);
    const int per = std::is_same_v<T, float> ? 4 : 2;
    const std::int64_t n = t.numel();
    const std::uint64_t first = gen.reserve(static_cast<std::uint64_t>((n + per - 1) / per));
    const double span = high - low;
    fill_blocks(t.data<T>(), n, per, gen, first, [&](const std::array<std::uint32_t, 4>& r, T* v) {
      if constexpr (std::is_same_v<T, float>) {
        for (int j = 0; j < 4; ++j) v[j] = static_cast<T>(low + span * unit24(r[j]));
      } else {
        v[0] = low + span * unit53(r[0], r[1]);
        v[1] = low + span * unit53(r[2], r[3]);
      }
    });
  });
}

void normal_(Tensor& t, double mean, double stddev, Generator& gen) {
  LOOM_CHECK(t.defined(), ValueError, "normal_: the tensor is undefined.");
  LOOM_CHECK(stddev >= 0.0, ValueError, "normal_: stddev must be >= 0; got ", stddev, ".");
  detail::dispatch_float(t.dtype(), "normal_", [&](auto tag) {
    using T = decltype(tag);
    const int per = std::is_same_v<T, float> ? 4 : 2;
    const std::int64_t n = t.numel();
    const std::uint64_t first = gen.reserve(static_cast<std::uint64_t>((n + per - 1) / per));
    constexpr double two_pi = 2.0 * std::numbers::pi;
    fill_blocks(t.data<T>(), n, per, gen, first, [&](const std::array<std::uint32_t, 4>& r, T* v) {
      // Box–Muller; u1 is shifted into (0, 1] so that log(u1) is finite.
      auto pair = [&](double u1, double u2, T* out) {
        const double radius = std::sqrt(-2.0 * std::log(u1));
        out[0] = static_cast<T>(mean + stddev * radius * std::cos(two_pi * u2));
        out[1] = static_cast<T>(mean + stddev * radius * std::sin(two_pi * u2));
      };
      if constexpr (std::is_same_v<T, float>) {
        pair(1.0 - unit24(r[0]), unit24(r[1]), v);
        pair(1.0 - unit24(r[2]), unit24(r[3]), v + 2);
      } else {
        pair(1.0 - unit53(r[0], r[1]), unit53(r[2], r[3]), v);
      }
    });
  });
}

void bernoulli_(Tensor& t, double p, Generator& gen) {
  LOOM_CHECK(t.defined(), ValueError, "bernoulli_: the tensor is undefined.");
  LOOM_CHECK(p >= 0.0 && p <= 1.0, ValueError, "bernoulli_: p must be in [0, 1]; got ", p, ".");
  detail::dispatch_float(t.dtype(), "bernoulli_", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t n = t.numel();
    const std::uint64_t first = gen.reserve(static_cast<std::uint64_t>((n + 3) / 4));
    fill_blocks(t.data<T>(), n, 4, gen, first, [&](const std::array<std::uint32_t, 4>& r, T* v) {
      for (int j = 0; j < 4; ++j) v[j] = static_cast<double>(r[j]) * 0x1.0p-32 < p ? T(1) : T(0);
    });
  });
}

}  // namespace loom
