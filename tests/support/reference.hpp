// SPDX-License-Identifier: Apache-2.0
// Test helpers: f64 scalar references, random tensors and element-wise comparisons with stated tolerances.
#pragma once

#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <loom/loom.hpp>

namespace loom::testing {

/// Uniform values in [-1, 1) from a fixed seed.
inline Tensor random(const Shape& shape, DType dtype = DType::f32, std::uint64_t seed = 7) {
  Generator gen(seed);
  return Tensor::uniform(shape, -1.0, 1.0, dtype, &gen);
}

/// Element-wise check |actual − expected| ≤ atol + rtol·|expected|; reports the worst element.
inline void check_close(const Tensor& actual, const std::vector<double>& expected, double rtol, double atol) {
  REQUIRE(actual.numel() == static_cast<std::int64_t>(expected.size()));
  const std::vector<double> got = actual.to_vector<double>();
  double worst = 0.0;
  std::size_t at = 0;
  bool ok = true;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double err = std::abs(got[i] - expected[i]);
    const double allowed = atol + rtol * std::abs(expected[i]);
    if (!(err <= allowed)) ok = false;
    if (!(err <= worst)) {
      worst = err;
      at = i;
    }
  }
  INFO("worst |error| " << worst << " at flat index " << at << ": got " << (got.empty() ? 0.0 : got[at])
                        << ", expected " << (expected.empty() ? 0.0 : expected[at]));
  CHECK(ok);
}

inline void check_close(const Tensor& actual, const Tensor& expected, double rtol, double atol) {
  REQUIRE(actual.shape() == expected.shape());
  check_close(actual, expected.to_vector<double>(), rtol, atol);
}

/// True when both tensors hold exactly the same bytes (same shape and dtype).
inline bool bitwise_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

/// Runs `fn` with the thread limit set to n, restoring the default afterwards.
template <class Fn>
auto with_threads(int n, Fn&& fn) {
  set_num_threads(n);
  struct Reset {
    ~Reset() { set_num_threads(0); }
  } reset;
  return fn();
}

}  // namespace loom::testing
