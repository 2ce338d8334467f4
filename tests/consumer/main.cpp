// SPDX-License-Identifier: Apache-2.0
// Built against the installed package: includes <loom/loom.hpp>, links loom::loom, checks a product
// and runs the README's recurrent-loop snippet.
#include <loom/loom.hpp>

#include <cstdio>

using namespace loom;

int main() {
  const Tensor a = Tensor::of({1, 2, 3, 4}, {2, 2});
  const Tensor c = core::matmul(a, a);  // [[7, 10], [15, 22]]
  const bool product_ok = c.get({0, 0}) == 7 && c.get({0, 1}) == 10 && c.get({1, 0}) == 15 && c.get({1, 1}) == 22;

  Var kernel = Var::variable(Tensor::uniform({5, 32}, -0.3, 0.3), "kernel");
  Var recurrent = Var::variable(Tensor::uniform({32, 32}, -0.3, 0.3), "recurrent_kernel");
  auto step = [&](const std::vector<Var>& x, const std::vector<Var>& states, const std::vector<Var>&) {
    Var h = tanh(matmul(x[0], kernel) + matmul(states[0], recurrent));
    return backend::StepOutput(h, {h});
  };
  Var x(Tensor::uniform({8, 20, 5}));
  Tensor mask = Tensor::ones({8, 20});
  GradientTape tape;
  auto r = backend::rnn(step, {x}, {Var(Tensor::zeros({8, 32}))}, {.go_backwards = true, .mask = mask});
  Var loss = mean(r.last_output);
  auto grads = tape.gradient(loss, {kernel, recurrent});
  const bool rnn_ok = r.outputs.shape() == Shape{8, 20, 32} && grads[0].shape() == Shape{5, 32} &&
                      core::sum(core::mul(grads[1], grads[1])).item() > 0.0;

  std::printf("consumer: product %s, rnn %s\n", product_ok ? "ok" : "wrong", rnn_ok ? "ok" : "wrong");
  return product_ok && rnn_ok ? 0 : 1;
}
