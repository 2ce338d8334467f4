// SPDX-License-Identifier: Apache-2.0
// The counter-based generator: Philox known-answer vectors, reproducibility, and the fills' statistics.
#include <cmath>

#include "support/reference.hpp"

using loom::DType;
using loom::Generator;
using loom::Tensor;
using Catch::Matchers::StartsWith;

TEST_CASE("Generator: Philox-4x32-10 reproduces the Random123 known-answer vectors", "[core][random]") {
  // (counter words c0..c3) = (counter lo, counter hi, stream lo, stream hi); key = (seed lo, seed hi).
  CHECK(Generator(0, 0).block(0) == std::array<std::uint32_t, 4>{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8});
  CHECK(Generator(~0ull, ~0ull).block(~0ull) ==
        std::array<std::uint32_t, 4>{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd});
  CHECK(Generator(0x299f31d0a4093822ull, 0x0370734413198a2eull).block(0x85a308d3243f6a88ull) ==
        std::array<std::uint32_t, 4>{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1});
}

TEST_CASE("Generator: same seed, same numbers; fills advance the offset", "[core][random]") {
  Generator g1(5), g2(5);
  const Tensor a = Tensor::uniform({100}, 0, 1, DType::f32, &g1);
  const Tensor b = Tensor::uniform({100}, 0, 1, DType::f32, &g2);
  CHECK(loom::testing::bitwise_equal(a, b));
  CHECK(g1.offset() == 25);  // four f32 values per counter block
  const Tensor c = Tensor::uniform({100}, 0, 1, DType::f32, &g1);
  CHECK_FALSE(loom::testing::bitwise_equal(a, c));
  // Restoring the offset replays the stream exactly (checkpoints rely on this).
  g2.set_offset(25);
  CHECK(loom::testing::bitwise_equal(c, Tensor::uniform({100}, 0, 1, DType::f32, &g2)));
  // Another stream of the same seed gives other numbers.
  Generator g3(5, 1);
  CHECK_FALSE(loom::testing::bitwise_equal(a, Tensor::uniform({100}, 0, 1, DType::f32, &g3)));
  // manual_seed rewinds the default generator.
  loom::manual_seed(123);
  const Tensor d1 = Tensor::normal({50});
  loom::manual_seed(123);
  CHECK(loom::testing::bitwise_equal(d1, Tensor::normal({50})));
}

TEST_CASE("uniform_, normal_, bernoulli_: moments match their distributions", "[core][random]") {
  const std::int64_t n = 1 << 18;
  for (DType dt : {DType::f32, DType::f64}) {
    CAPTURE(dt);
    Generator gen(99);
    // Standard errors at n = 262144: mean of U(-1, 3) ±0.0023, of N(0.5, 2²) ±0.004; 5 σ bounds below.
    const auto u = Tensor::uniform({n}, -1, 3, dt, &gen).to_vector<double>();
    double mean = 0, lo = 1e9, hi = -1e9;
    for (double v : u) {
      mean += v;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    mean /= n;
    CHECK(std::abs(mean - 1.0) < 0.012);
    CHECK(lo >= -1.0);
    CHECK(hi < 3.0);
    const auto z = Tensor::normal({n}, 0.5, 2.0, dt, &gen).to_vector<double>();
    double zm = 0, zv = 0;
    for (double v : z) zm += v;
    zm /= n;
    for (double v : z) zv += (v - zm) * (v - zm);
    zv /= n;
    CHECK(std::abs(zm - 0.5) < 0.02);
    CHECK(std::abs(zv - 4.0) < 0.06);  // sd of the variance estimate: 4·sqrt(2/n) ≈ 0.011
    Tensor mask = Tensor::empty({n}, dt);
    loom::bernoulli_(mask, 0.3, gen);
    double ones = 0;
    for (double v : mask.to_vector<double>()) {
      CHECK((v == 0.0 || v == 1.0));
      ones += v;
    }
    CHECK(std::abs(ones / n - 0.3) < 0.0045);  // 5 σ = 5·sqrt(0.21/n)
  }
}

TEST_CASE("random fills: bad arguments throw", "[core][random][errors]") {
  Tensor t = Tensor::zeros({4});
  Tensor i = Tensor::zeros({4}, DType::i64);
  CHECK_THROWS_WITH(loom::uniform_(t, 1, 0), StartsWith("uniform_: low must be <= high"));
  CHECK_THROWS_WITH(loom::normal_(t, 0, -1), StartsWith("normal_: stddev must be >= 0"));
  CHECK_THROWS_WITH(loom::bernoulli_(t, 1.5), StartsWith("bernoulli_: p must be in [0, 1]; got 1.5"));
  CHECK_THROWS_AS(loom::uniform_(i, 0, 1), loom::TypeError);
  CHECK(t.to_vector<float>() == std::vector<float>(4, 0.0f));
}
