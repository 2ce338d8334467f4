// SPDX-License-Identifier: Apache-2.0
// Layer bookkeeping: names, weights I/O, count_params, configs round-trips, option validation.
#include <nlohmann/json.hpp>

#include "test_cells.hpp"

using namespace loom;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

// Every built-in layer (and, through RNN, every built-in cell), with non-default options.
std::vector<std::shared_ptr<Layer>> all_layers() {
  return {std::make_shared<SimpleRNN>(4, SimpleRNNCellOptions{.activation = Activation::relu}, RNNOptions{.return_sequences = true}),
          std::make_shared<LSTM>(4, LSTMCellOptions{.recurrent_activation = Activation::hard_sigmoid, .unit_forget_bias = false},
                                 RNNOptions{.go_backwards = true}),
          std::make_shared<GRU>(4, GRUCellOptions{.reset_after = false}, RNNOptions{.return_sequences = true}),
          std::make_shared<GRU>(4),
          std::make_shared<RNN>(std::vector<std::shared_ptr<Cell>>{std::make_shared<LSTMCell>(3), std::make_shared<GRUCell>(5),
                                                                   std::make_shared<SimpleRNNCell>(2)}),
          std::make_shared<Bidirectional>(std::make_shared<LSTM>(3, LSTMCellOptions{}, RNNOptions{.return_sequences = true}),
                                          MergeMode::sum),
          std::make_shared<TimeDistributed>(std::make_shared<Dense>(3, DenseOptions{.activation = Activation::tanh})),
          std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{
              std::make_shared<Masking>(0.0), std::make_shared<LSTM>(3, LSTMCellOptions{}, RNNOptions{.return_sequences = true}),
              std::make_shared<Dropout>(0.25), std::make_shared<Dense>(2)})};
}

}  // namespace

TEST_CASE("Layer: default names are unique per class, like Keras's", "[layers]") {
  Layer::reset_name_counters();
  LSTM a(3), b(3);
  GRU c(3);
  CHECK(a.name() == "lstm");
  CHECK(b.name() == "lstm_1");
  CHECK(c.name() == "gru");
  CHECK(a.cell()->name() == "lstm_cell");  // as in Keras; its weights' paths go through the layer
  CHECK(a.weights().empty());
  a.build_for({1, 2, 3});
  CHECK(a.weights()[0].name() == "lstm/lstm_cell/kernel");
  CHECK(SimpleRNNCell(2).name() == "simple_rnn_cell");
  CHECK(Dense(2, {.name = "head"}).name() == "head");
  CHECK(to_snake_case("StackedRNNCells") == "stacked_rnn_cells");
}

TEST_CASE("Layer: count_params, weight names, shapes and order follow Keras", "[layers]") {
  LSTM lstm(10);
  CHECK_THROWS_AS(lstm.count_params(), StateError);
  lstm.build_for({2, 7, 5});
  CHECK(lstm.count_params() == 640);
  const auto w = lstm.weights();
  REQUIRE(w.size() == 3);
  CHECK(w[0].shape() == Shape{5, 40});
  CHECK(w[1].shape() == Shape{10, 40});
  CHECK(w[2].shape() == Shape{40});
  CHECK_THAT(w[0].name(), Contains("kernel"));
  GRU gru(10);
  gru.build_for({2, 7, 5});
  CHECK(gru.count_params() == 3 * (5 * 10 + 10 * 10 + 2 * 10));
  CHECK(gru.weights()[2].shape() == Shape{2, 30});
  GRU gru_v1(10, {.reset_after = false});
  gru_v1.build_for({2, 7, 5});
  CHECK(gru_v1.weights()[2].shape() == Shape{30});
}

