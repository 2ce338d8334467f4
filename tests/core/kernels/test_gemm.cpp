// SPDX-License-Identifier: Apache-2.0
// GEMM against a triple-loop f64 reference: all transposes, edge sizes, alpha/beta, packed B, errors.
#include <cmath>

#include "support/reference.hpp"

using loom::DType;
using loom::Tensor;
namespace core = loom::core;

namespace {

struct Ref {
  std::vector<double> value;  // alpha·op(A)·op(B) + beta·C in f64
  std::vector<double> scale;  // Σ_k |alpha·a_ik·b_kj| + |beta·c_ij|: the natural size of the rounding error
};

Ref reference(const Tensor& a, bool ta, const Tensor& b, bool tb, const Tensor& c0, double alpha, double beta) {
  const std::int64_t m = ta ? a.shape(1) : a.shape(0), k = ta ? a.shape(0) : a.shape(1);
  const std::int64_t n = tb ? b.shape(0) : b.shape(1);
  const auto av = a.to_vector<double>(), bv = b.to_vector<double>(), cv = c0.to_vector<double>();
  Ref r{std::vector<double>(m * n), std::vector<double>(m * n)};
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      double s = 0, mag = 0;
      for (std::int64_t p = 0; p < k; ++p) {
        const double x = ta ? av[p * m + i] : av[i * k + p];
        const double y = tb ? bv[j * k + p] : bv[p * n + j];
        s += x * y;
        mag += std::abs(x * y);
      }
      r.value[i * n + j] = alpha * s + (beta == 0 ? 0.0 : beta * cv[i * n + j]);
      r.scale[i * n + j] = std::abs(alpha) * mag + std::abs(beta * cv[i * n + j]);
    }
  return r;
}

// f32: |error| ≤ 1e-5·sqrt(K)·scale. The worst-case bound of a K-term dot product is K·u·scale
// (u = 6e-8); rounding errors behave like a random walk, ~sqrt(K)·u·scale, so 1e-5·sqrt(K) leaves a
// margin of over 100 while still catching any wrong term (which costs O(1/K) of the scale).
// f64: the same with 1e-13.
void check_gemm(std::int64_t m, std::int64_t n, std::int64_t k, bool ta, bool tb, DType dtype, double alpha,
                double beta) {
  CAPTURE(m, n, k, ta, tb, dtype, alpha, beta);
  const Tensor a = loom::testing::random(ta ? loom::Shape{k, m} : loom::Shape{m, k}, dtype, 1);
  const Tensor b = loom::testing::random(tb ? loom::Shape{n, k} : loom::Shape{k, n}, dtype, 2);
  Tensor c = loom::testing::random({m, n}, dtype, 3);
  const Ref r = reference(a, ta, b, tb, c, alpha, beta);
  core::gemm(a, ta, b, tb, c, alpha, beta);
  const double tol = (dtype == DType::f32 ? 1e-5 : 1e-13) * std::sqrt(static_cast<double>(std::max<std::int64_t>(k, 1)));
  const auto got = c.to_vector<double>();
  bool ok = true;
  std::size_t worst = 0;
  double worst_ratio = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double err = std::abs(got[i] - r.value[i]);
    const double allowed = tol * r.scale[i] + 1e-30;
    if (!(err <= allowed)) ok = false;
    if (err / allowed > worst_ratio) {
      worst_ratio = err / allowed;
      worst = i;
    }
  }
  INFO("worst element " << worst << " uses " << worst_ratio << " of its tolerance");
  CHECK(ok);
}

}  // namespace

TEST_CASE("gemm: all transpose variants match the f64 reference at edge and odd sizes", "[core][gemm]") {
  const std::vector<std::int64_t> sizes = {1, 2, 3, 7, 13, 31, 33, 97};
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (std::int64_t m : sizes)
        for (std::int64_t n : {1, 5, 17, 33, 64, 130})
          for (std::int64_t k : {1, 3, 29}) check_gemm(m, n, k, ta, tb, DType::f32, 1.0, 0.0);
}

TEST_CASE("gemm: sizes spanning several blocks in every dimension", "[core][gemm]") {
  // M > MC (several row tiles, B packed up front), N > NC, K > KC (several k-blocks): every loop runs
  // more than once and ends on a partial block.
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      check_gemm(211, 547, 293, ta, tb, DType::f32, 1.0, 0.0);
      check_gemm(211, 547, 293, ta, tb, DType::f64, 1.0, 0.0);
      // A single row tile: B (not transposed) is read in place over several k-blocks and column
      // tiles, with a last partial panel packed.
      check_gemm(7, 547, 293, ta, tb, DType::f32, 1.0, 0.0);
      check_gemm(12, 547, 293, ta, tb, DType::f64, 0.5, 0.25);
    }
  check_gemm(1024, 131, 601, false, false, DType::f32, 1.0, 0.0);
}

