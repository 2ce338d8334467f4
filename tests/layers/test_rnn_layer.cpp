// SPDX-License-Identifier: Apache-2.0
// The RNN layer's rules (KERAS_SEMANTICS §2): the seed's examples, shapes, masks, constants, high-dimensional,
// nested and stateless cells, statefulness and reset_states, dropout masks, and errors.
#include <nlohmann/json.hpp>

#include "test_cells.hpp"

using namespace loom;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using testing::MinimalRNNCell;

TEST_CASE("RNN: the seed's MinimalRNNCell, alone and stacked", "[layers][rnn]") {
  // cell = MinimalRNNCell(32); x = keras.Input((None, 5)); layer = RNN(cell); y = layer(x)
  RNN layer(std::make_shared<MinimalRNNCell>(32));
  const Var x(testing::random({4, 7, 5}));
  const Var y = layer(x);
  CHECK(y.shape() == Shape{4, 32});
  CHECK(layer.trainable_weights().size() == 2);
  // cells = [MinimalRNNCell(32), MinimalRNNCell(64)]; layer = RNN(cells)
  RNN stacked(std::vector<std::shared_ptr<Cell>>{std::make_shared<MinimalRNNCell>(32), std::make_shared<MinimalRNNCell>(64)});
  const Var z = stacked(x);
  CHECK(z.shape() == Shape{4, 64});
  CHECK(stacked.trainable_weights().size() == 4);
  CHECK(stacked.trainable_weights()[2].shape() == Shape{32, 64});  // the second cell built on the first's output
}

TEST_CASE("RNN: output shapes for every option combination match compute_output_shape", "[layers][rnn]") {
  for (bool seq : {false, true})
    for (bool state : {false, true})
      for (bool time_major : {false, true})
        for (bool stacked : {false, true}) {
          CAPTURE(seq, state, time_major, stacked);
          const RNNOptions o{.return_sequences = seq, .return_state = state, .time_major = time_major};
          RNN layer = stacked ? RNN(std::vector<std::shared_ptr<Cell>>{std::make_shared<LSTMCell>(3), std::make_shared<LSTMCell>(6)}, o)
                              : RNN(std::make_shared<LSTMCell>(6), o);
          const Shape in = time_major ? Shape{2, 4, 5} : Shape{4, 2, 5};
          const std::vector<Shape> shapes = layer.compute_output_shapes(in);
          const RNNOutput out = layer.call(Var(testing::random(in)));
          CHECK(out.output.shape() == shapes[0]);
          CHECK(shapes[0] == (seq ? (time_major ? Shape{2, 4, 6} : Shape{4, 2, 6}) : Shape{4, 6}));
          REQUIRE(shapes.size() == (state ? 1 + (stacked ? 4u : 2u) : 1u));
          for (std::size_t i = 1; i < shapes.size(); ++i) CHECK(out.states[i - 1].shape() == shapes[i]);
          CHECK(out.cell_states.size() == (stacked ? 2u : 1u));
        }
}

TEST_CASE("RNN: compute_mask passes the mask on only with return_sequences", "[layers][rnn]") {
  const Var x(testing::random({2, 3, 4}));
  const Tensor mask = Tensor::of({1, 1, 0, 1, 0, 0}, {2, 3});
  RNN seq(std::make_shared<SimpleRNNCell>(3), {.return_sequences = true});
  RNN last(std::make_shared<SimpleRNNCell>(3));
  CHECK(testing::bitwise_equal(seq.compute_mask(x, mask), mask));
  CHECK_FALSE(last.compute_mask(x, mask).defined());
}

