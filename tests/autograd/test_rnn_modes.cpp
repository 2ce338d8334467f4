// SPDX-License-Identifier: Apache-2.0
// backend::rnn's two modes: the loop node agrees with the unrolled tape over a grid of options,
// gradchecks through the loop node, node counts, memory, and the torch golden fixture (§5.1).
#include <optional>

#include "fixtures/golden_rnn.hpp"
#include "support/rnn_cells.hpp"

using namespace loom;
using backend::LoopOptions;
using testing::Vars;

namespace {

struct Run {
  backend::LoopResult result;
  std::vector<Tensor> grads;  // x, initial states, constant, w, u, b, v
};

// One forward + backward with a loss that weights every output, the last output and every state.
Run run(const testing::TanhCell& cell, const Tensor& x, const Vars& h0, const Vars& constants, LoopOptions o) {
  const Var xv(x);
  GradientTape tape;
  tape.watch(xv);
  for (const Var& s : h0) tape.watch(s);
  for (const Var& c : constants) tape.watch(c);
  o.constants = constants;
  Run r{backend::rnn(cell.step(), {xv}, h0, o), {}};
  Var loss = sum(r.result.outputs * Var(testing::random(r.result.outputs.shape(), DType::f64, 91)));
  loss = loss + sum(r.result.last_output * Var(testing::random(r.result.last_output.shape(), DType::f64, 92)));
  for (std::size_t i = 0; i < r.result.new_states.size(); ++i)
    loss = loss + sum(r.result.new_states[i] * Var(testing::random(h0[i].shape(), DType::f64, 93 + i)));
  Vars sources{xv};
  sources.insert(sources.end(), h0.begin(), h0.end());
  sources.insert(sources.end(), constants.begin(), constants.end());
  for (const Var& w : {cell.w, cell.u, cell.b, cell.v}) sources.push_back(w);
  r.grads = tape.gradient(loss, sources);
  return r;
}

Tensor grid_mask(bool time_major) {
  // Sample 0 left-padded, sample 1 fully masked, sample 2 with a hole; (B, T) = (3, 5).
  const Tensor m = Tensor::of({0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 1, 1, 0}, {3, 5}, DType::f64);
  return time_major ? m.transpose() : m;
}

}  // namespace

TEST_CASE("rnn: compiled loop, per-op replay and unrolled steps agree on every output and gradient over the option grid",
          "[autograd][rnn][property]") {
  const Tensor x_bm = testing::input64({3, 5, 2}, 1);
  int configs = 0;
  for (bool backwards : {false, true})
    for (bool masked : {false, true})
      for (bool zero : {false, true})
        for (bool all : {false, true})
          for (bool time_major : {false, true})
            for (bool with_constants : {false, true})
              for (bool two_states : {false, true})
                for (std::int64_t checkpoint : {0, 2}) {
                  CAPTURE(backwards, masked, zero, all, time_major, with_constants, two_states, checkpoint);
                  const testing::TanhCell cell(2, 3, 2, two_states, 10);
                  Vars h0{Var(testing::input64({3, 3}, 20))};
                  if (two_states) h0.emplace_back(testing::input64({3, 3}, 21));
                  const Vars constants = with_constants ? Vars{Var(testing::input64({3, 2}, 22))} : Vars{};
                  LoopOptions o{.go_backwards = backwards, .time_major = time_major, .zero_output_for_mask = zero,
                               .return_all_outputs = all, .checkpoint_every = checkpoint};
                  if (masked) o.mask = grid_mask(time_major);
                  const Tensor x = time_major ? core::swap01(x_bm) : x_bm;
                  const Run loop = run(cell, x, h0, constants, o);
                  o.compile = false;
                  const Run replay = run(cell, x, h0, constants, o);
                  o.unroll = true;
                  const Run unrolled = run(cell, x, h0, constants, o);
                  CHECK(loop.result.stats.compiled);
                  CHECK(loop.result.stats.hoisted_ops == 1);     // x·W
                  CHECK(loop.result.stats.deferred_matmuls == 1);  // h·U
                  CHECK(!replay.result.stats.compiled);
                  CHECK(replay.result.stats.step_ops == replay.result.stats.ops);
                  CHECK(unrolled.result.stats.ops == 0);
                  testing::check_close(loop.result.outputs.value(), unrolled.result.outputs.value(), 1e-12, 1e-14);
                  testing::check_close(loop.result.last_output.value(), unrolled.result.last_output.value(), 1e-12, 1e-14);
                  for (std::size_t i = 0; i < h0.size(); ++i)
                    testing::check_close(loop.result.new_states[i].value(), unrolled.result.new_states[i].value(),
                                         1e-12, 1e-14);
                  REQUIRE(loop.grads.size() == unrolled.grads.size());
                  for (std::size_t g = 0; g < loop.grads.size(); ++g) {
                    CAPTURE(g);
                    testing::check_close(loop.grads[g], unrolled.grads[g], 1e-12, 1e-13);
                    testing::check_close(replay.grads[g], unrolled.grads[g], 1e-12, 1e-13);
                  }
                  testing::check_close(replay.result.outputs.value(), unrolled.result.outputs.value(), 1e-12, 1e-14);
                  ++configs;
                }
  CHECK(configs == 256);
}

