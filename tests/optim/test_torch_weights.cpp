// SPDX-License-Identifier: Apache-2.0
// PyTorch state dicts: torch's own files (gen_fixtures.py torch_interop) load into the matching loom
// layers and reproduce torch's outputs; loom's exports load back into torch (checked by the script).
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "fixtures/golden_torch.hpp"
#include "support/fixture.hpp"

using namespace loom;
using Catch::Matchers::Contains;

namespace {

namespace fx = loom::fixtures::golden_torch;
Tensor F(const std::string& name) { return testing::fixture(fx::entries, name); }
TensorFile state(const std::string& model) { return load_safetensors(LOOM_FIXTURE_DIR "/torch_" + model + ".safetensors"); }

// The loom twins of gen_fixtures.py's TorchA, TorchB and TorchC, with the torch modules their layers map.
struct Twin {
  std::shared_ptr<Sequential> net;
  std::vector<TorchModule> modules;
  Tensor input;
};

Twin twin(const std::string& model, DType dtype) {
  Twin t;
  const RNNOptions seq{.return_sequences = true};
  if (model == "a") {
    auto embed = std::make_shared<Embedding>(20, 6);
    auto bi0 = std::make_shared<Bidirectional>(LSTM(5, {}, seq)), bi1 = std::make_shared<Bidirectional>(LSTM(5, {}, seq));
    auto fc = std::make_shared<Dense>(3);
    t.net = std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{embed, bi0, bi1, fc});
    t.modules = {{embed.get(), "embed"}, {bi0.get(), "lstm", 0}, {bi1.get(), "lstm", 1}, {fc.get(), "fc"}};
    t.input = F("a_input").to(DType::i64);
  } else if (model == "b") {
    auto gru = std::make_shared<RNN>(std::vector<std::shared_ptr<Cell>>{std::make_shared<GRUCell>(3), std::make_shared<GRUCell>(3)});
    auto head = std::make_shared<Dense>(2);
    t.net = std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{gru, head});
    t.modules = {{gru.get(), "gru"}, {head.get(), "head"}};
    t.input = F("b_input").to(dtype);
  } else {
    auto rnn = std::make_shared<SimpleRNN>(3, SimpleRNNCellOptions{.activation = Activation::relu}, seq);
    auto lstm = std::make_shared<LSTM>(2, LSTMCellOptions{.use_bias = false}, seq);
    auto bigru = std::make_shared<Bidirectional>(GRU(3, {}, seq));
    t.net = std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{rnn, lstm, bigru});
    t.modules = {{rnn.get(), "rnn"}, {lstm.get(), "lstm"}, {bigru.get(), "bigru"}};
    t.input = F("c_input").to(dtype);
  }
  t.net->set_dtype(dtype);
  t.net->build_for(t.input.shape());
  return t;
}

std::string bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("torch weights: torch's state dicts reproduce torch's outputs", "[optim][torch]") {
  for (const char* model : {"a", "b", "c"}) {
    for (const DType dtype : {DType::f64, DType::f32}) {
      CAPTURE(model, dtype);
      Twin t = twin(model, dtype);
      load_torch_state_dict(state(model), t.modules);
      NoGrad inference;
      const Tensor y = (*t.net)(Var(t.input)).value();
      const double tol = dtype == DType::f64 ? 1e-10 : 1e-5;
      testing::check_close(y, F(std::string(model) + "_output").to_vector<double>(), 0, tol);
    }
  }
}

