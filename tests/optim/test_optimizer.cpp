// SPDX-License-Identifier: Apache-2.0
// Optimizers against the Keras update formulas (fixture), clipping and schedules by hand, state round-trips.
#include <cmath>

#include "fixtures/golden_optimizers.hpp"
#include "support/fixture.hpp"

using namespace loom;
using Catch::Matchers::StartsWith;

namespace {

namespace fx = loom::fixtures::golden_optimizers;
Tensor F(const std::string& name) { return testing::fixture(fx::entries, name); }

std::unique_ptr<Optimizer> make(const std::string& name) {
  if (name == "sgd") return std::make_unique<SGD>(SGDOptions{.learning_rate = 0.1});
  if (name == "sgd_momentum") return std::make_unique<SGD>(SGDOptions{.learning_rate = 0.05, .momentum = 0.9});
  if (name == "sgd_nesterov")
    return std::make_unique<SGD>(SGDOptions{.learning_rate = 0.05, .momentum = 0.9, .nesterov = true});
  if (name == "adam") return std::make_unique<Adam>(AdamOptions{.learning_rate = 0.05});
  if (name == "adam_amsgrad") return std::make_unique<Adam>(AdamOptions{.learning_rate = 0.05, .amsgrad = true});
  if (name == "adamw") return std::make_unique<AdamW>(AdamWOptions{.learning_rate = 0.05, .weight_decay = 0.1});
  if (name == "rmsprop") return std::make_unique<RMSprop>(RMSpropOptions{.learning_rate = 0.01});
  if (name == "rmsprop_centered_momentum")
    return std::make_unique<RMSprop>(RMSpropOptions{.learning_rate = 0.01, .momentum = 0.5, .centered = true});
  return std::make_unique<Adagrad>(AdagradOptions{.learning_rate = 0.1});
}

const char* kNames[] = {"sgd",     "sgd_momentum", "sgd_nesterov", "adam",   "adam_amsgrad",
                        "adamw",   "rmsprop",      "rmsprop_centered_momentum", "adagrad"};

}  // namespace

TEST_CASE("optimizers: 20 steps on a quadratic follow the Keras formulas", "[optim][keras]") {
  for (const char* name : kNames) {
    CAPTURE(name);
    const Var w = Var::variable(F("quad_w0"), "w");
    const Var a(F("quad_a")), b(F("quad_b"));
    auto opt = make(name);
    for (int step = 0; step < 20; ++step) {
      GradientTape tape;
      const Var r = matmul(a, w) - b;
      const Var loss = sum(r * r) * 0.5;
      opt->apply_gradients(tape.gradient(loss, {w}), {w});
    }
    CHECK(opt->iterations() == 20);
    testing::check_close(w.value(), F(std::string(name) + "_quad_w"), 0, 1e-6);
  }
}

TEST_CASE("optimizers: 20 steps on a small LSTM follow the Keras formulas", "[optim][keras]") {
  for (const char* name : kNames) {
    CAPTURE(name);
    LSTM lstm(3);
    lstm.set_dtype(DType::f64);
    const Var x(F("lstm_x")), y(F("lstm_y"));
    lstm.build_for(x.shape());
    lstm.set_weights({F("lstm_kernel"), F("lstm_recurrent_kernel"), F("lstm_bias")});
    auto opt = make(name);
    for (int step = 0; step < 20; ++step) {
      GradientTape tape;
      const Var loss = mse(y, lstm(x));
      opt->apply_gradients(tape.gradient(loss, lstm.trainable_weights()), lstm.trainable_weights());
    }
    const auto w = lstm.get_weights();
    testing::check_close(w[0], F(std::string(name) + "_lstm_kernel"), 0, 1e-6);
    testing::check_close(w[1], F(std::string(name) + "_lstm_recurrent_kernel"), 0, 1e-6);
    testing::check_close(w[2], F(std::string(name) + "_lstm_bias"), 0, 1e-6);
  }
}

TEST_CASE("optimizers: clipnorm, clipvalue and global_clipnorm by hand", "[optim]") {
  // SGD with lr 1 makes the applied (clipped) gradient visible: Δw = −g.
  const Tensor g1 = Tensor::of({3, 4}, {2}, DType::f64), g2 = Tensor::of({12}, {1}, DType::f64);  // norms 5 and 12
  auto run = [&](OptimizerOptions base) {
    const Var w1 = Var::variable(Tensor::zeros({2}, DType::f64), "w1"), w2 = Var::variable(Tensor::zeros({1}, DType::f64), "w2");
    base.learning_rate = 1.0;
    SGD(SGDOptions{.learning_rate = base.learning_rate,
                   .clipnorm = base.clipnorm,
                   .clipvalue = base.clipvalue,
                   .global_clipnorm = base.global_clipnorm})
        .apply_gradients({g1, g2}, {w1, w2});
    return std::pair{core::neg(w1.value()), core::neg(w2.value())};
  };
  auto [n1, n2] = run({.clipnorm = 6.0});  // only the second exceeds 6
  testing::check_close(n1, {3, 4}, 1e-15, 0);
  testing::check_close(n2, {6}, 1e-15, 0);
  auto [v1, v2] = run({.clipvalue = 3.5});
  testing::check_close(v1, {3, 3.5}, 0, 0);
  testing::check_close(v2, {3.5}, 0, 0);
  auto [c1, c2] = run({.global_clipnorm = 6.5});  // global norm 13: everything halves
  testing::check_close(c1, {1.5, 2}, 1e-15, 0);
  testing::check_close(c2, {6}, 1e-15, 0);
  CHECK_THROWS_WITH(SGD(SGDOptions{.clipnorm = 1.0, .global_clipnorm = 1.0}),
                    StartsWith("SGD: Cannot accept both `clipnorm` and `global_clipnorm`"));
}

