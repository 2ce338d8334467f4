// SPDX-License-Identifier: Apache-2.0
// Cross-process check of save_model / load_model (run by ctest through saved_model.cmake):
//   loom_saved_model_check save <model> <predictions>   train briefly, save the model and its predictions
//   loom_saved_model_check load <model> <predictions>   a new process: load, predict, compare bit for bit
#include <loom/loom.hpp>

#include <cstdio>
#include <cstring>
#include <string>

using namespace loom;

namespace {

Tensor inputs() {  // token ids in [1, 30), the last steps padded with 0
  Generator gen(9);
  const Tensor u = Tensor::uniform({40, 6}, 1, 30, DType::f64, &gen);
  Tensor x = Tensor::zeros({40, 6}, DType::i64);
  for (std::int64_t i = 0; i < 40; ++i)
    for (std::int64_t t = 0; t < 3 + i % 4; ++t)
      x.data<std::int64_t>()[i * 6 + t] = static_cast<std::int64_t>(u.data<double>()[i * 6 + t]);
  return x;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: loom_saved_model_check save|load MODEL PREDICTIONS\n");
    return 2;
  }
  const std::string mode = argv[1], model_path = argv[2], pred_path = argv[3];
  const Tensor x = inputs();
  if (mode == "save") {
    manual_seed(7);
    Model model(Sequential({Embedding(30, 8, {.mask_zero = true}), Bidirectional(LSTM(5)), Dense(3)}));
    model.compile("adam", losses::sparse_categorical_crossentropy(true), {"accuracy"});
    std::vector<std::int64_t> labels(40);
    for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::int64_t>(i % 3);
    model.fit(x, Tensor::from_vector(labels, {40}), {.epochs = 2, .batch_size = 16, .verbose = 0});
    save_model(model, model_path);
    save_safetensors(pred_path, TensorFile{{{"predictions", model.predict(x)}}, {}});
    std::printf("saved the model and the predictions of %lld samples\n", static_cast<long long>(x.shape(0)));
    return 0;
  }
  if (mode == "load") {
    Model model = load_model(model_path);
    const Tensor expected = load_safetensors(pred_path).at("predictions");
    const Tensor got = model.predict(x);
    const bool same = got.shape() == expected.shape() && std::memcmp(got.raw_data(), expected.raw_data(), got.nbytes()) == 0;
    std::printf("a new process's predictions are %s\n", same ? "bitwise equal" : "DIFFERENT");
    return same && model.optimizer().iterations() == 6 ? 0 : 1;
  }
  return 2;
}