TEST_CASE("torch weights: loom's exports hold torch's parameters", "[optim][torch]") {
  for (const char* model : {"a", "b", "c"}) {
    CAPTURE(model);
    Twin t = twin(model, DType::f64);
    const TensorFile original = state(model);
    load_torch_state_dict(original, t.modules);
    const TensorFile exported = torch_state_dict(t.modules);
    // The same keys in torch's order; the same values, except that an LSTM's or RNN's two biases
    // come back as their sum in bias_ih (torch only ever adds them).
    REQUIRE(exported.tensors.size() == original.tensors.size());
    for (std::size_t i = 0; i < original.tensors.size(); ++i) {
      const auto& [name, value] = original.tensors[i];
      CAPTURE(name);
      CHECK(exported.tensors[i].first == name);
      const bool folded = (name.find(".bias_ih") != std::string::npos || name.find(".bias_hh") != std::string::npos) &&
                          name.rfind("gru", 0) != 0 && name.rfind("bigru", 0) != 0;
      if (!folded) CHECK(testing::bitwise_equal(exported.at(name), value));
    }
    for (const auto& [name, value] : original.tensors)
      if (const std::size_t at = name.find(".bias_ih"); at != std::string::npos && name.find("gru") == std::string::npos) {
        const std::string hh = name.substr(0, at) + ".bias_hh" + name.substr(at + 8);
        testing::check_close(exported.at(name), core::add(value, original.at(hh)).to_vector<double>(), 0, 1e-15);
        testing::check_close(exported.at(hh), std::vector<double>(static_cast<std::size_t>(value.numel()), 0.0), 0, 0);
      }
    // The script loads these into fresh torch modules (strict=True) and compares the outputs.
    const std::string file = "torch_from_loom_" + std::string(model) + ".safetensors";
    if (const char* dir = std::getenv("LOOM_WRITE_FIXTURES")) save_safetensors(std::string(dir) + "/" + file, exported);
    const std::string mine = (std::filesystem::temp_directory_path() / file).string();
    save_safetensors(mine, exported);
    CHECK(bytes(mine) == bytes(LOOM_FIXTURE_DIR "/" + file));
    // And loom reads its own export back to the same weights.
    Twin again = twin(model, DType::f64);
    load_torch_state_dict(load_safetensors(mine), again.modules);
    const auto w0 = t.net->get_weights(), w1 = again.net->get_weights();
    for (std::size_t i = 0; i < w0.size(); ++i) CHECK(testing::bitwise_equal(w0[i], w1[i]));
  }
}

TEST_CASE("torch weights: mismatches are refused and change nothing", "[optim][torch][errors]") {
  Twin t = twin("a", DType::f64);
  const std::vector<Tensor> before = t.net->get_weights();
  const auto unchanged = [&] {
    const std::vector<Tensor> now = t.net->get_weights();
    for (std::size_t i = 0; i < now.size(); ++i) CHECK(testing::bitwise_equal(now[i], before[i]));
  };
  TensorFile f = state("a");
  TensorFile missing = f;
  missing.tensors.erase(missing.tensors.begin() + 14);  // lstm.weight_hh_l1_reverse
  CHECK_THROWS_WITH(load_torch_state_dict(missing, t.modules), Contains("the state dict has no 'lstm.weight_hh_l1_reverse'"));
  unchanged();
  TensorFile reshaped = f;
  for (auto& [name, value] : reshaped.tensors)
    if (name == "fc.weight") value = Tensor::zeros({10, 3}, DType::f64);
  CHECK_THROWS_WITH(load_torch_state_dict(reshaped, t.modules), Contains("'fc.weight' must have shape (3, 10); got (10, 3)"));
  unchanged();
  TensorFile ints = f;
  for (auto& [name, value] : ints.tensors)
    if (name == "embed.weight") value = Tensor::zeros({20, 6}, DType::i64);
  CHECK_THROWS_WITH(load_torch_state_dict(ints, t.modules), Contains("'embed.weight' must be floating"));
  unchanged();
  // A GRU with reset_after = false has no torch form; nor has an unbuilt layer, nor a layer torch lacks.
  GRU old_gru(3, {.reset_after = false});
  old_gru.build_for({1, 2, 4});
  CHECK_THROWS_WITH(load_torch_state_dict(state("b"), {{&old_gru, "gru"}}), Contains("reset_after = false"));
  CHECK_THROWS_WITH(torch_state_dict({{&old_gru, "gru"}}), Contains("reset_after = false"));
  LSTM unbuilt(5);
  CHECK_THROWS_AS(load_torch_state_dict(f, {{&unbuilt, "lstm"}}), StateError);
  Dropout dropout(0.5);
  dropout.build_for({1, 2});
  CHECK_THROWS_WITH(torch_state_dict({{&dropout, "drop"}}), Contains("has no torch counterpart"));
  // A layer with a bias does not take a module built with bias=False, nor the other way.
  LSTM biased(2);
  biased.build_for({1, 5, 3});
  CHECK_THROWS_WITH(load_torch_state_dict(state("c"), {{&biased, "lstm"}}), Contains("the state dict has no 'lstm.bias_ih_l0'"));
  LSTM unbiased(5, {.use_bias = false});
  unbiased.build_for({1, 5, 6});
  CHECK_THROWS_WITH(load_torch_state_dict(state("a"), {{&unbiased, "lstm"}}), Contains("has no bias, but the state dict has"));
}
