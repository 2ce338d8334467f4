// SPDX-License-Identifier: Apache-2.0
// loom_bench_distributed: data-parallel training steps under `mpirun -np R` (1 thread per rank), for
// the two example models, with how much of each step was spent waiting for communication; and MPI's
// all-reduce itself at several sizes, whose times fit the alpha-beta model of docs/distributed.md.
// scripts/bench_distributed.sh runs it at 1 and 2 ranks and prints the table.
//
// Every rank runs every benchmark for a fixed number of iterations (collectives must line up across
// ranks); rank 0 alone reports.
#include <benchmark/benchmark.h>

#include <loom/distributed/multi_worker.hpp>
#include <loom/loom.hpp>

#include <mpi.h>

namespace {

using loom::distributed::MultiWorkerStrategy;

std::shared_ptr<MultiWorkerStrategy> strategy() {
  static auto s = std::make_shared<MultiWorkerStrategy>();
  return s;
}

void report_communication(benchmark::State& state, const MultiWorkerStrategy& s, double bytes_per_step) {
  const auto steps = static_cast<double>(state.iterations());
  state.counters["ranks"] = s.world_size();
  state.counters["grad_MB"] = bytes_per_step / 1e6;
  state.counters["wait_ms"] = 1e3 * s.stats().gradient_wait_seconds / steps;
  state.counters["all_wait_ms"] = 1e3 * s.stats().wait_seconds / steps;
}

// The fashion_mnist example's model: LSTM(128) over 28 rows of 28 pixels, Dense(10), Adam; a global
// batch of 64 images (32 per rank on 2 ranks).
void BM_FashionMnistStep(benchmark::State& state) {
  loom::set_num_threads(1);
  const auto s = strategy();
  loom::manual_seed(1);
  const std::int64_t global = 64;
  loom::Generator gen(2);
  const loom::Tensor x = loom::Tensor::uniform({global, 28, 28}, 0, 1, loom::DType::f32, &gen);
  std::vector<std::int64_t> labels(global);
  for (std::int64_t i = 0; i < global; ++i) labels[static_cast<std::size_t>(i)] = i % 10;
  const loom::Tensor y = loom::Tensor::from_vector(labels, {global});
  loom::Model model(std::make_shared<loom::Sequential>(std::vector<std::shared_ptr<loom::Layer>>{
      std::make_shared<loom::LSTM>(128), std::make_shared<loom::Dense>(10)}));
  model.compile(std::make_shared<loom::Adam>(), loom::losses::sparse_categorical_crossentropy(true));
  model.distribute(s);
  model.train_on_batch(x, y);  // builds, broadcasts and warms up
  s->barrier();
  s->reset_stats();
  for (auto _ : state) model.train_on_batch(x, y);
  report_communication(state, *s, static_cast<double>(s->stats().gradient_bytes) / static_cast<double>(state.iterations()));
  state.SetLabel("fashion_mnist LSTM(128) global batch 64");
}

// The char_lm example's model: Embedding(80, 32), LSTM(256), Dense(80), Adam; one truncated-BPTT
// window of 100 steps over 64 streams (32 per rank on 2 ranks).
void BM_CharLMWindow(benchmark::State& state) {
  loom::set_num_threads(1);
  const auto s = strategy();
  loom::manual_seed(1);
  const std::int64_t streams = 64, bptt = 100, vocab = 80, units = 256;
  loom::Generator gen(3);
  const loom::Tensor u = loom::Tensor::uniform({streams, bptt + 1}, 0, static_cast<double>(vocab), loom::DType::f64, &gen);
  std::vector<std::int64_t> ids(static_cast<std::size_t>(u.numel()));
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<std::int64_t>(u.data<double>()[i]) % vocab;
  const loom::Tensor all = loom::Tensor::from_vector(ids, {streams, bptt + 1});
  const loom::Tensor in = loom::core::slice(all, 1, 0, bptt), out = loom::core::slice(all, 1, 1, bptt);
  auto embedding = std::make_shared<loom::Embedding>(vocab, 32);
  auto lstm = std::make_shared<loom::LSTM>(units, loom::LSTMCellOptions{}, loom::RNNOptions{.return_sequences = true});
  auto head = std::make_shared<loom::Dense>(vocab);
  embedding->build_for({streams, bptt});
  lstm->build_for({streams, bptt, 32});
  head->build_for({streams, bptt, units});
  std::vector<loom::Var> weights;
  for (const loom::Layer* l : {static_cast<loom::Layer*>(embedding.get()), static_cast<loom::Layer*>(lstm.get()),
                               static_cast<loom::Layer*>(head.get())})
    for (const loom::Var& w : l->trainable_weights()) weights.push_back(w);
  loom::Adam adam;
  const auto model = [&](const loom::Var& x, const std::vector<loom::Var>& states, bool training) {
    const loom::RNNOutput o = lstm->call((*embedding)(x), {.training = training, .initial_state = states});
    return loom::SequenceOutput{(*head)(o.output), o.states};
  };
  loom::TruncatedBPTT trainer(model, weights, adam,
                              [](const loom::Tensor& t, const loom::Var& p) {
                                return loom::sparse_categorical_crossentropy(t, p, true);
                              },
                              {.k1 = bptt, .strategy = s});
  trainer.reset({loom::Tensor::zeros({streams, units}), loom::Tensor::zeros({streams, units})});
  trainer.train(in, out);  // warm-up
  s->barrier();
  s->reset_stats();
  for (auto _ : state) trainer.train(in, out);
  report_communication(state, *s, static_cast<double>(s->stats().gradient_bytes) / static_cast<double>(state.iterations()));
  state.SetLabel("char_lm LSTM(256) 64 streams x 100 steps");
}

// MPI_Allreduce of `bytes` of floats, blocking, on loom's kind of communicator.
void BM_Allreduce(benchmark::State& state) {
  const auto n = static_cast<int>(state.range(0) / 4);
  std::vector<float> buffer(static_cast<std::size_t>(std::max(n, 1)), 1.0f);
  MPI_Comm comm;
  MPI_Comm_dup(MPI_COMM_WORLD, &comm);
  int size = 1;
  MPI_Comm_size(comm, &size);
  MPI_Barrier(comm);
  for (auto _ : state) MPI_Allreduce(MPI_IN_PLACE, buffer.data(), n, MPI_FLOAT, MPI_SUM, comm);
  MPI_Comm_free(&comm);
  state.counters["ranks"] = size;
  state.counters["bytes"] = static_cast<double>(state.range(0));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}

// Rank 0 reports; the other ranks run the same benchmarks silently.
class Silent final : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>&) override {}
};

}  // namespace

BENCHMARK(BM_FashionMnistStep)->Iterations(60)->Repetitions(3)->ReportAggregatesOnly(true)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CharLMWindow)->Iterations(8)->Repetitions(3)->ReportAggregatesOnly(true)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Allreduce)->RangeMultiplier(8)->Range(8, 8 << 20)->Iterations(200)->UseRealTime()->Unit(benchmark::kMicrosecond);

int main(int argc, char** argv) {
  loom::distributed::Environment mpi(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (mpi.rank() == 0) {
    benchmark::RunSpecifiedBenchmarks();
  } else {
    Silent silent;
    benchmark::RunSpecifiedBenchmarks(&silent);
  }
  benchmark::Shutdown();
  return 0;
}
