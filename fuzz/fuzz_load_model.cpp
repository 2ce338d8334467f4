// SPDX-License-Identifier: Apache-2.0
// load_model of an arbitrary file: a model comes back (and predicts) or the file is refused with a
// loom::Error. The file carries JSON (the network's config, the compile record) as well as tensors,
// so this reaches the layer registry, the optimizer and schedule configs and the structural loader.
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string& path = loom_fuzz::as_file(data, size);
  try {
    loom::Model model = loom::load_model(path);
    const loom::Shape& in = model.network().built_input_shape();
    // A small forward pass when the model reads token ids or features of modest size.
    if (in.rank() >= 2 && in.numel() > 0 && in.numel() <= 4096) {
      loom::Shape one = in;
      one[0] = 1;
      (void)model.predict(loom::Tensor::zeros(one, loom::DType::i64).to(model.network().dtype()), 1);
    }
  } catch (const loom::Error&) {
  }
  return 0;
}
