// SPDX-License-Identifier: Apache-2.0
// Layout kernels checked element by element against index arithmetic.
#include "support/reference.hpp"

using loom::DType;
using loom::Shape;
using loom::Tensor;
namespace core = loom::core;
using Catch::Matchers::StartsWith;

TEST_CASE("layout: swap01 turns (B, T, F) into (T, B, F) and back", "[core][layout]") {
  const Tensor x = Tensor::arange(2 * 3 * 4).reshape({2, 3, 4});
  const Tensor y = core::swap01(x);
  CHECK(y.shape() == Shape{3, 2, 4});
  for (int b = 0; b < 2; ++b)
    for (int t = 0; t < 3; ++t)
      for (int f = 0; f < 4; ++f) CHECK(y.get({t, b, f}) == x.get({b, t, f}));
  CHECK(loom::testing::bitwise_equal(core::swap01(y), x));
  const Tensor big = loom::testing::random({64, 100, 33});
  CHECK(loom::testing::bitwise_equal(core::swap01(core::swap01(big)), big));
}

TEST_CASE("layout: flip reverses one axis", "[core][layout]") {
  const Tensor x = Tensor::arange(24, DType::f64).reshape({2, 3, 4});
  const Tensor y = core::flip(x, 1);
  for (int b = 0; b < 2; ++b)
    for (int t = 0; t < 3; ++t)
      for (int f = 0; f < 4; ++f) CHECK(y.get({b, t, f}) == x.get({b, 2 - t, f}));
  CHECK(loom::testing::bitwise_equal(core::flip(core::flip(x, -1), -1), x));
  const Tensor idx = Tensor::from_vector<std::int64_t>({1, 2, 3}, {3});
  loom::testing::check_close(core::flip(idx, 0), {3, 2, 1}, 0, 0);
}

TEST_CASE("layout: slice, concat and slice_assign are inverses", "[core][layout]") {
  const Tensor x = Tensor::arange(2 * 6 * 3).reshape({2, 6, 3});
  const Tensor a = core::slice(x, 1, 0, 2), b = core::slice(x, 1, 2, 4);
  CHECK(a.shape() == Shape{2, 2, 3});
  CHECK(b.get({1, 0, 2}) == x.get({1, 2, 2}));
  CHECK(loom::testing::bitwise_equal(core::concat({a, b}, 1), x));
  Tensor z = Tensor::zeros({2, 6, 3});
  core::slice_assign(z, b, 1, 2);
  core::slice_assign(z, a, -2, 0);
  CHECK(loom::testing::bitwise_equal(z, x));
  const Tensor last = core::slice(x, -1, 1, 2);
  CHECK(last.shape() == Shape{2, 6, 2});
  CHECK(last.get({1, 5, 1}) == x.get({1, 5, 2}));
}

TEST_CASE("layout: gather_rows looks up embeddings and scatter_add_rows accumulates", "[core][layout]") {
  const Tensor table = Tensor::arange(5 * 3, DType::f64).reshape({5, 3});
  const Tensor ids = Tensor::from_vector<std::int64_t>({4, 0, 4, 2}, {2, 2});
  const Tensor rows = core::gather_rows(table, ids);
  CHECK(rows.shape() == Shape{2, 2, 3});
  loom::testing::check_close(rows, {12, 13, 14, 0, 1, 2, 12, 13, 14, 6, 7, 8}, 0, 0);
  Tensor grad = Tensor::zeros({5, 3}, DType::f64);
  core::scatter_add_rows(grad, ids, Tensor::ones({2, 2, 3}, DType::f64));
  loom::testing::check_close(grad, {1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 2, 2, 2}, 0, 0);
}

TEST_CASE("layout: bad arguments throw and change nothing", "[core][layout][errors]") {
  CHECK_THROWS_WITH(core::swap01(Tensor::ones({3})), StartsWith("swap01: x must be at least 2-D; got shape (3,)"));
  CHECK_THROWS_WITH(core::flip(Tensor::ones({3}), 1), StartsWith("flip: axis 1 is out of range"));
  CHECK_THROWS_WITH(core::slice(Tensor::ones({3, 4}), 1, 2, 3), StartsWith("slice: range [2, 5) is out of bounds"));
  CHECK_THROWS_WITH(core::concat({Tensor::ones({2, 3}), Tensor::ones({3, 3})}, 1),
                    StartsWith("concat: xs[1] has shape (3, 3) but xs[0] has shape (2, 3)"));
  CHECK_THROWS_AS(core::concat({Tensor::ones({2}), Tensor::ones({2}, DType::f64)}, 0), loom::TypeError);
  CHECK_THROWS_WITH(core::concat({}, 0), StartsWith("concat: needs at least one tensor"));
  const Tensor table = Tensor::ones({4, 2});
  CHECK_THROWS_WITH(core::gather_rows(table, Tensor::from_vector<std::int64_t>({1, 4}, {2})),
                    StartsWith("gather_rows: indices must be in [0, 4); got 4"));
  CHECK_THROWS_AS(core::gather_rows(table, Tensor::ones({2})), loom::TypeError);
  Tensor grad = Tensor::zeros({4, 2});
  CHECK_THROWS_WITH(core::scatter_add_rows(grad, Tensor::from_vector<std::int64_t>({1, -1}, {2}), Tensor::ones({2, 2})),
                    StartsWith("scatter_add_rows: indices must be in [0, 4); got -1"));
  CHECK_THROWS_WITH(core::scatter_add_rows(grad, Tensor::from_vector<std::int64_t>({1}, {1}), Tensor::ones({2, 2})),
                    StartsWith("scatter_add_rows: rows must hold 1 rows of 2 elements"));
  for (float v : grad.to_vector<float>()) CHECK(v == 0.0f);
  Tensor dst = Tensor::zeros({2, 3});
  CHECK_THROWS_WITH(core::slice_assign(dst, Tensor::ones({3, 1}), 1, 0),
                    StartsWith("slice_assign: src shape (3, 1) differs from dst shape (2, 3) outside axis 1"));
}

TEST_CASE("layout: broadcast_axis repeats a unit axis and where_rows selects rows", "[core][layout]") {
  const Tensor x = Tensor::of({1, 2, 3, 4}, {2, 1, 2});
  const Tensor y = core::broadcast_axis(x, 1, 3);
  CHECK(y.shape() == Shape{2, 3, 2});
  loom::testing::check_close(y, {1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4}, 0, 0);
  CHECK_THROWS_WITH(core::broadcast_axis(y, 1, 2), StartsWith("broadcast_axis: axis 1 of x must have extent 1"));
  const Tensor a = Tensor::arange(6).reshape({3, 2}), b = Tensor::zeros({3, 2});
  loom::testing::check_close(core::where_rows(Tensor::of({0, 1, 1}, {3}), a, b), {0, 0, 2, 3, 4, 5}, 0, 0);
  loom::testing::check_close(core::where_rows(Tensor::of({1, 0, 0}, {3, 1}, DType::f64), a, b), {0, 1, 0, 0, 0, 0}, 0, 0);
}
