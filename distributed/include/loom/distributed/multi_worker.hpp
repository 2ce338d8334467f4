// SPDX-License-Identifier: Apache-2.0
// Data-parallel training over MPI: the counterpart of tf.distribute.MultiWorkerMirroredStrategy and
// PyTorch's DistributedDataParallel.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "loom/core/export.hpp"
#include "loom/optim/strategy.hpp"

namespace loom LOOM_API {
namespace distributed {

/// MPI for the life of a program: create one at the top of `main`, before any strategy.
///
/// It initialises MPI (thread level "funneled": only the thread that called it talks to MPI, which is
/// how loom uses it) unless the program already did, and finalises it on destruction if it
/// initialised it. Destroyed while an exception is in flight, it ends the whole job with MPI_Abort
/// instead: the other ranks may be waiting for this one in a collective, and would wait for ever.
///
/// Example (run with `mpirun -np 4 ./train`):
///   int main(int argc, char** argv) {
///     loom::distributed::Environment mpi(argc, argv);
///     auto strategy = std::make_shared<loom::distributed::MultiWorkerStrategy>();
///     loom::Model model(build_network());
///     model.compile(...);
///     model.distribute(strategy);
///     model.fit(x, y, {.epochs = 10, .batch_size = 256});   // 256 samples per step over all ranks
///   }
class Environment {
 public:
  Environment(int& argc, char**& argv);
  Environment();  ///< without the command line (MPI does not need it)
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;
  int rank() const noexcept { return rank_; }
  int world_size() const noexcept { return size_; }

 private:
  void init(int* argc, char*** argv);
  bool owner_ = false;
  int rank_ = 0, size_ = 1;
};

/// Options of `MultiWorkerStrategy`.
struct MultiWorkerOptions {
  /// Gradients are summed in buckets of about this many bytes (one weight per bucket when larger), in
  /// the reverse order of the weights, which is roughly the order the backward pass finishes them. A
  /// bucket is sent as soon as its last gradient is ready, while the backward pass goes on.
  std::size_t bucket_bytes = std::size_t{4} << 20;
  /// A collective still waiting after this many seconds ends the job with a message naming it: a rank
  /// has died, stalled or is running other code. 0 reads `LOOM_DISTRIBUTED_TIMEOUT` (seconds) from the
  /// environment, or uses 600.
  double timeout_seconds = 0;
  /// At every epoch's end of `fit`, compare a hash of every weight across ranks and throw
  /// DistributedError naming the first that differs (a debugging aid; one small collective).
  bool check_replicas = false;
};

/// Where a rank's communication time went since the last `reset_stats`.
struct CommunicationStats {
  double wait_seconds = 0;            ///< blocked waiting for collectives (what the overlap did not hide)
  double gradient_wait_seconds = 0;   ///< the part of it spent waiting for gradient buckets
  std::uint64_t gradient_bytes = 0;   ///< bytes of gradients summed
  std::int64_t gradient_buckets = 0;  ///< bucket all-reduces issued
  std::int64_t collectives = 0;       ///< every collective issued, buckets included
};

/// Data parallelism over MPI_COMM_WORLD (a duplicate of it, so the program's own MPI traffic never
/// mixes with loom's). Pass it to `Model::distribute` or `TBPTTOptions::strategy`.
///
/// Guarantees, with the same program and data on every rank:
/// - the weights stay bitwise identical on every rank (every rank applies the same summed gradient);
/// - a run is bitwise reproducible for a given number of ranks, whatever the threads per rank;
/// - with G samples per global batch, the result equals one process with batch G up to the rounding of
///   summing per-rank gradients in another order.
///
/// Collectives are MPI's own (MPI_Iallreduce, MPI_Ibcast, MPI_Iallgatherv), waited on with a timeout.
/// A rank that fails calls MPI_Abort after printing why, so the job ends instead of hanging.
class MultiWorkerStrategy final : public Strategy {
 public:
  explicit MultiWorkerStrategy(MultiWorkerOptions options = {});
  ~MultiWorkerStrategy() override;
  MultiWorkerStrategy(const MultiWorkerStrategy&) = delete;
  MultiWorkerStrategy& operator=(const MultiWorkerStrategy&) = delete;

  int rank() const noexcept override;
  int world_size() const noexcept override;
  void broadcast(std::span<Tensor> tensors) override;
  void all_reduce_sum(std::span<double> values) override;
  std::uint64_t all_reduce_max(std::uint64_t value) override;
  Tensor all_gather_rows(const Tensor& local) override;
  std::vector<std::string> all_gather(const std::string& local) override;
  void barrier() override;
  std::unique_ptr<GradientExchange> reduce_gradients(const std::vector<Var>& weights, double scale) override;
  void end_epoch(const std::vector<Var>& weights) override;
  [[noreturn]] void fail(const std::string& what) noexcept override;

  /// Throws DistributedError unless every rank holds bitwise the same values (what `check_replicas`
  /// runs each epoch; callable at any time, by every rank).
  void check_replicas(const std::vector<Var>& weights);

  const MultiWorkerOptions& options() const noexcept;
  const CommunicationStats& stats() const noexcept;
  void reset_stats() noexcept;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace distributed
}  // namespace loom
