// SPDX-License-Identifier: Apache-2.0
// The loop node's compiler: what it hoists, defers and keeps per step, gradchecks through each
// transformation, ops it does not know, several segments, and thread-count bit identity.
#include "loom/autograd/record.hpp"
#include "loom/layers/rnn.hpp"
#include "support/rnn_cells.hpp"

using namespace loom;
using testing::Vars;

namespace {

/// y = x³, an op with no `info()`: the compiler must treat it as opaque and replay it per step.
struct CubeOp {
  static constexpr const char* name = "cube";
  Tensor x;
  Tensor forward(const Tensor& x_in) {
    x = x_in;
    return core::mul(core::mul(x, x), x);
  }
  void backward(const Tensor& dy, Grads& g) const { g.add(0, core::mul(core::mul(dy, core::mul(x, x)), 3.0)); }
};
Var cube(const Var& x) { return record(CubeOp{}, x); }

using Step = backend::StepFunction;

struct Outcome {
  backend::LoopResult result;
  std::vector<Tensor> grads;
};

// Forward + backward of a loss that weights every output and state, w.r.t. `sources`.
Outcome run(const Step& step, const Var& x, const Vars& h0, const Vars& sources, backend::LoopOptions o) {
  GradientTape tape;
  tape.watch(x);
  for (const Var& s : h0) tape.watch(s);
  Outcome r{backend::rnn(step, {x}, h0, o), {}};
  Var loss = sum(r.result.outputs * Var(testing::random(r.result.outputs.shape(), DType::f64, 7)));
  for (std::size_t i = 0; i < r.result.new_states.size(); ++i)
    loss = loss + sum(r.result.new_states[i] * Var(testing::random(h0[i].shape(), DType::f64, 8 + i)));
  Vars all{x};
  all.insert(all.end(), h0.begin(), h0.end());
  all.insert(all.end(), sources.begin(), sources.end());
  r.grads = tape.gradient(loss, all);
  return r;
}

// The compiled loop, the per-op replay and the unrolled steps agree (f64).
backend::LoopStats agree(const Step& step, const Var& x, const Vars& h0, const Vars& sources, backend::LoopOptions o = {}) {
  const Outcome compiled = run(step, x, h0, sources, o);
  o.compile = false;
  const Outcome replay = run(step, x, h0, sources, o);
  o.unroll = true;
  const Outcome unrolled = run(step, x, h0, sources, o);
  testing::check_close(compiled.result.outputs.value(), unrolled.result.outputs.value(), 1e-12, 1e-13);
  testing::check_close(replay.result.outputs.value(), unrolled.result.outputs.value(), 1e-12, 1e-13);
  for (std::size_t g = 0; g < unrolled.grads.size(); ++g) {
    CAPTURE(g);
    testing::check_close(compiled.grads[g], unrolled.grads[g], 1e-12, 1e-13);
    testing::check_close(replay.grads[g], unrolled.grads[g], 1e-12, 1e-13);
  }
  return compiled.result.stats;
}

// What the compiler made of the loop inside `f(vars, &stats)`, run once with every input watched.
template <class F>
backend::LoopStats stats_of(const F& f, const std::vector<Tensor>& inputs) {
  std::vector<Var> v;
  for (const Tensor& t : inputs) v.emplace_back(t);
  GradientTape tape;
  for (const Var& w : v) tape.watch(w);
  backend::LoopStats stats;
  f(v, &stats);
  return stats;
}

}  // namespace

TEST_CASE("rnn compiler: a tanh cell hoists x·W, defers h·U and runs constants once", "[autograd][rnn][compile]") {
  const testing::TanhCell cell(2, 3, 2, false, 1);
  const Var x(testing::input64({4, 6, 2}, 1)), h0(testing::input64({4, 3}, 2)), c(testing::input64({4, 2}, 3));
  GradientTape tape;
  const auto r = backend::rnn(cell.step(), {x}, {h0}, {.constants = {c}});
  // matmul(x, W), matmul(h, U), add, add(b), matmul(c, V), add, tanh
  CHECK(r.stats.compiled);
  CHECK(r.stats.ops == 7);
  CHECK(r.stats.hoisted_ops == 1);
  CHECK(r.stats.invariant_ops == 1);
  CHECK(r.stats.deferred_matmuls == 1);
  CHECK(r.stats.fused_ops == 4);  // the three adds and tanh: one pass per step
  CHECK(r.stats.fused_kernels == 1);
  CHECK(r.stats.step_ops == 2);   // the deferred product and the fused kernel
  const auto replay = backend::rnn(cell.step(), {x}, {h0}, {.constants = {c}, .compile = false});
  CHECK(!replay.stats.compiled);
  CHECK(replay.stats.step_ops == 7);
  CHECK(replay.stats.hoisted_ops + replay.stats.invariant_ops + replay.stats.deferred_matmuls == 0);
}

