// SPDX-License-Identifier: Apache-2.0
// save_model / load_model: bitwise predictions and training state back in the same process (the
// cross-process case is tests/resume/saved_model.cmake), custom cells through the registry, and
// refusals.
#include <filesystem>

#include "layers/test_cells.hpp"
#include "support/reference.hpp"

using namespace loom;
using Catch::Matchers::Contains;

namespace {

std::string temp(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("loom_saving_" + name)).string();
}

std::pair<Tensor, Tensor> toy_text(std::int64_t n) {  // ids in [1, 50), 0 pads the last few steps
  Generator gen(5);
  const Tensor u = Tensor::uniform({n, 8}, 1, 50, DType::f64, &gen);
  Tensor x = Tensor::zeros({n, 8}, DType::i64), y = Tensor::zeros({n, 1});
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t t = 0; t < 4 + i % 5; ++t) {
      x.data<std::int64_t>()[i * 8 + t] = static_cast<std::int64_t>(u.data<double>()[i * 8 + t]);
      if (x.data<std::int64_t>()[i * 8 + t] < 10) y.data<float>()[i] = 1;
    }
  return {x, y};
}

}  // namespace

TEST_CASE("save_model: load_model gives the same predictions and goes on training alike", "[optim][saving]") {
  const auto [x, y] = toy_text(96);
  manual_seed(3);
  Model model(Sequential({Embedding(50, 8, {.mask_zero = true}), Bidirectional(GRU(6)), Dense(1)}));
  model.compile(std::make_shared<Adam>(AdamOptions{.learning_rate = 0.01, .clipnorm = 2.0, .beta_1 = 0.8}),
                losses::binary_crossentropy(true), {"accuracy"});
  model.fit(x, y, {.epochs = 2, .batch_size = 32, .verbose = 0});
  const std::string path = temp("classifier.safetensors");
  save_model(model, path);

  Model again = load_model(path);
  CHECK(testing::bitwise_equal(again.predict(x), model.predict(x)));
  CHECK(summary(again.network()) == summary(model.network()));
  CHECK(again.optimizer().name() == "Adam");
  CHECK(again.optimizer().iterations() == model.optimizer().iterations());
  CHECK(again.optimizer().to_json() == model.optimizer().to_json());
  CHECK(again.evaluate(x, y) == model.evaluate(x, y));
  // The optimizer's moments came back too: one more step on the same batch lands on the same bits.
  model.train_on_batch(x.slice0(0, 32), y.slice0(0, 32));
  again.train_on_batch(x.slice0(0, 32), y.slice0(0, 32));
  const auto a = model.network().get_weights(), b = again.network().get_weights();
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(testing::bitwise_equal(a[i], b[i]));

  // Without the optimizer: the same network and weights, not compiled.
  save_model(model, path, {.include_optimizer = false});
  Model bare = load_model(path);
  CHECK(testing::bitwise_equal(bare.predict(x), model.predict(x)));
  CHECK_THROWS_AS(bare.optimizer(), StateError);
  std::filesystem::remove(path);
}

