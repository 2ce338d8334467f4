// SPDX-License-Identifier: Apache-2.0
// PyTorch state dicts: key layout, gate reordering and bias folding for the recurrent modules.
#include "loom/optim/torch_weights.hpp"

#include <map>

#include "loom/core/check.hpp"
#include "loom/core/elementwise.hpp"
#include "loom/core/layout.hpp"
#include "loom/layers/core_layers.hpp"
#include "loom/layers/recurrent_cells.hpp"
#include "loom/layers/rnn.hpp"
#include "loom/layers/stacked_cells.hpp"
#include "loom/layers/wrappers.hpp"

namespace loom {
namespace {

enum class Kind { simple, lstm, gru };

int gates(Kind k) { return k == Kind::lstm ? 4 : k == Kind::gru ? 3 : 1; }

// One recurrent cell of a layer and the suffix of its torch parameters ("_l0", "_l1_reverse").
struct CellSlot {
  const Cell* cell = nullptr;
  Kind kind = Kind::simple;
  std::string suffix;
};

// The weight of `layer` whose path ends in "/<name>" (null if it has none, as a bias with use_bias = false).
const Var* weight(const std::vector<Var>& ws, const std::string& name) {
  for (const Var& w : ws) {
    const std::string& n = w.name();
    if (n.size() > name.size() && n.compare(n.size() - name.size(), name.size(), name) == 0 &&
        n[n.size() - name.size() - 1] == '/')
      return &w;
  }
  return nullptr;
}

std::string key(const std::string& prefix, const std::string& name) { return prefix.empty() ? name : prefix + "." + name; }

Kind cell_kind(const Cell& cell, const Layer& owner) {
  if (const auto* c = dynamic_cast<const LSTMCell*>(&cell)) {
    LOOM_CHECK(c->options().activation == Activation::tanh && c->options().recurrent_activation == Activation::sigmoid,
               ValueError, "torch weights: layer ", owner.name(), ": torch's LSTM computes sigmoid gates and tanh; cell ",
               cell.name(), " uses other activations.");
    return Kind::lstm;
  }
  if (const auto* c = dynamic_cast<const GRUCell*>(&cell)) {
    LOOM_CHECK(c->options().reset_after, ValueError, "torch weights: layer ", owner.name(), ": cell ", cell.name(),
               " has reset_after = false, which torch's GRU cannot express (it applies the reset gate after the "
               "recurrent product); use reset_after = true.");
    LOOM_CHECK(c->options().activation == Activation::tanh && c->options().recurrent_activation == Activation::sigmoid,
               ValueError, "torch weights: layer ", owner.name(), ": torch's GRU computes sigmoid gates and tanh; cell ",
               cell.name(), " uses other activations.");
    return Kind::gru;
  }
  if (const auto* c = dynamic_cast<const SimpleRNNCell*>(&cell)) {
    const Activation a = c->options().activation;
    LOOM_CHECK(a == Activation::tanh || a == Activation::relu, ValueError, "torch weights: layer ", owner.name(),
               ": torch's RNN computes tanh or relu; cell ", cell.name(), " uses another activation.");
    return Kind::simple;
  }
  LOOM_CHECK(false, ValueError, "torch weights: layer ", owner.name(), ": cell ", cell.name(), " (", cell.class_name(),
             ") has no torch counterpart; expected SimpleRNNCell, LSTMCell or GRUCell.");
  return Kind::simple;
}

void add_cells(const RNN& rnn, int first, const std::string& direction, std::vector<CellSlot>& out) {
  std::vector<const Cell*> cells;
  if (const auto* stack = dynamic_cast<const StackedRNNCells*>(rnn.cell().get()))
    for (const auto& c : stack->cells()) cells.push_back(c.get());
  else
    cells.push_back(rnn.cell().get());
  for (std::size_t i = 0; i < cells.size(); ++i)
    out.push_back({cells[i], cell_kind(*cells[i], rnn), "_l" + std::to_string(first + static_cast<int>(i)) + direction});
}

// The recurrent cells a module maps, or none for Dense and Embedding.
std::vector<CellSlot> recurrent_slots(const TorchModule& m) {
  std::vector<CellSlot> out;
  LOOM_CHECK(m.first_layer >= 0, ValueError, "torch weights: first_layer must be non-negative; got ", m.first_layer, ".");
  if (const auto* bi = dynamic_cast<const Bidirectional*>(m.layer)) {
    add_cells(*bi->forward_layer(), m.first_layer, "", out);
    add_cells(*bi->backward_layer(), m.first_layer, "_reverse", out);
  } else if (const auto* rnn = dynamic_cast<const RNN*>(m.layer)) {
    add_cells(*rnn, m.first_layer, "", out);
  }
  return out;
}

// Rows [z, r, h] of Keras from torch's [r, z, n], or back: the two first blocks swap.
Tensor swap_gru_blocks(const Tensor& t) {
  const std::int64_t h = t.shape(0) / 3;
  return core::concat({t.slice0(h, h), t.slice0(0, h), t.slice0(2 * h, h)}, 0);
}

// Reads state-dict tensors, checked, in the layers' dtype.
class Reader {
 public:
  explicit Reader(const TensorFile& f) : f_(f) {}
  bool has(const std::string& k) const { return f_.contains(k); }
  Tensor get(const std::string& k, const Shape& shape, DType dtype) const {
    LOOM_CHECK(f_.contains(k), FormatError, "torch weights: the state dict has no '", k, "'.");
    const Tensor& t = f_.at(k);
    LOOM_CHECK(is_floating(t.dtype()), FormatError, "torch weights: '", k, "' must be floating; got ", t.dtype(), ".");
    LOOM_CHECK(t.shape() == shape, FormatError, "torch weights: '", k, "' must have shape ", shape, "; got ", t.shape(), ".");
    return t.to(dtype);
  }

