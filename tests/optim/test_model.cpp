// SPDX-License-Identifier: Apache-2.0
// Model.fit / evaluate / predict, metrics, callbacks and progress output.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/reference.hpp"

using namespace loom;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

// Sum-of-sequence regression: x ~ U(−1, 1) of shape (n, 10, 1), y = Σ_t x_t. Predicting 0 scores 10/3.
std::pair<Tensor, Tensor> sum_task(std::int64_t n, std::uint64_t seed) {
  Generator gen(seed);
  const Tensor x = Tensor::uniform({n, 10, 1}, -1, 1, DType::f32, &gen);
  return {x, core::sum(x, 1)};
}

std::shared_ptr<Sequential> lstm_regressor() {
  return std::make_shared<Sequential>(
      std::vector<std::shared_ptr<Layer>>{std::make_shared<LSTM>(16), std::make_shared<Dense>(1)});
}

std::string temp(const std::string& name) { return (std::filesystem::temp_directory_path() / ("loom_fit_" + name)).string(); }

}  // namespace

TEST_CASE("fit: a small LSTM learns sum-of-sequence regression", "[optim][fit]") {
  manual_seed(1);
  const auto [x, y] = sum_task(512, 2);
  Model model(lstm_regressor());
  model.compile(std::make_shared<Adam>(AdamOptions{.learning_rate = 0.02}), losses::mse(), {"mae"});
  std::ostringstream log;
  const History h = model.fit(x, y, {.epochs = 20, .batch_size = 32, .validation_split = 0.25, .out = &log});
  const auto [tx, ty] = sum_task(256, 3);
  const Logs test = model.evaluate(tx, ty, 64);
  INFO(log.str());
  // Stated threshold: test MSE below 0.05 (the constant predictor scores 10/3 ≈ 3.3) within 20 epochs.
  CHECK(test.at("loss") < 0.05);
  CHECK(h.history.at("loss").back() < h.history.at("loss").front());
  CHECK(h.history.at("val_mae").size() == 20);
  CHECK(model.predict(tx, 100).shape() == Shape{256, 1});
  CHECK_THAT(log.str(), StartsWith("Train on 384 samples, validate on 128 samples - kernels: " + std::string(cpu_isa()) +
                                    " - threads: " + std::to_string(num_threads()) + "\nEpoch 1/20 - "));
  CHECK_THAT(log.str(), Contains(" - loss: "));
  CHECK_THAT(log.str(), Contains(" - val_loss: "));
}

TEST_CASE("fit: accuracy resolves by the loss and counts correct rows", "[optim][fit]") {
  const Tensor logits = Tensor::of({2, 1, 0, 0, 3, 1, 1, 0, 5}, {3, 3});
  const Tensor labels = Tensor::from_vector<std::int64_t>({0, 1, 1}, {3});
  const Metric acc = metrics::by_name("accuracy", losses::sparse_categorical_crossentropy(true));
  CHECK(acc.name == "accuracy");
  CHECK(acc.batch(labels, logits) == std::pair{2.0, 3.0});
  CHECK(metrics::by_name("accuracy", losses::binary_crossentropy()).batch(Tensor::of({1, 0}, {2}), Tensor::of({0.7, 0.6}, {2})) ==
        std::pair{1.0, 2.0});
  CHECK_THROWS_AS(metrics::by_name("f1", losses::mse()), ValueError);
  // The same labels one-hot (0, 1, 1): rows 0 and 1 right, row 2 (predicted 2) wrong.
  const Tensor onehot = Tensor::of({1, 0, 0, 0, 1, 0, 0, 1, 0}, {3, 3});
  CHECK(metrics::categorical_accuracy().batch(onehot, logits) == std::pair{2.0, 3.0});
  CHECK(metrics::by_name("accuracy", losses::categorical_crossentropy(true)).batch(onehot, logits) == std::pair{2.0, 3.0});
  // mae: |0.5 − 1| + |−2 − 0| + |3 − 3| + |1 − (−1)| = 4.5 over 4 elements, as a metric and as a loss.
  const Tensor t = Tensor::of({1, 0, 3, -1}, {2, 2}, DType::f64), p = Tensor::of({0.5, -2, 3, 1}, {2, 2}, DType::f64);
  CHECK(metrics::mae().batch(t, p) == std::pair{4.5, 4.0});
  const Var pv(p);
  GradientTape tape;
  tape.watch(pv);
  const Var l = losses::mae()(t, pv);
  CHECK(l.value().item() == Approx(4.5 / 4));
  testing::check_close(tape.gradient(l, {pv})[0], {-0.25, -0.25, 0, 0.25}, 0, 1e-15);  // sign(p − t) / n
}

