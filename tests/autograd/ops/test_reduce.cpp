// SPDX-License-Identifier: Apache-2.0
// sum and mean: values, gradients, errors.
#include "support/gradcheck.hpp"

using namespace loom;
using Catch::Matchers::StartsWith;
using testing::check_gradients;
using testing::input64;

TEST_CASE("sum/mean: forward values and shapes", "[autograd][ops]") {
  const Var x(Tensor::arange(6, DType::f64).reshape({2, 3}));
  CHECK(sum(x).value().item() == 15.0);
  CHECK(mean(x).value().item() == 2.5);
  testing::check_close(sum(x, 0).value(), {3, 5, 7}, 0, 0);
  testing::check_close(mean(x, -1).value(), {1, 4}, 0, 0);
  CHECK(sum(x, 1, true).shape() == Shape{2, 1});
  CHECK(mean(x, 0, true).shape() == Shape{1, 3});
}

TEST_CASE("sum/mean: gradients match central differences", "[autograd][ops][gradcheck]") {
  const Tensor x = input64({2, 3, 4}, 1);
  check_gradients([](auto& v) { return sum(v[0]); }, {x});
  check_gradients([](auto& v) { return mean(v[0]); }, {x});
  for (int axis : {0, 1, 2, -1}) {
    CAPTURE(axis);
    check_gradients([axis](auto& v) { return sum(v[0], axis); }, {x});
    check_gradients([axis](auto& v) { return mean(v[0], axis, true); }, {x});
  }
}

TEST_CASE("sum/mean: bad axes and empty inputs throw", "[autograd][ops][errors]") {
  const Var x(Tensor::ones({2, 3}));
  CHECK_THROWS_AS(sum(x, 2), ValueError);
  CHECK_THROWS_WITH(sum(x, 2), StartsWith("sum: axis 2 is out of range for shape (2, 3)"));
  CHECK_THROWS_WITH(mean(x, -3), StartsWith("mean: axis -3 is out of range"));
  CHECK_THROWS_WITH(mean(Var(Tensor::zeros({0}))), StartsWith("mean: x must not be empty"));
  CHECK_THROWS_AS(sum(Var(Tensor::ones({2}, DType::i64))), TypeError);
}
