// SPDX-License-Identifier: Apache-2.0
// Built against the installed package (static or shared): includes <loom/loom.hpp>, links
// loom::loom, checks a product, runs the README's recurrent-loop snippet, trains a small model and
// catches an error thrown inside the library (its type must cross a shared library's boundary).
#include <loom/loom.hpp>

#include <cstdio>
#include <cstring>

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

  manual_seed(1);
  const Tensor xs = Tensor::uniform({64, 6, 2}, -1, 1);
  Tensor ys = Tensor::zeros({64, 1});
  for (std::int64_t i = 0; i < 64; ++i) ys.data<float>()[i] = xs.data<float>()[i * 12] > 0 ? 1.0f : 0.0f;
  Model model(Sequential({LSTM(8), Dense(1)}));
  model.compile("adam", losses::binary_crossentropy(/*from_logits=*/true), {"accuracy"});
  const History h = model.fit(xs, ys, {.epochs = 2, .batch_size = 16, .verbose = 0});
  const bool model_ok = h.history.at("loss").size() == 2;

  bool error_ok = false;
  try {
    core::matmul(Tensor::zeros({2, 3}), Tensor::zeros({4, 5}));
  } catch (const ValueError& e) {
    error_ok = std::strstr(e.what(), "inner dimensions differ") != nullptr;
  }
  const bool version_ok = std::strcmp(library_version(), LOOM_VERSION_STRING) == 0;

  std::printf("consumer: loom %s (kernels %.*s): product %s, rnn %s, model %s, error %s, version %s\n",
              library_version(), static_cast<int>(cpu_isa().size()), cpu_isa().data(), product_ok ? "ok" : "wrong",
              rnn_ok ? "ok" : "wrong", model_ok ? "ok" : "wrong", error_ok ? "ok" : "wrong", version_ok ? "ok" : "wrong");
  return product_ok && rnn_ok && model_ok && error_ok && version_ok ? 0 : 1;
}
