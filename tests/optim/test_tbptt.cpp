// SPDX-License-Identifier: Apache-2.0
// Truncated BPTT against hand-built computations: full BPTT for one window, stop_gradient at window edges,
// k2 > k1 overlaps, carried states of one long pass, per-stream resets; and batchify.
#include "support/gradcheck.hpp"

using namespace loom;

namespace {

struct Fixture {
  std::shared_ptr<RNN> rnn;
  std::shared_ptr<Dense> head;
  SequenceModel model;
  std::vector<Var> weights;
  Tensor x, y;
  Fixture(std::int64_t total) {
    rnn = std::make_shared<RNN>(std::make_shared<SimpleRNNCell>(4), RNNOptions{.return_sequences = true});
    head = std::make_shared<Dense>(2);
    rnn->set_dtype(DType::f64);
    head->set_dtype(DType::f64);
    rnn->build_for({2, total, 3});
    head->build_for({2, total, 4});
    model = rnn_sequence_model(rnn, head);
    weights = rnn->trainable_weights();
    for (const Var& w : head->trainable_weights()) weights.push_back(w);
    x = testing::input64({2, total, 3}, 1);
    y = testing::input64({2, total, 2}, 2);
  }
  Tensor zeros() const { return Tensor::zeros({2, 4}, DType::f64); }
  // The state after running [0, t) from zeros, with the current weights.
  Tensor state_at(std::int64_t t) const {
    if (t == 0) return zeros();
    NoGrad no_grad;
    return model(Var(core::slice(x, 1, 0, t)), {Var(zeros())}, false).states[0].value();
  }
  // Gradients of the loss on steps [from, e) after running [a, e) from the detached state at a.
  std::vector<Tensor> manual(std::int64_t a, std::int64_t from, std::int64_t e) const {
    GradientTape tape;
    const SequenceOutput out = model(Var(core::slice(x, 1, a, e - a)), {stop_gradient(Var(state_at(a)))}, true);
    const Var loss = mse(Var(core::slice(y, 1, from, e - from)), slice(out.outputs, 1, from - a, e - from));
    return tape.gradient(loss, weights);
  }
};

LossFunction mse_loss() {
  return [](const Tensor& t, const Var& p) { return mse(Var(t), p); };
}

void check_same(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) testing::check_close(a[i], b[i], 1e-12, 1e-14);
}

}  // namespace

TEST_CASE("TBPTT: one window over the whole stream is full BPTT", "[optim][tbptt]") {
  Fixture f(12);
  SGD opt;
  TruncatedBPTT tbptt(f.model, f.weights, opt, mse_loss(), {.k1 = 12});
  tbptt.reset({f.zeros()});
  const auto grads = tbptt.window_gradients(f.x, f.y);
  REQUIRE(grads.size() == 1);
  check_same(grads[0], f.manual(0, 0, 12));
  testing::check_close(tbptt.carried_states()[0], f.state_at(12), 1e-12, 1e-14);
}

TEST_CASE("TBPTT: windows stop gradients at their edges and carry the long pass's states", "[optim][tbptt]") {
  Fixture f(12);
  SGD opt;
  TruncatedBPTT tbptt(f.model, f.weights, opt, mse_loss(), {.k1 = 4});
  tbptt.reset({f.zeros()});
  const auto grads = tbptt.window_gradients(f.x, f.y);
  REQUIRE(grads.size() == 3);
  for (int w = 0; w < 3; ++w) check_same(grads[w], f.manual(4 * w, 4 * w, 4 * w + 4));
  testing::check_close(tbptt.carried_states()[0], f.state_at(12), 1e-12, 1e-14);
}

TEST_CASE("TBPTT: k2 > k1 backpropagates k2 steps and trains each step once", "[optim][tbptt]") {
  Fixture f(10);
  SGD opt;
  TruncatedBPTT tbptt(f.model, f.weights, opt, mse_loss(), {.k1 = 3, .k2 = 5});
  tbptt.reset({f.zeros()});
  const auto grads = tbptt.window_gradients(f.x, f.y);
  // Windows end at 3, 6, 9, 10 and start k2 = 5 steps back (clipped at 0); losses on their last k1 steps.
  REQUIRE(grads.size() == 4);
  check_same(grads[0], f.manual(0, 0, 3));
  check_same(grads[1], f.manual(1, 3, 6));
  check_same(grads[2], f.manual(4, 6, 9));
  check_same(grads[3], f.manual(5, 9, 10));
  testing::check_close(tbptt.carried_states()[0], f.state_at(10), 1e-12, 1e-14);
}

TEST_CASE("TBPTT: a reset restarts one stream's state and leaves the others", "[optim][tbptt]") {
  Fixture f(8);
  SGD opt;
  TruncatedBPTT tbptt(f.model, f.weights, opt, mse_loss(), {.k1 = 4});
  tbptt.reset({f.zeros()});
  Tensor resets = Tensor::zeros({2, 8}, DType::f64);
  resets.at<double>({1, 5}) = 1.0;  // stream 1 starts a new sequence at t = 5
  const auto grads = tbptt.window_gradients(f.x, f.y, resets);
  REQUIRE(grads.size() == 2);
  // Stream 0 went on; stream 1 equals a fresh run over [5, 8).
  const Tensor long_pass = f.state_at(8);
  const Tensor fresh = f.model(Var(core::slice(f.x, 1, 5, 3)), {Var(f.zeros())}, false).states[0].value();
  const Tensor carried = tbptt.carried_states()[0];
  testing::check_close(carried.index0(0), long_pass.index0(0), 1e-12, 1e-14);
  testing::check_close(carried.index0(1), fresh.index0(1), 1e-12, 1e-14);
  check_same(grads[0], f.manual(0, 0, 4));
}

TEST_CASE("TBPTT: training updates the weights and lowers the loss", "[optim][tbptt]") {
  Fixture f(40);
  Adam opt(AdamOptions{.learning_rate = 0.02});
  TruncatedBPTT tbptt(f.model, f.weights, opt, mse_loss(), {.k1 = 8, .k2 = 12});
  double first = 0, last = 0;
  for (int epoch = 0; epoch < 30; ++epoch) {
    tbptt.reset({f.zeros()});
    last = tbptt.train(f.x, f.y);
    if (epoch == 0) first = last;
  }
  CHECK(opt.iterations() == 30 * 5);
  CHECK(last < first * 0.8);
}

TEST_CASE("batchify cuts a token stream into parallel streams", "[optim][tbptt]") {
  const Tensor b = batchify(Tensor::arange(10, DType::i64), 3);
  CHECK(b.shape() == Shape{3, 3});
  CHECK(b.to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8});
  CHECK_THROWS_AS(batchify(Tensor::arange(2, DType::i64), 3), ValueError);
  CHECK_THROWS_AS(TruncatedBPTT(nullptr, {}, *std::make_unique<SGD>(), mse_loss(), {.k1 = 0}), ValueError);
}
