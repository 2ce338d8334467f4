// SPDX-License-Identifier: Apache-2.0
// Cross-process resume check (run by ctest through resume.cmake):
//   loom_resume_check full <weights>          train 4 epochs in one go, save the weights
//   loom_resume_check first <checkpoint>      train 2 epochs, save a training checkpoint
//   loom_resume_check second <checkpoint> <weights>   a new process: load, train 2 more, save the weights
//   loom_resume_check compare <a> <b>         exit 0 iff the two weight files hold identical bits
// Dropout, shuffling and initialisation all draw from the seeded generator, so bitwise equality needs
// the checkpoint to restore the weights, the optimizer slots and the generator position exactly.
#include <loom/loom.hpp>

#include <cstdio>
#include <cstring>
#include <string>

using namespace loom;

namespace {

Model make_model() {
  manual_seed(2024);
  auto net = std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{
      std::make_shared<LSTM>(8, LSTMCellOptions{.dropout = 0.1, .recurrent_dropout = 0.1}, RNNOptions{.name = "lstm"}),
      std::make_shared<Dropout>(0.2, "dropout"), std::make_shared<Dense>(3, DenseOptions{.name = "head"})});
  Model model(net);
  model.compile(std::make_shared<Adam>(AdamOptions{.learning_rate = 0.01}),
                losses::sparse_categorical_crossentropy(true), {"accuracy"});
  net->build_for({1, 6, 2});
  return model;
}

std::pair<Tensor, Tensor> data() {
  Generator gen(77);
  const Tensor x = Tensor::uniform({96, 6, 2}, -1, 1, DType::f32, &gen);
  const Tensor y = core::argmax(Tensor::uniform({96, 3}, 0, 1, DType::f32, &gen), 1);
  return {x, y};
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  const auto [x, y] = data();
  if (mode == "full" && argc == 3) {
    Model model = make_model();
    model.fit(x, y, {.epochs = 4, .batch_size = 16, .verbose = 0});
    save_weights(model.network(), argv[2]);
    return 0;
  }
  if (mode == "first" && argc == 3) {
    Model model = make_model();
    model.fit(x, y, {.epochs = 2, .batch_size = 16, .verbose = 0});
    model.save_checkpoint(argv[2]);
    return 0;
  }
  if (mode == "second" && argc == 4) {
    Model model = make_model();
    model.load_checkpoint(argv[2]);
    model.fit(x, y, {.epochs = 4, .batch_size = 16, .verbose = 0, .initial_epoch = model.epochs_done()});
    save_weights(model.network(), argv[3]);
    return 0;
  }
  if (mode == "compare" && argc == 4) {
    const TensorFile a = load_safetensors(argv[2]), b = load_safetensors(argv[3]);
    bool same = a.tensors.size() == b.tensors.size();
    for (const auto& [name, t] : a.tensors)
      same = same && b.contains(name) && t.nbytes() == b.at(name).nbytes() &&
             std::memcmp(t.raw_data(), b.at(name).raw_data(), t.nbytes()) == 0;
    std::printf("resume check: %s\n", same ? "bitwise identical" : "DIFFERENT");
    return same ? 0 : 1;
  }
  std::fprintf(stderr, "usage: %s full|first|second|compare ...\n", argv[0]);
  return 2;
}
