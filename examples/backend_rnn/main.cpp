// SPDX-License-Identifier: Apache-2.0
// Trains a small tanh RNN written as a step function for backend::rnn, with plain SGD, to predict the
// mean of a variable-length sequence (padded steps masked out). Shows the loop node, masking and BPTT.
//
//   loom_example_backend_rnn [--steps N] [--seed S]
#include <loom/loom.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

using namespace loom;

namespace {

constexpr std::int64_t kBatch = 32, kTime = 20, kUnits = 16;

struct Batch {
  Var x;          // (B, T, 1) values in [-1, 1), zero after each sequence's end
  Tensor mask;    // (B, T): 1 on real steps
  Var target;     // (B, 1): the mean of the real steps
};

Batch make_batch(Generator& gen) {
  Tensor x = Tensor::uniform({kBatch, kTime, 1}, -1.0, 1.0, DType::f32, &gen);
  Tensor mask = Tensor::zeros({kBatch, kTime});
  Tensor target = Tensor::zeros({kBatch, 1});
  const Tensor lengths = Tensor::uniform({kBatch}, 5.0, static_cast<double>(kTime) + 1.0, DType::f32, &gen);
  for (std::int64_t b = 0; b < kBatch; ++b) {
    const auto len = static_cast<std::int64_t>(lengths.get({b}));
    double total = 0;
    for (std::int64_t t = 0; t < kTime; ++t) {
      if (t < len) {
        mask.at<float>({b, t}) = 1.0f;
        total += x.get({b, t, 0});
      } else {
        x.at<float>({b, t, 0}) = 0.0f;
      }
    }
    target.at<float>({b, 0}) = static_cast<float>(total / static_cast<double>(len));
  }
  return {Var(x), mask, Var(target)};
}

}  // namespace

int main(int argc, char** argv) {
  int steps = 600;
  std::uint64_t seed = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--steps") == 0) steps = std::atoi(argv[i + 1]);
    else if (std::strcmp(argv[i], "--seed") == 0) seed = std::strtoull(argv[i + 1], nullptr, 10);
    else {
      std::fprintf(stderr, "usage: %s [--steps N] [--seed S]\n", argv[0]);
      return 2;
    }
  }
  manual_seed(seed);
  Generator data(seed, 1);
  const double init = 1.0 / std::sqrt(static_cast<double>(kUnits));
  Var kernel = Var::variable(Tensor::uniform({1, kUnits}, -1.0, 1.0), "kernel");
  Var recurrent = Var::variable(Tensor::uniform({kUnits, kUnits}, -init, init), "recurrent_kernel");
  Var bias = Var::variable(Tensor::zeros({kUnits}), "bias");
  Var readout = Var::variable(Tensor::uniform({kUnits, 1}, -init, init), "readout");
  const std::vector<Var> params{kernel, recurrent, bias, readout};

  auto step = [&](const std::vector<Var>& x, const std::vector<Var>& s, const std::vector<Var>&) {
    const Var h = tanh(matmul(x[0], kernel) + matmul(s[0], recurrent) + bias);
    return backend::StepOutput(h, {h});
  };

  const auto start = std::chrono::steady_clock::now();
  double first = 0, last = 0, baseline = 0;
  for (int it = 1; it <= steps; ++it) {
    const Batch b = make_batch(data);
    GradientTape tape;
    const auto r = backend::rnn(step, {b.x}, {Var(Tensor::zeros({kBatch, kUnits}))}, {.mask = b.mask});
    const Var loss = mse(b.target, matmul(r.last_output, readout));
    const std::vector<Tensor> grads = tape.gradient(loss, params);
    for (std::size_t i = 0; i < params.size(); ++i) {  // plain SGD; optimizers arrive with loom::optim
      Tensor w = params[i].value();
      core::axpy_(w, -0.1, grads[i]);
    }
    last = loss.value().item();
    baseline = core::mean(core::mul(b.target.value(), b.target.value())).item();  // the loss of predicting 0
    if (it == 1) first = last;
    if (it == 1 || it % 50 == 0) std::printf("step %4d  loss %.5f\n", it, last);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("trained %d steps in %.2f s: loss %.5f -> %.5f (predicting 0 scores %.5f on the last batch)\n", steps,
              seconds, first, last, baseline);
  return last < first ? 0 : 1;
}