TEST_CASE("RNN: constants reach a cell that takes them (T38), and stacks forward them", "[layers][rnn]") {
  auto cell = std::make_shared<testing::CellWithConstants>(4, 3);
  RNN layer(cell, {.return_sequences = true});
  const Tensor x = testing::random({2, 5, 6}), c = testing::random({2, 3}, DType::f32, 9);
  const RNNOutput out = layer.call(Var(x), {.constants = {Var(c)}});
  // The same numbers by hand: h = x·Wi + h·Wr + c·Wc.
  const std::vector<Var> w = layer.trainable_weights();
  Tensor h = Tensor::zeros({2, 4});
  for (int t = 0; t < 5; ++t) {
    h = core::matmul(core::slice(x, 1, t, 1).reshape({2, 6}), w[0].value()) + core::matmul(h, w[1].value()) +
        core::matmul(c, w[2].value());
    testing::check_close(core::slice(out.output.value(), 1, t, 1).reshape({2, 4}), h, 1e-5, 1e-6);
  }
  // Gradients reach the constant's weights.
  GradientTape tape;
  const Var cv(c);
  tape.watch(cv);
  const Var loss = sum(layer.call(Var(x), {.constants = {cv}}).output);
  const auto g = tape.gradient(loss, {cv, w[2]});
  CHECK(core::sum(core::mul(g[0], g[0])).item() > 0);
  CHECK(core::sum(core::mul(g[1], g[1])).item() > 0);
  // A stack mixing cells with and without constants (T38's [GRUCell(8), RNNCellWithConstants(12, 3), ...]).
  RNN mixed(std::vector<std::shared_ptr<Cell>>{std::make_shared<GRUCell>(8), std::make_shared<testing::CellWithConstants>(12, 3),
                                               std::make_shared<testing::CellWithConstants>(32, 3)});
  CHECK(mixed.call(Var(x), {.constants = {Var(c)}}).output.shape() == Shape{2, 32});
  // A cell without constants refuses them.
  RNN plain(std::make_shared<SimpleRNNCell>(4));
  CHECK_THROWS_AS(plain.call(Var(x), {.constants = {Var(c)}}), ValueError);
  CHECK_THROWS_WITH(plain.call(Var(x), {.constants = {Var(c)}}), Contains("does not support constants"));
}

TEST_CASE("RNN: a high-dimensional state (T40), a nested cell (T43) and a stateless cell", "[layers][rnn]") {
  RNN matrix(std::make_shared<testing::Matrix2DCell>(), {.return_state = true});
  const RNNOutput m = matrix.call(Var(Tensor::ones({3, 2, 4})));
  CHECK(m.output.shape() == Shape{3, 2, 3});
  testing::check_close(m.output.value(), std::vector<double>(18, 4 * 0.5 + 4), 0, 1e-6);  // s1 = 4, s2 = 2 + 4
  CHECK(matrix.compute_output_shapes({3, 2, 4})[1] == Shape{3, 2, 3});
  CHECK_THROWS_WITH(matrix.call(Var(Tensor::ones({3, 2, 4})), {.initial_state = {Var(Tensor::zeros({3, 6}))}}),
                    Contains("however `cell.state_size` is [(2, 3)]"));

  RNN nested(std::make_shared<testing::NestedCell>(), {.return_sequences = true, .return_state = true});
  const Tensor x1 = Tensor::ones({2, 4, 5}), x2 = testing::random({2, 4, 2, 3});
  const RNNOutput n = nested.call(std::vector<Var>{Var(x1), Var(x2)}, {});
  REQUIRE(n.outputs.size() == 2);
  CHECK(n.outputs[0].shape() == Shape{2, 4, 2});
  CHECK(n.outputs[1].shape() == Shape{2, 4, 2, 3});
  testing::check_close(n.states[0].value(), std::vector<double>(4, 20.0), 0, 1e-5);  // 4 steps of 5
  testing::check_close(n.states[1].value(), core::mul(core::sum(x2, 1), 2.0), 1e-5, 1e-6);

  RNN stateless(std::make_shared<testing::StatelessCell>(), {.return_sequences = true});
  const Tensor xs = testing::random({2, 3, 4});
  testing::check_close(stateless(Var(xs)).value(), core::mul(xs, 3.0), 1e-6, 0);
}

