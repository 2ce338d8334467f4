// SPDX-License-Identifier: Apache-2.0
// Measures backend::rnn with the seed's MinimalRNNCell written with ops (B=32, input 64, units 128):
// forward and forward+backward, loop node vs unrolled vs checkpointed, and the peak tensor memory.
#include <loom/loom.hpp>

#include <benchmark/benchmark.h>

namespace {

struct MinimalRNNCell {
  loom::Var kernel, recurrent;
  MinimalRNNCell()
      : kernel(loom::Var::variable(loom::Tensor::uniform({64, 128}, -0.1, 0.1), "kernel")),
        recurrent(loom::Var::variable(loom::Tensor::uniform({128, 128}, -0.1, 0.1), "recurrent_kernel")) {}
  loom::backend::StepFunction step() const {
    return [k = kernel, r = recurrent](const std::vector<loom::Var>& x, const std::vector<loom::Var>& s,
                                       const std::vector<loom::Var>&) {
      const loom::Var h = loom::matmul(x[0], k) + loom::matmul(s[0], r);
      return loom::backend::StepOutput(h, {h});
    };
  }
};

// Args: steps, mode (0 = loop node, 1 = unrolled, 2 = loop node with checkpoint_every = 10), backward.
void BM_RNN_MinimalCell(benchmark::State& state) {
  const std::int64_t steps = state.range(0);
  const int mode = static_cast<int>(state.range(1));
  const bool backward = state.range(2) != 0;
  const MinimalRNNCell cell;
  const loom::Var x(loom::Tensor::uniform({32, steps, 64}, -1, 1));
  const loom::Var h0(loom::Tensor::zeros({32, 128}));
  const loom::backend::LoopOptions options{.unroll = mode == 1, .checkpoint_every = mode == 2 ? 10 : 0};
  std::size_t peak = 0;
  for (auto _ : state) {
    loom::reset_peak_memory();
    const std::size_t base = loom::memory_stats().current_bytes;
    if (backward) {
      loom::GradientTape tape;
      const auto r = loom::backend::rnn(cell.step(), {x}, {h0}, options);
      const auto g = tape.gradient(loom::mean(r.outputs), {cell.kernel, cell.recurrent});
      benchmark::DoNotOptimize(g[0].raw_data());
    } else {
      loom::NoGrad inference;
      benchmark::DoNotOptimize(loom::backend::rnn(cell.step(), {x}, {h0}, options).outputs.value().raw_data());
    }
    peak = std::max(peak, loom::memory_stats().peak_bytes - base);
  }
  state.counters["peak_MiB"] = static_cast<double>(peak) / (1 << 20);
  state.SetLabel(mode == 0 ? "loop" : mode == 1 ? "unrolled" : "loop+checkpoint10");
}

}  // namespace

BENCHMARK(BM_RNN_MinimalCell)
    ->ArgNames({"steps", "mode", "backward"})
    ->ArgsProduct({{100, 1000}, {0, 1, 2}, {0, 1}})
    ->Unit(benchmark::kMillisecond);
