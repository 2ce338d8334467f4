// SPDX-License-Identifier: Apache-2.0
// The installed loom::distributed links and runs: a one-rank job (an MPI singleton) trains a step.
#include <loom/distributed/multi_worker.hpp>
#include <loom/loom.hpp>

#include <cstdio>

int main(int argc, char** argv) {
  loom::distributed::Environment mpi(argc, argv);
  loom::Model model(std::make_shared<loom::Dense>(1));
  model.compile(std::make_shared<loom::SGD>(), loom::losses::mse());
  model.distribute(std::make_shared<loom::distributed::MultiWorkerStrategy>());
  const loom::Logs logs = model.train_on_batch(loom::Tensor::ones({4, 3}), loom::Tensor::zeros({4, 1}));
  std::printf("distributed consumer: %d rank(s), loss %.4f\n", mpi.world_size(), logs.at("loss"));
  return mpi.world_size() == 1 && logs.at("loss") > 0 ? 0 : 1;
}