TEST_CASE("fit: bad arguments, and shuffle with a stateful model, are refused", "[optim][fit][errors]") {
  Model model(lstm_regressor());
  const auto [x, y] = sum_task(8, 1);
  CHECK_THROWS_AS(model.fit(x, y), StateError);
  model.compile(std::make_shared<SGD>(), losses::mse());
  CHECK_THROWS_WITH(model.fit(x, y.slice0(0, 4)), StartsWith("Model.fit: x and y must hold the same number of samples"));
  CHECK_THROWS_AS(model.fit(x, y, {.batch_size = 0}), ValueError);
  Model stateful(std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{
      std::make_shared<SimpleRNN>(4, SimpleRNNCellOptions{}, RNNOptions{.stateful = true}), std::make_shared<Dense>(1)}));
  stateful.compile(std::make_shared<SGD>(), losses::mse());
  CHECK_THROWS_WITH(stateful.fit(x, y, {.verbose = 0}), StartsWith("Model.fit: shuffle=true with a stateful RNN"));
  CHECK_NOTHROW(stateful.fit(x, y, {.batch_size = 8, .shuffle = false, .verbose = 0}));
}

TEST_CASE("callbacks: CSVLogger, ModelCheckpoint, EarlyStopping, TerminateOnNaN, LR control", "[optim][fit]") {
  const auto [x, y] = sum_task(64, 4);
  // CSVLogger: "epoch" then the sorted keys, one row per epoch.
  {
    Model model(lstm_regressor());
    model.compile(std::make_shared<Adam>(), losses::mse(), {"mae"});
    const std::string csv = temp("log.csv");
    model.fit(x, y, {.epochs = 3, .validation_split = 0.25, .callbacks = {std::make_shared<CSVLogger>(csv)}, .verbose = 0});
    std::ifstream in(csv);
    std::string header, row;
    std::getline(in, header);
    CHECK(header == "epoch,loss,mae,val_loss,val_mae");
    int rows = 0;
    while (std::getline(in, row)) CHECK(row.rfind(std::to_string(rows++) + ",", 0) == 0);
    CHECK(rows == 3);
  }
  // ModelCheckpoint writes one file per epoch; EarlyStopping stops when nothing improves (lr 0).
  {
    Model model(lstm_regressor());
    model.compile(std::make_shared<SGD>(SGDOptions{.learning_rate = 0.0}), losses::mse());
    auto stop = std::make_shared<EarlyStopping>(EarlyStoppingOptions{.monitor = "loss", .patience = 1});
    const History h = model.fit(x, y, {.epochs = 10, .shuffle = false, .callbacks = {std::make_shared<ModelCheckpoint>(temp("ckpt_{epoch}.safetensors")), stop}, .verbose = 0});
    // Keras's rule: best at epoch 0; epoch 1 does not improve, the first of `patience` (1) such epochs.
    CHECK(h.epoch.size() == 2);
    CHECK(stop->stopped_epoch() == 1);
    CHECK(std::filesystem::exists(temp("ckpt_1.safetensors")));
    CHECK(std::filesystem::exists(temp("ckpt_2.safetensors")));
  }
  // TerminateOnNaN stops at the first non-finite batch loss.
  {
    Model model(lstm_regressor());
    Loss nan_loss{"nan", [](const Tensor& t, const Var& p) { return mse(Var(t), p) * std::nan(""); }};
    model.compile(std::make_shared<SGD>(), nan_loss);
    int batches = 0;
    auto count = std::make_shared<LambdaCallback>();
    count->batch_end = [&](Model&, std::int64_t, const Logs&) { ++batches; };
    model.fit(x, y, {.epochs = 5, .batch_size = 8, .callbacks = {std::make_shared<TerminateOnNaN>(), count}, .verbose = 0});
    CHECK(batches == 1);
  }
  // LearningRateScheduler sets the rate each epoch; ReduceLROnPlateau cuts it after `patience` flat epochs.
  {
    Model model(lstm_regressor());
    model.compile(std::make_shared<SGD>(SGDOptions{.learning_rate = 0.0}), losses::mse());
    std::vector<double> seen;
    auto watch = std::make_shared<LambdaCallback>();
    watch->epoch_end = [&](Model& m, int, const Logs&) { seen.push_back(m.optimizer().learning_rate()); };
    model.fit(x, y,
              {.epochs = 3, .callbacks = {std::make_shared<LearningRateScheduler>([](int e, double) { return 0.1 * (e + 1); }), watch},
               .verbose = 0});
    CHECK(seen == std::vector<double>{0.1, 0.2, 0.30000000000000004});
    Model flat(lstm_regressor());
    flat.compile(std::make_shared<SGD>(SGDOptions{.learning_rate = 1e-30}), losses::mse());
    auto plateau = std::make_shared<ReduceLROnPlateau>(ReduceLROnPlateauOptions{.monitor = "loss", .factor = 0.5, .patience = 2});
    flat.fit(x, y, {.epochs = 4, .shuffle = false, .callbacks = {plateau}, .verbose = 0});
    CHECK(flat.optimizer().learning_rate() == Approx(0.5e-30));
  }
}