TEST_CASE("schedules: exponential, piecewise constant and cosine with warmup by hand", "[optim]") {
  CHECK(ExponentialDecay(0.1, 10, 0.5)(5) == Approx(0.1 * std::pow(0.5, 0.5)));
  CHECK(ExponentialDecay(0.1, 10, 0.5, true)(15) == Approx(0.05));
  const PiecewiseConstantDecay pc({10, 20}, {1.0, 0.5, 0.1});
  CHECK(pc(0) == 1.0);
  CHECK(pc(10) == 1.0);
  CHECK(pc(11) == 0.5);
  CHECK(pc(20) == 0.5);
  CHECK(pc(21) == 0.1);
  const CosineDecay cos(1.0, 100, 0.1);
  CHECK(cos(0) == Approx(1.0));
  CHECK(cos(50) == Approx(0.9 * 0.5 + 0.1));
  CHECK(cos(100) == Approx(0.1));
  CHECK(cos(500) == Approx(0.1));
  const CosineDecay warm(0.0, 100, 0.0, 2.0, 10);
  CHECK(warm(5) == Approx(1.0));
  CHECK(warm(10) == Approx(2.0));
  CHECK(warm(60) == Approx(1.0));
  // The optimizer evaluates the schedule at its iteration count.
  SGD opt(SGDOptions{.learning_rate = std::make_shared<PiecewiseConstantDecay>(std::vector<std::int64_t>{0},
                                                                              std::vector<double>{1.0, 0.5})});
  const Var w = Var::variable(Tensor::zeros({1}, DType::f64), "w");
  CHECK(opt.learning_rate() == 1.0);
  opt.apply_gradients({Tensor::ones({1}, DType::f64)}, {w});
  CHECK(opt.learning_rate() == 0.5);
  opt.apply_gradients({Tensor::ones({1}, DType::f64)}, {w});
  CHECK(w.value().item() == -1.5);
  CHECK_THROWS_AS(PiecewiseConstantDecay({1, 2}, {1.0}), ValueError);
}

TEST_CASE("optimizers: state() and load_state() resume exactly", "[optim]") {
  for (const char* name : kNames) {
    CAPTURE(name);
    auto run = [&](int first, int second, bool restart) {
      const Var w = Var::variable(F("quad_w0"), "w");
      const Var a(F("quad_a")), b(F("quad_b"));
      auto opt = make(name);
      auto steps = [&](Optimizer& o, int n) {
        for (int i = 0; i < n; ++i) {
          GradientTape tape;
          const Var r = matmul(a, w) - b;
          o.apply_gradients(tape.gradient(sum(r * r), {w}), {w});
        }
      };
      steps(*opt, first);
      if (restart) {
        const auto state = opt->state();
        opt = make(name);
        opt->load_state(state, {w});
      }
      steps(*opt, second);
      return w.value();
    };
    CHECK(testing::bitwise_equal(run(7, 6, false), run(7, 6, true)));
  }
}

TEST_CASE("optimizers: bad gradients throw and change nothing", "[optim][errors]") {
  const Var w = Var::variable(Tensor::ones({2}), "w");
  Adam opt;
  CHECK_THROWS_WITH(opt.apply_gradients({Tensor::ones({3})}, {w}), StartsWith("Adam.apply_gradients: gradient 0 for w must have shape (2,)"));
  CHECK_THROWS_WITH(opt.apply_gradients({}, {w}), StartsWith("Adam.apply_gradients: got 0 gradients for 1 variables."));
  CHECK_THROWS_AS(opt.apply_gradients({Tensor::ones({2}, DType::f64)}, {w}), TypeError);
  CHECK_THROWS_AS(opt.apply_gradients({Tensor::ones({2})}, {Var(Tensor::ones({2}))}), ValueError);
  CHECK(opt.iterations() == 0);
  CHECK(opt.state().size() == 2);  // iterations and learning_rate: no slot was created
  CHECK(w.value().to_vector<float>() == std::vector<float>{1, 1});
  CHECK_THROWS_AS(Adam(AdamOptions{.beta_1 = 1.0}), ValueError);
  CHECK_THROWS_AS(SGD(SGDOptions{.learning_rate = -1.0}), ValueError);
}

TEST_CASE("optimizers: options are written flat, as Keras's keyword arguments", "[optim]") {
  Adam adam({.learning_rate = 0.01, .clipnorm = 1.0, .beta_1 = 0.8});
  CHECK(adam.learning_rate() == Approx(0.01));
  CHECK(SGD({.momentum = 0.9}).learning_rate() == Approx(0.01));  // Keras's SGD default survives
  // AdamW decays by Keras's default 0.004 unless told otherwise: with a zero gradient only the decay
  // moves the weight, w ← w − w·wd·lr.
  const Var w = Var::variable(Tensor::ones({1}, DType::f64), "w");
  AdamW({.learning_rate = 0.5}).apply_gradients({Tensor::zeros({1}, DType::f64)}, {w});
  CHECK(w.value().item() == Approx(1.0 - 0.004 * 0.5));
  const Var v = Var::variable(Tensor::ones({1}, DType::f64), "v");
  AdamW({.learning_rate = 0.5, .weight_decay = 0.1}).apply_gradients({Tensor::zeros({1}, DType::f64)}, {v});
  CHECK(v.value().item() == Approx(1.0 - 0.1 * 0.5));
}
