// SPDX-License-Identifier: Apache-2.0
// Reductions and softmax against f64 scalar loops, every axis, with keepdims and errors.
#include <cmath>
#include <limits>

#include "support/reference.hpp"

using loom::DType;
using loom::Shape;
using loom::Tensor;
namespace core = loom::core;
using Catch::Matchers::StartsWith;

namespace {

// Reference reduction of x over `axis`; kind 0 = sum, 1 = max, 2 = argmax.
std::vector<double> reduce_ref(const Tensor& x, int axis, int kind) {
  const auto v = x.to_vector<double>();
  const std::int64_t outer = x.shape().numel(0, axis), len = x.shape(axis),
                     inner = x.shape().numel(axis + 1, x.dimension());
  std::vector<double> out;
  for (std::int64_t o = 0; o < outer; ++o)
    for (std::int64_t j = 0; j < inner; ++j) {
      double s = 0, m = -std::numeric_limits<double>::infinity();
      std::int64_t arg = 0;
      for (std::int64_t l = 0; l < len; ++l) {
        const double e = v[(o * len + l) * inner + j];
        s += e;
        if (e > m) {
          m = e;
          arg = l;
        }
      }
      out.push_back(kind == 0 ? s : kind == 1 ? m : static_cast<double>(arg));
    }
  return out;
}

}  // namespace

TEST_CASE("reduce: sum, mean, max and argmax over every axis", "[core][reduce]") {
  for (DType dt : {DType::f32, DType::f64})
    for (const Shape& s : {Shape{5}, Shape{3, 17}, Shape{4, 1, 33}, Shape{2, 3, 5, 7}, Shape{2, 1100, 3}}) {
      const Tensor x = loom::testing::random(s, dt, 9);
      for (int axis = 0; axis < s.rank(); ++axis) {
        CAPTURE(dt, s, axis);
        const auto sum = reduce_ref(x, axis, 0);
        // f32 sums of n terms in [-1, 1]: error ≲ sqrt(n)·u·n; n ≤ 1100 gives < 1e-4 absolute.
        const double tol = dt == DType::f32 ? 1e-4 : 1e-12;
        loom::testing::check_close(core::sum(x, axis), sum, 0, tol);
        std::vector<double> mean;
        for (double v : sum) mean.push_back(v / static_cast<double>(s[axis]));
        loom::testing::check_close(core::mean(x, axis), mean, 0, tol);
        loom::testing::check_close(core::max(x, axis), reduce_ref(x, axis, 1), 0, 0);
        const Tensor am = core::argmax(x, axis);
        CHECK(am.dtype() == DType::i64);
        loom::testing::check_close(am, reduce_ref(x, axis, 2), 0, 0);
        Shape kept = s;
        kept[axis] = 1;
        CHECK(core::sum(x, axis, true).shape() == kept);
        CHECK(core::max(x, axis - s.rank(), true).shape() == kept);
      }
    }
}

TEST_CASE("reduce: sum and mean of everything, small and large", "[core][reduce]") {
  for (std::int64_t n : {0, 1, 15, 16385, 1 << 20}) {
    CAPTURE(n);
    const Tensor x = loom::testing::random({n}, DType::f64, 4);
    double ref = 0;
    for (double v : x.to_vector<double>()) ref += v;
    const Tensor s = core::sum(x);
    CHECK(s.dimension() == 0);
    CHECK(s.item() == Approx(ref).margin(1e-9));
    const Tensor xf = x.to(DType::f32);
    CHECK(core::sum(xf).item() == Approx(ref).margin(1e-5 * std::sqrt(static_cast<double>(n)) + 1e-6));
    if (n > 0) CHECK(core::mean(x).item() == Approx(ref / static_cast<double>(n)).margin(1e-14));
  }
  CHECK(core::max(Tensor::of({3, -1, 7, 2}, {2, 2})).item() == 7.0);
}

TEST_CASE("reduce: sum_to undoes row broadcasting", "[core][reduce]") {
  const Tensor g = Tensor::arange(24, DType::f64).reshape({2, 3, 4});
  loom::testing::check_close(core::sum_to(g, {4}), {60, 66, 72, 78}, 0, 0);
  loom::testing::check_close(core::sum_to(g, {3, 4}), {12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34}, 0, 0);
  loom::testing::check_close(core::sum_to(g, {}), {276}, 0, 0);
  CHECK(core::sum_to(g, {1, 4}).shape() == Shape{1, 4});
  CHECK_THROWS_WITH(core::sum_to(g, {5}), StartsWith("sum_to: shape (5,) is not a broadcastable part"));
}

