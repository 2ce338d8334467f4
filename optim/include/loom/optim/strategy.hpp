// SPDX-License-Identifier: Apache-2.0
// The training loop's hook for data parallelism: how replicas agree on weights, gradients and logs.
#pragma once

#include <algorithm>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "loom/autograd/var.hpp"
#include "loom/core/export.hpp"
#include "loom/core/random.hpp"

namespace loom LOOM_API {

/// How `Model::fit`, `evaluate`, `predict`, `TruncatedBPTT` and checkpoints spread their work over
/// several replicas of one model, one per process (a rank). Nothing here knows how the ranks talk:
/// `loom::distributed::MultiWorkerStrategy` implements it over MPI, and a test or another transport can
/// implement it too. Without a strategy (the default) everything runs in this one process.
///
/// The rules every implementation keeps, and the training loop relies on:
/// - Every rank calls the same collective operations in the same order with the same sizes; each
///   returns the same values on every rank.
/// - `reduce_gradients` sums over ranks. The loop scales each rank's gradients by its share of the
///   global batch first, so the sum is the gradient of the global batch's mean loss.
/// - The data of a global batch of n rows is cut into contiguous blocks, rank r taking `shard(n, r)`.
class Strategy {
 public:
  virtual ~Strategy() = default;
  virtual int rank() const noexcept = 0;
  virtual int world_size() const noexcept = 0;
  /// Rank 0 draws the progress bar and writes logs, event files and checkpoints.
  bool is_chief() const noexcept { return rank() == 0; }

  /// Rows [begin, end) of n that rank `r` owns: contiguous blocks, sizes differing by at most one,
  /// the larger ones first. Every rank can compute every other rank's block.
  std::pair<std::int64_t, std::int64_t> shard(std::int64_t n, int r) const noexcept {
    const std::int64_t w = world_size(), base = n / w, extra = n % w;
    const std::int64_t begin = r * base + std::min<std::int64_t>(r, extra);
    return {begin, begin + base + (r < extra ? 1 : 0)};
  }
  std::pair<std::int64_t, std::int64_t> shard(std::int64_t n) const noexcept { return shard(n, rank()); }

  /// Overwrites every tensor with rank 0's value (same shapes and dtypes on every rank).
  virtual void broadcast(std::span<Tensor> tensors) = 0;
  /// Sums `values` over ranks, in place.
  virtual void all_reduce_sum(std::span<double> values) = 0;
  /// The largest of `value` over ranks.
  virtual std::uint64_t all_reduce_max(std::uint64_t value) = 0;
  /// The ranks' tensors stacked along axis 0 in rank order. Every rank passes the same trailing shape
  /// and dtype; the leading sizes may differ (0 included).
  virtual Tensor all_gather_rows(const Tensor& local) = 0;
  /// Every rank's string, in rank order.
  virtual std::vector<std::string> all_gather(const std::string& local) = 0;
  /// Waits until every rank has arrived.
  virtual void barrier() = 0;

  /// One training step's gradient sum. `ready(i, g)` is called once for each of the `weights`, as soon
  /// as the tape has its final gradient (so that the exchange overlaps the rest of the backward pass);
  /// `finish` waits for the exchange and returns the summed gradients in the weights' order. A rank
  /// with no rows in the step calls `ready` with zeros.
  class GradientExchange {
   public:
    virtual ~GradientExchange() = default;
    virtual void ready(std::size_t index, const Tensor& gradient) = 0;
    virtual std::vector<Tensor> finish() = 0;
  };
  /// Starts one step's exchange: each gradient is multiplied by `scale` before the sum.
  virtual std::unique_ptr<GradientExchange> reduce_gradients(const std::vector<Var>& weights, double scale) = 0;

  /// Called at every epoch's end of `fit` with the model's weights: a strategy may check that the
  /// replicas are still identical (and throw if not).
  virtual void end_epoch(const std::vector<Var>& /*weights*/) {}

  /// Reports that this rank failed with `what` and cannot take part in collectives any more. Returns
  /// normally only if the strategy has a way to let the other ranks go on; an MPI strategy ends the job.
  virtual void fail(const std::string& what) noexcept = 0;
};

/// Runs `body`; with a strategy, an exception from it is first reported through `Strategy::fail`
/// (the other ranks would otherwise wait for this one for ever), then rethrown if `fail` returns.
template <class F>
auto run_or_fail(Strategy* strategy, F&& body) -> decltype(body()) {
  if (strategy == nullptr) return body();
  try {
    return body();
  } catch (const std::exception& e) {
    strategy->fail(e.what());
    throw;
  }
}

/// The random numbers of data-parallel steps. Shuffling draws from the default generator, which every
/// rank keeps at the same position; a step's own draws (dropout masks) must differ between ranks,
/// or the same masks would repeat on every shard. So during a step, rank r > 0 draws from a stream of
/// its own, keyed by (the default's seed and stream, r), while rank 0 draws from the default generator
/// itself: one rank gives exactly the draws of a run without a strategy. After the step the default
/// generator of every rank moves to rank 0's position.
class ReplicaRandom {
 public:
  /// Runs `step` with this rank's generator in place of the default one, then syncs the default
  /// position (a collective: every rank calls it for every step). Without a strategy, runs `step`.
  void run(Strategy* strategy, const std::function<void()>& step);
  /// This rank's own stream (rank 0: unused), keyed on first use.
  Generator& generator(const Strategy& strategy);
  /// For checkpoints: every rank's position ("o0,o1,…"); `restore` takes it back when the number of
  /// ranks matches (a run resumed on another number of ranks starts fresh streams on ranks ≥ 1).
  std::string save(Strategy& strategy);
  /// The positions in a saved string; FormatError if it is not a comma-separated list of whole numbers.
  static std::vector<std::uint64_t> parse(const std::string& saved);
  void restore(const Strategy& strategy, const std::vector<std::uint64_t>& positions);

 private:
  void key(const Strategy& strategy);
  Generator gen_;
  bool keyed_ = false;
  std::uint64_t seed_ = 0, stream_ = 0;
};

}  // namespace loom
