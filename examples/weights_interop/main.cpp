// SPDX-License-Identifier: Apache-2.0
// Weights in and out: train a small LSTM classifier in loom, hand its weights to PyTorch (a state
// dict in safetensors) and to Keras (.weights.h5 and tf-keras .h5, when loom::hdf5 is built), read
// each back into a fresh model with the same predictions, and continue training from a state dict
// PyTorch wrote (--from-torch). The PyTorch side is in the README ("Weights in and out").
#include <cstdio>
#include <filesystem>
#include <loom/loom.hpp>

#include "../common/cli.hpp"
#ifdef LOOM_EXAMPLES_HAVE_HDF5
#include <loom/hdf5/keras_h5.hpp>
#endif

using namespace loom;

namespace {

// The classifier and the torch modules its layers map to (torch: embed, lstm, fc).
struct Classifier {
  std::shared_ptr<Embedding> embed = std::make_shared<Embedding>(50, 16);
  std::shared_ptr<LSTM> lstm = std::make_shared<LSTM>(32);
  std::shared_ptr<Dense> fc = std::make_shared<Dense>(2);
  std::shared_ptr<Sequential> net = std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{embed, lstm, fc});
  std::vector<TorchModule> torch_modules() const { return {{embed.get(), "embed"}, {lstm.get(), "lstm"}, {fc.get(), "fc"}}; }
};

// Sequences of 12 ids in [1, 50); the label says whether the first id is above the last.
std::pair<Tensor, Tensor> task(std::int64_t n, std::uint64_t seed) {
  Generator gen(seed);
  const std::vector<double> u = Tensor::uniform({n, 12}, 1, 50, DType::f64, &gen).to_vector<double>();
  Tensor x = Tensor::zeros({n, 12}, DType::i64), y = Tensor::zeros({n}, DType::i64);
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t t = 0; t < 12; ++t) x.data<std::int64_t>()[i * 12 + t] = static_cast<std::int64_t>(u[i * 12 + t]);
    y.data<std::int64_t>()[i] = x.data<std::int64_t>()[i * 12] > x.data<std::int64_t>()[i * 12 + 11];
  }
  return {x, y};
}

bool same(const Tensor& a, const Tensor& b) { return a.to_vector<double>() == b.to_vector<double>(); }

}  // namespace

int main(int argc, char** argv) {
  const loom_examples::Args args(argc, argv, {{"epochs", "6"}, {"out", "."}, {"from-torch", ""}, {"seed", "1"}},
                                 "Train in loom, export to PyTorch and Keras, import back (and from PyTorch).");
  try {
    manual_seed(static_cast<std::uint64_t>(args.integer("seed")));
    const auto [x, y] = task(2000, 7);
    const auto [tx, ty] = task(500, 8);
    Classifier a;
    a.net->build_for({1, 12});
    Model model(a.net);
    model.compile("adam", losses::sparse_categorical_crossentropy(/*from_logits=*/true), {"accuracy"});
    const std::string from_torch = args.str("from-torch");
    if (!from_torch.empty()) {  // continue from weights PyTorch trained
      load_torch_state_dict(load_safetensors(from_torch), a.torch_modules());
      std::printf("loaded %s: test accuracy %.3f before training here\n", from_torch.c_str(),
                  model.evaluate(tx, ty).at("accuracy"));
    }
    model.fit(x, y, {.epochs = static_cast<int>(args.integer("epochs")), .batch_size = 64, .verbose = 2});
    const Tensor reference = model.predict(tx);
    std::printf("loom: test accuracy %.3f\n", model.evaluate(tx, ty).at("accuracy"));

    const std::filesystem::path out(args.str("out"));
    std::filesystem::create_directories(out);
    const std::string torch_file = (out / "classifier.safetensors").string();
    save_safetensors(torch_file, torch_state_dict(a.torch_modules()));
    // The test inputs and loom's logits, for checking the PyTorch side.
    save_safetensors((out / "test_batch.safetensors").string(), TensorFile{{{"ids", tx}, {"logits", reference}, {"labels", ty}}, {}});
    Classifier b;
    b.net->build_for({1, 12});
    load_torch_state_dict(load_safetensors(torch_file), b.torch_modules());
    const bool torch_ok = same(Model(b.net).predict(tx), reference);
    std::printf("PyTorch state dict %s: %s\n", torch_file.c_str(), torch_ok ? "reloads with the same predictions" : "DIFFERS");
    bool ok = torch_ok;
#ifdef LOOM_EXAMPLES_HAVE_HDF5
    for (const auto& [layout, file] : {std::pair{KerasH5Layout::keras3, "classifier.weights.h5"},
                                       std::pair{KerasH5Layout::legacy, "classifier.h5"}}) {
      const std::string path = (out / file).string();
      save_keras_weights(*a.net, path, layout);
      Classifier c;
      c.net->build_for({1, 12});
      load_keras_weights(*c.net, path);
      const bool keras_ok = same(Model(c.net).predict(tx), reference);
      std::printf("Keras weights %s: %s\n", path.c_str(), keras_ok ? "reload with the same predictions" : "DIFFER");
      ok = ok && keras_ok;
    }
#endif
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weights_interop: %s\n", e.what());
    return 1;
  }
}
