// SPDX-License-Identifier: Apache-2.0
// Golden test against torch: a two-layer network's loss and every gradient, in f64, to 1e-10.
#include "fixtures/golden_mlp.hpp"
#include "support/reference.hpp"

using namespace loom;
namespace fx = loom::fixtures::golden_mlp;

namespace {
template <std::size_t N, std::size_t R>
Tensor tensor(const double (&values)[N], const std::int64_t (&shape)[R]) {
  Shape s;
  for (std::int64_t d : shape) s.push_back(d);
  return Tensor::from_vector(std::vector<double>(values, values + N), s);
}
template <std::size_t N>
std::vector<double> vec(const double (&values)[N]) {
  return {values, values + N};
}
}  // namespace

TEST_CASE("autograd: a two-layer network matches torch's loss and gradients in f64", "[autograd][golden]") {
  const Var x(tensor(fx::x, fx::x_shape));
  const Var w1 = Var::variable(tensor(fx::w1, fx::w1_shape), "w1");
  const Var b1 = Var::variable(tensor(fx::b1, fx::b1_shape), "b1");
  const Var w2 = Var::variable(tensor(fx::w2, fx::w2_shape), "w2");
  const Var b2 = Var::variable(tensor(fx::b2, fx::b2_shape), "b2");
  const Tensor labels = tensor(fx::labels, fx::labels_shape).to(DType::i64);
  const Var target(tensor(fx::target, fx::target_shape));

  GradientTape tape;
  tape.watch(x);
  const Var logits = matmul(tanh(matmul(x, w1) + b1), w2) + b2;
  const Var loss = sparse_categorical_crossentropy(labels, logits, true) + 0.1 * mse(target, sigmoid(logits));
  const auto g = tape.gradient(loss, {x, w1, b1, w2, b2});

  CHECK(loss.value().item() == Approx(fx::loss[0]).epsilon(0).margin(1e-10));
  testing::check_close(g[0], vec(fx::dx), 0, 1e-10);
  testing::check_close(g[1], vec(fx::dw1), 0, 1e-10);
  testing::check_close(g[2], vec(fx::db1), 0, 1e-10);
  testing::check_close(g[3], vec(fx::dw2), 0, 1e-10);
  testing::check_close(g[4], vec(fx::db2), 0, 1e-10);
}
