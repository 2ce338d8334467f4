// SPDX-License-Identifier: Apache-2.0
// The recurrent training step every implementation in loom_bench runs (loom's and its peers'), so
// that rows pair up by name: forward, backward, the gradients of every weight and of the input, for
// loss = sum of all outputs, f32, batch-first, zero initial state. Weights are Keras-laid-out and
// generated here without loom, so that peers can start from the same values.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

namespace loom_bench {

enum class CellKind { lstm = 0, gru = 1, rnn = 2 };  // GRU: reset_after (= oneDNN's LBR GRU, torch's GRU)

struct StepSize {
  const char* name;
  std::int64_t batch, input, units, steps;
};

inline constexpr StepSize kStepSizes[] = {
    {"tiny", 1, 32, 32, 100},      {"small", 16, 64, 128, 100}, {"medium", 32, 128, 256, 50},
    {"large", 64, 512, 512, 50},   {"long", 16, 64, 128, 1000},
};

inline int gates(CellKind c) { return c == CellKind::lstm ? 4 : c == CellKind::gru ? 3 : 1; }
inline const char* cell_name(CellKind c) { return c == CellKind::lstm ? "LSTM" : c == CellKind::gru ? "GRU" : "RNN"; }

/// Keras weights: kernel (I, g·H), recurrent_kernel (H, g·H), bias (g·H), or (2, 3H) for the GRU.
struct KerasWeights {
  std::vector<float> kernel, recurrent, bias, input;  // input: (B, T, I)
};

inline std::vector<float> lcg_uniform(std::size_t n, std::uint64_t seed, float scale) {
  std::vector<float> v(n);
  std::uint64_t s = seed * 6364136223846793005ULL + 1442695040888963407ULL;
  for (float& x : v) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    x = scale * (static_cast<float>(s >> 40) / static_cast<float>(1ULL << 24) * 2.0f - 1.0f);
  }
  return v;
}

inline KerasWeights keras_weights(CellKind c, const StepSize& s) {
  const auto g = static_cast<std::size_t>(gates(c));
  const auto i = static_cast<std::size_t>(s.input), h = static_cast<std::size_t>(s.units);
  KerasWeights w;
  w.kernel = lcg_uniform(i * g * h, 1, 0.1f);
  w.recurrent = lcg_uniform(h * g * h, 2, 0.1f);
  w.bias = lcg_uniform((c == CellKind::gru ? 2 : 1) * g * h, 3, 0.1f);
  w.input = lcg_uniform(static_cast<std::size_t>(s.batch * s.steps) * i, 4, 1.0f);
  return w;
}

/// What a peer computed for one step, in Keras layouts: outputs (B, T, H) and the gradients of the
/// kernel, recurrent kernel, bias and input (loom_peer_check compares them with loom's).
class PeerStep {
 public:
  virtual ~PeerStep() = default;
  virtual std::vector<float> outputs() const = 0;
  virtual std::vector<float> d_kernel() const = 0;
  virtual std::vector<float> d_recurrent() const = 0;
  virtual std::vector<float> d_bias() const = 0;
  virtual std::vector<float> d_input() const = 0;
};

/// Args of every training-step benchmark: cell, size index, threads.
inline void step_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"cell", "size", "threads"});
  for (int threads : {1, 2})
    for (int size = 0; size < 5; ++size)
      for (int cell = 0; cell < 3; ++cell) b->Args({cell, size, threads});
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}

/// Args of the custom-cell benchmarks: the LSTM at every size and thread count.
inline void custom_lstm_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"cell", "size", "threads"});
  for (int threads : {1, 2})
    for (int size = 0; size < 5; ++size) b->Args({0, size, threads});
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}

inline void label_step(benchmark::State& state, const char* who) {
  const StepSize& s = kStepSizes[state.range(1)];
  state.SetLabel(std::string(who) + " " + cell_name(static_cast<CellKind>(state.range(0))) + " " + s.name);
}

}  // namespace loom_bench
