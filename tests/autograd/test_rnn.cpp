// SPDX-License-Identifier: Apache-2.0
// backend::rnn: the rules of KERAS_SEMANTICS.md §1 with hand-computed values, in both modes, and errors.
#include "support/rnn_cells.hpp"

using namespace loom;
using backend::LoopOptions;
using backend::StepOutput;
using Catch::Matchers::StartsWith;
using testing::Vars;

namespace {
Var ones(const Shape& s) { return Var(Tensor::ones(s, DType::f64)); }
Var zeros(const Shape& s) { return Var(Tensor::zeros(s, DType::f64)); }
}  // namespace

TEST_CASE("rnn: single state forward pass (T03, T05)", "[autograd][rnn]") {
  for (bool unroll : {false, true}) {
    CAPTURE(unroll);
    const testing::OneState cell(3, 2);
    const auto r = backend::rnn(cell.step(), {ones({1, 2, 3})}, {zeros({1, 2})}, {.unroll = unroll});
    testing::check_close(r.last_output.value(), {9, 9}, 0, 0);
    testing::check_close(r.outputs.value(), {3, 3, 9, 9}, 0, 0);
    CHECK(r.outputs.shape() == Shape{1, 2, 2});
    testing::check_close(r.new_states[0].value(), {9, 9}, 0, 0);
    const testing::OneState cell2(2, 2);
    const auto r2 = backend::rnn(cell2.step(), {ones({2, 3, 2})}, {ones({2, 2})}, {.unroll = unroll});
    testing::check_close(r2.last_output.value(), {22, 22, 22, 22}, 0, 0);
    testing::check_close(r2.new_states[0].value(), {22, 22, 22, 22}, 0, 0);
  }
}

TEST_CASE("rnn: two states forward pass (T04)", "[autograd][rnn]") {
  for (bool unroll : {false, true}) {
    const testing::TwoStates cell(3, 2);
    const auto r = backend::rnn(cell.step(), {ones({1, 2, 3})}, {zeros({1, 2}), zeros({1, 2})}, {.unroll = unroll});
    testing::check_close(r.last_output.value(), {18, 18}, 0, 0);
    testing::check_close(r.outputs.value(), {6, 6, 18, 18}, 0, 0);
    testing::check_close(r.new_states[0].value(), {9, 9}, 0, 0);
    testing::check_close(r.new_states[1].value(), {9, 9}, 0, 0);
  }
}

TEST_CASE("rnn: output and state masking are independent (T33)", "[autograd][rnn]") {
  // step returns (inputs, [s + 1]); sample 1's last two steps are masked.
  const auto step = [](const Vars& x, const Vars& s, const Vars&) { return StepOutput(x[0], {s[0] + 1.0}); };
  const Tensor x = Tensor::arange(16, DType::f64).reshape({2, 4, 2});
  const Tensor mask = Tensor::of({1, 1, 1, 1, 1, 1, 0, 0}, {2, 4});
  for (bool unroll : {false, true}) {
    const auto r = backend::rnn(step, {Var(x)}, {zeros({2, 1})}, {.mask = mask, .unroll = unroll});
    testing::check_close(r.outputs.value(), {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 10, 11, 10, 11}, 0, 0);
    testing::check_close(r.new_states[0].value(), {4, 2}, 0, 0);
  }
}

TEST_CASE("rnn: outputs and states of rank > 2 are masked as whole rows (T34, T35)", "[autograd][rnn]") {
  // Output (B, F, 2) per step; the last sample's last step is masked.
  const auto tile = [](const Vars& x, const Vars& s, const Vars&) {
    const Var e = reshape(x[0], {x[0].shape(0), x[0].shape(1), 1});
    return StepOutput(concat({e, e}, 2), {s[0]});
  };
  const Tensor x = testing::input64({3, 5, 4}, 1);
  Tensor mask = Tensor::ones({3, 5});
  mask.at<float>({2, 4}) = 0;
  // State (B, 6, 7); step s + 1; sample 0's last two steps are masked.
  const auto count = [](const Vars& x_t, const Vars& s, const Vars&) { return StepOutput(x_t[0], {s[0] + 1.0}); };
  Tensor mask2 = Tensor::ones({3, 5});
  mask2.at<float>({0, 3}) = mask2.at<float>({0, 4}) = 0;
  for (bool unroll : {false, true}) {
    const auto r = backend::rnn(tile, {Var(x)}, {zeros({3, 1})}, {.mask = mask, .unroll = unroll});
    CHECK(r.outputs.shape() == Shape{3, 5, 4, 2});
    const Tensor o = r.outputs.value();
    CHECK(testing::bitwise_equal(o.index0(2).index0(4), o.index0(2).index0(3)));
    const auto r2 = backend::rnn(count, {Var(x)}, {zeros({3, 6, 7})}, {.mask = mask2, .unroll = unroll});
    const Tensor s = r2.new_states[0].value();
    CHECK(s.get({0, 5, 6}) == 3.0);
    CHECK(s.get({1, 0, 0}) == 5.0);
    CHECK(s.get({2, 3, 2}) == 5.0);
  }
}