TEST_CASE("gemm: an element's bits do not depend on the columns beside it", "[core][gemm]") {
  // Products with a few rows run several column panels per micro-kernel call and products with many
  // rows pack A; neither may change the arithmetic. Columns [0, 17) of a wide product must equal the
  // product with only those columns, bit for bit, for raw and pre-packed B.
  for (DType dt : {DType::f32, DType::f64})
    for (bool ta : {false, true})
      for (std::int64_t m : {1, 2, 3, 5, 8, 13, 24, 25, 40}) {
        CAPTURE(dt, ta, m);
        const std::int64_t n = 300, k = 70, narrow = 17;
        const Tensor a = loom::testing::random(ta ? loom::Shape{k, m} : loom::Shape{m, k}, dt, 1);
        const Tensor b = loom::testing::random({k, n}, dt, 2);
        const Tensor b_narrow = core::slice(b, 1, 0, narrow);
        Tensor wide = Tensor::zeros({m, n}, dt), wide_packed = Tensor::zeros({m, n}, dt);
        Tensor part = Tensor::zeros({m, narrow}, dt);
        core::gemm(a, ta, b, false, wide);
        core::gemm(a, ta, core::PackedB::pack(b, false), wide_packed);
        core::gemm(a, ta, b_narrow, false, part);
        CHECK(loom::testing::bitwise_equal(wide, wide_packed));
        const auto w = wide.to_vector<double>(), p = part.to_vector<double>();
        bool same = true;
        for (std::int64_t i = 0; i < m; ++i)
          for (std::int64_t j = 0; j < narrow; ++j) same = same && w[i * n + j] == p[i * narrow + j];
        CHECK(same);
      }
}

TEST_CASE("gemm: alpha scales and beta accumulates into C", "[core][gemm]") {
  for (DType dt : {DType::f32, DType::f64})
    for (auto [alpha, beta] : {std::pair{1.0, 1.0}, {0.5, -2.0}, {-1.5, 0.25}, {2.0, 0.0}}) {
      check_gemm(37, 45, 300, false, false, dt, alpha, beta);
      check_gemm(5, 70, 11, true, true, dt, alpha, beta);
    }
}

TEST_CASE("gemm: f64 matches the reference on prime sizes", "[core][gemm]") {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) check_gemm(53, 61, 127, ta, tb, DType::f64, 1.0, 0.0);
}

TEST_CASE("gemm: zero-sized operands", "[core][gemm]") {
  // K = 0: C = beta·C (an empty sum); M or N = 0: nothing to do.
  Tensor a = Tensor::zeros({4, 0}), b = Tensor::zeros({0, 3});
  Tensor c = Tensor::full({4, 3}, 2.0);
  core::gemm(a, false, b, false, c, 1.0, 0.5);
  loom::testing::check_close(c, std::vector<double>(12, 1.0), 0, 0);
  core::gemm(a, false, b, false, c);
  loom::testing::check_close(c, std::vector<double>(12, 0.0), 0, 0);
  Tensor e = Tensor::zeros({0, 3});
  core::gemm(Tensor::zeros({0, 5}), false, Tensor::zeros({5, 3}), false, e);
  CHECK(e.numel() == 0);
}

TEST_CASE("gemm: beta = 0 never reads C", "[core][gemm]") {
  Tensor c = Tensor::full({6, 9}, std::nan(""));
  const Tensor a = loom::testing::random({6, 4}), b = loom::testing::random({4, 9}, DType::f32, 5);
  core::gemm(a, false, b, false, c);
  for (float v : c.to_vector<float>()) CHECK(std::isfinite(v));
}

TEST_CASE("gemm: a pre-packed B gives identical bits to the plain call", "[core][gemm]") {
  for (DType dt : {DType::f32, DType::f64})
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        // The plain call reads B in place when A has a single row tile (up to 12 rows), and packs
        // only a last partial panel: sizes with and without one, over several k-blocks and tiles.
        for (auto [m, n, k] : {std::tuple{1, 128, 32}, {16, 512, 128}, {200, 70, 600}, {7, 33, 3}, {12, 600, 700},
                               {3, 45, 300}, {1, 1, 1}}) {
          CAPTURE(dt, ta, tb, m, n, k);
          const Tensor a = loom::testing::random(ta ? loom::Shape{k, m} : loom::Shape{m, k}, dt, 1);
          const Tensor b = loom::testing::random(tb ? loom::Shape{n, k} : loom::Shape{k, n}, dt, 2);
          Tensor c1 = loom::testing::random({m, n}, dt, 3), c2 = c1.clone();
          core::gemm(a, ta, b, tb, c1, 0.75, 0.5);
          const core::PackedB packed = core::PackedB::pack(b, tb);
          CHECK(packed.k() == k);
          CHECK(packed.n() == n);
          core::gemm(a, ta, packed, c2, 0.75, 0.5);
          CHECK(loom::testing::bitwise_equal(c1, c2));
        }
}