TEST_CASE("rnn compiler: a hoisted chain (x·W + b, activation, gate slices) matches unrolled and central differences",
          "[autograd][rnn][compile][gradcheck]") {
  // Inputs of the gradcheck: x, h0, W (2, 6), b (6,), U (3, 3).
  const auto f = [](const Vars& v, backend::LoopStats* stats) {
    const Step step = [&v](const Vars& x, const Vars& s, const Vars&) {
      const Var z = sigmoid(matmul(x[0], v[2]) + v[3]) * 2.0;   // hoisted: matmul, add, sigmoid, mul
      const std::vector<Var> gates = split(z, 2, -1);          // hoisted: split along the features
      const Var a = slice(gates[1], 1, 1, 2);                  // hoisted: slice along the features
      const Var h = tanh(gates[0] + matmul(s[0], v[4])) * concat({a, slice(gates[0], 1, 0, 1)}, 1);
      return backend::StepOutput(h, {h});
    };
    const auto r = backend::rnn(step, {v[0]}, {v[1]}, {.go_backwards = true});
    if (stats) *stats = r.stats;
    return concat({reshape(r.outputs, {3, -1}), r.new_states[0]}, 1);
  };
  const std::vector<Tensor> inputs{testing::input64({3, 4, 2}, 1), testing::input64({3, 3}, 2),
                                   testing::input64({2, 6}, 3), testing::input64({6}, 4), testing::input64({3, 3}, 5)};
  const backend::LoopStats stats = stats_of(f, inputs);
  CHECK(stats.hoisted_ops == 8);  // matmul, add, sigmoid, mul, split, two slices and their concat
  CHECK(stats.deferred_matmuls == 1);
  testing::check_gradients([&](const Vars& v) { return f(v, nullptr); }, inputs);
}

TEST_CASE("rnn compiler: a deferred product against an invariant slice of a weight", "[autograd][rnn][compile][gradcheck]") {
  // Inputs: x, h0, W (2, 3), U (3, 9) of which the step uses the middle block (as GRU's reset_after=false does).
  const auto f = [](const Vars& v, backend::LoopStats* stats) {
    const Step step = [&v](const Vars& x, const Vars& s, const Vars&) {
      const Var u = slice(v[3], 1, 3, 3);  // invariant: runs once per call
      const Var h = tanh(matmul(x[0], v[2]) + matmul(s[0], u));
      return backend::StepOutput(h, {h});
    };
    const Tensor mask = Tensor::of({1, 1, 0, 1, 0, 1, 1, 1, 1, 0, 1, 1}, {3, 4}, DType::f64);
    const auto r = backend::rnn(step, {v[0]}, {v[1]}, {.mask = mask});
    if (stats) *stats = r.stats;
    return concat({reshape(r.outputs, {3, -1}), r.new_states[0]}, 1);
  };
  const std::vector<Tensor> inputs{testing::input64({3, 4, 2}, 11), testing::input64({3, 3}, 12),
                                   testing::input64({2, 3}, 13), testing::input64({3, 9}, 14)};
  const backend::LoopStats stats = stats_of(f, inputs);
  CHECK(stats.invariant_ops == 1);
  CHECK(stats.hoisted_ops == 1);
  CHECK(stats.deferred_matmuls == 1);
  testing::check_gradients([&](const Vars& v) { return f(v, nullptr); }, inputs);
}