TEST_CASE("save_model: schedules and every optimizer survive the round trip", "[optim][saving]") {
  const std::vector<std::shared_ptr<Optimizer>> all{
      std::make_shared<SGD>(SGDOptions{.learning_rate = std::make_shared<ExponentialDecay>(0.1, 10, 0.5, true),
                                       .momentum = 0.9, .nesterov = true}),
      std::make_shared<RMSprop>(RMSpropOptions{.clipvalue = 0.5, .rho = 0.8, .centered = true}),
      std::make_shared<Adagrad>(AdagradOptions{.learning_rate = std::make_shared<CosineDecay>(0.1, 100, 0.1, 0.2, 5),
                                               .initial_accumulator_value = 0.2}),
      std::make_shared<AdamW>(AdamWOptions{.learning_rate = std::make_shared<PiecewiseConstantDecay>(
                                               std::vector<std::int64_t>{5, 10}, std::vector<double>{0.1, 0.05, 0.01}),
                                           .weight_decay = 0.01, .amsgrad = true})};
  for (const auto& opt : all) {
    CAPTURE(opt->name());
    const nlohmann::json j = opt->to_json();
    const std::shared_ptr<Optimizer> back = optimizers::from_json(nlohmann::json::parse(j.dump()));
    CHECK(back->name() == opt->name());
    CHECK(back->to_json() == j);
  }
  CHECK_THROWS_AS(optimizers::from_json({{"class_name", "Adamax"}, {"config", nlohmann::json::object()}}), FormatError);
  CHECK_THROWS_AS(optimizers::from_json({{"class_name", "SGD"}, {"config", {{"momentum", "high"}}}}), FormatError);
  CHECK_THROWS_AS(optimizers::from_json({{"class_name", "SGD"}, {"config", {{"momentum", 7}}}}), FormatError);
  struct Custom final : LearningRateSchedule {
    double operator()(std::int64_t) const override { return 0.1; }
  };
  CHECK_THROWS_AS(SGD({.learning_rate = std::make_shared<Custom>()}).to_json(), ValueError);
}

TEST_CASE("save_model: a custom cell comes back through the registry", "[optim][saving]") {
  register_layer("MinimalRNNCell", [](const nlohmann::json& c) {
    return std::make_shared<testing::MinimalRNNCell>(c.at("units").get<std::int64_t>());
  });
  manual_seed(4);
  Model model(Sequential({RNN(std::make_shared<testing::MinimalRNNCell>(5)), Dense(2)}));
  model.compile("sgd", "mse");
  const Tensor x = testing::random({3, 4, 2});
  model.network().build_for(x.shape());
  const std::string path = temp("custom.safetensors");
  save_model(model, path);
  Model again = load_model(path);
  CHECK(testing::bitwise_equal(again.predict(x), model.predict(x)));
  std::filesystem::remove(path);
}

TEST_CASE("save_model: what cannot be saved or loaded is refused, naming why", "[optim][saving]") {
  Model unbuilt(Sequential({LSTM(3), Dense(1)}));
  CHECK_THROWS_AS(save_model(unbuilt, temp("x")), StateError);
  Model custom_loss(Sequential({Dense(1)}));
  custom_loss.compile(std::make_shared<SGD>(),
                      Loss{"twice_mse", [](const Tensor& t, const Var& p) { return mse(Var(t), p) * 2.0; }});
  custom_loss.network().build_for({2, 3});
  CHECK_THROWS_WITH(save_model(custom_loss, temp("x")), Contains("'twice_mse'") && Contains("include_optimizer"));
  const std::string path = temp("plain.safetensors");
  save_model(custom_loss, path, {.include_optimizer = false});
  CHECK_NOTHROW(load_model(path));
  // Files that are not models, and models whose records are broken.
  save_weights(custom_loss.network(), path);
  CHECK_THROWS_WITH(load_model(path), Contains("is not a loom model file"));
  save_model(custom_loss, path, {.include_optimizer = false});
  TensorFile good = load_safetensors(path);
  const std::vector<std::pair<std::string, std::string>> breaks{
      {"model_config", "{\"class_name\": \"NoSuchLayer\", \"config\": {}}"},
      {"model_config", "not json"},
      {"input_shape", "[-1, 3]"},
      {"input_shape", "[]"},
      {"input_shape", "[2, 4]"},  // builds a Dense for 4 inputs: the saved kernel (3, 1) does not fit
      {"compile", "{\"optimizer\": 1}"},
      {"compile", "{\"optimizer\": {\"class_name\": \"SGD\", \"config\": {}}, \"loss\": {\"name\": \"hinge\", "
                  "\"from_logits\": false}, \"metrics\": []}"},
  };
  for (const auto& [key, value] : breaks) {
    CAPTURE(key, value);
    TensorFile bad = good;
    bad.metadata[key] = value;
    save_safetensors(path, bad);
    CHECK_THROWS_AS(load_model(path), FormatError);
  }
  std::filesystem::remove(path);
}
