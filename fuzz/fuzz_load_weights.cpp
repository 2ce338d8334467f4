// SPDX-License-Identifier: Apache-2.0
// load_weights of an arbitrary file into a built LSTM + Dense model, and the same file as a PyTorch
// state dict (lstm.weight_ih_l0, …, fc.weight): accepted or refused with a loom::Error, and a refused
// file leaves every weight as it was.
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static auto lstm = std::make_shared<loom::LSTM>(3, loom::LSTMCellOptions{}, loom::RNNOptions{.name = "lstm"});
  static auto dense = std::make_shared<loom::Dense>(2, loom::DenseOptions{.name = "dense"});
  static auto model = [] {
    loom::manual_seed(1);
    auto m = std::make_shared<loom::Sequential>(std::vector<std::shared_ptr<loom::Layer>>{lstm, dense});
    m->build_for({1, 4, 2});
    return m;
  }();
  const std::string& path = loom_fuzz::as_file(data, size);
  const auto attempt = [&](const auto& load) {
    const std::vector<loom::Tensor> before = model->get_weights();
    try {
      load();
    } catch (const loom::Error&) {
      const std::vector<loom::Tensor> after = model->get_weights();
      for (std::size_t i = 0; i < before.size(); ++i)
        if (!loom_fuzz::same_bits(after[i], before[i])) std::abort();  // a partial update
    }
  };
  attempt([&] { loom::load_weights(*model, path); });
  attempt([&] { loom::load_torch_state_dict(loom::load_safetensors(path), {{lstm.get(), "lstm"}, {dense.get(), "fc"}}); });
  return 0;
}
