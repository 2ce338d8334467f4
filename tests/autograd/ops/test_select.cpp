// SPDX-License-Identifier: Apache-2.0
// where (row mask) and gather (embedding): values, gradients, errors.
#include "support/gradcheck.hpp"

using namespace loom;
using Catch::Matchers::StartsWith;
using testing::check_gradients;
using testing::input64;

TEST_CASE("where: picks rows by a (B,) or (B, 1) mask", "[autograd][ops]") {
  const Var a(Tensor::of({1, 2, 3, 4, 5, 6}, {3, 2})), b(Tensor::of({-1, -2, -3, -4, -5, -6}, {3, 2}));
  testing::check_close(where(Tensor::of({1, 0, 2}, {3}), a, b).value(), {1, 2, -3, -4, 5, 6}, 0, 0);
  testing::check_close(where(Tensor::of({0, 1, 0}, {3, 1}), a, b).value(), {-1, -2, 3, 4, -5, -6}, 0, 0);
  // Rows of any rank: (B, 2, 2) states masked as a whole.
  const Var a3(Tensor::ones({2, 2, 2})), b3(Tensor::zeros({2, 2, 2}));
  testing::check_close(where(Tensor::of({0, 1}, {2}), a3, b3).value(), {0, 0, 0, 0, 1, 1, 1, 1}, 0, 0);
}

TEST_CASE("gather: looks up rows of a table", "[autograd][ops]") {
  const Var table(Tensor::arange(8).reshape({4, 2}));
  const Var e = gather(table, Tensor::from_vector<std::int64_t>({3, 0, 3}, {1, 3}));
  CHECK(e.shape() == Shape{1, 3, 2});
  testing::check_close(e.value(), {6, 7, 0, 1, 6, 7}, 0, 0);
}

TEST_CASE("where/gather: gradients match central differences", "[autograd][ops][gradcheck]") {
  const Tensor mask = Tensor::of({1, 0, 1, 0}, {4, 1}, DType::f64);
  check_gradients([&](auto& v) { return where(mask, v[0], v[1]); }, {input64({4, 3}, 1), input64({4, 3}, 2)});
  check_gradients([&](auto& v) { return where(mask.reshape({4}), v[0] * v[0], v[1]); },
                  {input64({4, 2, 2}, 3), input64({4, 2, 2}, 4)});
  const Tensor ids = Tensor::from_vector<std::int64_t>({2, 0, 2, 4, 2}, {5});  // index 2 repeats: gradients add
  check_gradients([&](auto& v) { return gather(v[0], ids); }, {input64({5, 3}, 5)});
}

TEST_CASE("where/gather: bad masks, shapes and indices throw", "[autograd][ops][errors]") {
  const Var a(Tensor::ones({3, 2})), b(Tensor::ones({3, 2}));
  CHECK_THROWS_AS(where(Tensor::ones({2}), a, b), ValueError);
  CHECK_THROWS_WITH(where(Tensor::ones({2}), a, b),
                    StartsWith("where: mask must have shape (3,) or (3, 1) to select rows of (3, 2); got (2,)"));
  CHECK_THROWS_WITH(where(Tensor::ones({3, 2}), a, b), StartsWith("where: mask must have shape (3,) or (3, 1)"));
  CHECK_THROWS_WITH(where(Tensor::ones({3}), a, Var(Tensor::ones({3, 3}))),
                    StartsWith("where: a and b must have one shape"));
  CHECK_THROWS_AS(where(Tensor::ones({3}), a, Var(Tensor::ones({3, 2}, DType::f64))), TypeError);
  const Var table(Tensor::ones({4, 2}));
  CHECK_THROWS_WITH(gather(table, Tensor::from_vector<std::int64_t>({4}, {1})),
                    StartsWith("gather_rows: indices must be in [0, 4); got 4"));
  CHECK_THROWS_AS(gather(table, Tensor::ones({2})), TypeError);
}
