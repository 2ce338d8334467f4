// SPDX-License-Identifier: Apache-2.0
// load_weights of an arbitrary file into a built LSTM + Dense model: accepted or refused with a
// loom::Error, and a refused file leaves every weight as it was.
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static auto model = [] {
    loom::manual_seed(1);
    auto m = std::make_shared<loom::Sequential>(std::vector<std::shared_ptr<loom::Layer>>{
        std::make_shared<loom::LSTM>(3, loom::LSTMCellOptions{}, loom::RNNOptions{.name = "lstm"}),
        std::make_shared<loom::Dense>(2, loom::DenseOptions{.name = "dense"})});
    m->build_for({1, 4, 2});
    return m;
  }();
  const std::vector<loom::Tensor> before = model->get_weights();
  const std::string& path = loom_fuzz::as_file(data, size);
  try {
    loom::load_weights(*model, path);
  } catch (const loom::Error&) {
    const std::vector<loom::Tensor> after = model->get_weights();
    for (std::size_t i = 0; i < before.size(); ++i)
      if (!loom_fuzz::same_bits(after[i], before[i])) std::abort();  // a partial update
  }
  return 0;
}
