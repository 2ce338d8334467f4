// SPDX-License-Identifier: Apache-2.0
// Truncated BPTT: windows, carried states, per-stream resets.
#include "loom/optim/tbptt.hpp"

#include <algorithm>
#include <set>

#include "loom/autograd/ops/nn.hpp"
#include "loom/autograd/tape.hpp"
#include "loom/autograd/ops/shape.hpp"
#include "loom/core/check.hpp"
#include "loom/core/layout.hpp"

namespace loom {

SequenceModel rnn_sequence_model(std::shared_ptr<RNN> rnn, std::shared_ptr<Layer> head) {
  LOOM_CHECK(rnn != nullptr, ValueError, "rnn_sequence_model: the RNN is null.");
  LOOM_CHECK(rnn->options().return_sequences && !rnn->options().stateful && !rnn->options().go_backwards, ValueError,
             "rnn_sequence_model: the RNN must return sequences, run forwards and not be stateful (the driver "
             "carries the states).");
  return [rnn, head](const Var& x, const std::vector<Var>& states, bool training) {
    const RNNOutput out = rnn->call(x, {.training = training, .initial_state = states});
    return SequenceOutput{head ? (*head)(out.output, CallContext(Tensor(), training)) : out.output, out.states};
  };
}

TruncatedBPTT::TruncatedBPTT(SequenceModel model, std::vector<Var> weights, Optimizer& optimizer, LossFunction loss,
                             TBPTTOptions options)
    : model_(std::move(model)), weights_(std::move(weights)), optimizer_(optimizer), loss_(std::move(loss)),
      options_(options) {
  if (options_.k2 == 0) options_.k2 = options_.k1;
  LOOM_CHECK(options_.k1 > 0, ValueError, "TruncatedBPTT: k1 must be positive; got ", options_.k1, ".");
  LOOM_CHECK(options_.k2 >= options_.k1, ValueError, "TruncatedBPTT: k2 must be >= k1; got k1 = ", options_.k1,
             " and k2 = ", options_.k2, ".");
  LOOM_CHECK(static_cast<bool>(model_) && static_cast<bool>(loss_), ValueError, "TruncatedBPTT: model and loss are required.");
}

void TruncatedBPTT::reset(std::vector<Tensor> states) {
  if (Strategy* strategy = options_.strategy.get())
    for (Tensor& s : states) {
      LOOM_CHECK(s.defined() && s.dimension() >= 1 && s.shape(0) >= strategy->world_size(), ValueError,
                 "TruncatedBPTT.reset: each state must hold at least one stream per rank (", strategy->world_size(),
                 "); got shape ", s.defined() ? s.shape() : Shape{}, ".");
      const auto [begin, end] = strategy->shard(s.shape(0));
      s = s.slice0(begin, end - begin);
    }
  carried_ = std::move(states);
}

double TruncatedBPTT::train(const Tensor& inputs, const Tensor& targets, const Tensor& resets) {
  return run(inputs, targets, resets, nullptr);
}

std::vector<std::vector<Tensor>> TruncatedBPTT::window_gradients(const Tensor& inputs, const Tensor& targets,
                                                                 const Tensor& resets) {
  std::vector<std::vector<Tensor>> out;
  run(inputs, targets, resets, &out);
  return out;
}

double TruncatedBPTT::run(const Tensor& all_x, const Tensor& all_y, const Tensor& all_resets,
                          std::vector<std::vector<Tensor>>* grads_out) {
  LOOM_CHECK(all_x.dimension() >= 2 && all_y.dimension() >= 2 && all_x.shape(0) == all_y.shape(0) &&
                 all_x.shape(1) == all_y.shape(1),
             ValueError, "TruncatedBPTT: inputs and targets must be (streams, time, ...) with equal streams and time; got ",
             all_x.shape(), " and ", all_y.shape(), ".");
  Strategy* const strategy = options_.strategy.get();
  const std::int64_t all_streams = all_x.shape(0);
  Tensor x = all_x, y = all_y, resets = all_resets;
  if (strategy) {  // this rank's block of streams
    LOOM_CHECK(all_streams >= strategy->world_size(), ValueError, "TruncatedBPTT: the batch has ", all_streams,
               " streams, fewer than the ", strategy->world_size(), " ranks.");
    LOOM_CHECK(!resets.defined() || (resets.dimension() == 2 && resets.shape(0) == all_streams), ValueError,
               "TruncatedBPTT: resets must have shape (", all_streams, ", ", all_x.shape(1), "); got ", resets.shape(), ".");
    const auto [begin, end] = strategy->shard(all_streams);
    x = all_x.slice0(begin, end - begin);
    y = all_y.slice0(begin, end - begin);
    if (resets.defined()) resets = all_resets.slice0(begin, end - begin);
  }
  LOOM_CHECK(!carried_.empty(), StateError, "TruncatedBPTT: call reset() with the initial states first.");
  for (const Tensor& s : carried_)
    LOOM_CHECK(s.shape(0) == x.shape(0), ValueError, "TruncatedBPTT: the carried states hold ", s.shape(0),
               " streams but the batch has ", x.shape(0), ".");
  const std::int64_t streams = x.shape(0), total = x.shape(1), k1 = options_.k1, k2 = options_.k2;
  std::vector<double> reset_at;  // reset_at[t·streams + s]
  if (resets.defined()) {
    LOOM_CHECK(resets.shape() == Shape({streams, total}), ValueError, "TruncatedBPTT: resets must have shape (", streams,
               ", ", total, "); got ", resets.shape(), ".");
    const std::vector<double> r = resets.to_vector<double>();
    reset_at.assign(static_cast<std::size_t>(streams * total), 0.0);
    for (std::int64_t s = 0; s < streams; ++s)
      for (std::int64_t t = 0; t < total; ++t) reset_at[static_cast<std::size_t>(t * streams + s)] = r[static_cast<std::size_t>(s * total + t)];
  }
  auto has_reset = [&](std::int64_t t) {
    if (reset_at.empty()) return false;
    for (std::int64_t s = 0; s < streams; ++s)
      if (reset_at[static_cast<std::size_t>(t * streams + s)] != 0.0) return true;
    return false;
  };
  auto keep_rows = [&](std::int64_t t, DType dtype) {  // (streams,) 0 where the stream restarts at t
    Tensor m = Tensor::empty({streams}, DType::f64);
    for (std::int64_t s = 0; s < streams; ++s) m.data<double>()[s] = reset_at[static_cast<std::size_t>(t * streams + s)] != 0.0 ? 0.0 : 1.0;
    return m.to(dtype);
  };
  auto zero_rows = [&](const Var& state, std::int64_t t) {  // differentiable: the reset rows get no gradient
    Shape full = state.shape();
    Tensor keep = keep_rows(t, state.dtype());
    Tensor mask = core::broadcast_axis(keep.reshape({streams, 1}), 1, state.numel() / std::max<std::int64_t>(streams, 1));
    return apply_mask(state, mask.reshape(full));
  };

  double total_loss = 0;
  std::int64_t windows = 0, trained = 0;  // steps [0, trained) already had their loss
  for (std::int64_t e = std::min(k1, total); e <= total && e > 0;) {
    const std::int64_t a = std::max<std::int64_t>(0, e - k2);
    // Where the next window starts; after the last window, the end of the stream (the next batch goes on from there).
    const std::int64_t a_next = e == total ? e : std::max<std::int64_t>(0, std::min(total, e + k1) - k2);
    const std::int64_t loss_from = trained;  // the steps since the last update (a short last window too)
    std::set<std::int64_t> cuts{a, e};
    if (a_next > a && a_next < e) cuts.insert(a_next);
    for (std::int64_t t = a + 1; t < e; ++t)
      if (has_reset(t)) cuts.insert(t);
    std::vector<Tensor> grads, next_carry;
    double window_loss = 0;
    // A step of its own on every rank (its dropout draws differ); a throw ends the job, distributed.
    run_or_fail(strategy, [&] {
      random_.run(strategy, [&] {
        GradientTape tape;
        std::vector<Var> states;
        for (const Tensor& s : carried_) states.emplace_back(s);  // detached: no gradient crosses the window start
        std::vector<Var> outputs;
        for (auto it = cuts.begin(); std::next(it) != cuts.end(); ++it) {
          const std::int64_t s0 = *it, s1 = *std::next(it);
          if (has_reset(s0))
            for (Var& st : states) st = zero_rows(st, s0);
          if (s0 == a_next && a_next < e)
            for (const Var& st : states) next_carry.push_back(st.value());
          SequenceOutput out = model_(Var(core::slice(x, 1, s0, s1 - s0)), states, true);
          states = std::move(out.states);
          if (s1 > loss_from)
            outputs.push_back(s0 >= loss_from ? out.outputs : slice(out.outputs, 1, loss_from - s0, s1 - loss_from));
        }
        if (next_carry.empty())
          for (const Var& st : states) next_carry.push_back(st.value());
        const Var predictions = outputs.size() == 1 ? outputs[0] : concat(outputs, 1);
        const Var loss = loss_(core::slice(y, 1, loss_from, e - loss_from), predictions);
        window_loss = loss.value().item();
        if (strategy == nullptr) {
          grads = tape.gradient(loss, weights_);
          return;
        }
        // Scaled by this rank's share of the streams, the sum is the gradient of the mean over all of them.
        const double share = static_cast<double>(x.shape(0)) / static_cast<double>(all_streams);
        const auto exchange = strategy->reduce_gradients(weights_, share);
        tape.gradient(loss, weights_, [&](std::size_t i, const Tensor& g) { exchange->ready(i, g); });
        grads = exchange->finish();
        window_loss *= share;
        strategy->all_reduce_sum(std::span<double>(&window_loss, 1));
      });
    });
    if (grads_out)
      grads_out->push_back(std::move(grads));
    else
      optimizer_.apply_gradients(grads, weights_);
    carried_ = std::move(next_carry);
    trained = e;
    total_loss += window_loss;
    ++windows;
    if (e == total) break;
    e = std::min(total, e + k1);
  }
  return windows ? total_loss / static_cast<double>(windows) : 0.0;
}

Tensor batchify(const Tensor& tokens, std::int64_t streams) {
  LOOM_CHECK(tokens.dimension() == 1, ValueError, "batchify: tokens must be 1-D; got shape ", tokens.shape(), ".");
  LOOM_CHECK(streams > 0 && tokens.shape(0) >= streams, ValueError, "batchify: need 0 < streams <= ", tokens.shape(0),
             "; got ", streams, ".");
  const std::int64_t length = tokens.shape(0) / streams;
  return tokens.slice0(0, streams * length).reshape({streams, length}).clone();
}

}  // namespace loom