TEST_CASE("Layer: get_weights/set_weights round-trip; bad weights change nothing", "[layers][errors]") {
  LSTM a(3), b(3);
  a.build_for({2, 4, 5});
  b.build_for({2, 4, 5});
  b.set_weights(a.get_weights());
  const Var x(testing::random({2, 4, 5}));
  CHECK(testing::bitwise_equal(a(x).value(), b(x).value()));
  const std::vector<Tensor> before = b.get_weights();
  std::vector<Tensor> bad = a.get_weights();
  bad[1] = Tensor::zeros({3, 3});
  CHECK_THROWS_WITH(b.set_weights(bad), StartsWith("LSTM.set_weights: weight 1"));
  CHECK_THROWS_WITH(b.set_weights({bad[0]}), StartsWith("LSTM.set_weights: layer " + b.name() + " expects 3 weights, but received 1."));
  const std::vector<Tensor> after = b.get_weights();
  for (std::size_t i = 0; i < before.size(); ++i) CHECK(testing::bitwise_equal(before[i], after[i]));
}

TEST_CASE("Layer: get_config/from_config rebuilds every built-in layer and cell with identical outputs", "[layers]") {
  const Var x(testing::random({2, 6, 4}, DType::f32, 3));
  for (const auto& layer : all_layers()) {
    CAPTURE(layer->class_name());
    const Var y = (*layer)(x);
    const nlohmann::json j = layer->to_json();
    const auto copy = layer_from_config(nlohmann::json::parse(j.dump()));  // through text, as a file would
    CHECK(copy->class_name() == layer->class_name());
    CHECK(copy->get_config() == layer->get_config());
    copy->build_for(x.shape());
    copy->set_weights(layer->get_weights());
    CHECK(testing::bitwise_equal((*copy)(x).value(), y.value()));
  }
}

TEST_CASE("Layer: Embedding's config round-trips too", "[layers]") {
  Embedding emb(7, 3, {.embeddings_initializer = initializers::random_normal(0, 1), .mask_zero = true});
  const Var ids(Tensor::from_vector<std::int64_t>({1, 0, 6, 2}, {2, 2}));
  const Var y = emb(ids);
  const auto copy = layer_from_config(nlohmann::json::parse(emb.to_json().dump()));
  copy->build_for(ids.shape());
  copy->set_weights(emb.get_weights());
  CHECK(testing::bitwise_equal((*copy)(ids).value(), y.value()));
  CHECK(testing::bitwise_equal(copy->compute_mask(ids, {}), emb.compute_mask(ids, {})));
}

TEST_CASE("Layer: custom cells register themselves for from_config", "[layers]") {
  register_layer("MinimalRNNCell", [](const nlohmann::json& c) {
    return std::make_shared<testing::MinimalRNNCell>(c.at("units").get<std::int64_t>());
  });
  nlohmann::json j = {{"class_name", "RNN"},
                      {"config", {{"name", "custom"}, {"cell", {{"class_name", "MinimalRNNCell"}, {"config", {{"units", 5}}}}}}}};
  const auto layer = layer_from_config(j);
  CHECK((*layer)(Var(testing::random({2, 3, 4}))).shape() == Shape{2, 5});
  CHECK(layer->name() == "custom");
  CHECK_THROWS_AS(layer_from_config({{"class_name", "NoSuchLayer"}, {"config", nlohmann::json::object()}}), FormatError);
  CHECK_THROWS_WITH(layer_from_config({{"class_name", "NoSuchLayer"}}), StartsWith("layer_from_config: unknown layer class 'NoSuchLayer'"));
}

