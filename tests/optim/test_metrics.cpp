// SPDX-License-Identifier: Apache-2.0
// Stateful metrics (precision, recall, AUC) against a numpy rendering of tf.keras's formulas, and
// Keras's sample and class weights: weighted losses against torch, fit against values worked by hand.
#include "fixtures/golden_metrics.hpp"
#include "support/fixture.hpp"

using namespace loom;
using Catch::Matchers::Contains;

namespace {

namespace fx = loom::fixtures::golden_metrics;
Tensor F(const std::string& name) { return testing::fixture(fx::entries, name); }
double result(int k) { return F("results").to_vector<double>()[static_cast<std::size_t>(k)]; }

// A metric's value over (t, p), fed in batches of `batch` rows (each batch adds to the state).
double evaluate(const Metric& metric, const Tensor& t, const Tensor& p, std::int64_t batch) {
  const Metric m = metric.stateful();
  std::vector<double> state(m.state_size, 0.0);
  for (std::int64_t b = 0; b < t.shape(0); b += batch) {
    const std::int64_t n = std::min(batch, t.shape(0) - b);
    m.accumulate(t.slice0(b, n), p.slice0(b, n), state);
  }
  return m.result(state);
}

// A model whose output is its Dense bias (the kernel is zero): the loss is then a function of the
// bias alone, which makes its value and its SGD step easy to work out by hand.
Model bias_model(std::int64_t inputs, const std::vector<double>& bias) {
  auto dense = std::make_shared<Dense>(static_cast<std::int64_t>(bias.size()));
  dense->set_dtype(DType::f64);
  dense->build_for({1, inputs});
  dense->set_weights({Tensor::zeros({inputs, static_cast<std::int64_t>(bias.size())}, DType::f64),
                      Tensor::from_vector(bias, {static_cast<std::int64_t>(bias.size())})});
  return Model(Ref<Layer>(dense));
}

}  // namespace

TEST_CASE("metrics: precision, recall and AUC as tf.keras computes them", "[optim][metrics]") {
  const Tensor labels = F("labels"), preds = F("preds"), logits = F("logits");
  for (std::int64_t batch : {300, 64, 7}) {  // the state adds up over batches
    CAPTURE(batch);
    CHECK(evaluate(metrics::precision(), labels, preds, batch) == Approx(result(0)).epsilon(1e-14));
    CHECK(evaluate(metrics::recall(), labels, preds, batch) == Approx(result(1)).epsilon(1e-14));
    CHECK(evaluate(metrics::precision(0.3), labels, preds, batch) == Approx(result(2)).epsilon(1e-14));
    CHECK(evaluate(metrics::recall(0.3), labels, preds, batch) == Approx(result(3)).epsilon(1e-14));
    CHECK(evaluate(metrics::precision(0.5, true), labels, logits, batch) == Approx(result(4)).epsilon(1e-14));
    CHECK(evaluate(metrics::recall(0.5, true), labels, logits, batch) == Approx(result(5)).epsilon(1e-14));
    CHECK(evaluate(metrics::auc(), labels, preds, batch) == Approx(result(6)).epsilon(1e-12));
    CHECK(evaluate(metrics::auc({.curve = AUCOptions::Curve::pr}), labels, preds, batch) == Approx(result(7)).epsilon(1e-12));
    CHECK(evaluate(metrics::auc({.num_thresholds = 7}), labels, preds, batch) == Approx(result(8)).epsilon(1e-12));
    CHECK(evaluate(metrics::auc({.num_thresholds = 7, .curve = AUCOptions::Curve::pr}), labels, preds, batch) ==
          Approx(result(9)).epsilon(1e-12));
    CHECK(evaluate(metrics::auc({.from_logits = true}), labels, logits, batch) == Approx(result(10)).epsilon(1e-12));
    CHECK(evaluate(metrics::auc({.curve = AUCOptions::Curve::pr, .from_logits = true}), labels, logits, batch) ==
          Approx(result(11)).epsilon(1e-12));
  }
  // With thresholds between every pair of distinct scores, the ROC area is the exact one (the
  // probability that a positive outranks a negative, ties counted half).
  CHECK(evaluate(metrics::auc({.num_thresholds = 1001}), labels, preds, 300) == Approx(result(12)).epsilon(1e-12));
}