TEST_CASE("rnn: gradients through the loop node match central differences", "[autograd][rnn][gradcheck]") {
  for (bool backwards : {false, true})
    for (bool zero : {false, true})
      for (std::int64_t checkpoint : {0, 2}) {
        CAPTURE(backwards, zero, checkpoint);
        const Tensor mask = Tensor::of({1, 1, 0, 1, 0, 0, 1, 1, 1, 1, 1, 0}, {3, 4}, DType::f64);
        // Inputs: x, h0, constant, W, U, b — all watched by gradcheck; the step captures the weights.
        testing::check_gradients(
            [&](const Vars& v) {
              const auto step = [&v](const Vars& x, const Vars& s, const Vars& c) {
                const Var h = tanh(matmul(x[0], v[3]) + matmul(s[0], v[4]) + v[5] + c[0]);
                return backend::StepOutput(h, {h});
              };
              const auto r = backend::rnn(step, {v[0]}, {v[1]},
                                          {.go_backwards = backwards, .mask = mask, .constants = {v[2]},
                                           .zero_output_for_mask = zero, .checkpoint_every = checkpoint});
              return concat({reshape(r.outputs, {3, -1}), r.last_output, r.new_states[0]}, 1);
            },
            {testing::input64({3, 4, 2}, 1), testing::input64({3, 3}, 2), testing::input64({3, 3}, 3),
             testing::input64({2, 3}, 4), testing::input64({3, 3}, 5), testing::input64({3}, 6)});
      }
}

TEST_CASE("rnn: unroll=false records exactly one node; unroll=true records every step's ops", "[autograd][rnn]") {
  const testing::TanhCell cell(2, 3, 1, false, 1);
  const Var x(testing::input64({4, 6, 2}, 2));
  const Var h0(testing::input64({4, 3}, 3));
  {
    GradientTape tape;
    const auto r = backend::rnn(cell.step(), {x}, {h0});
    CHECK(tape.size() == 1);
    const Var loss = sum(r.outputs);
    CHECK(tape.size() == 2);  // + what is outside the loop
    CHECK(tape.gradient(loss, {cell.w})[0].numel() == 6);
  }
  {
    GradientTape tape;
    tape.watch(x);
    backend::rnn(cell.step(), {x}, {h0}, {.unroll = true});
    // unstack + T × (matmul, matmul, add, add, tanh) + stack
    CHECK(tape.size() == 1 + 6 * 5 + 1);
  }
  {
    GradientTape tape;
    tape.watch(x);
    backend::rnn(cell.step(), {x}, {h0}, {.mask = Tensor::ones({4, 6})});
    CHECK(tape.size() == 1);  // masking happens inside the node too
  }
  {
    NoGrad inference;
    GradientTape tape;
    backend::rnn(cell.step(), {x}, {h0});
    CHECK(tape.size() == 0);
  }
}

TEST_CASE("rnn: inference keeps nothing per step, checkpointing keeps less", "[autograd][rnn]") {
  // A 32-unit tanh cell on batch 16: every kept step holds a few KiB of saved tensors. What memory
  // does per step shows in how the peak grows from T = 400 to T = 800.
  const testing::TanhCell cell(8, 32, 1, false, 1, DType::f32);
  const Var h0(Tensor::zeros({16, 32}));
  // Peak bytes beyond the inputs' time-major copy, with only the last output returned.
  auto extra = [&](std::int64_t steps, bool train, std::int64_t checkpoint) {
    const Var x(testing::random({16, steps, 8}, DType::f32, 2));
    reset_peak_memory();
    const std::size_t base = memory_stats().current_bytes;
    std::optional<GradientTape> tape;
    if (train) tape.emplace();
    const auto r = backend::rnn(cell.step(), {x}, {h0}, {.return_all_outputs = false, .checkpoint_every = checkpoint});
    if (train) tape->gradient(sum(r.last_output), {cell.w});
    return static_cast<double>(memory_stats().peak_bytes - base - x.value().nbytes());
  };
  const double inference = extra(400, false, 0), inference_2x = extra(800, false, 0);
  const double full = extra(400, true, 0), full_2x = extra(800, true, 0);
  const double checkpointed = extra(400, true, 20), checkpointed_2x = extra(800, true, 20);
  INFO("peak bytes beyond the inputs at T = 400 / 800: inference " << inference << " / " << inference_2x
                                                                   << ", training " << full << " / " << full_2x
                                                                   << ", checkpoint_every=20 " << checkpointed
                                                                   << " / " << checkpointed_2x);
  CHECK(inference_2x == inference);           // a segment's temporaries, whatever T
  CHECK(inference < 128 * 1024);
  CHECK(full_2x - full >= 400 * 16 * 32 * 4);  // every step keeps at least its (16, 32) state for backward
  CHECK((checkpointed_2x - checkpointed) * 8 < full_2x - full);  // 20 more checkpoints, the same segment
  CHECK(checkpointed * 3 < full);
}

