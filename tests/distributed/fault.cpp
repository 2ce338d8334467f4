// SPDX-License-Identifier: Apache-2.0
// A rank that fails in the middle of fit: run under `mpirun -np 2` by fault.cmake, which checks that
// the job ends, soon, with a message that says why, and that the last checkpoint still loads.
//   loom_mpi_fault kill  CKPT   rank 1 is SIGKILLed during epoch 3
//   loom_mpi_fault throw CKPT   rank 1 throws during epoch 3
//   loom_mpi_fault stall CKPT   rank 1 stops responding during epoch 3 (the others time out after 3 s)
//   loom_mpi_fault load  CKPT   (one process) the checkpoint loads
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>

#include <loom/distributed/multi_worker.hpp>
#include <loom/loom.hpp>

using namespace loom;

namespace {

Model make_model() {
  Model m(std::make_shared<Sequential>(
      std::vector<std::shared_ptr<Layer>>{std::make_shared<GRU>(8), std::make_shared<Dense>(1)}));
  m.compile(std::make_shared<Adam>(), losses::mse());
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: loom_mpi_fault kill|throw|stall|load CHECKPOINT\n");
    return 2;
  }
  const std::string mode = argv[1], path = argv[2];
  Generator gen(1);
  const Tensor x = Tensor::uniform({64, 6, 2}, -1, 1, DType::f32, &gen);
  const Tensor y = core::sum(core::sum(x, 1), 1).reshape({64, 1});
  if (mode == "load") {
    Model m = make_model();
    m.network().build_for({8, 6, 2});
    m.load_checkpoint(path);
    std::printf("loaded a checkpoint of %d epochs\n", m.epochs_done());
    return m.epochs_done() >= 1 ? 0 : 1;
  }
  distributed::Environment mpi(argc, argv);
  auto strategy = std::make_shared<distributed::MultiWorkerStrategy>(
      distributed::MultiWorkerOptions{.timeout_seconds = mode == "stall" ? 3.0 : 60.0});
  set_num_threads(1);
  Model m = make_model();
  m.distribute(strategy);
  auto saboteur = std::make_shared<LambdaCallback>();
  saboteur->batch_end = [&](Model& model, std::int64_t batch, const Logs&) {
    if (strategy->rank() != 1 || model.epochs_done() != 2 || batch != 1) return;
    if (mode == "kill") std::raise(SIGKILL);
    if (mode == "throw") throw ValueError("a test callback refused batch 1 of epoch 3");
    if (mode == "stall") std::this_thread::sleep_for(std::chrono::seconds(60));
  };
  m.fit(x, y, {.epochs = 5, .batch_size = 16, .callbacks = {std::make_shared<ModelCheckpoint>(path), saboteur},
               .verbose = 0});
  std::printf("rank %d: fit ended without the failure\n", strategy->rank());
  return 3;
}
