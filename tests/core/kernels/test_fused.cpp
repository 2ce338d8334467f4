// SPDX-License-Identifier: Apache-2.0
// Fused element-wise programs: forward against the same chain of core kernels, the reverse pass
// against central differences, thread-count bit identity, what backward keeps, and errors.
#include <catch2/catch.hpp>

#include "loom/core/elementwise.hpp"
#include "loom/core/fused.hpp"
#include "loom/core/layout.hpp"
#include "support/reference.hpp"

using namespace loom;
using core::EwOp;
using core::FusedInput;
using core::FusedInstr;
using core::FusedProgram;

namespace {

Tensor random64(const Shape& s, std::uint64_t seed) {
  Generator gen(seed);
  return Tensor::uniform(s, -1.5, 1.5, DType::f64, &gen);
}

// An LSTM step as one program over (rows, h): z (rows, 4h) read at the four gate offsets, a bias
// (4h,) broadcast over rows, the previous cell state c (rows, h); outputs h' and c'.
struct LstmProgram {
  FusedProgram p;
  std::int64_t h;
  explicit LstmProgram(std::int64_t units) : h(units) {
    auto in = [&](int input, std::int64_t offset) { return push({EwOp::input, -1, -1, input, offset, 0}); };
    std::int32_t gate[4];
    for (int g = 0; g < 4; ++g) gate[g] = push({EwOp::add, in(0, g * h), in(1, g * h), -1, 0, 0});
    const std::int32_t i = push({EwOp::sigmoid, gate[0]}), f = push({EwOp::sigmoid, gate[1]});
    const std::int32_t c_hat = push({EwOp::tanh, gate[2]}), o = push({EwOp::sigmoid, gate[3]});
    const std::int32_t fc = push({EwOp::mul, f, in(2, 0)}), ic = push({EwOp::mul, i, c_hat});
    const std::int32_t c = push({EwOp::add, fc, ic});
    const std::int32_t hh = push({EwOp::mul, o, push({EwOp::tanh, c})});
    p.outputs = {hh, c};
    p.finish(3);
  }
  std::int32_t push(FusedInstr ins) {
    p.code.push_back(ins);
    return static_cast<std::int32_t>(p.code.size() - 1);
  }
};

std::vector<FusedInput> lstm_inputs(const Tensor& z, const Tensor& b, const Tensor& c) {
  return {{z, z.shape(1), false}, {b, 0, false}, {c, c.shape(1), false}};
}

// The same step with one core kernel per op.
std::pair<Tensor, Tensor> lstm_reference(const Tensor& z, const Tensor& b, const Tensor& c, std::int64_t h) {
  const Tensor zb = core::add(z, b);
  auto gate = [&](int g) { return core::slice(zb, 1, g * h, h); };
  const Tensor c_next = core::add(core::mul(core::sigmoid(gate(1)), c), core::mul(core::sigmoid(gate(0)), core::tanh(gate(2))));
  return {core::mul(core::sigmoid(gate(3)), core::tanh(c_next)), c_next};
}

}  // namespace

TEST_CASE("fused: an LSTM step equals the chain of core kernels at every position", "[core][fused]") {
  for (std::int64_t h : {1, 5, 16, 37, 64, 130}) {
    CAPTURE(h);
    const Tensor z = random64({7, 4 * h}, 1), b = random64({4 * h}, 2), c = random64({7, h}, 3);
    const LstmProgram prog(h);
    const std::vector<Tensor> out = core::fused_forward(prog.p, 7, h, lstm_inputs(z, b, c));
    const auto [h_ref, c_ref] = lstm_reference(z, b, c, h);
    REQUIRE(out.size() == 2 + prog.p.saved.size());
    testing::check_close(out[0], h_ref, 1e-15, 1e-15);
    testing::check_close(out[1], c_ref, 1e-15, 1e-15);
  }
}

