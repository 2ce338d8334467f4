// SPDX-License-Identifier: Apache-2.0
// Dense, Embedding, Dropout, Masking, TimeDistributed, Bidirectional and Sequential.
#include "support/gradcheck.hpp"

using namespace loom;
using Catch::Matchers::StartsWith;

TEST_CASE("Dense: activation(x·kernel + bias) on the last axis; gradients check", "[layers][companions]") {
  Dense dense(2, {.activation = Activation::relu});
  dense.set_dtype(DType::f64);
  const Var x(Tensor::of({1, 2, 3, -1, -2, -3}, {2, 3}, DType::f64));
  dense.build_for(x.shape());
  dense.set_weights({Tensor::of({1, 0, 0, 1, 1, 1}, {3, 2}, DType::f64), Tensor::of({0.5, -0.5}, {2}, DType::f64)});
  testing::check_close(dense(x).value(), {4.5, 4.5, 0, 0}, 0, 0);
  CHECK(dense.compute_output_shape({7, 5, 3}) == Shape{7, 5, 2});
  CHECK(dense(Var(Tensor::ones({4, 5, 3}, DType::f64))).shape() == Shape{4, 5, 2});  // any rank >= 2
  Dense tanh_dense(3, {.activation = Activation::tanh});
  tanh_dense.set_dtype(DType::f64);
  tanh_dense.build_for({2, 3});
  testing::check_gradients([&](const std::vector<Var>& v) { return tanh_dense(v[0]); }, {testing::input64({2, 3}, 1)});
  CHECK_THROWS_WITH(dense(Var(Tensor::ones({2, 4}, DType::f64))), StartsWith("Dense: expected an input whose last axis is 3"));
}

TEST_CASE("Embedding: lookups, and mask_zero produces the mask", "[layers][companions]") {
  Embedding emb(5, 2, {.mask_zero = true});
  const Var ids(Tensor::from_vector<std::int64_t>({3, 0, 1, 4, 0, 0}, {2, 3}));
  const Var e = emb(ids);
  CHECK(e.shape() == Shape{2, 3, 2});
  const Tensor table = emb.weights()[0].value();
  CHECK(e.value().get({0, 0, 1}) == table.get({3, 1}));
  testing::check_close(emb.compute_mask(ids, {}), {1, 0, 1, 1, 0, 0}, 0, 0);
  CHECK_FALSE(Embedding(5, 2).compute_mask(ids, {}).defined());
  CHECK_THROWS_AS(emb(Var(Tensor::ones({2, 3}))), TypeError);
  CHECK_THROWS_AS(emb(Var(Tensor::from_vector<std::int64_t>({5}, {1, 1}))), ValueError);
}

TEST_CASE("Masking and Dropout", "[layers][companions]") {
  Masking masking(0.0);
  const Tensor x = Tensor::of({1, 2, 0, 0, 3, 0, 0, 0, 0, 0, 5, 5}, {2, 3, 2});
  testing::check_close(masking.compute_mask(Var(x), {}), {1, 0, 1, 0, 0, 1}, 0, 0);
  testing::check_close(masking(Var(x)).value(), x, 0, 0);
  Masking by_value(5.0);
  testing::check_close(by_value(Var(x)).value(), {1, 2, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0}, 0, 0);
  Dropout drop(0.5);
  const Var ones(Tensor::ones({50, 40}));
  CHECK(drop(ones).is(ones));  // inference
  for (float v : drop(ones, CallContext::train()).value().to_vector<float>()) CHECK((v == 0.0f || v == 2.0f));
}

TEST_CASE("TimeDistributed applies the inner layer to every step", "[layers][companions]") {
  auto dense = std::make_shared<Dense>(3, DenseOptions{.activation = Activation::tanh});
  TimeDistributed td(dense);
  const Tensor x = testing::random({2, 4, 5});
  const Var y = td(Var(x));
  CHECK(y.shape() == Shape{2, 4, 3});
  CHECK(td.compute_output_shape({2, 4, 5}) == Shape{2, 4, 3});
  for (int t = 0; t < 4; ++t)
    testing::check_close(core::slice(y.value(), 1, t, 1).reshape({2, 3}),
                         dense->call(Var(core::slice(x, 1, t, 1).reshape({2, 5})), {}).value(), 0, 0);
  CHECK(td.trainable_weights().size() == 2);
}

