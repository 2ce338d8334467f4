// SPDX-License-Identifier: Apache-2.0
// Losses: values against hand-computed tf.keras formulas, gradients, and errors.
#include <cmath>

#include "support/gradcheck.hpp"

using namespace loom;
using Catch::Matchers::StartsWith;
using testing::check_gradients;
using testing::input64;

namespace {
double sig(double x) { return 1.0 / (1.0 + std::exp(-x)); }
}  // namespace

TEST_CASE("mse: mean of squared differences", "[autograd][ops][loss]") {
  const Var t(Tensor::of({1, 2, 3, 4}, {2, 2}, DType::f64)), p(Tensor::of({1.5, 2, 1, 4}, {2, 2}, DType::f64));
  CHECK(mse(t, p).value().item() == Approx((0.25 + 0 + 4 + 0) / 4.0).epsilon(1e-15));
}

TEST_CASE("binary_crossentropy: keras formula, clipping and logits", "[autograd][ops][loss]") {
  const double eps = 1e-7;
  const Var t(Tensor::of({1, 0, 1, 0}, {2, 2}, DType::f64)), p(Tensor::of({0.9, 0.2, 0.0, 1.0}, {2, 2}, DType::f64));
  // Clipped to [eps, 1 − eps], then −(t·log(p + eps) + (1 − t)·log(1 − p + eps)).
  const double expect = -(std::log(0.9 + eps) + std::log(1 - 0.2 + eps) + std::log(eps + eps) +
                          std::log(1 - (1 - eps) + eps)) / 4.0;
  CHECK(binary_crossentropy(t, p).value().item() == Approx(expect).epsilon(1e-12));
  const Var z(Tensor::of({2.0, -1.0, 30.0, -30.0}, {2, 2}, DType::f64));
  double logits = 0;
  for (auto [x, y] : {std::pair{2.0, 1.0}, {-1.0, 0.0}, {30.0, 1.0}, {-30.0, 0.0}})
    logits += -(y * std::log(sig(x)) + (1 - y) * std::log(1 - sig(x)));
  CHECK(binary_crossentropy(t, z, true).value().item() == Approx(logits / 4.0).epsilon(1e-12));
}

TEST_CASE("categorical_crossentropy: renormalised, clipped, and from logits", "[autograd][ops][loss]") {
  const Var t(Tensor::of({0, 1, 0, 0.5, 0, 0.5}, {2, 3}, DType::f64));
  const Var p(Tensor::of({0.2, 0.6, 0.2, 1.0, 2.0, 1.0}, {2, 3}, DType::f64));  // second row sums to 4
  const double expect = (-std::log(0.6) - 0.5 * std::log(0.25) - 0.5 * std::log(0.25)) / 2.0;
  CHECK(categorical_crossentropy(t, p).value().item() == Approx(expect).epsilon(1e-12));
  const Var z(Tensor::of({1, 2, 3, 0, 0, 0}, {2, 3}, DType::f64));
  const double lse = std::log(std::exp(1) + std::exp(2) + std::exp(3));
  const double expect_logits = ((lse - 2) + (0.5 * std::log(3.0) + 0.5 * std::log(3.0))) / 2.0;
  CHECK(categorical_crossentropy(t, z, true).value().item() == Approx(expect_logits).epsilon(1e-12));
}

TEST_CASE("sparse_categorical_crossentropy: labels instead of one-hot rows", "[autograd][ops][loss]") {
  const Tensor labels = Tensor::from_vector<std::int64_t>({1, 0}, {2});
  const Var z(Tensor::of({1, 2, 3, 0, 0, 0}, {2, 3}, DType::f64));
  const double lse = std::log(std::exp(1) + std::exp(2) + std::exp(3));
  CHECK(sparse_categorical_crossentropy(labels, z, true).value().item() ==
        Approx(((lse - 2) + std::log(3.0)) / 2.0).epsilon(1e-12));
  const Var p(Tensor::of({0.2, 0.6, 0.2, 0.5, 0.25, 0.25}, {2, 3}, DType::f64));
  CHECK(sparse_categorical_crossentropy(labels, p).value().item() ==
        Approx((-std::log(0.6) - std::log(0.5)) / 2.0).epsilon(1e-12));
  // Labels of shape (B, 1) are accepted too, and the one-hot form gives the same loss.
  const Var onehot(Tensor::of({0, 1, 0, 1, 0, 0}, {2, 3}, DType::f64));
  CHECK(sparse_categorical_crossentropy(labels.reshape({2, 1}), z, true).value().item() ==
        Approx(categorical_crossentropy(onehot, z, true).value().item()).epsilon(1e-14));
}

TEST_CASE("losses: gradients match central differences", "[autograd][ops][loss][gradcheck]") {
  const Tensor t = input64({3, 4}, 1, 0, 1), probs = input64({3, 4}, 2, 0.05, 0.95), z = input64({3, 4}, 3, -3, 3);
  check_gradients([](auto& v) { return mse(v[0], v[1]); }, {input64({3, 4}, 4), input64({3, 4}, 5)});
  check_gradients([](auto& v) { return binary_crossentropy(v[0], v[1]); }, {t, probs});
  check_gradients([](auto& v) { return binary_crossentropy(v[0], v[1], true); }, {t, z});
  check_gradients([](auto& v) { return categorical_crossentropy(v[0], v[1]); }, {t, probs});
  check_gradients([](auto& v) { return categorical_crossentropy(v[0], v[1], true); }, {t, z});
  const Tensor labels = Tensor::from_vector<std::int64_t>({3, 0, 2}, {3});
  check_gradients([&](auto& v) { return sparse_categorical_crossentropy(labels, v[0]); }, {probs});
  check_gradients([&](auto& v) { return sparse_categorical_crossentropy(labels, v[0], true); }, {z});
  check_gradients([&](auto& v) { return sparse_categorical_crossentropy(labels, softmax(v[0])); }, {z});
}

TEST_CASE("losses: bad shapes, dtypes and labels throw naming the loss", "[autograd][ops][loss][errors]") {
  const Var a(Tensor::ones({2, 3})), b(Tensor::ones({3, 2}));
  CHECK_THROWS_AS(mse(a, b), ValueError);
  CHECK_THROWS_WITH(mse(a, b), StartsWith("mse: y_true and y_pred must have one shape; got (2, 3) and (3, 2)"));
  CHECK_THROWS_WITH(binary_crossentropy(a, b), StartsWith("binary_crossentropy: y_true and y_pred must have one shape"));
  CHECK_THROWS_WITH(categorical_crossentropy(a, b), StartsWith("categorical_crossentropy: y_true and y_pred"));
  CHECK_THROWS_AS(mse(a, Var(Tensor::ones({2, 3}, DType::f64))), TypeError);
  const Var p(Tensor::ones({2, 3}));
  CHECK_THROWS_WITH(sparse_categorical_crossentropy(Tensor::from_vector<std::int64_t>({0, 3}, {2}), p),
                    StartsWith("sparse_categorical_crossentropy: labels must be in [0, 3); got 3 at row 1"));
  CHECK_THROWS_WITH(sparse_categorical_crossentropy(Tensor::from_vector<std::int64_t>({0, 1, 2}, {3}), p),
                    StartsWith("sparse_categorical_crossentropy: labels must have shape (2,)"));
  CHECK_THROWS_AS(sparse_categorical_crossentropy(Tensor::ones({2}), p), TypeError);
}