TEST_CASE("Layer: every constructor option is validated with Keras-like messages", "[layers][errors]") {
  CHECK_THROWS_AS(LSTMCell(0), ValueError);
  CHECK_THROWS_WITH(LSTMCell(0), StartsWith("LSTMCell: Received an invalid value for argument `units`, expected a positive integer, got 0."));
  CHECK_THROWS_WITH(GRUCell(-3), StartsWith("GRUCell: Received an invalid value for argument `units`"));
  CHECK_THROWS_WITH(SimpleRNN(0), StartsWith("SimpleRNNCell: Received an invalid value for argument `units`"));
  CHECK_THROWS_WITH(LSTMCell(3, {.recurrent_dropout = 1.5}), StartsWith("LSTMCell: recurrent_dropout must be in [0, 1]; got 1.5."));
  CHECK_THROWS_WITH(SimpleRNNCell(3, {.dropout = -0.1}), StartsWith("SimpleRNNCell: dropout must be in [0, 1]"));
  CHECK_THROWS_WITH(Dense(0), StartsWith("Dense: Received an invalid value for argument `units`"));
  CHECK_THROWS_WITH(Dropout(1.0), StartsWith("Dropout: rate must be in [0, 1)"));
  CHECK_THROWS_WITH(Embedding(0, 3), StartsWith("Embedding: input_dim must be a positive integer"));
  nlohmann::json cfg = LSTM(3).to_json();
  cfg["config"]["activation"] = "swishy";
  CHECK_THROWS_AS(layer_from_config(cfg), ValueError);
  CHECK_THROWS_WITH(layer_from_config(cfg), StartsWith("LSTMCell: unknown activation 'swishy'"));
  cfg["config"]["activation"] = 3;
  CHECK_THROWS_AS(layer_from_config(cfg), FormatError);
  CHECK_THROWS_WITH(Bidirectional(std::make_shared<LSTM>(3), MergeMode::concat, std::make_shared<LSTM>(3)),
                    StartsWith("Bidirectional: the backward layer must process the sequence in the other direction"));
}

TEST_CASE("layer: a config reads through the umbrella header alone", "[layers][config]") {
  // <loom/loom.hpp> brings nlohmann::json whole: no extra include to read get_config().
  Dense dense(4, {.name = "probe"});
  CHECK(dense.get_config()["units"] == 4);
  CHECK(dense.to_json()["class_name"] == "Dense");
}

TEST_CASE("Layer: weight paths are Keras 3's", "[layers]") {
  Layer::reset_name_counters();
  Sequential model({Embedding(50, 4), Bidirectional(LSTM(3, {}, {.return_sequences = true})),
                    RNN(std::vector<std::shared_ptr<Cell>>{std::make_shared<GRUCell>(2), std::make_shared<SimpleRNNCell>(2)},
                        RNNOptions{.return_sequences = true}),
                    TimeDistributed(Dense(2)), Dense(1)});
  model.build_for({2, 5});
  std::vector<std::string> names;
  for (const Var& w : model.weights()) names.push_back(w.name());
  // As keras.Variable.path gives them for the same model (the cells inside a stack keep their counters).
  const std::vector<std::string> expected = {
      "sequential/embedding/embeddings",
      "sequential/bidirectional/forward_lstm/lstm_cell/kernel",
      "sequential/bidirectional/forward_lstm/lstm_cell/recurrent_kernel",
      "sequential/bidirectional/forward_lstm/lstm_cell/bias",
      "sequential/bidirectional/backward_lstm/lstm_cell/kernel",
      "sequential/bidirectional/backward_lstm/lstm_cell/recurrent_kernel",
      "sequential/bidirectional/backward_lstm/lstm_cell/bias",
      "sequential/rnn/stacked_rnn_cells/gru_cell/kernel",
      "sequential/rnn/stacked_rnn_cells/gru_cell/recurrent_kernel",
      "sequential/rnn/stacked_rnn_cells/gru_cell/bias",
      "sequential/rnn/stacked_rnn_cells/simple_rnn_cell/kernel",
      "sequential/rnn/stacked_rnn_cells/simple_rnn_cell/recurrent_kernel",
      "sequential/rnn/stacked_rnn_cells/simple_rnn_cell/bias",
      "sequential/time_distributed/dense/kernel",
      "sequential/time_distributed/dense/bias",
      "sequential/dense_1/kernel",
      "sequential/dense_1/bias"};
  CHECK(names == expected);
  // A layer built on its own has no enclosing path; a config round trip keeps the names.
  Dense alone(2, {.name = "head"});
  alone.build_for({1, 3});
  CHECK(alone.weights()[0].name() == "head/kernel");
  const auto again = layer_from_config(model.to_json());
  again->build_for({2, 5});
  CHECK(again->weights()[1].name() == again->name() + "/bidirectional/forward_lstm/lstm_cell/kernel");
}