TEST_CASE("rnn: masked steps before the first unmasked step output zeros, whatever the initial state", "[autograd][rnn]") {
  const testing::OneState cell(1, 1);
  const Tensor x = Tensor::of({1, 1, 1}, {1, 3, 1}, DType::f64);
  const Tensor mask = Tensor::of({0, 1, 1}, {1, 3});
  for (bool unroll : {false, true})
    for (bool zero : {false, true}) {
      const auto r = backend::rnn(cell.step(), {Var(x)}, {ones({1, 1}) * 5.0},
                                  {.mask = mask, .unroll = unroll, .zero_output_for_mask = zero});
      // step 0 masked: output 0, state stays 5; step 1: 1 + 5 = 6; step 2: 1 + 6 = 7.
      testing::check_close(r.outputs.value(), {0, 6, 7}, 0, 0);
      testing::check_close(r.new_states[0].value(), {7}, 0, 0);
    }
}

TEST_CASE("rnn: trailing masked steps in both zero modes; fully masked samples", "[autograd][rnn]") {
  const testing::OneState cell(1, 1);
  const Tensor x = Tensor::of({1, 2, 3, 1, 1, 1}, {2, 3, 1}, DType::f64);
  const Tensor mask = Tensor::of({1, 1, 0, 0, 0, 0}, {2, 3});  // sample 1 fully masked
  for (bool unroll : {false, true}) {
    CAPTURE(unroll);
    const auto carry = backend::rnn(cell.step(), {Var(x)}, {ones({2, 1}) * 0.5}, {.mask = mask, .unroll = unroll});
    // Sample 0: 1.5, 3.5, masked → carries 3.5. Sample 1: zeros, state stays 0.5.
    testing::check_close(carry.outputs.value(), {1.5, 3.5, 3.5, 0, 0, 0}, 0, 0);
    testing::check_close(carry.last_output.value(), {3.5, 0}, 0, 0);
    testing::check_close(carry.new_states[0].value(), {3.5, 0.5}, 0, 0);
    const auto zero = backend::rnn(cell.step(), {Var(x)}, {ones({2, 1}) * 0.5},
                                   {.mask = mask, .unroll = unroll, .zero_output_for_mask = true});
    testing::check_close(zero.outputs.value(), {1.5, 3.5, 0, 0, 0, 0}, 0, 0);
    testing::check_close(zero.last_output.value(), {0, 0}, 0, 0);  // the TF rule: last_output zeroed too
    testing::check_close(zero.new_states[0].value(), {3.5, 0.5}, 0, 0);
  }
}

TEST_CASE("rnn: go_backwards keeps processing order, with right- and left-padded masks", "[autograd][rnn]") {
  const testing::OneState cell(1, 1);
  const Tensor x = Tensor::of({1, 10, 100}, {1, 3, 1}, DType::f64);
  for (bool unroll : {false, true})
    for (bool zero : {false, true}) {
      CAPTURE(unroll, zero);
      const auto plain = backend::rnn(cell.step(), {Var(x)}, {zeros({1, 1})}, {.go_backwards = true, .unroll = unroll});
      testing::check_close(plain.outputs.value(), {100, 110, 111}, 0, 0);  // x2, x2+x1, ... (not flipped back)
      testing::check_close(plain.last_output.value(), {111}, 0, 0);
      // Right padding [x0, x1, pad]: the pad comes first: [0, o(x1), o(x1, x0)].
      const auto right = backend::rnn(cell.step(), {Var(x)}, {zeros({1, 1})},
                                      {.go_backwards = true, .mask = Tensor::of({1, 1, 0}, {1, 3}), .unroll = unroll,
                                       .zero_output_for_mask = zero});
      testing::check_close(right.outputs.value(), {0, 10, 11}, 0, 0);
      // Left padding [pad, x1, x2]: the pad comes last: carry repeats o(x2, x1), zero mode gives 0.
      const auto left = backend::rnn(cell.step(), {Var(x)}, {zeros({1, 1})},
                                     {.go_backwards = true, .mask = Tensor::of({0, 1, 1}, {1, 3}), .unroll = unroll,
                                      .zero_output_for_mask = zero});
      testing::check_close(left.outputs.value(), {100, 110, zero ? 0.0 : 110.0}, 0, 0);
      testing::check_close(left.new_states[0].value(), {110}, 0, 0);
    }
}

