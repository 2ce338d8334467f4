// SPDX-License-Identifier: Apache-2.0
// Test cells for backend::rnn (KERAS_SEMANTICS.md §4): OneState, TwoStates and a tanh cell.
#pragma once

#include "support/gradcheck.hpp"

namespace loom::testing {

using backend::StepOutput;
using Vars = std::vector<Var>;

/// OneState(units): W = ones(I, u), U = ones(u, u); out = x·W + s0·U; states [out].
struct OneState {
  Var w, u;
  OneState(std::int64_t input, std::int64_t units, DType dt = DType::f64)
      : w(Var::variable(Tensor::ones({input, units}, dt), "kernel")),
        u(Var::variable(Tensor::ones({units, units}, dt), "recurrent_kernel")) {}
  backend::StepFunction step() const {
    return [w = w, u = u](const Vars& x, const Vars& s, const Vars&) {
      const Var out = matmul(x[0], w) + matmul(s[0], u);
      return StepOutput(out, {out});
    };
  }
};

/// TwoStates(units): h = x·W; o1 = h + s0·U1; o2 = h + s0·U2 (s1 is never read); output o1 + o2.
struct TwoStates {
  Var w, u1, u2;
  TwoStates(std::int64_t input, std::int64_t units, DType dt = DType::f64)
      : w(Var::variable(Tensor::ones({input, units}, dt), "kernel")),
        u1(Var::variable(Tensor::ones({units, units}, dt), "u1")),
        u2(Var::variable(Tensor::ones({units, units}, dt), "u2")) {}
  backend::StepFunction step() const {
    return [w = w, u1 = u1, u2 = u2](const Vars& x, const Vars& s, const Vars&) {
      const Var h = matmul(x[0], w);
      const Var o1 = h + matmul(s[0], u1), o2 = h + matmul(s[0], u2);
      return StepOutput(o1 + o2, {o1, o2});
    };
  }
};

/// h' = tanh(x·W + h·U + b [+ c·V]) with random weights; two states when `second_state`
/// (c' = 0.5·c + h'), and an additive constant projection when constants are passed.
struct TanhCell {
  Var w, u, b, v;
  bool second_state;
  TanhCell(std::int64_t input, std::int64_t units, std::int64_t constant_dim, bool two_states, std::uint64_t seed,
           DType dt = DType::f64)
      : w(Var::variable(random({input, units}, dt, seed), "kernel")),
        u(Var::variable(core::mul(random({units, units}, dt, seed + 1), 0.6), "recurrent_kernel")),
        b(Var::variable(random({units}, dt, seed + 2), "bias")),
        v(Var::variable(random({constant_dim, units}, dt, seed + 3), "constant_kernel")),
        second_state(two_states) {}
  backend::StepFunction step() const {
    return [c = *this](const Vars& x, const Vars& s, const Vars& k) {
      Var z = matmul(x[0], c.w) + matmul(s[0], c.u) + c.b;
      if (!k.empty()) z = z + matmul(k[0], c.v);
      const Var h = tanh(z);
      if (!c.second_state) return StepOutput(h, {h});
      const Var cell = s[1] * 0.5 + h;
      return StepOutput(h * 2.0, {h, cell});
    }; 
  }
};

}  // namespace loom::testing
