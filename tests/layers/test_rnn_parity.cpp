// SPDX-License-Identifier: Apache-2.0
// RNN layers against torch (KERAS_SEMANTICS §5.2 mapping): SimpleRNN, LSTM, GRU (both reset modes), stacked
// cells, masks (right, left, random), go_backwards, initial states and stateful calls; outputs, final
// states and every gradient, in both unroll modes; f64 to 1e-10 and f32 to 1e-5.
#include "fixtures/golden_layers.hpp"
#include "support/fixture.hpp"

using namespace loom;

namespace {

namespace fx = loom::fixtures::golden_layers;

Tensor F(const std::string& name) { return testing::fixture(fx::entries, name); }

std::shared_ptr<Cell> make_cell(const std::string& kind, std::int64_t units) {
  if (kind == "simple") return std::make_shared<SimpleRNNCell>(units);
  if (kind == "lstm") return std::make_shared<LSTMCell>(units);
  if (kind == "gru") return std::make_shared<GRUCell>(units);
  return std::make_shared<GRUCell>(units, GRUCellOptions{.reset_after = false});
}

std::size_t state_count(const std::string& kind) { return kind == "lstm" ? 2 : 1; }

struct Case {
  std::string tag;
  std::vector<std::string> kinds;
  std::vector<std::int64_t> units;
  bool go_backwards;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  for (const char* kind : {"simple", "lstm", "gru", "gru_v1"}) {
    for (const char* c : {"plain", "right", "left"}) out.push_back({std::string(kind) + "_" + c, {kind}, {3}, false});
    out.push_back({std::string(kind) + "_random_bwd", {kind}, {3}, true});
  }
  out.push_back({"stacked", {"lstm", "lstm"}, {4, 3}, false});
  out.push_back({"stacked_gru", {"gru", "simple"}, {4, 3}, true});
  return out;
}

void run_case(const Case& c, bool unroll, DType dtype) {
  CAPTURE(c.tag, unroll, dtype);
  std::vector<std::shared_ptr<Cell>> cells;
  for (std::size_t i = 0; i < c.kinds.size(); ++i) cells.push_back(make_cell(c.kinds[i], c.units[i]));
  const RNNOptions options{.return_sequences = true, .return_state = true, .go_backwards = c.go_backwards, .unroll = unroll};
  RNN layer = cells.size() == 1 ? RNN(cells[0], options) : RNN(cells, options);
  layer.set_dtype(dtype);
  const Tensor x = F(c.tag + "_x").to(dtype);
  layer.build_for(x.shape());
  std::vector<Tensor> weights;
  for (std::size_t i = 0; i < cells.size(); ++i)
    for (const char* w : {"kernel", "recurrent_kernel", "bias"}) weights.push_back(F(c.tag + "_c" + std::to_string(i) + "_" + w));
  layer.set_weights(weights);

  const Var xv(x);
  std::vector<Var> init;
  std::vector<std::string> init_names;
  for (std::size_t i = 0; i < cells.size(); ++i)
    for (std::size_t s = 0; s < state_count(c.kinds[i]); ++s) {
      init_names.push_back(c.tag + "_s" + std::to_string(i) + std::to_string(s));
      init.emplace_back(F(init_names.back() + "_init").to(dtype));
    }
  GradientTape tape;
  tape.watch(xv);
  for (const Var& s : init) tape.watch(s);
  const RNNOutput out = layer.call(xv, {.mask = F(c.tag + "_mask"), .initial_state = init});
  Var loss = sum(out.output * Var(F(c.tag + "_g").to(dtype)));
  for (std::size_t i = 0; i < out.states.size(); ++i)
    loss = loss + sum(out.states[i] * Var(F(c.tag + "_gs" + std::to_string(i)).to(dtype)));
  std::vector<Var> sources{xv};
  sources.insert(sources.end(), init.begin(), init.end());
  const std::vector<Var> ws = layer.trainable_weights();
  sources.insert(sources.end(), ws.begin(), ws.end());
  const std::vector<Tensor> g = tape.gradient(loss, sources);

  // f64 agrees with torch to rounding; f32 carries its own rounding (values and gradients are O(1)).
  const double tol = dtype == DType::f64 ? 1e-10 : 1e-5;
  testing::check_close(out.output.value(), F(c.tag + "_outputs"), 0, tol);
  for (std::size_t i = 0; i < out.states.size(); ++i)
    testing::check_close(out.states[i].value(), F(c.tag + "_state" + std::to_string(i)), 0, tol);
  testing::check_close(g[0], F(c.tag + "_dx"), 0, tol);
  for (std::size_t i = 0; i < init.size(); ++i) testing::check_close(g[1 + i], F(init_names[i] + "_grad"), 0, tol);
  std::size_t at = 1 + init.size();
  for (std::size_t i = 0; i < cells.size(); ++i)
    for (const char* w : {"dkernel", "drecurrent_kernel", "dbias"})
      testing::check_close(g[at++], F(c.tag + "_c" + std::to_string(i) + "_" + w), 0, tol);
}

}  // namespace

TEST_CASE("RNN layers match torch: SimpleRNN, LSTM, GRU (both resets), stacks; masks, go_backwards, initial states",
          "[layers][keras]") {
  for (const Case& c : cases())
    for (bool unroll : {false, true})
      for (DType dtype : {DType::f64, DType::f32}) run_case(c, unroll, dtype);
}

TEST_CASE("RNN layers match torch over two consecutive stateful calls", "[layers][keras]") {
  for (const std::string kind : {"simple", "lstm"})
    for (bool unroll : {false, true}) {
      CAPTURE(kind, unroll);
      const std::string tag = kind + "_stateful";
      RNN layer(make_cell(kind, 3), {.return_sequences = true, .stateful = true, .unroll = unroll});
      layer.set_dtype(DType::f64);
      layer.build_for(F(tag + "1_x").shape());
      layer.set_weights({F(tag + "_kernel"), F(tag + "_recurrent_kernel"), F(tag + "_bias")});
      for (int call : {1, 2}) {
        const std::string t = tag + std::to_string(call);
        GradientTape tape;
        const RNNOutput out = layer.call(Var(F(t + "_x")), {.mask = F(t + "_mask")});
        const Var loss = sum(out.output * Var(F(t + "_g")));
        const std::vector<Tensor> g = tape.gradient(loss, layer.trainable_weights());
        testing::check_close(out.output.value(), F(t + "_outputs"), 0, 1e-10);
        for (std::size_t i = 0; i < layer.states().size(); ++i)
          testing::check_close(layer.states()[i].value(), F(t + "_state" + std::to_string(i)), 0, 1e-10);
        testing::check_close(g[0], F(t + "_dkernel"), 0, 1e-10);
        testing::check_close(g[1], F(t + "_drecurrent_kernel"), 0, 1e-10);
        testing::check_close(g[2], F(t + "_dbias"), 0, 1e-10);
      }
    }
}
