// SPDX-License-Identifier: Apache-2.0
// Measures the tape's overhead on tiny (8-element) ops — forward+record and backward per node — and
// one MLP training step (forward + backward).
#include <loom/loom.hpp>

#include <benchmark/benchmark.h>

namespace {

constexpr int kChain = 1000;

// Seconds per op (shown with an SI prefix, e.g. "198n"): time over iterations × ops per iteration.
benchmark::Counter per_op(const benchmark::State& state, int ops) {
  return benchmark::Counter(static_cast<double>(state.iterations()) * ops,
                            benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// A chain of kChain tiny element-wise ops, alternating a unary and a binary op.
loom::Var chain(const loom::Var& x, const loom::Var& c) {
  loom::Var h = x;
  for (int i = 0; i < kChain / 2; ++i) h = loom::tanh(h) * c;
  return h;
}

void BM_Autograd_RecordTinyOp(benchmark::State& state) {
  const loom::Var x = loom::Var::variable(loom::Tensor::uniform({8}), "x");
  const loom::Var c(loom::Tensor::full({8}, 0.9));
  for (auto _ : state) {
    loom::GradientTape tape;
    benchmark::DoNotOptimize(chain(x, c).value().raw_data());
  }
  state.counters["per_op"] = per_op(state, kChain);
}

void BM_Autograd_EagerTinyOp(benchmark::State& state) {  // the same ops with no tape: the kernel cost alone
  const loom::Var x(loom::Tensor::uniform({8}));
  const loom::Var c(loom::Tensor::full({8}, 0.9));
  for (auto _ : state) benchmark::DoNotOptimize(chain(x, c).value().raw_data());
  state.counters["per_op"] = per_op(state, kChain);
}

void BM_Autograd_BackwardTinyOp(benchmark::State& state) {
  const loom::Var x = loom::Var::variable(loom::Tensor::uniform({8}), "x");
  const loom::Var c(loom::Tensor::full({8}, 0.9));
  for (auto _ : state) {
    state.PauseTiming();
    auto tape = std::make_unique<loom::GradientTape>();
    const loom::Var y = loom::sum(chain(x, c));
    state.ResumeTiming();
    benchmark::DoNotOptimize(tape->gradient(y, {x})[0].raw_data());
    state.PauseTiming();
    tape.reset();
    state.ResumeTiming();
  }
  state.counters["per_node"] = per_op(state, kChain + 1);
}

void BM_Autograd_MLPStep(benchmark::State& state) {
  loom::Generator gen(1);
  const std::int64_t batch = state.range(0);
  const loom::Var w1 = loom::Var::variable(loom::Tensor::uniform({256, 512}, -0.05, 0.05, loom::DType::f32, &gen), "w1");
  const loom::Var b1 = loom::Var::variable(loom::Tensor::zeros({512}), "b1");
  const loom::Var w2 = loom::Var::variable(loom::Tensor::uniform({512, 10}, -0.05, 0.05, loom::DType::f32, &gen), "w2");
  const loom::Var x(loom::Tensor::uniform({batch, 256}, -1, 1, loom::DType::f32, &gen));
  const loom::Tensor labels = loom::core::argmax(loom::Tensor::uniform({batch, 10}, 0, 1, loom::DType::f32, &gen), 1);
  for (auto _ : state) {
    loom::GradientTape tape;
    const loom::Var logits = loom::matmul(loom::relu(loom::matmul(x, w1) + b1), w2);
    const loom::Var loss = loom::sparse_categorical_crossentropy(labels, logits, true);
    benchmark::DoNotOptimize(tape.gradient(loss, {w1, b1, w2})[0].raw_data());
  }
}

}  // namespace

BENCHMARK(BM_Autograd_RecordTinyOp);
BENCHMARK(BM_Autograd_EagerTinyOp);
BENCHMARK(BM_Autograd_BackwardTinyOp);
BENCHMARK(BM_Autograd_MLPStep)->ArgName("batch")->Arg(64)->Arg(256);