TEST_CASE("RNN: stateful layers carry states, check the batch size, and reset", "[layers][rnn]") {
  RNN layer(std::make_shared<SimpleRNNCell>(3), {.stateful = true});
  CHECK_THROWS_AS(layer.reset_states(), StateError);
  const Tensor x = testing::random({2, 4, 5});
  layer.call(Var(x));
  REQUIRE(layer.states().size() == 1);
  const Tensor after_one = layer.states()[0].value().clone();
  const RNNOutput second = layer.call(Var(x));
  // The second call started from the first's final state: it equals a fresh call from that state.
  RNN fresh(std::make_shared<SimpleRNNCell>(3));
  fresh.build_for(x.shape());
  fresh.set_weights(layer.get_weights());
  testing::check_close(second.output.value(), fresh.call(Var(x), {.initial_state = {Var(after_one)}}).output.value(), 0, 0);
  // Another batch size is refused, and nothing changes.
  const Tensor before = layer.states()[0].value().clone();
  CHECK_THROWS_AS(layer.call(Var(testing::random({3, 4, 5}))), ValueError);
  CHECK_THROWS_WITH(layer.call(Var(testing::random({3, 4, 5}))),
                    StartsWith("RNN: If an RNN is stateful, the batch size of the input sequences must be the same"));
  CHECK(testing::bitwise_equal(layer.states()[0].value(), before));
  // reset_states: zeros; with values: set verbatim; every error leaves the states as they were.
  layer.reset_states();
  testing::check_close(layer.states()[0].value(), std::vector<double>(6, 0.0), 0, 0);
  layer.reset_states({Tensor::ones({2, 3})});
  testing::check_close(layer.states()[0].value(), std::vector<double>(6, 1.0), 0, 0);
  CHECK_THROWS_WITH(layer.reset_states({Tensor::ones({2, 3}), Tensor::ones({2, 3})}),
                    Contains("expects 1 states, but it received 2 state values"));
  CHECK_THROWS_WITH(layer.reset_states({Tensor::ones({2, 4})}),
                    Contains("State 0 is incompatible with layer " + layer.name() + ": expected shape=(2, 3) but found shape=(2, 4)"));
  testing::check_close(layer.states()[0].value(), std::vector<double>(6, 1.0), 0, 0);
  RNN not_stateful(std::make_shared<SimpleRNNCell>(3));
  CHECK_THROWS_WITH(not_stateful.reset_states(), StartsWith("RNN.reset_states: Layer must be stateful."));
  // An explicit initial_state wins over the stored one.
  const RNNOutput given = layer.call(Var(x), {.initial_state = {Var(after_one)}});
  testing::check_close(given.output.value(), second.output.value(), 0, 0);
}

TEST_CASE("RNN: stateful with left- and right-padded masks gives the same outputs and states (T51)", "[layers][rnn]") {
  for (bool unroll : {false, true}) {
    auto cell = std::make_shared<LSTMCell>(3);
    RNN right(cell, {.stateful = true, .unroll = unroll});
    RNN left(std::make_shared<LSTMCell>(3), {.stateful = true, .unroll = unroll});
    const Tensor a = testing::random({1, 1, 2}, DType::f32, 1), b = testing::random({1, 1, 2}, DType::f32, 2);
    const Tensor pad = Tensor::zeros({1, 1, 2});
    const Tensor xr = core::concat({a, b, pad}, 1), xl = core::concat({pad, a, b}, 1);
    right.build_for(xr.shape());
    left.build_for(xl.shape());
    left.set_weights(right.get_weights());
    const Var yr = right.call(Var(xr), {.mask = Tensor::of({1, 1, 0}, {1, 3})}).output;
    const Var yl = left.call(Var(xl), {.mask = Tensor::of({0, 1, 1}, {1, 3})}).output;
    CHECK(testing::bitwise_equal(yr.value(), yl.value()));
    for (int i = 0; i < 2; ++i) CHECK(testing::bitwise_equal(right.states()[i].value(), left.states()[i].value()));
  }
}