TEST_CASE("rnn: return_all_outputs=false and time_major", "[autograd][rnn]") {
  const testing::OneState cell(3, 2);
  for (bool unroll : {false, true}) {
    const auto last = backend::rnn(cell.step(), {ones({4, 5, 3})}, {zeros({4, 2})},
                                   {.unroll = unroll, .return_all_outputs = false});
    CHECK(last.outputs.shape() == Shape{4, 1, 2});
    CHECK(testing::bitwise_equal(last.outputs.value().reshape({4, 2}), last.last_output.value()));
    const Tensor x = testing::input64({4, 5, 3}, 3);
    const auto bm = backend::rnn(cell.step(), {Var(x)}, {zeros({4, 2})}, {.unroll = unroll});
    const auto tm = backend::rnn(cell.step(), {Var(core::swap01(x))}, {zeros({4, 2})},
                                 {.unroll = unroll, .time_major = true});
    CHECK(tm.outputs.shape() == Shape{5, 4, 2});
    CHECK(testing::bitwise_equal(core::swap01(tm.outputs.value()), bm.outputs.value()));
    const auto tm_last = backend::rnn(cell.step(), {Var(core::swap01(x))}, {zeros({4, 2})},
                                      {.unroll = unroll, .time_major = true, .return_all_outputs = false});
    CHECK(tm_last.outputs.shape() == Shape{1, 4, 2});
  }
}

TEST_CASE("rnn: nested inputs and nested outputs", "[autograd][rnn]") {
  const auto step = [](const Vars& x, const Vars& s, const Vars&) {
    const Var a = s[0] + sum(x[0], 1, true), b = x[1] * 2.0;  // a (B, 1), b (B, 2, 2)
    return StepOutput(std::vector<Var>{a, b}, {a});
  };
  const Tensor x1 = Tensor::ones({2, 3, 4}, DType::f64), x2 = testing::input64({2, 3, 2, 2}, 5);
  for (bool unroll : {false, true}) {
    const auto r = backend::rnn(step, {Var(x1), Var(x2)}, {zeros({2, 1})}, {.unroll = unroll});
    REQUIRE(r.nested_outputs.size() == 2);
    CHECK(r.nested_outputs[1].shape() == Shape{2, 3, 2, 2});
    testing::check_close(r.nested_outputs[0].value(), {4, 8, 12, 4, 8, 12}, 0, 0);
    testing::check_close(r.nested_outputs[1].value(), core::mul(x2, 2.0), 0, 0);
    CHECK(r.nested_last_outputs[1].shape() == Shape{2, 2, 2});
  }
}

TEST_CASE("rnn: constants reach every step", "[autograd][rnn]") {
  const auto step = [](const Vars& x, const Vars& s, const Vars& c) {
    const Var out = s[0] + x[0] + c[0];
    return StepOutput(out, {out});
  };
  for (bool unroll : {false, true}) {
    const auto r = backend::rnn(step, {ones({1, 3, 1})}, {zeros({1, 1})},
                                {.constants = {Var(Tensor::full({1, 1}, 10.0, DType::f64))}, .unroll = unroll});
    testing::check_close(r.outputs.value(), {11, 22, 33}, 0, 0);
  }
}

