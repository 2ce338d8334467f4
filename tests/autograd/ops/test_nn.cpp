// SPDX-License-Identifier: Apache-2.0
// dropout: the inverted-dropout rule, its mask statistics and reuse, gradients, errors.
#include "support/gradcheck.hpp"

using namespace loom;
using Catch::Matchers::StartsWith;
using testing::check_gradients;
using testing::input64;

TEST_CASE("dropout: kept elements are scaled by 1/(1 - rate), the rest are zero", "[autograd][ops]") {
  Generator gen(3);
  const Var x(Tensor::ones({200, 50}));
  const Tensor y = dropout(x, 0.25, true, gen).value();
  std::int64_t kept = 0;
  for (float v : y.to_vector<float>()) {
    CHECK((v == 0.0f || v == Approx(1.0 / 0.75)));
    kept += v != 0.0f;
  }
  CHECK(std::abs(static_cast<double>(kept) / 10000.0 - 0.75) < 0.025);  // 5 σ for n = 10000
  CHECK(dropout(x, 0.25, false).is(x));  // inference: identity
  CHECK(dropout(x, 0.0, true).is(x));
  // The same generator position gives the same mask (reproducible training).
  Generator g1(9), g2(9);
  CHECK(testing::bitwise_equal(dropout(x, 0.5, true, g1).value(), dropout(x, 0.5, true, g2).value()));
  const Tensor m = dropout_mask({4, 3}, 0.5);
  for (float v : m.to_vector<float>()) CHECK((v == 0.0f || v == 2.0f));
}

TEST_CASE("dropout: gradients flow through the kept elements only", "[autograd][ops][gradcheck]") {
  const Tensor mask = dropout_mask({3, 4}, 0.5, DType::f64);
  check_gradients([&](auto& v) { return apply_mask(v[0], mask); }, {input64({3, 4}, 1)});
  const Tensor row_mask = dropout_mask({4}, 0.3, DType::f64);  // one mask broadcast over the batch
  check_gradients([&](auto& v) { return apply_mask(tanh(v[0]), row_mask); }, {input64({3, 4}, 2)});
  // The mask dropout draws is the one its backward uses: with the generator position restored, the
  // gradient equals the mask itself.
  Generator gen(5);
  const Var x(Tensor::ones({6, 7}, DType::f64));
  GradientTape tape;
  tape.watch(x);
  const Var y = dropout(x, 0.4, true, gen);
  const Tensor dx = tape.gradient(sum(y), {x})[0];
  CHECK(testing::bitwise_equal(dx, y.value()));
}

TEST_CASE("dropout: bad rates and masks throw", "[autograd][ops][errors]") {
  const Var x(Tensor::ones({2, 3}));
  CHECK_THROWS_AS(dropout(x, 1.0), ValueError);
  CHECK_THROWS_WITH(dropout(x, 1.0), StartsWith("dropout: rate must be in [0, 1); got 1"));
  CHECK_THROWS_WITH(dropout(x, -0.1, false), StartsWith("dropout: rate must be in [0, 1)"));
  CHECK_THROWS_WITH(apply_mask(x, Tensor::ones({3, 3})), StartsWith("dropout:"));
  CHECK_THROWS_AS(apply_mask(x, Tensor::ones({2, 3}, DType::f64)), TypeError);
}
