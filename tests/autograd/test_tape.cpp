// SPDX-License-Identifier: Apache-2.0
// GradientTape semantics (TF2): watching, accumulation, zeros for unreached sources, stop_gradient,
// NoGrad, persistence, nesting, deep chains, replay, and thread-count independence.
#include "support/gradcheck.hpp"

using namespace loom;
using Catch::Matchers::StartsWith;

TEST_CASE("GradientTape: watched constants and trainable variables get gradients", "[autograd][tape]") {
  const Var x(Tensor::of({1, 2, 3}, {3}, DType::f64));
  const Var w = Var::variable(Tensor::of({2, 2, 2}, {3}, DType::f64), "w");
  GradientTape tape;
  tape.watch(x);
  const Var y = sum(x * x * w);
  const auto g = tape.gradient(y, {x, w});
  testing::check_close(g[0], {4, 8, 12}, 0, 0);  // 2·x·w
  testing::check_close(g[1], {1, 4, 9}, 0, 0);   // x²
}

TEST_CASE("GradientTape: an unwatched constant is not tracked, and an unreached source gets zeros", "[autograd][tape]") {
  const Var c(Tensor::of({1, 2}, {2}, DType::f64));
  const Var w = Var::variable(Tensor::of({3, 4}, {2}, DType::f64), "w");
  const Var unused = Var::variable(Tensor::ones({2, 5}, DType::f64), "unused");
  GradientTape tape;
  const Var y = sum(c * w);
  const auto g = tape.gradient(y, {w, c, unused});
  testing::check_close(g[0], {1, 2}, 0, 0);
  testing::check_close(g[1], {0, 0}, 0, 0);  // constants are not watched: zeros, like an unreached source
  CHECK(g[2].shape() == Shape{2, 5});
  testing::check_close(g[2], std::vector<double>(10, 0.0), 0, 0);
  GradientTape other;
  const Var k = sum(c * c);  // nothing tracked: not recorded
  CHECK(other.size() == 0);
  CHECK_THROWS_AS(other.gradient(k, {c}), StateError);
  CHECK_THROWS_WITH(other.gradient(k, {c}), StartsWith("GradientTape.gradient: target was not computed under this tape."));
}

TEST_CASE("GradientTape: a Var used several times accumulates all its paths", "[autograd][tape]") {
  const Var x = Var::variable(Tensor::of({0.5}, {1}, DType::f64), "x");
  GradientTape tape;
  const Var a = tanh(x), b = x * 3.0;
  const Var y = sum(a * b + x * x + a);
  const double t = std::tanh(0.5), dt = 1 - t * t;
  // d/dx [tanh(x)·3x + x² + tanh(x)] = 3x·dt + 3·t + 2x + dt
  CHECK(tape.gradient(y, {x})[0].item() == Approx(3 * 0.5 * dt + 3 * t + 2 * 0.5 + dt).epsilon(1e-14));
}

TEST_CASE("GradientTape: stop_gradient and NoGrad cut the graph", "[autograd][tape]") {
  const Var x = Var::variable(Tensor::of({2}, {1}, DType::f64), "x");
  {
    GradientTape tape;
    const Var y = sum(x * stop_gradient(x));  // d/dx = stop(x) = 2, not 2x = 4
    CHECK(tape.gradient(y, {x})[0].item() == 2.0);
  }
  {
    GradientTape tape;
    Var frozen;
    {
      NoGrad guard;
      frozen = x * x;  // not recorded
    }
    CHECK(tape.size() == 0);
    const Var y = sum(x + frozen);
    CHECK(tape.size() == 2);
    CHECK(tape.gradient(y, {x})[0].item() == 1.0);
  }
}

TEST_CASE("GradientTape: non-persistent tapes answer once, persistent ones repeat exactly", "[autograd][tape]") {
  const Var w = Var::variable(testing::input64({3, 3}, 1), "w");
  const Var x(testing::input64({2, 3}, 2));
  GradientTape once;
  const Var y = mean(tanh(matmul(x, w)));
  once.gradient(y, {w});
  CHECK_THROWS_AS(once.gradient(y, {w}), StateError);
  CHECK_THROWS_WITH(once.gradient(y, {w}), StartsWith("GradientTape.gradient: a non-persistent tape can compute gradients only once"));

  GradientTape keep(true);
  const Var y2 = mean(tanh(matmul(x, w)));
  const Tensor g1 = keep.gradient(y2, {w})[0];
  const Tensor g2 = keep.gradient(y2, {w})[0];
  CHECK(testing::bitwise_equal(g1, g2));
  // Gradient of an intermediate, and an explicit output gradient.
  const Var h = matmul(x, w);
  const Var z = sum(h * 2.0);
  const Tensor dh = keep.gradient(z, {h})[0];
  testing::check_close(dh, std::vector<double>(6, 2.0), 0, 0);
  const Tensor seeded = keep.gradient(h, {w}, Tensor::ones({2, 3}, DType::f64))[0];
  testing::check_close(seeded, keep.gradient(sum(h), {w})[0], 0, 0);
}