TEST_CASE("metrics: edge cases and names", "[optim][metrics]") {
  const Tensor t = Tensor::of({0, 0, 1}, {3, 1}), p = Tensor::of({0.1, 0.2, 0.3}, {3, 1});
  CHECK(evaluate(metrics::precision(), t, p, 3) == 0.0);  // nothing predicted positive: 0, as divide_no_nan
  CHECK(evaluate(metrics::recall(), Tensor::zeros({3, 1}), p, 3) == 0.0);
  CHECK(evaluate(metrics::auc(), t, p, 3) == Approx(1.0));  // a perfect ranking
  CHECK(evaluate(metrics::auc(), Tensor::of({1, 1, 0}, {3, 1}), p, 3) == Approx(0.0));
  const Loss logits_loss = losses::binary_crossentropy(true);
  for (const char* name : {"precision", "Precision", "recall", "Recall", "auc", "AUC"}) {
    CAPTURE(name);
    const Metric m = metrics::by_name(name, logits_loss);
    CHECK(m.state_size > 0);
  }
  // By name with a from-logits loss, the decisions are those of the probabilities.
  CHECK(evaluate(metrics::by_name("precision", logits_loss), t, Tensor::of({-1, 2, 0.5}, {3, 1}), 3) == Approx(0.5));
  CHECK_THROWS_WITH(metrics::auc({.num_thresholds = 1}), Contains("num_thresholds must be in [2, 2^20]; got 1"));
  CHECK_THROWS_AS(metrics::auc({.num_thresholds = 1 << 30}), ValueError);
  std::vector<double> state(2, 0.0);
  CHECK_THROWS_WITH(metrics::precision().accumulate(t, Tensor::zeros({2, 1}), state),
                    Contains("precision: y_true and y_pred must have as many elements"));
}

TEST_CASE("metrics: precision, recall and AUC through Model.evaluate", "[optim][metrics]") {
  // The model's output is its bias: every sample gets the same score, so the positives are exactly
  // the samples predicted positive or none are.
  Model model = bias_model(2, {0.8});
  model.compile("sgd", "binary_crossentropy", {"precision", "recall", "auc", "accuracy"});
  const Tensor x = Tensor::zeros({5, 2}, DType::f64), y = Tensor::of({1, 0, 1, 1, 0}, {5, 1}, DType::f64);
  const Logs logs = model.evaluate(x, y, 2);
  CHECK(logs.at("precision") == Approx(0.6));
  CHECK(logs.at("recall") == Approx(1.0));
  CHECK(logs.at("auc") == Approx(0.5));  // one score for all: the chance diagonal
  CHECK(logs.at("accuracy") == Approx(0.6));
  // Typed metric objects, with options the names cannot carry.
  model.compile(std::make_shared<SGD>(), losses::binary_crossentropy(), std::vector<Metric>{metrics::precision(0.9)});
  CHECK(model.evaluate(x, y).at("precision") == 0.0);
  CHECK_THROWS_AS(model.compile(std::make_shared<SGD>(), losses::mse(), std::vector<Metric>{Metric{"empty"}}), ValueError);
}

