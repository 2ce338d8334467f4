// SPDX-License-Identifier: Apache-2.0
// Element-wise kernels against scalar f64 references, at sizes that exercise the vector tails.
#include <cmath>

#include "support/reference.hpp"

using loom::DType;
using loom::Tensor;
namespace core = loom::core;
using Catch::Matchers::StartsWith;

namespace {

// Sizes around the vector widths (8/16 floats, 4/8 doubles), one chunk boundary and a large run.
const std::vector<std::int64_t> kSizes = {0, 1, 3, 7, 8, 15, 16, 17, 31, 33, 100, 16384 + 5, 1 << 20};

// f32 results of transcendental functions are within a few ulp; 4e-7 relative (≈3 ulp) plus a tiny
// absolute term for values near zero. f64: 1e-14.
double rtol(DType d) { return d == DType::f32 ? 4e-7 : 1e-14; }
double atol(DType d) { return d == DType::f32 ? 1e-7 : 1e-15; }

std::vector<double> map1(const Tensor& x, double (*f)(double)) {
  std::vector<double> out;
  for (double v : x.to_vector<double>()) out.push_back(f(v));
  return out;
}

void check_unary(const char* name, Tensor (*op)(const Tensor&), double (*ref)(double), double lo, double hi) {
  for (DType dt : {DType::f32, DType::f64})
    for (std::int64_t n : kSizes) {
      CAPTURE(name, dt, n);
      loom::Generator gen(11);
      const Tensor x = Tensor::uniform({n}, lo, hi, dt, &gen);
      loom::testing::check_close(op(x), map1(x, ref), rtol(dt), atol(dt));
    }
}

double sigmoid_ref(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double hard_sigmoid_ref(double x) { return std::min(1.0, std::max(0.0, 0.2 * x + 0.5)); }
double relu_ref(double x) { return x > 0 ? x : 0.0; }
double neg_ref(double x) { return -x; }
double exp_ref(double x) { return std::exp(x); }
double log_ref(double x) { return std::log(x); }
double tanh_ref(double x) { return std::tanh(x); }

}  // namespace

TEST_CASE("elementwise: activations match scalar references at every tail length", "[core][elementwise]") {
  check_unary("tanh", core::tanh, tanh_ref, -6, 6);
  check_unary("sigmoid", core::sigmoid, sigmoid_ref, -20, 20);
  check_unary("hard_sigmoid", core::hard_sigmoid, hard_sigmoid_ref, -4, 4);
  check_unary("relu", core::relu, relu_ref, -1, 1);
  check_unary("neg", core::neg, neg_ref, -1, 1);
  check_unary("exp", core::exp, exp_ref, -20, 20);
  check_unary("log", core::log, log_ref, 1e-3, 100);
}

TEST_CASE("elementwise: sigmoid and tanh saturate without NaN", "[core][elementwise]") {
  const Tensor x = Tensor::of({-1000, -100, -30, 0, 30, 100, 1000}, {7});
  loom::testing::check_close(core::sigmoid(x), {0, 0, sigmoid_ref(-30), 0.5, 1, 1, 1}, 1e-6, 1e-30);
  loom::testing::check_close(core::tanh(x), {-1, -1, -1, 0, 1, 1, 1}, 0, 1e-7);
  loom::testing::check_close(core::hard_sigmoid(Tensor::of({-2.5, 2.5, 1}, {3})), {0, 1, 0.7}, 1e-6, 1e-7);
}

TEST_CASE("elementwise: binary ops with equal shapes, rows and scalars", "[core][elementwise]") {
  for (DType dt : {DType::f32, DType::f64})
    for (std::int64_t cols : {1, 5, 16, 33}) {
      CAPTURE(dt, cols);
      const Tensor a = loom::testing::random({7, 3, cols}, dt, 1);
      const Tensor b = loom::testing::random({7, 3, cols}, dt, 2) + 2.0;  // away from zero for div
      const Tensor row = loom::testing::random({cols}, dt, 3) + 2.0;
      const Tensor slab = loom::testing::random({1, 3, cols}, dt, 4);
      const auto av = a.to_vector<double>(), bv = b.to_vector<double>(), rv = row.to_vector<double>(),
                 sv = slab.to_vector<double>();
      std::vector<double> add, sub, mul, div, add_row, div_row_left, sub_slab, mul_s, rsub_s, rdiv_s;
      for (std::size_t i = 0; i < av.size(); ++i) {
        const std::size_t j = i % cols, s = i % (3 * cols);
        add.push_back(av[i] + bv[i]);
        sub.push_back(av[i] - bv[i]);
        mul.push_back(av[i] * bv[i]);
        div.push_back(av[i] / bv[i]);
        add_row.push_back(av[i] + rv[j]);
        div_row_left.push_back(rv[j] / bv[i]);
        sub_slab.push_back(av[i] - sv[s]);
        mul_s.push_back(av[i] * 2.5);
        rsub_s.push_back(1.0 - av[i]);
        rdiv_s.push_back(3.0 / bv[i]);
      }
      // One correctly rounded operation: exact up to the final rounding (0.5 ulp).
      const double r = dt == DType::f32 ? 6e-8 : 1.2e-16;
      loom::testing::check_close(a + b, add, r, 0);
      loom::testing::check_close(a - b, sub, r, 0);
      loom::testing::check_close(a * b, mul, r, 0);
      loom::testing::check_close(a / b, div, r, 0);
      loom::testing::check_close(a + row, add_row, r, 0);
      loom::testing::check_close(row + a, add_row, r, 0);
      loom::testing::check_close(row / b, div_row_left, r, 0);
      loom::testing::check_close(a - slab, sub_slab, r, 0);
      loom::testing::check_close(a * 2.5, mul_s, r, 0);
      loom::testing::check_close(2.5 * a, mul_s, r, 0);
      loom::testing::check_close(1.0 - a, rsub_s, r, 0);
      loom::testing::check_close(3.0 / b, rdiv_s, r, 0);
      CHECK((a + row).shape() == a.shape());
      CHECK((row * a).shape() == a.shape());
    }
}

TEST_CASE("elementwise: out forms write in place and may alias an operand", "[core][elementwise]") {
  Tensor a = Tensor::of({1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor row = Tensor::of({10, 20, 30}, {3});
  core::add(a, row, a);
  loom::testing::check_close(a, {11, 22, 33, 14, 25, 36}, 0, 0);
  core::add_(a, Tensor::of({1}, {1}));
  loom::testing::check_close(a, {12, 23, 34, 15, 26, 37}, 0, 0);
  core::axpy_(a, -2.0, Tensor::ones({2, 3}));
  loom::testing::check_close(a, {10, 21, 32, 13, 24, 35}, 0, 0);
  Tensor out = Tensor::empty({2, 3});
  core::tanh(Tensor::zeros({2, 3}), out);
  loom::testing::check_close(out, std::vector<double>(6, 0.0), 0, 0);
}

TEST_CASE("elementwise: fused derivatives match their formulas", "[core][elementwise]") {
  for (DType dt : {DType::f32, DType::f64}) {
    const Tensor dy = loom::testing::random({4, 37}, dt, 1);
    const Tensor x = loom::testing::random({4, 37}, dt, 2) * 4.0;
    const Tensor yt = core::tanh(x), ys = core::sigmoid(x), yr = core::relu(x);
    const auto d = dy.to_vector<double>(), xv = x.to_vector<double>(), t = yt.to_vector<double>(),
               s = ys.to_vector<double>(), r = yr.to_vector<double>();
    std::vector<double> gt, gs, gr, gh;
    for (std::size_t i = 0; i < d.size(); ++i) {
      gt.push_back(d[i] * (1 - t[i] * t[i]));
      gs.push_back(d[i] * s[i] * (1 - s[i]));
      gr.push_back(r[i] > 0 ? d[i] : 0.0);
      gh.push_back(xv[i] > -2.5 && xv[i] < 2.5 ? 0.2 * d[i] : 0.0);
    }
    const double tol = dt == DType::f32 ? 3e-7 : 1e-15;
    loom::testing::check_close(core::tanh_backward(dy, yt), gt, tol, tol);
    loom::testing::check_close(core::sigmoid_backward(dy, ys), gs, tol, tol);
    loom::testing::check_close(core::relu_backward(dy, yr), gr, tol, tol);
    loom::testing::check_close(core::hard_sigmoid_backward(dy, x), gh, tol, tol);
  }
}

TEST_CASE("elementwise: bad shapes and dtypes throw ValueError/TypeError naming the op", "[core][elementwise][errors]") {
  const Tensor a = Tensor::ones({2, 3}), b = Tensor::ones({2, 4});
  CHECK_THROWS_AS(core::add(a, b), loom::ValueError);
  CHECK_THROWS_WITH(core::add(a, b), StartsWith("add: shapes (2, 3) and (2, 4) do not broadcast"));
  CHECK_THROWS_WITH(core::mul(Tensor::ones({3, 2}), Tensor::ones({3})), StartsWith("mul: shapes (3, 2) and (3,)"));
  CHECK_THROWS_AS(core::sub(a, Tensor::ones({2, 3}, DType::f64)), loom::TypeError);
  CHECK_THROWS_WITH(core::div(a, Tensor::ones({2, 3}, DType::f64)), StartsWith("div: operands must share a dtype"));
  CHECK_THROWS_WITH(core::tanh(Tensor::ones({2}, DType::i64)), StartsWith("tanh: expected a floating dtype"));
  Tensor out = Tensor::zeros({3, 2});
  CHECK_THROWS_WITH(core::add(a, a, out), StartsWith("add: out must have shape (2, 3); got (3, 2)"));
  for (float v : out.to_vector<float>()) CHECK(v == 0.0f);
  Tensor acc = Tensor::zeros({3});
  CHECK_THROWS_AS(core::add_(acc, a), loom::ValueError);
  CHECK_THROWS_WITH(core::tanh_backward(Tensor::ones({2}), Tensor::ones({3})),
                    StartsWith("tanh_backward: dy and its activation must have one shape"));
  CHECK_THROWS_WITH(core::add(Tensor(), a), StartsWith("add: a is an undefined tensor"));
}