TEST_CASE("GradientTape: nested tapes record independently", "[autograd][tape]") {
  const Var x(Tensor::of({3}, {1}, DType::f64));
  GradientTape outer;
  outer.watch(x);
  const Var a = x * x;  // outer only
  GradientTape inner;
  const std::size_t outer_before = outer.size();
  sum(a * x);  // both tapes see it; only outer tracks a and x
  CHECK(inner.size() == 0);
  CHECK(outer.size() == outer_before + 2);
  inner.watch(a);
  const Var z = sum(a * a);  // recorded on both: inner from a, outer from x
  CHECK(inner.size() == 2);
  CHECK(inner.gradient(z, {a})[0].item() == 18.0);  // 2a, a = 9
  CHECK(outer.gradient(z, {x})[0].item() == Approx(4 * 27.0));  // d(x⁴)/dx = 4x³
}

TEST_CASE("GradientTape: a 100000-node chain runs backward without recursion", "[autograd][tape]") {
  const Var x = Var::variable(Tensor::of({1.0}, {1}, DType::f64), "x");
  GradientTape tape;
  Var h = x;
  for (int i = 0; i < 100000; ++i) h = h * 1.0 + 0.0;  // 2 nodes per iteration
  CHECK(tape.size() == 200000);
  CHECK(tape.gradient(sum(h), {x})[0].item() == 1.0);
}

TEST_CASE("GradientTape: bad arguments throw", "[autograd][tape][errors]") {
  GradientTape tape;
  const Var x = Var::variable(Tensor::ones({2}), "x");
  const Var y = sum(x);
  CHECK_THROWS_WITH(tape.gradient(y, {x}, Tensor::ones({3})),
                    StartsWith("GradientTape.gradient: output_gradient must have the target's shape ()"));
  CHECK_THROWS_WITH(tape.gradient(Var(), {x}), StartsWith("GradientTape.gradient: target is undefined"));
  CHECK_THROWS_AS(tape.watch(Var(Tensor::ones({2}, DType::i64))), TypeError);
  // The failed calls consumed nothing: the tape still answers.
  CHECK(tape.gradient(y, {x})[0].to_vector<float>() == std::vector<float>{1, 1});
  Var v = Var::variable(Tensor::ones({2, 2}), "kernel");
  CHECK_THROWS_WITH(v.assign(Tensor::ones({3})), StartsWith("Var.assign: kernel has shape (2, 2); got (3,)"));
  CHECK_THROWS_AS(v.assign(Tensor::ones({2, 2}, DType::f64)), TypeError);
  CHECK(v.value().to_vector<float>() == std::vector<float>(4, 1.0f));
}

TEST_CASE("GradientTape: replaying the records on new inputs equals recomputing eagerly", "[autograd][tape]") {
  // A recurrent step traced once, then replayed on other inputs: the contract the RNN loop node uses.
  const Var w = Var::variable(testing::input64({3, 4}, 1), "kernel");
  const Var u = Var::variable(testing::input64({4, 4}, 2), "recurrent_kernel");
  const Var b = Var::variable(testing::input64({4}, 3), "bias");
  auto step = [&](const Var& x, const Var& h) {
    const std::vector<Var> g = split(matmul(x, w) + matmul(h, u) + b, 2, -1);
    return concat({tanh(g[0]) * sigmoid(g[1]), h * 0.5}, -1);  // (2, 4): static control flow
  };
  const Var x0(testing::input64({2, 3}, 4)), h0(testing::input64({2, 4}, 5));
  GradientTape trace(true);
  trace.watch(x0);
  trace.watch(h0);
  const Var out = step(x0, h0);
  for (std::uint64_t seed : {6, 7, 8}) {
    const Tensor x1 = testing::input64({2, 3}, seed), h1 = testing::input64({2, 4}, seed + 10);
    const Tensor replayed = trace.replay({{x0, x1}, {h0, h1}}, {out})[0];
    const Tensor eager = step(Var(x1), Var(h1)).value();
    CHECK(testing::bitwise_equal(replayed, eager));
  }
  CHECK_THROWS_WITH(trace.replay({{x0, Tensor::ones({5, 3}, DType::f64)}}, {out}),
                    StartsWith("GradientTape.replay: a fed value must match the recorded shape (2, 3)"));
}

