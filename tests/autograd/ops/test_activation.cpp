// SPDX-License-Identifier: Apache-2.0
// Activations and softmax: values, gradients and errors.
#include <cmath>

#include "support/gradcheck.hpp"

using namespace loom;
using Catch::Matchers::StartsWith;
using testing::check_gradients;
using testing::input64;

TEST_CASE("activations: forward values", "[autograd][ops]") {
  const Var x(Tensor::of({-3, -1, 0, 0.5, 2}, {5}, DType::f64));
  std::vector<double> t, s, h, r, e;
  for (double v : {-3.0, -1.0, 0.0, 0.5, 2.0}) {
    t.push_back(std::tanh(v));
    s.push_back(1 / (1 + std::exp(-v)));
    h.push_back(std::clamp(0.2 * v + 0.5, 0.0, 1.0));
    r.push_back(std::max(v, 0.0));
    e.push_back(std::exp(v));
  }
  testing::check_close(tanh(x).value(), t, 1e-15, 1e-16);
  testing::check_close(sigmoid(x).value(), s, 1e-15, 1e-16);
  testing::check_close(hard_sigmoid(x).value(), h, 1e-15, 1e-16);
  testing::check_close(relu(x).value(), r, 0, 0);
  testing::check_close(exp(x).value(), e, 1e-15, 0);
  testing::check_close(log(Var(Tensor::of({1, std::exp(2.0)}, {2}, DType::f64))).value(), {0, 2}, 1e-15, 1e-15);
  testing::check_close(softmax(Var(Tensor::of({0, std::log(3.0)}, {1, 2}, DType::f64))).value(), {0.25, 0.75}, 1e-15,
                       0);
  testing::check_close(log_softmax(Var(Tensor::of({0, std::log(3.0)}, {1, 2}, DType::f64))).value(),
                       {std::log(0.25), std::log(0.75)}, 1e-14, 0);
}

TEST_CASE("activations: gradients match central differences", "[autograd][ops][gradcheck]") {
  const Tensor x = input64({3, 5}, 1, -2, 2);
  check_gradients([](auto& v) { return tanh(v[0]); }, {x});
  check_gradients([](auto& v) { return sigmoid(v[0]); }, {x});
  check_gradients([](auto& v) { return exp(v[0]); }, {x});
  check_gradients([](auto& v) { return log(v[0]); }, {input64({3, 5}, 2, 0.2, 3)});
  check_gradients([](auto& v) { return softmax(v[0]); }, {x});
  check_gradients([](auto& v) { return log_softmax(v[0]); }, {input64({2, 3, 4}, 3, -3, 3)});
  // relu and hard_sigmoid are piecewise linear: keep the inputs away from their kinks (0 and ±2.5).
  const Tensor away = Tensor::of({-3, -1.7, -0.6, 0.4, 1.1, 2.2, 3.1, -2.9}, {2, 4}, DType::f64);
  check_gradients([](auto& v) { return relu(v[0]); }, {away});
  check_gradients([](auto& v) { return hard_sigmoid(v[0]); }, {away});
}

TEST_CASE("activations: integer inputs throw TypeError naming the op", "[autograd][ops][errors]") {
  const Var i(Tensor::ones({3}, DType::i64));
  CHECK_THROWS_AS(tanh(i), TypeError);
  CHECK_THROWS_WITH(tanh(i), StartsWith("tanh:"));
  CHECK_THROWS_WITH(sigmoid(i), StartsWith("sigmoid:"));
  CHECK_THROWS_WITH(hard_sigmoid(i), StartsWith("hard_sigmoid:"));
  CHECK_THROWS_WITH(relu(i), StartsWith("relu:"));
  CHECK_THROWS_WITH(exp(i), StartsWith("exp:"));
  CHECK_THROWS_WITH(log(i), StartsWith("log:"));
  CHECK_THROWS_WITH(softmax(i), StartsWith("softmax:"));
  CHECK_THROWS_WITH(log_softmax(Var(Tensor::full({}, 1.0))), StartsWith("log_softmax: x must be at least 1-D"));
}
