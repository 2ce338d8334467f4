// SPDX-License-Identifier: Apache-2.0
// gradcheck itself: passes correct ops, catches a wrong backward, reports the worst element, checks inputs.
#include "support/gradcheck.hpp"

#include <loom/autograd/record.hpp>

using namespace loom;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {
/// y = x³ with a deliberately wrong derivative (2x² instead of 3x²).
struct WrongCubeOp {
  static constexpr const char* name = "wrong_cube";
  Tensor x;
  Tensor forward(const Tensor& x_in) {
    x = x_in;
    return core::mul(core::mul(x, x), x);
  }
  void backward(const Tensor& dy, Grads& g) const { g.add(0, core::mul(core::mul(core::mul(x, x), 2.0), dy)); }
};
}  // namespace

TEST_CASE("gradcheck: catches a wrong backward and names the worst element", "[autograd][gradcheck]") {
  const Tensor x = testing::input64({2, 3}, 1);
  const GradcheckResult bad = gradcheck([](auto& v) { return record(WrongCubeOp{}, v[0]); }, {x});
  CHECK_FALSE(bad.ok);
  CHECK(bad.checked == 6);
  CHECK_THAT(bad.message, StartsWith("gradcheck FAILED on 6 elements"));
  CHECK(bad.analytical == Approx(bad.numerical * 2.0 / 3.0).epsilon(1e-5));
  const GradcheckResult good = gradcheck([](auto& v) { return v[0] * v[0] * v[0]; }, {x});
  CHECK(good.ok);
  CHECK_THAT(good.message, Contains("passed"));
}

TEST_CASE("gradcheck: checks a seeded subset above max_elements", "[autograd][gradcheck]") {
  const GradcheckResult r =
      gradcheck([](auto& v) { return tanh(v[0]); }, {testing::input64({40, 50}, 2)}, {.max_elements = 100});
  CHECK(r.ok);
  CHECK(r.checked == 100);
}

TEST_CASE("gradcheck: refuses non-f64 inputs", "[autograd][gradcheck][errors]") {
  CHECK_THROWS_AS(gradcheck([](auto& v) { return v[0]; }, {Tensor::ones({2})}), TypeError);
  CHECK_THROWS_WITH(gradcheck([](auto& v) { return v[0]; }, {Tensor::ones({2})}),
                    StartsWith("gradcheck: inputs[0] must be an f64 tensor; got f32"));
}