TEST_CASE("losses: sample weights follow Keras's sum over batch size (torch)", "[optim][metrics][loss]") {
  const Tensor t2 = F("t2"), lab2 = F("lab2").to(DType::i64);
  const std::vector<double> expected = F("weighted_losses").to_vector<double>();
  const Tensor soft = [&] {  // the fixture's soft targets: 0.8 one-hot + 0.04
    Tensor s = Tensor::full({4, 3, 5}, 0.04, DType::f64);
    double* d = s.data<double>();
    const std::vector<std::int64_t> l = lab2.to_vector<std::int64_t>();
    for (std::size_t r = 0; r < l.size(); ++r) d[r * 5 + static_cast<std::size_t>(l[r])] += 0.8;
    return s;
  }();
  const char* kinds[] = {"mse", "mae", "bce", "bce_logits", "cce", "cce_logits", "sparse", "sparse_logits"};
  int k = 0;
  for (const Tensor& w : {F("w_rows"), F("w_samples")}) {  // (4, 3) per row, (4,) per sample
    for (const char* kind : kinds) {
      CAPTURE(kind, w.shape());
      const std::string name = kind;
      const Var p(F("in_" + name));
      GradientTape tape;
      tape.watch(p);
      Var loss;
      if (name == "mse") loss = losses::mse()(t2, p, w);
      if (name == "mae") loss = losses::mae()(t2, p, w);
      if (name == "bce") loss = losses::binary_crossentropy()(t2, p, w);
      if (name == "bce_logits") loss = losses::binary_crossentropy(true)(t2, p, w);
      if (name == "cce") loss = losses::categorical_crossentropy()(soft, p, w);
      if (name == "cce_logits") loss = losses::categorical_crossentropy(true)(soft, p, w);
      if (name == "sparse") loss = losses::sparse_categorical_crossentropy()(lab2, p, w);
      if (name == "sparse_logits") loss = losses::sparse_categorical_crossentropy(true)(lab2, p, w);
      CHECK(loss.value().item() == Approx(expected[static_cast<std::size_t>(k)]).epsilon(1e-12));
      const Tensor grad = tape.gradient(loss, {p})[0];
      testing::check_close(grad, F("grad_" + name + "_" + std::to_string(k)).to_vector<double>(), 1e-10, 1e-12);
      ++k;
    }
  }
}

TEST_CASE("losses: weighted forms pass gradcheck and keep the unweighted bits", "[optim][metrics][loss]") {
  Generator gen(5);
  const Tensor t = Tensor::uniform({3, 4}, 0, 1, DType::f64, &gen), w = Tensor::uniform({3}, 0, 2, DType::f64, &gen);
  for (const Loss& loss : {losses::mse(), losses::mae(), losses::binary_crossentropy(true), losses::categorical_crossentropy(true)}) {
    CAPTURE(loss.name);
    const Tensor p = Tensor::uniform({3, 4}, 0.1, 0.9, DType::f64, &gen);
    const GradcheckResult r = gradcheck([&](const std::vector<Var>& v) { return loss(t, v[0], w); }, {p});
    CHECK(r.ok);
    INFO(r.message);
    // No weights: the unweighted loss, bit for bit.
    CHECK(loss(t, Var(p), Tensor()).value().item() == loss(t, Var(p)).value().item());
  }
  // Weights of a leading part of the rows' shape repeat; a trailing 1 is ignored; others are refused.
  const Tensor p = Tensor::uniform({2, 3, 4}, 0.1, 0.9, DType::f64, &gen), y = Tensor::uniform({2, 3, 4}, 0, 1, DType::f64, &gen);
  const Tensor per_sample = Tensor::of({2, 0.5}, {2}, DType::f64);
  const Tensor per_row = Tensor::of({2, 2, 2, 0.5, 0.5, 0.5}, {2, 3}, DType::f64);
  CHECK(losses::mse()(y, Var(p), per_sample).value().item() ==
        Approx(losses::mse()(y, Var(p), per_row).value().item()).epsilon(1e-15));
  CHECK(losses::mse()(y, Var(p), per_sample.reshape({2, 1})).value().item() ==
        Approx(losses::mse()(y, Var(p), per_sample).value().item()).epsilon(1e-15));
  CHECK_THROWS_WITH(losses::mse()(y, Var(p), Tensor::ones({3}, DType::f64)),
                    Contains("mse: sample_weight must have the shape of the per-sample losses (2, 3) or a leading part of "
                             "it; got (3,)"));
  CHECK_THROWS_AS(losses::mse()(y, Var(p), Tensor::ones({2}, DType::i64)), TypeError);
  const Loss custom{"custom", [](const Tensor& a, const Var& b) { return mse(Var(a), b); }};
  CHECK_THROWS_WITH(custom(y, Var(p), per_sample), Contains("loss 'custom': this loss takes no sample weights"));
}

