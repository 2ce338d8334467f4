// SPDX-License-Identifier: Apache-2.0
// loom_peer_check: at the tiny size, loom and every peer built in (oneDNN, libtorch) compute the same
// outputs and gradients of loss = sum(outputs) for the same Keras weights, for LSTM, GRU and SimpleRNN.
// Prints one line per comparison and "N passed, M failed"; exits non-zero on a failure.
#include <cmath>
#include <cstdio>
#include <string>

#include "../loom_step.hpp"
#ifdef LOOM_PEER_DNNL
#include "dnnl_rnn.hpp"
#endif
#ifdef LOOM_PEER_TORCH
#include "torch_rnn.hpp"
#endif

namespace {

int passed = 0, failed = 0;

// f32 results of T·B-term sums: |a − b| ≤ 1e-4 + 1e-3·|b| everywhere.
void compare(const std::string& what, const std::vector<float>& peer, const loom::Tensor& ours) {
  const std::vector<float> mine = ours.to_vector<float>();
  double worst = 0;
  bool ok = mine.size() == peer.size();
  for (std::size_t i = 0; ok && i < mine.size(); ++i) {
    const double err = std::abs(static_cast<double>(mine[i]) - peer[i]);
    worst = std::max(worst, err);
    ok = err <= 1e-4 + 1e-3 * std::abs(peer[i]);
  }
  std::printf("%-6s %-40s %s (max |diff| %.2e, %zu values)\n", ok ? "ok" : "FAIL", what.c_str(),
              ok ? "agree" : "DIFFER", worst, peer.size());
  (ok ? passed : failed)++;
}

void check(const char* who, loom_bench::CellKind c, const std::vector<loom::Tensor>& ours, const loom_bench::PeerStep& peer) {
  const std::string name = std::string(who) + " " + loom_bench::cell_name(c) + " tiny: ";
  compare(name + "outputs", peer.outputs(), ours[0]);
  compare(name + "d kernel", peer.d_kernel(), ours[1]);
  compare(name + "d recurrent_kernel", peer.d_recurrent(), ours[2]);
  compare(name + "d bias", peer.d_bias(), ours[3]);
  compare(name + "d input", peer.d_input(), ours[4]);
}

}  // namespace

int main() {
  const loom_bench::StepSize& tiny = loom_bench::kStepSizes[0];
  for (auto c : {loom_bench::CellKind::lstm, loom_bench::CellKind::gru, loom_bench::CellKind::rnn}) {
    const std::vector<loom::Tensor> ours = loom_bench::loom_train_step(loom_bench::loom_step(c, tiny, false));
#ifdef LOOM_PEER_DNNL
    loom_bench::DnnlRnn dnnl(c, tiny, loom_bench::keras_weights(c, tiny), true);
    dnnl.forward();
    dnnl.backward();
    check("oneDNN", c, ours, dnnl);
#endif
#ifdef LOOM_PEER_TORCH
    loom_bench::TorchRnn torch(c, tiny, loom_bench::keras_weights(c, tiny));
    torch.step();
    check("libtorch", c, ours, torch);
#endif
    if (c == loom_bench::CellKind::lstm) {  // the user's LSTM cell computes what LSTMCell does
      const std::vector<loom::Tensor> custom = loom_bench::loom_train_step(loom_bench::loom_step(c, tiny, true));
      for (std::size_t i = 0; i < ours.size(); ++i)
        compare("loom UserLSTMCell vs LSTM, result " + std::to_string(i), custom[i].to_vector<float>(), ours[i]);
    }
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