TEST_CASE("GradientTape: MLP gradients are bitwise identical with 1, 2 and 4 threads", "[autograd][tape][threads]") {
  const Var w1 = Var::variable(testing::random({256, 512}, DType::f32, 1), "w1");
  const Var b1 = Var::variable(testing::random({512}, DType::f32, 2), "b1");
  const Var w2 = Var::variable(testing::random({512, 10}, DType::f32, 3), "w2");
  const Var x(testing::random({300, 256}, DType::f32, 4));
  const Tensor labels = core::argmax(testing::random({300, 10}, DType::f32, 5), 1);
  auto grads = [&] {
    GradientTape tape;
    const Var logits = matmul(relu(matmul(x, w1) + b1), w2);
    const Var loss = sparse_categorical_crossentropy(labels, logits, true);
    return tape.gradient(loss, {w1, b1, w2});
  };
  const auto one = testing::with_threads(1, grads);
  for (int n : {2, 4}) {
    const auto many = testing::with_threads(n, grads);
    for (std::size_t i = 0; i < one.size(); ++i) CHECK(testing::bitwise_equal(one[i], many[i]));
  }
}

TEST_CASE("GradientTape: a variable forgets the tapes that are gone (its marks do not grow)",
          "[autograd][tape]") {
  // Every tape that tracks a variable marks it; a training loop makes one tape per step (and an RNN
  // call one more to trace its step). Marks of destroyed tapes must go, or every lookup would scan
  // all the steps so far.
  Var w = Var::variable(Tensor::ones({3}), "w");
  const auto marks = [&] {
    const auto* more = w.impl()->more_marks.get();
    return (w.impl()->first_mark.slot >= 0 ? 1u : 0u) + (more ? more->size() : 0u);
  };
  for (int step = 0; step < 50; ++step) {
    GradientTape outer;
    {
      GradientTape inner;
      const Var loss = sum(w * w);
      CHECK(marks() == 2);
      const std::vector<Tensor> g = inner.gradient(loss, {w});
      CHECK(g[0].get({0}) == 2.0);
    }
    CHECK(marks() == 1);
    const std::vector<Tensor> g = outer.gradient(sum(w * w * w), {w});
    CHECK(g[0].get({0}) == 3.0);
  }
  CHECK(marks() == 0);
}

TEST_CASE("tape: gradient announces each source once, as soon as it is final", "[autograd][tape]") {
  manual_seed(3);
  auto net = std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{
      std::make_shared<Embedding>(10, 4), std::make_shared<LSTM>(6), std::make_shared<Dense>(3)});
  const Tensor x = Tensor::from_vector<std::int64_t>({1, 2, 3, 4, 5, 6, 7, 8}, {2, 4});
  net->build_for(x.shape());
  std::vector<Var> sources = net->trainable_weights();
  const Var unused = Var::variable(Tensor::ones({2}), "unused");
  sources.push_back(unused);
  GradientTape tape;
  const Var out = (*net)(Var(x), CallContext::train());
  const Var loss = mean(out * out);
  std::vector<std::pair<std::size_t, Tensor>> announced;
  const std::vector<Tensor> grads = tape.gradient(loss, sources, [&](std::size_t i, const Tensor& g) {
    announced.emplace_back(i, g.clone());  // a copy: what was there at the moment of the announcement
  });
  REQUIRE(announced.size() == sources.size());
  CHECK(announced.front().first == sources.size() - 1);  // the unused source comes first, as zeros
  std::vector<int> seen(sources.size(), 0);
  for (const auto& [i, g] : announced) {
    ++seen[i];
    CHECK(g.shape() == grads[i].shape());
    CHECK(g.to_vector<double>() == grads[i].to_vector<double>());
  }
  for (int count : seen) CHECK(count == 1);
  // The Dense layer's weights are final before the LSTM's, which are final before the Embedding's.
  const auto position = [&](const std::string& part) {
    for (std::size_t k = 0; k < announced.size(); ++k)
      if (sources[announced[k].first].name().find(part) != std::string::npos) return k;
    return announced.size();
  };
  CHECK(position("dense") < position("lstm"));
  CHECK(position("lstm") < position("embedding"));
}