TEST_CASE("fit: sample_weight and class_weight, worked by hand", "[optim][metrics][fit]") {
  const double e = std::exp(1.0);
  // Logits (0, 1) for every sample: the row losses are log(1 + e) for label 0 and log(1 + 1/e) for 1.
  const double l0 = std::log(1 + e), l1 = std::log(1 + 1 / e);
  const Tensor x = Tensor::zeros({3, 2}, DType::f64), labels = Tensor::from_vector<std::int64_t>({0, 1, 1}, {3});
  {
    Model model = bias_model(2, {0, 1});
    model.compile(std::make_shared<SGD>(SGDOptions{.learning_rate = 0.1}), losses::sparse_categorical_crossentropy(true));
    // Class weights {0: 2, 1: 0.5} weigh the rows 2, 0.5, 0.5; the loss divides by the 3 rows.
    const Logs logs = model.train_on_batch(x, labels, {}, {{0, 2.0}, {1, 0.5}});
    CHECK(logs.at("loss") == Approx((2 * l0 + 0.5 * l1 + 0.5 * l1) / 3).epsilon(1e-12));
    // d/d bias of the weighted loss: Σ_r w_r (softmax − onehot_r) / 3, softmax = (1, e) / (1 + e).
    const double s0 = 1 / (1 + e), s1 = e / (1 + e);
    const double g0 = (2 * (s0 - 1) + 2 * 0.5 * s0) / 3, g1 = (2 * s1 + 2 * 0.5 * (s1 - 1)) / 3;
    testing::check_close(model.network().weights()[1].value(), {-0.1 * g0, 1 - 0.1 * g1}, 0, 1e-14);
  }
  {
    // The same weights as sample_weight give the same step; both together multiply.
    Model a = bias_model(2, {0, 1}), b = bias_model(2, {0, 1});
    a.compile(std::make_shared<SGD>(SGDOptions{.learning_rate = 0.1}), losses::sparse_categorical_crossentropy(true));
    b.compile(std::make_shared<SGD>(SGDOptions{.learning_rate = 0.1}), losses::sparse_categorical_crossentropy(true));
    a.fit(x, labels, {.batch_size = 3, .shuffle = false, .sample_weight = Tensor::of({4, 0.5, 1}, {3}, DType::f64), .verbose = 0});
    b.fit(x, labels, {.batch_size = 3, .shuffle = false, .sample_weight = Tensor::of({2, 0.25, 0.5}, {3}, DType::f64),
                      .class_weight = {{0, 2.0}, {1, 2.0}}, .verbose = 0});
    const std::vector<double> wa = a.network().weights()[1].value().to_vector<double>();
    testing::check_close(b.network().weights()[1].value(), wa, 0, 1e-15);
    // evaluate weighs the loss by its sample_weight: (4·l0 + 0.5·l1 + 1·l1) / 3 at the initial bias.
    Model c = bias_model(2, {0, 1});
    c.compile("sgd", losses::sparse_categorical_crossentropy(true), {"accuracy"});
    const Logs logs = c.evaluate(x, labels, 2, Tensor::of({4, 0.5, 1}, {3}, DType::f64));
    // Two batches of 2 and 1 rows: the batch means are weighted by their sizes, as Keras's loss metric.
    CHECK(logs.at("loss") == Approx((4 * l0 + 0.5 * l1 + 1 * l1) / 3).epsilon(1e-12));
    CHECK(logs.at("accuracy") == Approx(2.0 / 3));  // metrics stay unweighted
  }
  {
    // 0/1 targets of shape (N, 1): logits 0 give log 2 per row; class weights {0: 2, 1: 1} make it
    // (2 + 1) · log 2 / 2.
    Model model = bias_model(2, {0});
    model.compile("sgd", losses::binary_crossentropy(true));
    const Logs logs = model.train_on_batch(Tensor::zeros({2, 2}, DType::f64), Tensor::of({0, 1}, {2, 1}, DType::f64), {},
                                           {{0, 2.0}, {1, 1.0}});
    CHECK(logs.at("loss") == Approx(1.5 * std::log(2.0)).epsilon(1e-12));
  }
  {
    // validation_split splits the weights with the samples.
    Model model = bias_model(2, {0, 1});
    model.compile("sgd", losses::sparse_categorical_crossentropy(true));
    const Tensor x4 = Tensor::zeros({4, 2}, DType::f64), y4 = Tensor::from_vector<std::int64_t>({0, 1, 1, 0}, {4});
    const History h = model.fit(x4, y4, {.epochs = 1, .validation_split = 0.25,
                                         .sample_weight = Tensor::of({1, 1, 1, 3}, {4}, DType::f64), .verbose = 0});
    // The held-out sample (label 0, weight 3), at the bias after one step.
    const std::vector<double> bias = model.network().weights()[1].value().to_vector<double>();
    const double held = 3 * (std::log(std::exp(bias[0]) + std::exp(bias[1])) - bias[0]);
    CHECK(h.history.at("val_loss")[0] == Approx(held).epsilon(1e-12));
  }
}