TEST_CASE("rnn: the loop node never needs more memory than the unrolled steps", "[autograd][rnn]") {
  const testing::TanhCell cell(16, 64, 1, false, 1, DType::f32);
  const Var x(testing::random({32, 60, 16}, DType::f32, 2));
  const Var h0(Tensor::zeros({32, 64}));
  for (bool masked : {false, true}) {
    auto peak = [&](bool unroll) {
      reset_peak_memory();
      const std::size_t base = memory_stats().current_bytes;
      GradientTape tape;
      tape.watch(x);
      backend::LoopOptions o{.unroll = unroll};
      if (masked) o.mask = Tensor::ones({32, 60});
      const auto r = backend::rnn(cell.step(), {x}, {h0}, o);
      tape.gradient(mean(r.outputs), {x, cell.w, cell.u});
      return memory_stats().peak_bytes - base;
    };
    const std::size_t loop = peak(false), unrolled = peak(true);
    INFO("masked " << masked << ": peak bytes, loop node " << loop << ", unrolled " << unrolled);
    CHECK(loop <= unrolled);
  }
}

TEST_CASE("rnn: matches the torch reference of §5.1 in f64 (masks, both zero modes, go_backwards)",
          "[autograd][rnn][golden]") {
  namespace fx = loom::fixtures::golden_rnn;
  auto t = [](const double* v, std::initializer_list<std::int64_t> shape) {
    const Shape s(shape);
    return Tensor::from_vector(std::vector<double>(v, v + s.numel()), s);
  };
  struct Case {
    bool backwards, zero;
    const double *last, *outputs, *state, *dx, *dw, *du, *db, *dh0;
  };
  const Case cases[] = {
      {false, false, fx::fwd_carry_last, fx::fwd_carry_outputs, fx::fwd_carry_state, fx::fwd_carry_dx, fx::fwd_carry_dw,
       fx::fwd_carry_du, fx::fwd_carry_db, fx::fwd_carry_dh0},
      {false, true, fx::fwd_zero_last, fx::fwd_zero_outputs, fx::fwd_zero_state, fx::fwd_zero_dx, fx::fwd_zero_dw,
       fx::fwd_zero_du, fx::fwd_zero_db, fx::fwd_zero_dh0},
      {true, false, fx::bwd_carry_last, fx::bwd_carry_outputs, fx::bwd_carry_state, fx::bwd_carry_dx, fx::bwd_carry_dw,
       fx::bwd_carry_du, fx::bwd_carry_db, fx::bwd_carry_dh0},
      {true, true, fx::bwd_zero_last, fx::bwd_zero_outputs, fx::bwd_zero_state, fx::bwd_zero_dx, fx::bwd_zero_dw,
       fx::bwd_zero_du, fx::bwd_zero_db, fx::bwd_zero_dh0},
  };
  const Var w = Var::variable(t(fx::w, {3, 4}), "kernel"), u = Var::variable(t(fx::u, {4, 4}), "recurrent_kernel");
  const Var b = Var::variable(t(fx::b, {4}), "bias");
  const auto step = [&](const Vars& x, const Vars& s, const Vars&) {
    const Var h = tanh(matmul(x[0], w) + matmul(s[0], u) + b);
    return backend::StepOutput(h, {h});
  };
  for (const Case& c : cases)
    for (bool unroll : {false, true}) {
      CAPTURE(c.backwards, c.zero, unroll);
      const Var x(t(fx::x, {5, 7, 3})), h0(t(fx::h0, {5, 4}));
      GradientTape tape;
      tape.watch(x);
      tape.watch(h0);
      const auto r = backend::rnn(step, {x}, {h0},
                                  {.go_backwards = c.backwards, .mask = t(fx::mask, {5, 7}), .unroll = unroll,
                                   .zero_output_for_mask = c.zero});
      const Var loss = sum(r.outputs * Var(t(fx::g_seq, {5, 7, 4}))) + sum(r.last_output * Var(t(fx::g_last, {5, 4}))) +
                       sum(r.new_states[0] * Var(t(fx::g_state, {5, 4})));
      const auto g = tape.gradient(loss, {x, h0, w, u, b});
      testing::check_close(r.last_output.value(), t(c.last, {5, 4}), 0, 1e-10);
      testing::check_close(r.outputs.value(), t(c.outputs, {5, 7, 4}), 0, 1e-10);
      testing::check_close(r.new_states[0].value(), t(c.state, {5, 4}), 0, 1e-10);
      testing::check_close(g[0], t(c.dx, {5, 7, 3}), 0, 1e-10);
      testing::check_close(g[1], t(c.dh0, {5, 4}), 0, 1e-10);
      testing::check_close(g[2], t(c.dw, {3, 4}), 0, 1e-10);
      testing::check_close(g[3], t(c.du, {4, 4}), 0, 1e-10);
      testing::check_close(g[4], t(c.db, {4}), 0, 1e-10);
    }
}
