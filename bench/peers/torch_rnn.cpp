// SPDX-License-Identifier: Apache-2.0
// libtorch peer of the recurrent training step.
#include "torch_rnn.hpp"

#include <torch/torch.h>

namespace loom_bench {

struct TorchRnn::Impl {
  CellKind cell;
  StepSize size;
  bool cell_loop = false;
  torch::nn::LSTM lstm{nullptr};
  torch::nn::GRU gru{nullptr};
  torch::nn::RNN rnn{nullptr};
  torch::nn::LSTMCell lstm_cell{nullptr};
  torch::Tensor x, y, w_ih, w_hh, b_ih, b_hh;

  torch::Tensor forward() {
    if (cell_loop) {
      const auto opts = torch::TensorOptions().dtype(torch::kFloat32);
      torch::Tensor h = torch::zeros({size.batch, size.units}, opts), c = torch::zeros({size.batch, size.units}, opts);
      std::vector<torch::Tensor> ys;
      for (std::int64_t t = 0; t < size.steps; ++t) {
        std::tie(h, c) = lstm_cell->forward(x.select(1, t), std::make_tuple(h, c));
        ys.push_back(h);
      }
      return torch::stack(ys, 1);
    }
    switch (cell) {
      case CellKind::lstm: return std::get<0>(lstm->forward(x));
      case CellKind::gru: return std::get<0>(gru->forward(x));
      case CellKind::rnn: return std::get<0>(rnn->forward(x));
    }
    return {};
  }
};

namespace {

// Keras gate blocks → torch's: GRU z, r, h → r, z, n; LSTM i, f, c, o and the RNN's one block stay.
std::vector<std::int64_t> torch_blocks(CellKind c) {
  if (c == CellKind::gru) return {1, 0, 2};
  if (c == CellKind::lstm) return {0, 1, 2, 3};
  return {0};
}

// A Keras (rows, g·H) matrix (or a g·H vector, rows = 1) as torch's (g·H, rows) with blocks reordered.
torch::Tensor to_torch(const float* keras, std::int64_t rows, std::int64_t h, CellKind c) {
  const auto blocks = torch_blocks(c);
  const auto g = static_cast<std::int64_t>(blocks.size());
  const torch::Tensor k = torch::from_blob(const_cast<float*>(keras), {rows, g * h}, torch::kFloat32).clone();
  std::vector<torch::Tensor> parts;
  for (std::int64_t b : blocks) parts.push_back(k.slice(1, b * h, (b + 1) * h));
  return torch::cat(parts, 1).t().contiguous();
}

// The inverse of to_torch for a gradient: torch (g·H, rows) → Keras (rows, g·H), flattened.
std::vector<float> to_keras(const torch::Tensor& t, std::int64_t h, CellKind c) {
  const auto blocks = torch_blocks(c);
  const torch::Tensor k = t.t().contiguous();  // (rows, g·H) in torch's block order
  std::vector<torch::Tensor> parts(blocks.size());
  for (std::size_t i = 0; i < blocks.size(); ++i)
    parts[static_cast<std::size_t>(blocks[i])] = k.slice(1, static_cast<std::int64_t>(i) * h, static_cast<std::int64_t>(i + 1) * h);
  const torch::Tensor out = torch::cat(parts, 1).contiguous();
  return std::vector<float>(out.data_ptr<float>(), out.data_ptr<float>() + out.numel());
}

}  // namespace

TorchRnn::TorchRnn(CellKind cell, const StepSize& s, const KerasWeights& w, bool cell_loop)
    : impl_(std::make_unique<Impl>()) {
  Impl& p = *impl_;
  p.cell = cell;
  p.size = s;
  p.cell_loop = cell_loop && cell == CellKind::lstm;
  torch::NoGradGuard no_grad;
  const std::int64_t h = s.units, g = gates(cell);
  auto take = [&p](torch::nn::Module& m) {  // the one layer's parameters
    auto params = m.named_parameters();
    p.w_ih = params["weight_ih_l0"], p.w_hh = params["weight_hh_l0"];
    p.b_ih = params["bias_ih_l0"], p.b_hh = params["bias_hh_l0"];
  };
  if (p.cell_loop) {
    p.lstm_cell = torch::nn::LSTMCell(torch::nn::LSTMCellOptions(s.input, h));
    p.w_ih = p.lstm_cell->weight_ih, p.w_hh = p.lstm_cell->weight_hh, p.b_ih = p.lstm_cell->bias_ih, p.b_hh = p.lstm_cell->bias_hh;
  } else if (cell == CellKind::lstm) {
    p.lstm = torch::nn::LSTM(torch::nn::LSTMOptions(s.input, h).batch_first(true));
    take(*p.lstm);
  } else if (cell == CellKind::gru) {
    p.gru = torch::nn::GRU(torch::nn::GRUOptions(s.input, h).batch_first(true));
    take(*p.gru);
  } else {
    p.rnn = torch::nn::RNN(torch::nn::RNNOptions(s.input, h).nonlinearity(torch::kTanh).batch_first(true));
    take(*p.rnn);
  }
  p.w_ih.copy_(to_torch(w.kernel.data(), s.input, h, cell));
  p.w_hh.copy_(to_torch(w.recurrent.data(), s.units, h, cell));
  // Keras has one bias (two rows for reset_after GRU: input side, recurrent side); torch has two.
  p.b_ih.copy_(to_torch(w.bias.data(), 1, h, cell).view({g * h}));
  if (cell == CellKind::gru)
    p.b_hh.copy_(to_torch(w.bias.data() + g * h, 1, h, cell).view({g * h}));
  else
    p.b_hh.zero_();
  p.x = torch::from_blob(const_cast<float*>(w.input.data()), {s.batch, s.steps, s.input}, torch::kFloat32).clone();
  p.x.set_requires_grad(true);
}

TorchRnn::~TorchRnn() = default;

void TorchRnn::step() {
  Impl& p = *impl_;
  for (torch::Tensor* t : {&p.x, &p.w_ih, &p.w_hh, &p.b_ih, &p.b_hh})
    if (t->grad().defined()) t->mutable_grad().zero_();
  p.y = p.forward();
  p.y.sum().backward();
}

void TorchRnn::infer() {
  torch::NoGradGuard no_grad;
  impl_->y = impl_->forward();
}

std::vector<float> TorchRnn::outputs() const {
  const torch::Tensor y = impl_->y.detach().contiguous();
  return std::vector<float>(y.data_ptr<float>(), y.data_ptr<float>() + y.numel());
}
std::vector<float> TorchRnn::d_kernel() const { return to_keras(impl_->w_ih.grad(), impl_->size.units, impl_->cell); }
std::vector<float> TorchRnn::d_recurrent() const { return to_keras(impl_->w_hh.grad(), impl_->size.units, impl_->cell); }
std::vector<float> TorchRnn::d_bias() const {
  const Impl& p = *impl_;
  const std::int64_t g = gates(p.cell), h = p.size.units;
  std::vector<float> out = to_keras(p.b_ih.grad().view({g * h, 1}), h, p.cell);
  if (p.cell == CellKind::gru) {
    const std::vector<float> rec = to_keras(p.b_hh.grad().view({g * h, 1}), h, p.cell);
    out.insert(out.end(), rec.begin(), rec.end());
  }
  return out;
}
std::vector<float> TorchRnn::d_input() const {
  const torch::Tensor d = impl_->x.grad().contiguous();
  return std::vector<float>(d.data_ptr<float>(), d.data_ptr<float>() + d.numel());
}

void TorchRnn::set_threads(int n) { torch::set_num_threads(n); }

}  // namespace loom_bench
