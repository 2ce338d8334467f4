// SPDX-License-Identifier: Apache-2.0
// load_checkpoint of an arbitrary file into a stateful GRU model with Adam: accepted or refused
// with a loom::Error and nothing changed.
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static auto model = [] {
    loom::manual_seed(1);
    auto m = std::make_shared<loom::Sequential>(std::vector<std::shared_ptr<loom::Layer>>{
        std::make_shared<loom::GRU>(3, loom::GRUCellOptions{}, loom::RNNOptions{.stateful = true, .name = "gru"}),
        std::make_shared<loom::Dense>(2, loom::DenseOptions{.name = "dense"})});
    (*m)(loom::Var(loom::Tensor::zeros({2, 4, 2})));
    return m;
  }();
  static loom::Adam adam;
  const std::vector<loom::Tensor> before = model->get_weights();
  const std::string& path = loom_fuzz::as_file(data, size);
  try {
    loom::load_checkpoint(path, *model, adam);
  } catch (const loom::Error&) {
    const std::vector<loom::Tensor> after = model->get_weights();
    for (std::size_t i = 0; i < before.size(); ++i)
      if (!loom_fuzz::same_bits(after[i], before[i])) std::abort();
  }
  return 0;
}