TEST_CASE("fused: the reverse pass matches central differences of the forward", "[core][fused][gradcheck]") {
  const std::int64_t rows = 3, h = 5;
  const LstmProgram prog(h);
  const Tensor z = random64({rows, 4 * h}, 4), b = random64({4 * h}, 5), c = random64({rows, h}, 6);
  const Tensor wh = random64({rows, h}, 7), wc = random64({rows, h}, 8);  // loss = Σ wh ⊙ h' + Σ wc ⊙ c'
  auto loss = [&](const Tensor& zz, const Tensor& bb, const Tensor& cc) {
    const std::vector<Tensor> out = core::fused_forward(prog.p, rows, h, lstm_inputs(zz, bb, cc));
    double sum = 0;
    const std::vector<double> a = out[0].to_vector<double>(), d = out[1].to_vector<double>();
    const std::vector<double> x = wh.to_vector<double>(), y = wc.to_vector<double>();
    for (std::size_t i = 0; i < a.size(); ++i) sum += a[i] * x[i] + d[i] * y[i];
    return sum;
  };
  std::vector<FusedInput> in = lstm_inputs(z, b, c);
  const std::vector<Tensor> forward = core::fused_forward(prog.p, rows, h, in);
  for (std::size_t i = 0; i < in.size(); ++i)
    if (!prog.p.reads_input[i]) in[i].tensor = Tensor();  // backward must not need them
  std::vector<Tensor> d_in{Tensor::zeros(z.shape(), DType::f64), Tensor::zeros(b.shape(), DType::f64),
                           Tensor::zeros(c.shape(), DType::f64)};
  core::fused_backward(prog.p, rows, h, in, forward, {wh, wc}, d_in);
  const std::vector<Tensor> x{z, b, c};
  for (std::size_t which = 0; which < 3; ++which) {
    CAPTURE(which);
    std::vector<double> numeric;
    for (std::int64_t e = 0; e < x[which].numel(); ++e) {
      std::vector<Tensor> plus{z.clone(), b.clone(), c.clone()}, minus{z.clone(), b.clone(), c.clone()};
      plus[which].data<double>()[e] += 1e-6;
      minus[which].data<double>()[e] -= 1e-6;
      numeric.push_back((loss(plus[0], plus[1], plus[2]) - loss(minus[0], minus[1], minus[2])) / 2e-6);
    }
    testing::check_close(d_in[which], numeric, 1e-6, 1e-8);
  }
}

TEST_CASE("fused: keeps only what its derivatives read", "[core][fused]") {
  const LstmProgram prog(4);
  // z and the bias feed additions only; c feeds f ⊙ c, so backward reads it back.
  CHECK(prog.p.reads_input == std::vector<std::uint8_t>{0, 0, 1});
  // The activations i, f, c̃, o and tanh(c') (their derivatives and the products read them); c' and
  // h' are outputs, read back from the outputs.
  CHECK(prog.p.saved.size() == 5);
}

TEST_CASE("fused: results and gradients are bitwise the same with 1, 2 and 4 threads", "[core][fused][threads]") {
  const std::int64_t rows = 96, h = 200;  // several row chunks
  const LstmProgram prog(h);
  const Tensor z = random64({rows, 4 * h}, 9).to(DType::f32), b = random64({4 * h}, 10).to(DType::f32);
  const Tensor c = random64({rows, h}, 11).to(DType::f32), dh = random64({rows, h}, 12).to(DType::f32);
  auto run = [&] {
    const std::vector<FusedInput> in = lstm_inputs(z, b, c);
    std::vector<Tensor> out = core::fused_forward(prog.p, rows, h, in);
    std::vector<Tensor> d_in{Tensor::zeros(z.shape()), Tensor::zeros(b.shape()), Tensor::zeros(c.shape())};
    core::fused_backward(prog.p, rows, h, in, out, {dh, Tensor()}, d_in);
    out.insert(out.end(), d_in.begin(), d_in.end());
    return out;
  };
  const std::vector<Tensor> one = testing::with_threads(1, run), two = testing::with_threads(2, run),
                            four = testing::with_threads(4, run);
  for (std::size_t i = 0; i < one.size(); ++i) {
    CAPTURE(i);
    CHECK(testing::bitwise_equal(one[i], two[i]));
    CHECK(testing::bitwise_equal(one[i], four[i]));
  }
}

TEST_CASE("fused: refuses programs that read outside their inputs or mix dtypes", "[core][fused][errors]") {
  const LstmProgram prog(4);
  const Tensor z = random64({2, 16}, 1), b = random64({16}, 2), c = random64({2, 4}, 3);
  CHECK_THROWS_AS(core::fused_forward(prog.p, 2, 4, lstm_inputs(z.slice0(0, 1), b, c)), ValueError);  // too few rows
  CHECK_THROWS_AS(core::fused_forward(prog.p, 2, 4, lstm_inputs(z, b.to(DType::f32), c)), TypeError);
  CHECK_THROWS_AS(core::fused_forward(prog.p, 2, 4, {{z, 16, false}}), ValueError);  // finished for 3 inputs
  FusedProgram bad = prog.p;
  bad.code.back().a = static_cast<std::int32_t>(bad.code.size());  // reads a later register
  CHECK_THROWS_AS(core::fused_forward(bad, 2, 4, lstm_inputs(z, b, c)), ValueError);
  const std::vector<Tensor> fwd = core::fused_forward(prog.p, 2, 4, lstm_inputs(z, b, c));
  std::vector<Tensor> room(1);
  CHECK_THROWS_AS(core::fused_forward_into(prog.p, 2, 4, lstm_inputs(z, b, c), true, room), ValueError);
  std::vector<Tensor> d_in(3);
  CHECK_THROWS_AS(core::fused_backward(prog.p, 2, 4, lstm_inputs(z, b, c), {fwd[0]}, {Tensor(), Tensor()}, d_in),
                  ValueError);  // forward results missing
}