TEST_CASE("matmul: batched (B, T, K) · (K, N) and the nt/tn forms", "[core][gemm]") {
  const Tensor x = loom::testing::random({3, 4, 5}, DType::f64, 1), w = loom::testing::random({5, 6}, DType::f64, 2);
  const Tensor y = core::matmul(x, w);
  CHECK(y.shape() == loom::Shape{3, 4, 6});
  const auto xv = x.to_vector<double>(), wv = w.to_vector<double>();
  std::vector<double> ref(3 * 4 * 6, 0.0);
  for (int r = 0; r < 12; ++r)
    for (int j = 0; j < 6; ++j)
      for (int p = 0; p < 5; ++p) ref[r * 6 + j] += xv[r * 5 + p] * wv[p * 6 + j];
  loom::testing::check_close(y, ref, 1e-14, 1e-14);
  // a · bᵀ with b = wᵀ gives the same product; aᵀ · b sums over all leading rows.
  loom::testing::check_close(core::matmul_nt(x, w.transpose()), ref, 1e-14, 1e-14);
  const Tensor g = core::matmul_tn(x, y);
  CHECK(g.shape() == loom::Shape{5, 6});
  std::vector<double> gref(30, 0.0);
  for (int r = 0; r < 12; ++r)
    for (int i = 0; i < 5; ++i)
      for (int j = 0; j < 6; ++j) gref[i * 6 + j] += xv[r * 5 + i] * ref[r * 6 + j];
  loom::testing::check_close(g, gref, 1e-13, 1e-13);
}

TEST_CASE("gemm: bad shapes and dtypes throw and leave C untouched", "[core][gemm][errors]") {
  using Catch::Matchers::StartsWith;
  const Tensor a = Tensor::ones({2, 3}), b = Tensor::ones({4, 5});
  Tensor c = Tensor::full({2, 5}, 7.0);
  CHECK_THROWS_AS(core::gemm(a, false, b, false, c), loom::ValueError);
  CHECK_THROWS_WITH(core::gemm(a, false, b, false, c), StartsWith("gemm: inner dimensions differ"));
  Tensor wrong_c = Tensor::full({3, 5}, 7.0);
  CHECK_THROWS_WITH(core::gemm(a, false, Tensor::ones({3, 5}), false, wrong_c),
                    StartsWith("gemm: c must have shape (2, 5); got (3, 5)"));
  CHECK_THROWS_WITH(core::gemm(Tensor::ones({2, 3, 1}), false, b, false, c),
                    StartsWith("gemm: a must be 2-D; got shape (2, 3, 1)"));
  CHECK_THROWS_AS(core::gemm(a, false, Tensor::ones({3, 5}, DType::f64), false, c), loom::TypeError);
  CHECK_THROWS_AS(core::gemm(Tensor::ones({2, 3}, DType::i64), false, Tensor::ones({3, 5}, DType::i64), false, c),
                  loom::TypeError);
  for (float v : c.to_vector<float>()) CHECK(v == 7.0f);
  CHECK_THROWS_WITH(core::matmul(a, b), StartsWith("matmul: inner dimensions differ: (2, 3) · (4, 5)"));
  CHECK_THROWS_WITH(core::matmul(Tensor::ones({3}), b), StartsWith("matmul: a must be at least 2-D"));
  CHECK_THROWS_WITH(core::matmul_nt(a, b), StartsWith("matmul_nt: inner dimensions differ"));
  CHECK_THROWS_WITH(core::matmul_tn(a, b), StartsWith("matmul_tn: leading extents differ"));
  CHECK_THROWS_WITH(core::PackedB::pack(Tensor::ones({3})), StartsWith("PackedB.pack: b must be 2-D"));
  const core::PackedB p = core::PackedB::pack(Tensor::ones({4, 5}));
  CHECK_THROWS_WITH(core::gemm(a, false, p, c), StartsWith("gemm: inner dimensions differ"));
}
