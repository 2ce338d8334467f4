// SPDX-License-Identifier: Apache-2.0
// Writes the committed seed corpus (fuzz/corpus/<target>/): valid inputs of each reader, made by
// loom itself with the same models the targets load into, so the fuzzer starts from files that get
// far into the checks. Rerun after a format change: build/fuzz/loom_fuzz_make_corpus fuzz/corpus
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "loom/loom.hpp"

using namespace loom;

int main(int argc, char** argv) {
  const std::filesystem::path root = argc > 1 ? argv[1] : "fuzz/corpus";
  for (const char* d : {"safetensors", "load_weights", "load_checkpoint", "layer_from_config", "load_model"})
    std::filesystem::create_directories(root / d);
  manual_seed(1);
  auto lstm_model = std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{
      std::make_shared<LSTM>(3, LSTMCellOptions{}, RNNOptions{.name = "lstm"}),
      std::make_shared<Dense>(2, DenseOptions{.name = "dense"})});
  lstm_model->build_for({1, 4, 2});
  save_weights(*lstm_model, (root / "load_weights" / "lstm_dense.safetensors").string());
  {  // without the saved order, as another writer's file: load_weights matches it by name
    TensorFile by_name = load_safetensors((root / "load_weights" / "lstm_dense.safetensors").string());
    by_name.metadata.erase("weight_order");
    save_safetensors((root / "load_weights" / "lstm_dense_by_name.safetensors").string(), by_name);
  }
  save_weights(*lstm_model, (root / "safetensors" / "lstm_dense.safetensors").string());
  save_safetensors((root / "safetensors" / "mixed.safetensors").string(),
                   TensorFile{{{"a", Tensor::ones({2, 3})}, {"b", Tensor::arange(4, DType::f64)},
                               {"c", Tensor::zeros({0, 5}, DType::i64)}},
                              {{"format", "seed"}}});
  manual_seed(1);
  auto gru_model = std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{
      std::make_shared<GRU>(3, GRUCellOptions{}, RNNOptions{.stateful = true, .name = "gru"}),
      std::make_shared<Dense>(2, DenseOptions{.name = "dense"})});
  (*gru_model)(Var(Tensor::zeros({2, 4, 2})));
  Adam adam;
  save_checkpoint((root / "load_checkpoint" / "gru_adam.ckpt").string(), *gru_model, adam, {1, 7});
  {  // saved models: a compiled classifier over token ids, and an uncompiled regressor
    manual_seed(1);
    Model classifier(Sequential({Embedding(20, 4, {.mask_zero = true, .name = "embedding"}),
                                 Bidirectional(GRU(3, GRUCellOptions{}, RNNOptions{.name = "gru"}), MergeMode::concat,
                                               nullptr, "bidirectional"),
                                 Dense(2, {.name = "dense"})},
                                "classifier"));
    classifier.compile(std::make_shared<Adam>(AdamOptions{
                           .learning_rate = std::make_shared<CosineDecay>(0.01, 100), .clipnorm = 1.0}),
                       losses::sparse_categorical_crossentropy(true), {"accuracy"});
    classifier.train_on_batch(Tensor::from_vector<std::int64_t>({1, 2, 3, 0, 4, 5, 0, 0}, {2, 4}),
                              Tensor::from_vector<std::int64_t>({0, 1}, {2}));
    save_model(classifier, (root / "load_model" / "classifier.safetensors").string());
    save_model(Model(lstm_model), (root / "load_model" / "regressor.safetensors").string(),
               {.include_optimizer = false});
  }
  int n = 0;
  for (const std::shared_ptr<Layer>& layer : std::vector<std::shared_ptr<Layer>>{
           lstm_model, gru_model, std::make_shared<Bidirectional>(std::make_shared<LSTM>(4)),
           std::make_shared<TimeDistributed>(std::make_shared<Dense>(3)), std::make_shared<Embedding>(10, 4),
           std::make_shared<RNN>(std::make_shared<StackedRNNCells>(std::vector<std::shared_ptr<Cell>>{
               std::make_shared<SimpleRNNCell>(2), std::make_shared<GRUCell>(3)}))})
    std::ofstream(root / "layer_from_config" / ("config_" + std::to_string(n++) + ".json")) << layer->to_json().dump(1);
  return 0;
}