TEST_CASE("RNN: dropout masks are the same at every step of a call and differ between calls", "[layers][rnn]") {
  // A linear SimpleRNN without recurrence: h_t = (x_t ⊙ mask)·I, so each output row is the input mask.
  auto cell = std::make_shared<SimpleRNNCell>(
      6, SimpleRNNCellOptions{.activation = Activation::linear, .use_bias = false, .kernel_initializer = initializers::zeros(),
                              .recurrent_initializer = initializers::zeros(), .dropout = 0.5});
  RNN layer(cell, {.return_sequences = true});
  const Var x(Tensor::ones({4, 5, 6}));
  layer.build_for(x.shape());
  Tensor eye = Tensor::zeros({6, 6});
  for (int i = 0; i < 6; ++i) eye.at<float>({i, i}) = 1.0f;
  layer.set_weights({eye, Tensor::zeros({6, 6})});
  for (bool unroll : {false, true}) {
    RNN l2(cell, {.return_sequences = true, .unroll = unroll});
    const Tensor y1 = l2.call(x, {.training = true}).output.value();
    const Tensor y2 = l2.call(x, {.training = true}).output.value();
    for (int t = 1; t < 5; ++t) CHECK(testing::bitwise_equal(core::slice(y1, 1, t, 1), core::slice(y1, 1, 0, 1)));
    CHECK_FALSE(testing::bitwise_equal(y1, y2));
    for (float v : y1.to_vector<float>()) CHECK((v == 0.0f || v == 2.0f));
    testing::check_close(l2.call(x).output.value(), std::vector<double>(120, 1.0), 0, 0);  // not training: no dropout
  }
}

TEST_CASE("RNN: bad inputs and initial states throw and change nothing", "[layers][rnn][errors]") {
  RNN layer(std::make_shared<LSTMCell>(3));
  CHECK_THROWS_WITH(layer.call(Var(Tensor::ones({2, 5}))), StartsWith("RNN: inputs must be at least 3-D (batch, time, ...); got shape (2, 5)."));
  CHECK_FALSE(layer.built());
  const Var x(Tensor::ones({2, 4, 5}));
  CHECK_THROWS_WITH(layer.call(x, {.initial_state = {Var(Tensor::zeros({2, 3}))}}),
                    StartsWith("RNN: Layer has 2 states but was passed 1 initial states."));
  CHECK_THROWS_WITH(layer.call(x, {.initial_state = {Var(Tensor::zeros({2, 3})), Var(Tensor::zeros({2, 4}))}}),
                    Contains("An `initial_state` was passed that is not compatible with `cell.state_size`"));
  CHECK_THROWS_AS(layer.call(x, {.mask = Tensor::ones({4, 2})}), ValueError);
  CHECK_THROWS_AS(layer.call(Var(Tensor::ones({2, 4, 5}, DType::f64))), TypeError);
  GradientTape tape;
  CHECK_THROWS(layer.call(x, {.initial_state = {Var(Tensor::zeros({2, 3}))}}));
  CHECK(tape.size() == 0);
}

TEST_CASE("RNN: checkpoint_every on the layer gives the same outputs and gradients with less memory",
          "[layers][rnn]") {
  const Tensor x = testing::random({4, 30, 5}, DType::f64, 3);
  auto run = [&](std::int64_t checkpoint, std::size_t* peak) {
    manual_seed(11);
    GRU gru(6, {}, {.return_sequences = true, .checkpoint_every = checkpoint});
    gru.set_dtype(DType::f64);
    gru.build_for(x.shape());
    reset_peak_memory();
    const std::size_t base = memory_stats().current_bytes;
    GradientTape tape;
    const Var y = gru(Var(x));
    std::vector<Tensor> out = tape.gradient(sum(y * y), gru.trainable_weights());
    *peak = memory_stats().peak_bytes - base;
    out.push_back(y.value());
    return out;
  };
  std::size_t full = 0, checkpointed = 0;
  const std::vector<Tensor> a = run(0, &full), b = run(5, &checkpointed);
  for (std::size_t i = 0; i < a.size(); ++i) testing::check_close(b[i], a[i], 1e-12, 1e-14);
  CHECK(checkpointed < full);
  LSTM lstm(3, {}, {.checkpoint_every = 4});
  CHECK(lstm.get_config()["checkpoint_every"] == 4);
  CHECK(LSTM::from_config(lstm.get_config())->get_config() == lstm.get_config());
  CHECK(!LSTM(3).get_config().contains("checkpoint_every"));  // Keras configs stay Keras configs
  CHECK_THROWS_WITH(LSTM(3, {}, {.checkpoint_every = -1}), Contains("checkpoint_every must be >= 0"));
  CHECK_THROWS_WITH(LSTM(3, {}, {.unroll = true, .checkpoint_every = 2}), Contains("cannot be combined with unroll"));
}