TEST_CASE("fused: finish() refuses malformed programs, and a run refuses one changed after it", "[core][fused][errors]") {
  const LstmProgram prog(4);
  auto refused_by_finish = [&](auto&& spoil, const char* what) {
    FusedProgram bad = prog.p;
    spoil(bad);
    CHECK_THROWS_WITH(bad.finish(3), Catch::Contains(what));
  };
  refused_by_finish([](FusedProgram& q) { q.code.back().a = static_cast<std::int32_t>(q.code.size()); },
                    "not computed before it");
  refused_by_finish([](FusedProgram& q) { q.code.front().input = 3; }, "reads input 3 of 3");
  refused_by_finish([](FusedProgram& q) { q.code.front().offset = -1; }, "negative offset");
  refused_by_finish([](FusedProgram& q) { q.code.back().op = static_cast<core::EwOp>(200); }, "unknown op 200");
  refused_by_finish([](FusedProgram& q) { q.outputs.push_back(1000); }, "register 1000 does not exist");

  // Still well formed, but its analysis (saved registers, inputs read back) is stale until finished again.
  const Tensor z = random64({2, 16}, 1), b = random64({16}, 2), c = random64({2, 4}, 3);
  FusedProgram changed = prog.p;
  std::swap(changed.outputs.front(), changed.outputs.back());
  CHECK_THROWS_WITH(core::fused_forward(changed, 2, 4, lstm_inputs(z, b, c)), Catch::Contains("changed after finish()"));
  changed.finish(3);
  const std::vector<Tensor> swapped = core::fused_forward(changed, 2, 4, lstm_inputs(z, b, c));
  const std::vector<Tensor> plain = core::fused_forward(prog.p, 2, 4, lstm_inputs(z, b, c));
  CHECK(loom::testing::bitwise_equal(swapped[0], plain[1]));  // outputs (h', c') became (c', h')
  CHECK(loom::testing::bitwise_equal(swapped[1], plain[0]));
}

TEST_CASE("fused: a FusedKernel runs its program as the program itself runs", "[core][fused]") {
  const LstmProgram prog(4);
  const Tensor z = random64({3, 16}, 1), b = random64({16}, 2), c = random64({3, 4}, 3);
  const core::FusedKernel kernel(prog.p, 3);
  std::vector<Tensor> got(prog.p.outputs.size() + prog.p.saved.size());
  core::fused_forward_into(kernel, 3, 4, lstm_inputs(z, b, c), true, got);
  const std::vector<Tensor> want = core::fused_forward(prog.p, 3, 4, lstm_inputs(z, b, c));
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) CHECK(loom::testing::bitwise_equal(got[i], want[i]));

  const Tensor dh = random64({3, 4}, 4);
  std::vector<Tensor> d_kernel = {Tensor::zeros({3, 16}, DType::f64), Tensor::zeros({16}, DType::f64),
                                  Tensor::zeros({3, 4}, DType::f64)};
  std::vector<Tensor> d_program = {Tensor::zeros({3, 16}, DType::f64), Tensor::zeros({16}, DType::f64),
                                   Tensor::zeros({3, 4}, DType::f64)};
  const std::vector<Tensor> d_out = {dh, Tensor()};
  const std::vector<core::FusedInput> in = lstm_inputs(z, b, c);
  core::fused_backward(kernel, 3, 4, in, got, d_out, d_kernel);
  core::fused_backward(prog.p, 3, 4, in, want, d_out, d_program);
  for (std::size_t i = 0; i < d_kernel.size(); ++i) CHECK(loom::testing::bitwise_equal(d_kernel[i], d_program[i]));

  // The calls' tensors are still checked, and a malformed program never becomes a kernel.
  CHECK_THROWS_AS(core::fused_forward_into(kernel, 3, 4, lstm_inputs(z.slice0(0, 2), b, c), true, got), ValueError);
  FusedProgram bad = prog.p;
  bad.code.back().a = static_cast<std::int32_t>(bad.code.size());
  CHECK_THROWS_AS(core::FusedKernel(bad, 3), ValueError);
}
