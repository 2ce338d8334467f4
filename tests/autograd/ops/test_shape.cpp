// SPDX-License-Identifier: Apache-2.0
// reshape, transpose, slice, concat, stack, unstack, split: values, gradients, errors.
#include "support/gradcheck.hpp"

using namespace loom;
using Catch::Matchers::StartsWith;
using testing::check_gradients;
using testing::input64;

TEST_CASE("shape ops: forward values", "[autograd][ops]") {
  const Var x(Tensor::arange(12, DType::f64).reshape({2, 3, 2}));
  CHECK(reshape(x, {3, -1}).shape() == Shape{3, 4});
  const Var t = transpose(x);
  CHECK(t.shape() == Shape{2, 2, 3});
  CHECK(t.value().get({1, 1, 2}) == x.value().get({1, 2, 1}));
  testing::check_close(slice(x, 1, 1, 2).value(), {2, 3, 4, 5, 8, 9, 10, 11}, 0, 0);
  const Var c = concat({x, slice(x, 2, 0, 1)}, -1);
  CHECK(c.shape() == Shape{2, 3, 3});
  CHECK(c.value().get({1, 2, 2}) == 10.0);
  const Var s = stack({x, x, x}, 1);
  CHECK(s.shape() == Shape{2, 3, 3, 2});
  CHECK(s.value().get({1, 2, 0, 1}) == x.value().get({1, 0, 1}));
  CHECK(stack({x, x}, -1).shape() == Shape{2, 3, 2, 2});
  const std::vector<Var> u = unstack(x, 1);
  REQUIRE(u.size() == 3);
  CHECK(u[2].shape() == Shape{2, 2});
  testing::check_close(u[2].value(), {4, 5, 10, 11}, 0, 0);
  testing::check_close(reverse(x, 1).value(), {4, 5, 2, 3, 0, 1, 10, 11, 8, 9, 6, 7}, 0, 0);
  testing::check_close(reverse(x, -1).value(), {1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10}, 0, 0);
  const std::vector<Var> parts = split(Var(Tensor::arange(8, DType::f64).reshape({1, 8})), 4);
  REQUIRE(parts.size() == 4);
  testing::check_close(parts[3].value(), {6, 7}, 0, 0);
}

TEST_CASE("shape ops: gradients match central differences", "[autograd][ops][gradcheck]") {
  const Tensor x = input64({2, 3, 4}, 1), y = input64({2, 3, 4}, 2), z = input64({2, 1, 4}, 3);
  check_gradients([](auto& v) { return reshape(v[0], {4, 6}); }, {x});
  check_gradients([](auto& v) { return transpose(v[0]); }, {x});
  check_gradients([](auto& v) { return slice(v[0], 2, 1, 2); }, {x});
  check_gradients([](auto& v) { return reverse(v[0], 1) * v[0]; }, {x});
  check_gradients([](auto& v) { return concat({v[0], v[1], v[0]}, 1); }, {x, z});
  check_gradients([](auto& v) { return stack({v[0], v[1]}, 2); }, {x, y});
  check_gradients([](auto& v) {
    const std::vector<Var> u = unstack(v[0], 1);
    return u[0] * 2.0 + u[2];  // u[1] gets no gradient: zeros must fill its place
  }, {x});
  check_gradients([](auto& v) {
    const std::vector<Var> g = split(v[0], 2, -1);
    return sigmoid(g[0]) * tanh(g[1]);  // the LSTM gate pattern
  }, {x});
}

TEST_CASE("shape ops: bad arguments throw naming the op", "[autograd][ops][errors]") {
  const Var x(Tensor::ones({2, 3}));
  CHECK_THROWS_AS(reshape(x, Shape{4, 2}), ValueError);
  CHECK_THROWS_WITH(reshape(x, Shape{4, 2}), StartsWith("reshape: cannot reshape (2, 3) into (4, 2)"));
  CHECK_THROWS_WITH(transpose(Var(Tensor::ones({3}))), StartsWith("transpose: x must be at least 2-D"));
  CHECK_THROWS_WITH(slice(x, 1, 2, 2), StartsWith("slice: range [2, 4) is out of bounds"));
  CHECK_THROWS_AS(reverse(x, 2), ValueError);
  CHECK_THROWS_WITH(reverse(x, 2), StartsWith("reverse: axis 2 is out of range"));
  CHECK_THROWS_WITH(concat({x, Var(Tensor::ones({3, 3}))}, 1), StartsWith("concat: xs[1] has shape (3, 3)"));
  CHECK_THROWS_WITH(stack({x, Var(Tensor::ones({3, 2}))}), StartsWith("stack: xs[1] has shape (3, 2)"));
  CHECK_THROWS_WITH(stack({x}, 3), StartsWith("stack: axis 3 is out of range for rank 2 inputs"));
  CHECK_THROWS_WITH(unstack(x, 2), StartsWith("unstack: axis 2 is out of range"));
  CHECK_THROWS_WITH(split(x, 2, 1), StartsWith("split: axis 1 of shape (2, 3) cannot be split into 2 equal parts"));
}
