// SPDX-License-Identifier: Apache-2.0
// add, sub, mul, div, neg and the scalar forms: values, gradients (with broadcasting) and errors.
#include "support/gradcheck.hpp"

using namespace loom;
using Catch::Matchers::StartsWith;
using testing::check_gradients;
using testing::input64;

TEST_CASE("arithmetic: forward values", "[autograd][ops]") {
  const Var a(Tensor::of({1, 2, 3, 4}, {2, 2}, DType::f64)), b(Tensor::of({10, 20}, {2}, DType::f64));
  testing::check_close((a + b).value(), {11, 22, 13, 24}, 0, 0);
  testing::check_close((a - b).value(), {-9, -18, -7, -16}, 0, 0);
  testing::check_close((a * b).value(), {10, 40, 30, 80}, 0, 0);
  testing::check_close((b / a).value(), {10, 10, 10.0 / 3, 5}, 1e-15, 0);
  testing::check_close((-a).value(), {-1, -2, -3, -4}, 0, 0);
  testing::check_close((a + 1.0).value(), {2, 3, 4, 5}, 0, 0);
  testing::check_close((2.0 * a).value(), {2, 4, 6, 8}, 0, 0);
  testing::check_close((1.0 - a).value(), {0, -1, -2, -3}, 0, 0);
  testing::check_close((4.0 / a).value(), {4, 2, 4.0 / 3, 1}, 1e-15, 0);
  testing::check_close((a / 2.0).value(), {0.5, 1, 1.5, 2}, 0, 0);
}

TEST_CASE("arithmetic: gradients match central differences, with broadcasting", "[autograd][ops][gradcheck]") {
  const Tensor x = input64({3, 4}, 1), row = input64({4}, 2), y = input64({3, 4}, 3);
  const Tensor pos = input64({3, 4}, 4, 0.5, 2.0), pos_row = input64({4}, 5, 0.5, 2.0), s = input64({}, 6);
  check_gradients([](auto& v) { return v[0] + v[1]; }, {x, y});
  check_gradients([](auto& v) { return v[0] + v[1]; }, {x, row});
  check_gradients([](auto& v) { return v[1] - v[0]; }, {x, row});
  check_gradients([](auto& v) { return v[0] * v[1]; }, {x, row});
  check_gradients([](auto& v) { return v[0] * v[1]; }, {x, s});
  check_gradients([](auto& v) { return v[0] / v[1]; }, {x, pos});
  check_gradients([](auto& v) { return v[0] / v[1]; }, {x, pos_row});
  check_gradients([](auto& v) { return v[1] / v[0]; }, {pos, row});
  check_gradients([](auto& v) { return -v[0]; }, {x});
  check_gradients([](auto& v) { return (v[0] + 1.5) * 3.0 - 2.0; }, {x});
  check_gradients([](auto& v) { return 2.0 - v[0] / 4.0; }, {x});
  check_gradients([](auto& v) { return 3.0 / v[0]; }, {pos});
  check_gradients([](auto& v) { return v[0] * v[0] * v[0]; }, {x});  // one Var used three times
}

TEST_CASE("arithmetic: mismatched shapes and dtypes throw naming the op", "[autograd][ops][errors]") {
  const Var a(Tensor::ones({2, 3})), b(Tensor::ones({3, 2})), d(Tensor::ones({2, 3}, DType::f64));
  CHECK_THROWS_AS(a + b, ValueError);
  CHECK_THROWS_WITH(a + b, StartsWith("add: shapes (2, 3) and (3, 2) do not broadcast"));
  CHECK_THROWS_WITH(a - b, StartsWith("sub: shapes"));
  CHECK_THROWS_WITH(a * b, StartsWith("mul: shapes"));
  CHECK_THROWS_WITH(a / b, StartsWith("div: shapes"));
  CHECK_THROWS_AS(a * d, TypeError);
  CHECK_THROWS_WITH(a * d, StartsWith("mul: operands must share a floating dtype"));
  CHECK_THROWS_WITH(Var(Tensor::ones({2}, DType::i64)) + Var(Tensor::ones({2}, DType::i64)),
                    StartsWith("add: operands must share a floating dtype"));
  CHECK_THROWS_WITH(-Var(Tensor::ones({2}, DType::i64)), StartsWith("neg: expected a floating dtype"));
}