 private:
  const TensorFile& f_;
};

// The Keras values of one cell's weights (by weight name) from its torch parameters.
void read_cell(const Reader& r, const TorchModule& m, const CellSlot& s, std::map<std::string, Tensor>& values) {
  const std::vector<Var> ws = s.cell->weights();
  const Var* kernel = weight(ws, "kernel");
  const Var* recurrent = weight(ws, "recurrent_kernel");
  const Var* bias = weight(ws, "bias");
  LOOM_CHECK(kernel && recurrent, StateError, "torch weights: cell ", s.cell->name(), " of layer ", m.layer->name(),
             " has no kernel; build the layer first.");
  const std::int64_t units = recurrent->shape(0), in = kernel->shape(0), g = gates(s.kind);
  const DType dt = kernel->dtype();
  const auto keras = [&](const Tensor& t) { return s.kind == Kind::gru ? swap_gru_blocks(t) : t; };
  values[kernel->name()] = keras(r.get(key(m.prefix, "weight_ih" + s.suffix), {g * units, in}, dt)).transpose();
  values[recurrent->name()] = keras(r.get(key(m.prefix, "weight_hh" + s.suffix), {g * units, units}, dt)).transpose();
  const std::string bih = key(m.prefix, "bias_ih" + s.suffix), bhh = key(m.prefix, "bias_hh" + s.suffix);
  if (bias == nullptr) {
    LOOM_CHECK(!r.has(bih) && !r.has(bhh), FormatError, "torch weights: cell ", s.cell->name(), " of layer ",
               m.layer->name(), " has no bias, but the state dict has '", r.has(bih) ? bih : bhh, "'.");
    return;
  }
  const Tensor b_ih = keras(r.get(bih, {g * units}, dt)), b_hh = keras(r.get(bhh, {g * units}, dt));
  values[bias->name()] = s.kind == Kind::gru ? core::concat({b_ih.reshape({1, g * units}), b_hh.reshape({1, g * units})}, 0)
                                             : core::add(b_ih, b_hh);
}

void read_module(const Reader& r, const TorchModule& m, std::map<std::string, Tensor>& values) {
  const std::vector<Var> ws = m.layer->weights();
  if (dynamic_cast<const Dense*>(m.layer)) {
    const Var* kernel = weight(ws, "kernel");
    const Var* bias = weight(ws, "bias");
    values[kernel->name()] = r.get(key(m.prefix, "weight"), {kernel->shape(1), kernel->shape(0)}, kernel->dtype()).transpose();
    if (bias) {
      values[bias->name()] = r.get(key(m.prefix, "bias"), bias->shape(), bias->dtype());
    } else {
      LOOM_CHECK(!r.has(key(m.prefix, "bias")), FormatError, "torch weights: layer ", m.layer->name(),
                 " has no bias, but the state dict has '", key(m.prefix, "bias"), "'.");
    }
    return;
  }
  if (dynamic_cast<const Embedding*>(m.layer)) {
    const Var* table = weight(ws, "embeddings");
    values[table->name()] = r.get(key(m.prefix, "weight"), table->shape(), table->dtype());
    return;
  }
  for (const CellSlot& s : recurrent_slots(m)) read_cell(r, m, s, values);
}

void check_module(const TorchModule& m) {
  LOOM_CHECK(m.layer != nullptr, ValueError, "torch weights: a module has no layer.");
  LOOM_CHECK(m.layer->built(), StateError, "torch weights: layer ", m.layer->name(),
             " is not built, so it has no weights yet; build it first (call it on an input, or build_for).");
  const bool known = dynamic_cast<const Dense*>(m.layer) || dynamic_cast<const Embedding*>(m.layer) ||
                     dynamic_cast<const RNN*>(m.layer) || dynamic_cast<const Bidirectional*>(m.layer);
  LOOM_CHECK(known, ValueError, "torch weights: layer ", m.layer->name(), " (", m.layer->class_name(),
             ") has no torch counterpart; expected Dense, Embedding, an RNN or a Bidirectional.");
}

}  // namespace

void load_torch_state_dict(const TensorFile& state_dict, const std::vector<TorchModule>& modules) {
  const Reader r(state_dict);
  std::vector<std::vector<Tensor>> staged;  // every layer's new values, before any layer changes
  for (const TorchModule& m : modules) {
    check_module(m);
    std::map<std::string, Tensor> values;
    read_module(r, m, values);
    std::vector<Tensor> ordered;
    for (const Var& w : m.layer->weights()) {
      const auto it = values.find(w.name());
      LOOM_CHECK(it != values.end(), ValueError, "torch weights: layer ", m.layer->name(), " has a weight '", w.name(),
                 "' that no torch parameter maps to.");
      ordered.push_back(it->second);
    }
    staged.push_back(std::move(ordered));
  }
  for (std::size_t i = 0; i < modules.size(); ++i) modules[i].layer->set_weights(staged[i]);
}

TensorFile torch_state_dict(const std::vector<TorchModule>& modules) {
  TensorFile f;
  for (const TorchModule& m : modules) {
    check_module(m);
    const std::vector<Var> ws = m.layer->weights();
    if (dynamic_cast<const Dense*>(m.layer)) {
      f.tensors.emplace_back(key(m.prefix, "weight"), weight(ws, "kernel")->value().transpose());
      if (const Var* b = weight(ws, "bias")) f.tensors.emplace_back(key(m.prefix, "bias"), b->value().clone());
      continue;
    }
    if (dynamic_cast<const Embedding*>(m.layer)) {
      f.tensors.emplace_back(key(m.prefix, "weight"), weight(ws, "embeddings")->value().clone());
      continue;
    }
    for (const CellSlot& s : recurrent_slots(m)) {
      const std::vector<Var> cw = s.cell->weights();
      const auto torch = [&](const Tensor& t) { return s.kind == Kind::gru ? swap_gru_blocks(t) : t; };
      f.tensors.emplace_back(key(m.prefix, "weight_ih" + s.suffix), torch(weight(cw, "kernel")->value().transpose()));
      f.tensors.emplace_back(key(m.prefix, "weight_hh" + s.suffix),
                             torch(weight(cw, "recurrent_kernel")->value().transpose()));
      const Var* bias = weight(cw, "bias");
      if (bias == nullptr) continue;
      const Tensor b = bias->value();
      if (s.kind == Kind::gru) {
        const std::int64_t n = b.shape(1);
        f.tensors.emplace_back(key(m.prefix, "bias_ih" + s.suffix), torch(b.index0(0).reshape({n})).clone());
        f.tensors.emplace_back(key(m.prefix, "bias_hh" + s.suffix), torch(b.index0(1).reshape({n})).clone());
      } else {
        f.tensors.emplace_back(key(m.prefix, "bias_ih" + s.suffix), b.clone());
        f.tensors.emplace_back(key(m.prefix, "bias_hh" + s.suffix), Tensor::zeros(b.shape(), b.dtype()));
      }
    }
  }
  return f;
}

}  // namespace loom