TEST_CASE("Bidirectional: the backward sequence is flipped back before merging", "[layers][companions]") {
  const Tensor x = testing::random({2, 5, 3});
  const Tensor mask = Tensor::of({1, 1, 1, 0, 0, 1, 1, 1, 1, 1}, {2, 5});
  for (MergeMode mode : {MergeMode::concat, MergeMode::sum, MergeMode::mul, MergeMode::ave}) {
    Bidirectional bi(std::make_shared<LSTM>(4, LSTMCellOptions{}, RNNOptions{.return_sequences = true}), mode);
    const Var y = bi.call(Var(x), {.mask = mask}).output;
    CHECK(y.shape() == bi.compute_output_shape({2, 5, 3}));
    // Rebuild both directions by hand from the two layers' weights.
    const auto [f, b] = bi.call_both(Var(x), {.mask = mask});
    RNN back_plain(std::make_shared<LSTMCell>(4), {.return_sequences = true, .go_backwards = true, .zero_output_for_mask = true});
    back_plain.build_for(x.shape());
    back_plain.set_weights(bi.backward_layer()->get_weights());
    const Tensor processed = back_plain.call(Var(x), {.mask = mask}).output.value();
    CHECK(testing::bitwise_equal(b.output.value(), core::flip(processed, 1)));
    CHECK(bi.forward_layer()->options().zero_output_for_mask);  // set to return_sequences, as Keras does
    const Tensor fv = f.output.value(), bv = b.output.value();
    const Tensor expect = mode == MergeMode::concat ? core::concat({fv, bv}, -1)
                          : mode == MergeMode::sum  ? core::add(fv, bv)
                          : mode == MergeMode::mul  ? core::mul(fv, bv)
                                                    : core::mul(core::add(fv, bv), 0.5);
    testing::check_close(y.value(), expect, 1e-6, 1e-7);
  }
  Bidirectional none(std::make_shared<GRU>(3), MergeMode::none);
  CHECK_THROWS_WITH(none(Var(x)), StartsWith("Bidirectional: merge_mode none has two outputs"));
  CHECK(none.call_both(Var(x), {}).second.output.shape() == Shape{2, 3});
  CHECK(none.trainable_weights().size() == 6);
}

TEST_CASE("Sequential passes masks from layer to layer and resets stateful layers", "[layers][companions]") {
  auto emb = std::make_shared<Embedding>(10, 4, EmbeddingOptions{.mask_zero = true});
  auto lstm = std::make_shared<LSTM>(3);
  auto head = std::make_shared<Dense>(2);
  Sequential model({emb, lstm, head});
  const Var ids(Tensor::from_vector<std::int64_t>({3, 4, 0, 0, 5, 6, 7, 1}, {2, 4}));
  const Var y = model(ids);
  CHECK(y.shape() == Shape{2, 2});
  // The same as masking by hand: the LSTM saw Embedding's mask.
  const Var e = emb->call(ids, {});
  const Var h = lstm->call(e, {.mask = emb->compute_mask(ids, {})}).output;
  CHECK(testing::bitwise_equal(head->call(h, {}).value(), y.value()));
  CHECK(model.trainable_weights().size() == 1 + 3 + 2);
  CHECK(model.compute_output_shape({2, 4}) == Shape{2, 2});

  auto stateful = std::make_shared<SimpleRNN>(3, SimpleRNNCellOptions{}, RNNOptions{.stateful = true});
  Sequential seq({stateful});
  const Var x(testing::random({2, 3, 4}));
  const Tensor first = seq(x).value().clone();
  CHECK_FALSE(testing::bitwise_equal(seq(x).value(), first));  // the state carried over
  seq.reset_states();
  CHECK(testing::bitwise_equal(seq(x).value(), first));
}