TEST_CASE("rnn compiler: an op it does not know runs per step, mixed with hoisted and deferred ops",
          "[autograd][rnn][compile][gradcheck]") {
  // Inputs: x, h0, W (2, 3), U (3, 3). cube() has no info(): on the input path it stops the hoisting
  // of what follows it; on the state path it is an ordinary step op.
  const auto f = [](const Vars& v, backend::LoopStats* stats) {
    const Step step = [&v](const Vars& x, const Vars& s, const Vars&) {
      const Var hoisted = matmul(x[0], v[2]);
      const Var h = tanh(cube(hoisted) * 0.5 + matmul(cube(s[0]), v[3]));
      return backend::StepOutput(h, {h});
    };
    const auto r = backend::rnn(step, {v[0]}, {v[1]}, {.zero_output_for_mask = true});
    if (stats) *stats = r.stats;
    return concat({reshape(r.outputs, {3, -1}), r.new_states[0]}, 1);
  };
  const std::vector<Tensor> inputs{testing::input64({3, 4, 2}, 21), testing::input64({3, 3}, 22),
                                   testing::input64({2, 3}, 23), testing::input64({3, 3}, 24)};
  const backend::LoopStats stats = stats_of(f, inputs);
  CHECK(stats.hoisted_ops == 1);  // matmul(x, W); cube and everything after it run per step
  CHECK(stats.deferred_matmuls == 1);
  CHECK(stats.fused_ops == 3);    // ·0.5, + and tanh; both cubes stay ops of their own
  CHECK(stats.step_ops == 4);     // cube, cube, the deferred product, the fused kernel
  testing::check_gradients([&](const Vars& v) { return f(v, nullptr); }, inputs);

  const Var w = Var::variable(testing::input64({2, 3}, 23), "w"), u = Var::variable(testing::input64({3, 3}, 24), "u");
  const Step step = [&](const Vars& x, const Vars& s, const Vars&) {
    const Var h = tanh(cube(matmul(x[0], w)) * 0.5 + matmul(cube(s[0]), u));
    return backend::StepOutput(h, {h});
  };
  agree(step, Var(testing::input64({3, 4, 2}, 21)), {Var(testing::input64({3, 3}, 22))}, {w, u});
}

TEST_CASE("rnn compiler: an element-wise op with a per-sample invariant operand stays in the loop",
          "[autograd][rnn][compile]") {
  // x ⊙ m with m (B, I) cannot take stacked rows of x, so it and the product after it run per step.
  const Var w = Var::variable(testing::input64({2, 3}, 31), "w"), u = Var::variable(testing::input64({3, 3}, 32), "u");
  const Var m(testing::input64({3, 2}, 33));
  const Step step = [&](const Vars& x, const Vars& s, const Vars&) {
    const Var h = tanh(matmul(x[0] * m, w) + matmul(s[0], u));
    return backend::StepOutput(h, {h});
  };
  const backend::LoopStats stats =
      agree(step, Var(testing::input64({3, 5, 2}, 34)), {Var(testing::input64({3, 3}, 35))}, {w, u, m});
  CHECK(stats.hoisted_ops == 0);
  CHECK(stats.deferred_matmuls == 2);  // both products are per step now, both weights deferred
}

TEST_CASE("rnn compiler: several segments (B·T > 256 rows) with masks, go_backwards and checkpointing",
          "[autograd][rnn][compile]") {
  // B = 40 → segments of 7 steps; T = 17 gives segments of 7, 7 and 3.
  const testing::TanhCell cell(3, 4, 1, true, 40);
  const Var x(testing::input64({40, 17, 3}, 41));
  const Vars h0{Var(testing::input64({40, 4}, 42)), Var(testing::input64({40, 4}, 43))};
  Generator gen(44);
  const Tensor mask = Tensor::uniform({40, 17}, 0, 1, DType::f64, &gen);
  for (bool backwards : {false, true})
    for (std::int64_t checkpoint : {0, 5}) {
      CAPTURE(backwards, checkpoint);
      backend::LoopOptions o{.go_backwards = backwards, .checkpoint_every = checkpoint};
      std::vector<double> keep = mask.to_vector<double>();
      for (double& k : keep) k = k > 0.3;
      o.mask = Tensor::from_vector(keep, {40, 17});
      agree(cell.step(), x, h0, {cell.w, cell.u, cell.b}, o);
    }
}