TEST_CASE("fit: bad sample and class weights are refused and change nothing", "[optim][metrics][fit][errors]") {
  Model model = bias_model(2, {0, 1});
  model.compile(std::make_shared<SGD>(), losses::sparse_categorical_crossentropy(true));
  const Tensor x = Tensor::zeros({3, 2}, DType::f64), labels = Tensor::from_vector<std::int64_t>({0, 1, 2}, {3});
  const std::vector<double> before = model.network().weights()[1].value().to_vector<double>();
  CHECK_THROWS_WITH(model.fit(x, labels, {.sample_weight = Tensor::ones({2}, DType::f64), .verbose = 0}),
                    Contains("Model.fit: sample_weight must have one weight (or row of weights) per sample, 3; got shape (2,)"));
  CHECK_THROWS_AS(model.fit(x, labels, {.sample_weight = Tensor::ones({3}, DType::i64), .verbose = 0}), TypeError);
  CHECK_THROWS_WITH(model.fit(x, labels, {.shuffle = false, .class_weight = {{0, 1.0}, {1, 1.0}}, .verbose = 0}),
                    Contains("class_weight has no weight for class 2 (of sample 2); it has classes 0, 1"));
  CHECK_THROWS_WITH(model.evaluate(x, labels, 32, Tensor::ones({4}, DType::f64)), Contains("Model.evaluate: sample_weight"));
  testing::check_close(model.network().weights()[1].value(), before, 0, 0);
  Model custom = bias_model(2, {0, 1});
  custom.compile("sgd", Loss{"custom", [](const Tensor& t, const Var& p) { return mse(Var(t.to(p.dtype())), p); }});
  CHECK_THROWS_WITH(custom.fit(x, Tensor::zeros({3, 2}, DType::f64), {.sample_weight = Tensor::ones({3}, DType::f64), .verbose = 0}),
                    Contains("the loss 'custom' takes no sample weights"));
}

TEST_CASE("losses: a rank-1 categorical prediction is one weighted row", "[optim][metrics][loss]") {
  // One row of 3 classes, weight 2: twice the unweighted loss.
  const Tensor t = Tensor::of({0, 1, 0}, {3}, DType::f64), p = Tensor::of({0.2, 1.5, -0.3}, {3}, DType::f64);
  const double plain = losses::categorical_crossentropy(true)(t, Var(p)).value().item();
  CHECK(losses::categorical_crossentropy(true)(t, Var(p), Tensor::full({}, 2.0, DType::f64)).value().item() ==
        Approx(2 * plain).epsilon(1e-15));
  CHECK_THROWS_AS(losses::categorical_crossentropy(true)(t, Var(p), Tensor::ones({3}, DType::f64)), ValueError);
}