TEST_CASE("rnn: input_length as an integer, and as per-sample lengths acting as a mask", "[autograd][rnn]") {
  const testing::OneState cell(1, 1);
  const Tensor x = Tensor::of({1, 2, 3, 4, 5, 6}, {2, 3, 1}, DType::f64);
  for (bool unroll : {false, true})
    for (bool backwards : {false, true}) {
      CAPTURE(unroll, backwards);
      const auto plain = backend::rnn(cell.step(), {Var(x)}, {zeros({2, 1})},
                                      {.go_backwards = backwards, .unroll = unroll, .input_length = std::int64_t{3}});
      const auto lengths = backend::rnn(cell.step(), {Var(x)}, {zeros({2, 1})},
                                        {.go_backwards = backwards, .unroll = unroll,
                                         .input_length = Tensor::from_vector<std::int64_t>({2, 3}, {2})});
      const auto masked = backend::rnn(cell.step(), {Var(x)}, {zeros({2, 1})},
                                       {.go_backwards = backwards, .mask = Tensor::of({1, 1, 0, 1, 1, 1}, {2, 3}),
                                        .unroll = unroll});
      CHECK(testing::bitwise_equal(lengths.outputs.value(), masked.outputs.value()));
      CHECK(testing::bitwise_equal(lengths.new_states[0].value(), masked.new_states[0].value()));
      CHECK_FALSE(testing::bitwise_equal(plain.new_states[0].value(), masked.new_states[0].value()));
    }
}

TEST_CASE("rnn: the documented errors", "[autograd][rnn][errors]") {
  const testing::OneState cell(3, 2);
  const auto step = cell.step();
  CHECK_THROWS_AS(backend::rnn(step, {ones({4, 3})}, {zeros({4, 2})}), ValueError);
  CHECK_THROWS_WITH(backend::rnn(step, {ones({4, 3})}, {zeros({4, 2})}),
                    StartsWith("rnn: inputs must be at least 3-D (samples, time, ...); got shape (4, 3)."));
  CHECK_THROWS_WITH(backend::rnn(step, {ones({4, 0, 3})}, {zeros({4, 2})}, {.unroll = true}),
                    StartsWith("rnn: Unrolling requires a fixed number of timesteps"));
  CHECK_THROWS_WITH(backend::rnn(step, {ones({4, 2, 3})}, {}, {.mask = Tensor::ones({4, 2})}),
                    StartsWith("rnn: mask was provided but initial_states is empty; masking needs at least one state."));
  CHECK_THROWS_WITH(backend::rnn(step, {ones({4, 2, 3}), ones({4, 3, 3})}, {zeros({4, 2})}),
                    StartsWith("rnn: all inputs must have the same number of time steps; inputs[0] has 2 and inputs[1] has 3"));
  CHECK_THROWS_WITH(backend::rnn(step, {ones({4, 2, 3})}, {zeros({4, 2})}, {.mask = Tensor::ones({2, 4})}),
                    StartsWith("rnn: mask must have shape (4, 2) or (4, 2, 1) (samples, time); got (2, 4)"));
  CHECK_THROWS_WITH(backend::rnn(step, {ones({4, 2, 3})}, {zeros({3, 2})}),
                    StartsWith("rnn: initial_states[0] must have 4 samples"));
  CHECK_THROWS_WITH(backend::rnn(step, {ones({4, 2, 3})}, {zeros({4, 2}), zeros({4, 2})}),
                    StartsWith("rnn: the step function returned 1 new states for 2 states."));
  const auto grow = [](const Vars& x, const Vars& s, const Vars&) { return StepOutput(x[0], {concat({s[0], s[0]}, 1)}); };
  for (bool unroll : {false, true})
    CHECK_THROWS_WITH(backend::rnn(grow, {ones({4, 2, 3})}, {zeros({4, 2})}, {.unroll = unroll}),
                      StartsWith("rnn: new state 0 has shape (4, 4) but the state it replaces has shape (4, 2)."));
  CHECK_THROWS_WITH(backend::rnn(step, {ones({4, 2, 3})}, {zeros({4, 2})}, {.input_length = std::int64_t{3}}),
                    StartsWith("rnn: input_length must equal the number of time steps, 2; got 3."));
  CHECK_THROWS_WITH(backend::rnn(step, {ones({4, 2, 3})}, {zeros({4, 2})}, {.input_length = Tensor::ones({3})}),
                    StartsWith("rnn: input_length as a tensor must hold one length per sample"));
  // A failed call leaves the tape untouched.
  const Var w = Var::variable(Tensor::ones({3, 2}, DType::f64), "w");
  GradientTape tape;
  CHECK_THROWS(backend::rnn(step, {ones({4, 2, 3})}, {zeros({4, 2}), zeros({4, 2})}));
  CHECK(tape.size() == 0);
}