TEST_CASE("softmax: rows sum to one and match the stable formula", "[core][reduce]") {
  for (DType dt : {DType::f32, DType::f64})
    for (std::int64_t n : {1, 7, 16, 100}) {
      CAPTURE(dt, n);
      const Tensor x = loom::testing::random({3, n}, dt, 2) * 30.0;
      const auto v = x.to_vector<double>();
      std::vector<double> sm, lsm;
      for (int r = 0; r < 3; ++r) {
        double m = -1e300, s = 0;
        for (std::int64_t j = 0; j < n; ++j) m = std::max(m, v[r * n + j]);
        for (std::int64_t j = 0; j < n; ++j) s += std::exp(v[r * n + j] - m);
        for (std::int64_t j = 0; j < n; ++j) {
          sm.push_back(std::exp(v[r * n + j] - m) / s);
          lsm.push_back(v[r * n + j] - m - std::log(s));
        }
      }
      const double tol = dt == DType::f32 ? 2e-6 : 1e-13;
      loom::testing::check_close(core::softmax(x), sm, tol, tol);
      loom::testing::check_close(core::log_softmax(x), lsm, tol, tol * 30);
    }
  // Large logits do not overflow.
  loom::testing::check_close(core::softmax(Tensor::of({1000, 1000}, {1, 2})), {0.5, 0.5}, 0, 1e-7);
}

TEST_CASE("softmax: backward forms match the Jacobian-vector product", "[core][reduce]") {
  const Tensor x = loom::testing::random({2, 5}, DType::f64, 3), dy = loom::testing::random({2, 5}, DType::f64, 4);
  const Tensor y = core::softmax(x), ly = core::log_softmax(x);
  const auto yv = y.to_vector<double>(), d = dy.to_vector<double>();
  std::vector<double> gs, gl;
  for (int r = 0; r < 2; ++r) {
    for (int i = 0; i < 5; ++i) {
      double s = 0, l = 0;
      for (int j = 0; j < 5; ++j) {
        const double jac = (i == j ? yv[r * 5 + i] : 0.0) - yv[r * 5 + i] * yv[r * 5 + j];  // ∂y_j/∂x_i
        s += d[r * 5 + j] * jac;
        l += d[r * 5 + j] * ((i == j ? 1.0 : 0.0) - yv[r * 5 + i]);  // ∂log y_j/∂x_i
      }
      gs.push_back(s);
      gl.push_back(l);
    }
  }
  loom::testing::check_close(core::softmax_backward(dy, y), gs, 1e-13, 1e-14);
  loom::testing::check_close(core::log_softmax_backward(dy, ly), gl, 1e-13, 1e-14);
}

TEST_CASE("reduce: bad axes, empty inputs and dtypes throw", "[core][reduce][errors]") {
  const Tensor x = Tensor::ones({2, 3});
  CHECK_THROWS_AS(core::sum(x, 2), loom::ValueError);
  CHECK_THROWS_WITH(core::sum(x, 2), StartsWith("sum: axis 2 is out of range for shape (2, 3)"));
  CHECK_THROWS_WITH(core::max(x, -3), StartsWith("max: axis -3 is out of range"));
  CHECK_THROWS_WITH(core::max(Tensor::zeros({0})), StartsWith("max: x must not be empty"));
  CHECK_THROWS_WITH(core::mean(Tensor::zeros({2, 0}), 1), StartsWith("mean: the reduced axis is empty"));
  CHECK_THROWS_WITH(core::argmax(Tensor::zeros({3, 0}), 1), StartsWith("argmax: the reduced axis is empty"));
  CHECK_THROWS_AS(core::sum(Tensor::ones({3}, DType::i64)), loom::TypeError);
  CHECK_THROWS_WITH(core::softmax(Tensor::full({}, 1.0)), StartsWith("softmax: x must be at least 1-D"));
  CHECK_THROWS_WITH(core::softmax_backward(Tensor::ones({2}), Tensor::ones({3})),
                    StartsWith("softmax_backward: dy must have shape (3,); got (2,)"));
}