TEST_CASE("fit: accuracy from a from-logits binary cross-entropy thresholds the logits at 0", "[optim][fit]") {
  const Tensor labels = Tensor::of({0, 1, 1, 1}, {4, 1});
  const Tensor logits = Tensor::of({-0.2, 0.3, 0.7, -1.0}, {4, 1});  // decisions at 0: 0, 1, 1, 0
  for (const char* name : {"accuracy", "binary_accuracy"}) {
    CAPTURE(name);
    CHECK(metrics::by_name(name, losses::binary_crossentropy(/*from_logits=*/true)).batch(labels, logits) ==
          std::pair{3.0, 4.0});
    // Probabilities: the threshold stays at 0.5 (0.3 and 0.7 → 0 and 1).
    CHECK(metrics::by_name(name, losses::binary_crossentropy()).batch(labels, Tensor::of({0.2, 0.3, 0.7, 0.9}, {4, 1})) ==
          std::pair{3.0, 4.0});
  }
  CHECK(losses::sparse_categorical_crossentropy(true).from_logits);
  CHECK_FALSE(losses::mse().from_logits);
}

TEST_CASE("compile: Keras's string names for optimizers and losses", "[optim][fit]") {
  Model m(lstm_regressor());
  m.compile("adam", "mse", {"mae"});
  CHECK(m.optimizer().name() == "Adam");
  CHECK(m.optimizer().learning_rate() == Approx(0.001));
  m.compile("SGD", losses::binary_crossentropy(true), {"accuracy"});
  CHECK(m.optimizer().name() == "SGD");
  CHECK(m.optimizer().learning_rate() == Approx(0.01));
  for (const char* name : {"rmsprop", "adagrad", "adamw"}) CHECK_NOTHROW(m.compile(name, "mean_squared_error"));
  for (const char* name : {"mae", "mean_absolute_error", "binary_crossentropy", "categorical_crossentropy",
                           "sparse_categorical_crossentropy"})
    CHECK(losses::by_name(name).fn != nullptr);
  CHECK_FALSE(losses::by_name("binary_crossentropy").from_logits);
  // Unknown names are refused, and the model keeps its compiled state.
  CHECK_THROWS_WITH(m.compile("adamax", "mse"), Contains("unknown optimizer 'adamax'"));
  CHECK_THROWS_WITH(m.compile("adam", "hinge"), Contains("unknown loss 'hinge'"));
  CHECK(m.optimizer().name() == "AdamW");
}

TEST_CASE("summary: Keras's table for a masked Bidirectional-GRU classifier", "[optim][summary]") {
  auto net = std::make_shared<Sequential>(
      std::vector<std::shared_ptr<Layer>>{
          std::make_shared<Embedding>(1000, 32, EmbeddingOptions{.mask_zero = true, .name = "embedding"}),
          std::make_shared<Bidirectional>(std::make_shared<GRU>(64), MergeMode::concat, nullptr, "bidirectional"),
          std::make_shared<Dense>(1, DenseOptions{.name = "dense"})},
      "sequential");
  Model model(net);
  std::ostringstream early;
  CHECK_THROWS_AS(model.summary(early), StateError);  // Keras: "This model has not yet been built"
  net->build_for({8, 20});
  std::ostringstream out;
  model.summary(out);
  // Written by hand in tf.keras 2.x's layout: 65 columns, fields cut at 29 and 55 (the long layer name
  // runs into the next column, as Keras prints it), thousands grouped.
  const std::string expected =
      "Model: \"sequential\"\n"
      "_________________________________________________________________\n"
      "Layer (type)                 Output Shape              Param #   \n"
      "=================================================================\n"
      "embedding (Embedding)        (None, 20, 32)            32000     \n"
      "_________________________________________________________________\n"
      "bidirectional (Bidirectional (None, 128)               37632     \n"
      "_________________________________________________________________\n"
      "dense (Dense)                (None, 1)                 129       \n"
      "=================================================================\n"
      "Total params: 69,761\n"
      "Trainable params: 69,761\n"
      "Non-trainable params: 0\n"
      "_________________________________________________________________\n";
  CHECK(out.str() == expected);
  // A frozen layer moves its parameters to the non-trainable count.
  net->layers()[0]->set_trainable(false);
  const std::string frozen = summary(*net);
  CHECK_THAT(frozen, Contains("Trainable params: 37,761\n"));
  CHECK_THAT(frozen, Contains("Non-trainable params: 32,000\n"));
}
