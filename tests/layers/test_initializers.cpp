// SPDX-License-Identifier: Apache-2.0
// Initializers: Keras's formulas (bounds, variances), orthogonality, unit_forget_bias, configs.
#include <cmath>
#include <nlohmann/json.hpp>

#include "support/reference.hpp"

using namespace loom;

namespace {
std::pair<double, double> moments(const Tensor& t) {
  const auto v = t.to_vector<double>();
  double m = 0, s = 0;
  for (double x : v) m += x;
  m /= static_cast<double>(v.size());
  for (double x : v) s += (x - m) * (x - m);
  return {m, s / static_cast<double>(v.size())};
}
double max_abs(const Tensor& t) {
  double m = 0;
  for (double x : t.to_vector<double>()) m = std::max(m, std::abs(x));
  return m;
}
}  // namespace

TEST_CASE("initializers: variance-scaling bounds and variances follow Keras's formulas", "[layers][initializers]") {
  Generator gen(4);
  const Shape s{200, 300};  // fan_in 200, fan_out 300
  const Tensor gu = initializers::glorot_uniform()(s, DType::f64, gen);
  CHECK(max_abs(gu) <= std::sqrt(6.0 / 500));
  CHECK(moments(gu).second == Approx(2.0 / 500).epsilon(0.03));  // U(−l, l) has variance l²/3
  CHECK(max_abs(initializers::he_uniform()(s, DType::f64, gen)) <= std::sqrt(6.0 / 200));
  CHECK(max_abs(initializers::lecun_uniform()(s, DType::f64, gen)) <= std::sqrt(3.0 / 200));
  // Truncated normals: within 2 σ of the pre-truncation stddev, and the variance Keras targets.
  const Tensor gn = initializers::glorot_normal()(s, DType::f64, gen);
  CHECK(max_abs(gn) <= 2 * std::sqrt(2.0 / 500) / 0.87962566103423978 + 1e-12);
  CHECK(moments(gn).second == Approx(2.0 / 500).epsilon(0.03));
  CHECK(moments(initializers::he_normal()(s, DType::f64, gen)).second == Approx(2.0 / 200).epsilon(0.03));
  const Tensor tn = initializers::truncated_normal(1.0, 0.5)(s, DType::f64, gen);
  CHECK(max_abs(core::add(tn, -1.0)) <= 1.0 + 1e-12);
  CHECK(moments(initializers::random_normal(0.0, 0.05)(s, DType::f64, gen)).second == Approx(0.0025).epsilon(0.03));
  const Tensor ru = initializers::random_uniform(-0.05, 0.05)(s, DType::f64, gen);
  CHECK(max_abs(ru) <= 0.05);
  CHECK(initializers::constant(0.03)({3}, DType::f32, gen).to_vector<float>() == std::vector<float>(3, 0.03f));
}

TEST_CASE("initializers: orthogonal gives orthonormal rows over the whole (u, k·u) matrix", "[layers][initializers]") {
  Generator gen(5);
  for (auto [r, c] : {std::pair{8, 32}, {32, 8}, {16, 16}}) {
    CAPTURE(r, c);
    const Tensor q = initializers::orthogonal(1.0)({r, c}, DType::f64, gen);
    const Tensor gram = r <= c ? core::matmul_nt(q, q) : core::matmul_tn(q, q);
    const std::int64_t n = std::min(r, c);
    std::vector<double> eye(static_cast<std::size_t>(n * n), 0.0);
    for (std::int64_t i = 0; i < n; ++i) eye[static_cast<std::size_t>(i * n + i)] = 1.0;
    testing::check_close(gram, eye, 0, 1e-12);
  }
  const Tensor g2 = initializers::orthogonal(2.0)({4, 4}, DType::f64, gen);
  testing::check_close(core::matmul_nt(g2, g2), {4, 0, 0, 0, 0, 4, 0, 0, 0, 0, 4, 0, 0, 0, 0, 4}, 0, 1e-12);
}

TEST_CASE("initializers: orthogonal is Keras's Q of the drawn Gaussian, R's diagonal made positive",
          "[layers][initializers]") {
  // Keras: q, r = qr(normal(max, min)); q *= sign(diag(r)); transposed when rows < cols. So Qᵀ·A = R
  // must be upper triangular with a positive diagonal, for the Gaussian the same generator draws.
  for (auto [r, c] : {std::pair{40, 12}, {12, 40}, {24, 24}}) {
    CAPTURE(r, c);
    Generator g1(9), g2(9);
    const Tensor q = initializers::orthogonal(1.0)({r, c}, DType::f64, g1);
    const std::int64_t m = std::max(r, c), n = std::min(r, c);
    const Tensor a = Tensor::normal({m, n}, 0.0, 1.0, DType::f64, &g2);
    const Tensor tri = r >= c ? core::matmul_tn(q, a) : core::matmul(q, a);  // (n, n)
    for (std::int64_t i = 0; i < n; ++i) {
      CHECK(tri.get({i, i}) > 0);
      for (std::int64_t j = 0; j < i; ++j) CHECK(std::abs(tri.get({i, j})) < 1e-12);
    }
  }
}

TEST_CASE("initializers: LSTM's unit_forget_bias sets the forget block to one", "[layers][initializers]") {
  LSTM lstm(3, {.bias_initializer = initializers::constant(0.03)});
  lstm.build_for({1, 2, 4});
  testing::check_close(lstm.weights()[2].value(), {0.03, 0.03, 0.03, 1, 1, 1, 0.03, 0.03, 0.03, 0.03, 0.03, 0.03}, 1e-7, 0);
  LSTM plain(3, {.bias_initializer = initializers::constant(0.03), .unit_forget_bias = false});
  plain.build_for({1, 2, 4});
  testing::check_close(plain.weights()[2].value(), std::vector<double>(12, 0.03), 1e-7, 0);
}

TEST_CASE("initializers: configs round-trip and bare identifiers are accepted", "[layers][initializers]") {
  for (const Initializer& init :
       {initializers::zeros(), initializers::ones(), initializers::constant(2.5), initializers::random_uniform(-1, 2),
        initializers::random_normal(0.5, 2), initializers::truncated_normal(0, 3), initializers::glorot_uniform(),
        initializers::glorot_normal(), initializers::he_uniform(), initializers::he_normal(), initializers::lecun_uniform(),
        initializers::orthogonal(1.5)}) {
    const Initializer back = Initializer::from_config(nlohmann::json::parse(init.get_config().dump()));
    CHECK(back.get_config() == init.get_config());
    Generator g1(1), g2(1);
    CHECK(testing::bitwise_equal(init({6, 6}, DType::f32, g1), back({6, 6}, DType::f32, g2)));
  }
  CHECK(Initializer::from_config("glorot_uniform").kind() == Initializer::Kind::glorot_uniform);
  CHECK_THROWS_AS(Initializer::from_config("nope"), FormatError);
  CHECK_THROWS_AS(initializers::orthogonal()({5}, DType::f32, default_generator()), ValueError);
}