TEST_CASE("rnn compiler: a compiled LSTM training run is bitwise identical with 1, 2 and 4 threads",
          "[autograd][rnn][compile][threads]") {
  const auto train = [] {
    manual_seed(5);
    LSTM lstm(24, {}, {.return_sequences = true});
    const Var x(Tensor::uniform({48, 12, 10}, -1, 1));  // 48 × 12 rows: two segments
    lstm.build_for(x.shape());
    for (int step = 0; step < 3; ++step) {
      GradientTape tape;
      const Var loss = mean(lstm(x) * lstm(x));
      const std::vector<Tensor> g = tape.gradient(loss, lstm.trainable_weights());
      for (std::size_t i = 0; i < g.size(); ++i) {
        Tensor w = lstm.trainable_weights()[i].value();
        core::add_(w, core::mul(g[i], -0.5));
      }
    }
    std::vector<Tensor> out;
    for (const Var& w : lstm.trainable_weights()) out.push_back(w.value().clone());
    return out;
  };
  const std::vector<Tensor> one = testing::with_threads(1, train), two = testing::with_threads(2, train),
                            four = testing::with_threads(4, train);
  REQUIRE(one.size() == 3);
  for (std::size_t i = 0; i < one.size(); ++i) {
    CHECK(testing::bitwise_equal(one[i], two[i]));
    CHECK(testing::bitwise_equal(one[i], four[i]));
  }
}

TEST_CASE("rnn compiler: one loop on two tapes, and a persistent tape asked twice", "[autograd][rnn][compile]") {
  const testing::TanhCell cell(2, 3, 1, true, 60);
  const Var x(testing::input64({40, 9, 2}, 61));  // two segments
  const Vars h0{Var(testing::input64({40, 3}, 62)), Var(testing::input64({40, 3}, 63))};
  const Vars weights{cell.w, cell.u, cell.b};
  std::vector<Tensor> expected;
  {
    GradientTape tape;
    const auto r = backend::rnn(cell.step(), {x}, h0, {.unroll = true});
    expected = tape.gradient(sum(r.outputs * r.outputs), weights);
  }
  for (bool checkpoint : {false, true}) {
    CAPTURE(checkpoint);
    const backend::LoopOptions o{.checkpoint_every = checkpoint ? 4 : 0};
    {  // the inner tape (not persistent) runs its backward first; the outer one must still work
      GradientTape outer;
      GradientTape inner;
      const auto r = backend::rnn(cell.step(), {x}, h0, o);
      const Var loss = sum(r.outputs * r.outputs);
      const std::vector<Tensor> a = inner.gradient(loss, weights), b = outer.gradient(loss, weights);
      for (std::size_t i = 0; i < weights.size(); ++i) {
        testing::check_close(a[i], expected[i], 1e-12, 1e-13);
        testing::check_close(b[i], expected[i], 1e-12, 1e-13);
      }
    }
    {
      GradientTape tape(/*persistent=*/true);
      const auto r = backend::rnn(cell.step(), {x}, h0, o);
      const Var loss = sum(r.outputs * r.outputs);
      const std::vector<Tensor> a = tape.gradient(loss, weights), b = tape.gradient(loss, weights);
      for (std::size_t i = 0; i < weights.size(); ++i) {
        testing::check_close(a[i], expected[i], 1e-12, 1e-13);
        CHECK(testing::bitwise_equal(a[i], b[i]));
      }
    }
  }
}

TEST_CASE("rnn compiler: the steps allocate nothing, so a call's allocations do not grow with T",
          "[autograd][rnn][compile][memory]") {
  // Batch 2: a segment holds 128 steps, so T = 30 and T = 120 each run as one segment. Whatever the
  // call allocates (inputs in time-major order, the output sequence, a segment's stacked rows and
  // the arena blocks) is per call or per segment; a step that allocated would add 90 or more.
  manual_seed(9);
  LSTM lstm(8, {}, {.return_sequences = true});
  lstm.build_for({2, 1, 5});
  const auto allocations = [&](std::int64_t steps, bool train, bool masked) {
    const Var x(Tensor::uniform({2, steps, 5}, -1, 1));
    RNNCallArgs args;
    if (masked) {
      args.mask = Tensor::ones({2, steps});
      args.mask.data<float>()[3] = 0;  // one masked step in the first sample
    }
    const std::size_t before = memory_stats().allocations;
    if (train) {
      GradientTape tape;
      tape.watch(x);
      const Var y = lstm.call(x, args).output;
      Vars sources = lstm.trainable_weights();
      sources.push_back(x);
      const std::vector<Tensor> g = tape.gradient(sum(y * y), sources);
      REQUIRE(g.size() == 4);
    } else {
      const Var y = lstm.call(x, args).output;
      REQUIRE(y.shape() == Shape({2, steps, 8}));
    }
    return memory_stats().allocations - before;
  };
  for (bool train : {false, true})
    for (bool masked : {false, true}) {
      CAPTURE(train, masked);
      const std::size_t short_run = allocations(30, train, masked), long_run = allocations(120, train, masked);
      CHECK(long_run == short_run);
    }
}
