// SPDX-License-Identifier: Apache-2.0
// The optional xtensor interop header: zero-copy views of Tensors, and Tensors from xtensor expressions.
#include <loom/core/xtensor.hpp>

#include <xtensor/xbuilder.hpp>
#include <xtensor/xmath.hpp>

#include "support/reference.hpp"

using loom::DType;
using loom::Tensor;

TEST_CASE("xtensor: xt_view is a writable zero-copy view", "[core][xtensor]") {
  Tensor t = Tensor::arange(6).reshape({2, 3});
  auto v = loom::xt_view<float>(t);
  CHECK(v.shape()[0] == 2);
  CHECK(v.shape()[1] == 3);
  CHECK(v(1, 2) == 5.0f);
  v(0, 1) = 42.0f;
  CHECK(t.at<float>({0, 1}) == 42.0f);
  CHECK(xt::sum(v)() == Approx(0 + 42 + 2 + 3 + 4 + 5));
  const Tensor& ct = t;
  CHECK(loom::xt_view<float>(ct)(1, 0) == 3.0f);
  CHECK_THROWS_AS(loom::xt_view<double>(t), loom::TypeError);
}

TEST_CASE("xtensor: from_xtensor evaluates an expression into a Tensor", "[core][xtensor]") {
  const xt::xarray<double> a = {{1.0, 2.0}, {3.0, 4.0}};
  const Tensor t = loom::from_xtensor(a * 2.0 + 1.0);
  CHECK(t.dtype() == DType::f64);
  CHECK(t.shape() == loom::Shape{2, 2});
  CHECK(t.to_vector<double>() == std::vector<double>{3, 5, 7, 9});
  // A view of another tensor is copied element by element (an adaptor's own copy assignment
  // would rebind instead of writing).
  Tensor src = Tensor::zeros({2, 3});
  auto sv = loom::xt_view<float>(src);
  sv(1, 2) = 5.0f;
  const Tensor copied = loom::from_xtensor(sv);
  CHECK(copied.to_vector<float>() == std::vector<float>{0, 0, 0, 0, 0, 5});
  const Tensor r = loom::from_xtensor(xt::arange<std::int64_t>(4));
  CHECK(r.dtype() == DType::i64);
  CHECK(r.to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1, 2, 3});
  // Round trip: a loom kernel on a tensor built from xtensor, read back through a view.
  const Tensor y = loom::core::tanh(loom::from_xtensor(xt::linspace<float>(-1.0f, 1.0f, 5)));
  auto yv = loom::xt_view<float>(y);
  CHECK(yv(0) == Approx(std::tanh(-1.0)).epsilon(1e-6));
  CHECK(yv(2) == 0.0f);
}
