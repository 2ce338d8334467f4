// SPDX-License-Identifier: Apache-2.0
// `--distributed` for the examples: data-parallel training over MPI when loom::distributed was built
// (run the example under `mpirun -np N`), a clear error otherwise.
#pragma once

#include <memory>
#include <stdexcept>

#include <loom/optim/strategy.hpp>
#if LOOM_EXAMPLES_HAVE_MPI
#include <loom/distributed/multi_worker.hpp>
#endif

namespace loom_examples {

class Distribution {
 public:
  /// Starts MPI and a MultiWorkerStrategy when `wanted`; otherwise one process.
  void start(int& argc, char**& argv, bool wanted) {
    if (!wanted) return;
#if LOOM_EXAMPLES_HAVE_MPI
    mpi_ = std::make_unique<loom::distributed::Environment>(argc, argv);
    strategy_ = std::make_shared<loom::distributed::MultiWorkerStrategy>();
#else
    (void)argc;
    (void)argv;
    throw std::runtime_error("--distributed: this build of loom has no MPI (install libopenmpi-dev and rebuild)");
#endif
  }
  /// The strategy, or nullptr in one process.
  std::shared_ptr<loom::Strategy> strategy() const { return strategy_; }
  bool chief() const { return strategy_ == nullptr || strategy_->is_chief(); }
  int world_size() const { return strategy_ ? strategy_->world_size() : 1; }
  /// After an error on this rank: the others may be waiting for it in a collective, so end the job
  /// (MPI_Abort) rather than leave them to time out. Does nothing in one process.
  void end_job_after(const std::exception& e) const {
    if (strategy_) strategy_->fail(e.what());
  }

 private:
#if LOOM_EXAMPLES_HAVE_MPI
  std::unique_ptr<loom::distributed::Environment> mpi_;  // outlives the strategy: declared first
#endif
  std::shared_ptr<loom::Strategy> strategy_;
};

}  // namespace loom_examples
