// SPDX-License-Identifier: Apache-2.0
// matmul: 2-D and batched values, gradients, errors.
#include "support/gradcheck.hpp"

using namespace loom;
using Catch::Matchers::StartsWith;
using testing::check_gradients;
using testing::input64;

TEST_CASE("matmul: forward values for 2-D and batched operands", "[autograd][ops]") {
  const Var x(Tensor::of({1, 2, 3, 4, 5, 6}, {2, 3}, DType::f64));
  const Var w(Tensor::of({1, 0, 0, 1, 1, 1}, {3, 2}, DType::f64));
  testing::check_close(matmul(x, w).value(), {4, 5, 10, 11}, 0, 0);
  const Var xb(Tensor::of({1, 2, 3, 4, 5, 6}, {3, 1, 2}, DType::f64));
  const Var wb(Tensor::of({1, 2, 3, 4}, {2, 2}, DType::f64));
  const Var yb = matmul(xb, wb);
  CHECK(yb.shape() == Shape{3, 1, 2});
  testing::check_close(yb.value(), {7, 10, 15, 22, 23, 34}, 0, 0);
}

TEST_CASE("matmul: gradients match central differences", "[autograd][ops][gradcheck]") {
  check_gradients([](auto& v) { return matmul(v[0], v[1]); }, {input64({4, 3}, 1), input64({3, 5}, 2)});
  check_gradients([](auto& v) { return matmul(v[0], v[1]); }, {input64({2, 3, 4}, 3), input64({4, 2}, 4)});
  check_gradients([](auto& v) { return matmul(v[0], v[0]); }, {input64({3, 3}, 5)});
}

TEST_CASE("matmul: bad ranks, shapes and dtypes throw", "[autograd][ops][errors]") {
  const Var a(Tensor::ones({2, 3})), b(Tensor::ones({4, 5}));
  CHECK_THROWS_AS(matmul(a, b), ValueError);
  CHECK_THROWS_WITH(matmul(a, b), StartsWith("matmul: inner dimensions differ: (2, 3) · (4, 5)"));
  CHECK_THROWS_WITH(matmul(Var(Tensor::ones({3})), b), StartsWith("matmul: expects x of rank >= 2 and a 2-D w"));
  CHECK_THROWS_WITH(matmul(a, Var(Tensor::ones({3, 2, 1}))), StartsWith("matmul: expects x of rank >= 2"));
  CHECK_THROWS_AS(matmul(a, Var(Tensor::ones({3, 2}, DType::f64))), TypeError);
  CHECK_THROWS_WITH(matmul(a, Var(Tensor::ones({3, 2}, DType::f64))), StartsWith("matmul: operands must share a dtype"));
}
