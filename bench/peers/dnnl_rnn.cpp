// SPDX-License-Identifier: Apache-2.0
// oneDNN peer of the recurrent training step.
#include "dnnl_rnn.hpp"

#include <omp.h>

#include <cstring>
#include <unordered_map>
#include <oneapi/dnnl/dnnl.hpp>

namespace loom_bench {

using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

struct DnnlRnn::Impl {
  CellKind cell;
  StepSize size;
  bool training;
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  dnnl::primitive fwd, bwd;
  memory src, dst, bias, wl_user, wi_user, wl_fwd, wi_fwd, wl_bwd, wi_bwd, workspace;
  memory d_src, d_dst, d_bias, d_wl, d_wi;
  std::vector<float> keras_bias;  // to map gradients back for the GRU

  memory::dims wl_dims() const { return {1, 1, size.input, gates(cell), size.units}; }
  memory::dims wi_dims() const { return {1, 1, size.units, gates(cell), size.units}; }
  int bias_gates() const { return cell == CellKind::gru ? 4 : gates(cell); }

  memory reorder_to(const memory& from, const memory::desc& to) {
    memory out(to, eng);
    dnnl::reorder(from, out).execute(strm, const_cast<memory&>(from), out);
    strm.wait();
    return out;
  }
};

namespace {

memory::desc md(const memory::dims& d, tag t) { return memory::desc(d, dt::f32, t); }

memory make(const memory::desc& d, const dnnl::engine& e, const float* values = nullptr) {
  memory m(d, e);
  if (values) std::memcpy(m.get_data_handle(), values, d.get_size());
  else std::memset(m.get_data_handle(), 0, d.get_size());
  return m;
}

std::vector<float> read(const memory& m) {
  std::vector<float> v(m.get_desc().get_size() / sizeof(float));
  std::memcpy(v.data(), m.get_data_handle(), v.size() * sizeof(float));
  return v;
}

}  // namespace

DnnlRnn::DnnlRnn(CellKind cell, const StepSize& s, const KerasWeights& w, bool training) : impl_(std::make_unique<Impl>()) {
  Impl& p = *impl_;
  p.cell = cell;
  p.size = s;
  p.training = training;
  const auto dir = dnnl::rnn_direction::unidirectional_left2right;
  const auto prop = training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
  const memory::desc src_md = md({s.steps, s.batch, s.input}, tag::ntc), dst_md = md({s.steps, s.batch, s.units}, tag::ntc);
  const memory::desc bias_md = md({1, 1, p.bias_gates(), s.units}, tag::ldgo), none;
  const memory::desc wl_any = md(p.wl_dims(), tag::any), wi_any = md(p.wi_dims(), tag::any);
  // Keras → oneDNN: kernels are ldigo as they are; the GRU's two bias rows become u, r, o and o's recurrent part.
  p.keras_bias = w.bias;
  std::vector<float> b = w.bias;
  if (cell == CellKind::gru) {
    const auto h = static_cast<std::size_t>(s.units);
    b.assign(4 * h, 0.0f);
    for (std::size_t j = 0; j < h; ++j) {
      b[j] = w.bias[j] + w.bias[3 * h + j];              // u (Keras z)
      b[h + j] = w.bias[h + j] + w.bias[4 * h + j];      // r
      b[2 * h + j] = w.bias[2 * h + j];                  // o, input side
      b[3 * h + j] = w.bias[5 * h + j];                  // o, recurrent side (inside r ⊙ ·)
    }
  }
  p.src = make(src_md, p.eng, w.input.data());
  p.dst = make(dst_md, p.eng);
  p.bias = make(bias_md, p.eng, b.data());
  p.wl_user = make(md(p.wl_dims(), tag::ldigo), p.eng, w.kernel.data());
  p.wi_user = make(md(p.wi_dims(), tag::ldigo), p.eng, w.recurrent.data());

  auto finish_fwd = [&](const auto& pd) {
    p.wl_fwd = p.reorder_to(p.wl_user, pd.weights_layer_desc());
    p.wi_fwd = p.reorder_to(p.wi_user, pd.weights_iter_desc());
    if (training) p.workspace = memory(pd.workspace_desc(), p.eng);
  };
  auto finish_bwd = [&](const auto& pd) {
    p.wl_bwd = p.reorder_to(p.wl_user, pd.weights_layer_desc());
    p.wi_bwd = p.reorder_to(p.wi_user, pd.weights_iter_desc());
    p.d_src = make(pd.diff_src_layer_desc(), p.eng);
    p.d_wl = make(pd.diff_weights_layer_desc(), p.eng);
    p.d_wi = make(pd.diff_weights_iter_desc(), p.eng);
    p.d_bias = make(pd.diff_bias_desc(), p.eng);
    std::vector<float> ones(dst_md.get_size() / sizeof(float), 1.0f);
    p.d_dst = make(dst_md, p.eng, ones.data());
  };
  const memory::desc d_src_md = md({s.steps, s.batch, s.input}, tag::ntc);
  switch (cell) {
    case CellKind::lstm: {
      const dnnl::lstm_forward::primitive_desc fpd(
          dnnl::lstm_forward::desc(prop, dir, src_md, none, none, wl_any, wi_any, bias_md, dst_md, none, none), p.eng);
      p.fwd = dnnl::lstm_forward(fpd);
      finish_fwd(fpd);
      if (!training) break;
      const dnnl::lstm_backward::primitive_desc bpd(
          dnnl::lstm_backward::desc(dnnl::prop_kind::backward, dir, src_md, none, none, wl_any, wi_any, bias_md, dst_md,
                                    none, none, d_src_md, none, none, wl_any, wi_any, bias_md, dst_md, none, none),
          p.eng, fpd);
      p.bwd = dnnl::lstm_backward(bpd);
      finish_bwd(bpd);
      break;
    }
    case CellKind::gru: {
      const dnnl::lbr_gru_forward::primitive_desc fpd(
          dnnl::lbr_gru_forward::desc(prop, dir, src_md, none, wl_any, wi_any, bias_md, dst_md, none), p.eng);
      p.fwd = dnnl::lbr_gru_forward(fpd);
      finish_fwd(fpd);
      if (!training) break;
      const dnnl::lbr_gru_backward::primitive_desc bpd(
          dnnl::lbr_gru_backward::desc(dnnl::prop_kind::backward, dir, src_md, none, wl_any, wi_any, bias_md, dst_md,
                                       none, d_src_md, none, wl_any, wi_any, bias_md, dst_md, none),
          p.eng, fpd);
      p.bwd = dnnl::lbr_gru_backward(bpd);
      finish_bwd(bpd);
      break;
    }
    case CellKind::rnn: {
      const dnnl::vanilla_rnn_forward::primitive_desc fpd(
          dnnl::vanilla_rnn_forward::desc(prop, dnnl::algorithm::eltwise_tanh, dir, src_md, none, wl_any, wi_any, bias_md,
                                          dst_md, none),
          p.eng);
      p.fwd = dnnl::vanilla_rnn_forward(fpd);
      finish_fwd(fpd);
      if (!training) break;
      const dnnl::vanilla_rnn_backward::primitive_desc bpd(
          dnnl::vanilla_rnn_backward::desc(dnnl::prop_kind::backward, dnnl::algorithm::eltwise_tanh, dir, src_md, none,
                                           wl_any, wi_any, bias_md, dst_md, none, d_src_md, none, wl_any, wi_any,
                                           bias_md, dst_md, none),
          p.eng, fpd);
      p.bwd = dnnl::vanilla_rnn_backward(bpd);
      finish_bwd(bpd);
      break;
    }
  }
}

DnnlRnn::~DnnlRnn() = default;

void DnnlRnn::forward() {
  Impl& p = *impl_;
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC_LAYER, p.src},     {DNNL_ARG_WEIGHTS_LAYER, p.wl_fwd},
                                       {DNNL_ARG_WEIGHTS_ITER, p.wi_fwd}, {DNNL_ARG_BIAS, p.bias},
                                       {DNNL_ARG_DST_LAYER, p.dst}};
  if (p.training) args.emplace(DNNL_ARG_WORKSPACE, p.workspace);
  p.fwd.execute(p.strm, args);
  p.strm.wait();
}

void DnnlRnn::backward() {
  Impl& p = *impl_;
  for (const memory* m : {&p.d_wl, &p.d_wi, &p.d_bias}) std::memset(m->get_data_handle(), 0, m->get_desc().get_size());
  p.bwd.execute(p.strm, {{DNNL_ARG_SRC_LAYER, p.src},
                         {DNNL_ARG_WEIGHTS_LAYER, p.wl_bwd},
                         {DNNL_ARG_WEIGHTS_ITER, p.wi_bwd},
                         {DNNL_ARG_BIAS, p.bias},
                         {DNNL_ARG_DST_LAYER, p.dst},
                         {DNNL_ARG_WORKSPACE, p.workspace},
                         {DNNL_ARG_DIFF_DST_LAYER, p.d_dst},
                         {DNNL_ARG_DIFF_SRC_LAYER, p.d_src},
                         {DNNL_ARG_DIFF_WEIGHTS_LAYER, p.d_wl},
                         {DNNL_ARG_DIFF_WEIGHTS_ITER, p.d_wi},
                         {DNNL_ARG_DIFF_BIAS, p.d_bias}});
  p.strm.wait();
}

std::vector<float> DnnlRnn::outputs() const { return read(impl_->dst); }
std::vector<float> DnnlRnn::d_input() const { return read(impl_->d_src); }
std::vector<float> DnnlRnn::d_kernel() const {
  Impl& p = *impl_;
  return read(p.reorder_to(p.d_wl, md(p.wl_dims(), tag::ldigo)));
}
std::vector<float> DnnlRnn::d_recurrent() const {
  Impl& p = *impl_;
  return read(p.reorder_to(p.d_wi, md(p.wi_dims(), tag::ldigo)));
}
std::vector<float> DnnlRnn::d_bias() const {
  const Impl& p = *impl_;
  const std::vector<float> d = read(p.d_bias);
  if (p.cell != CellKind::gru) return d;
  const auto h = static_cast<std::size_t>(p.size.units);  // back to Keras's (2, 3H)
  std::vector<float> k(6 * h);
  for (std::size_t j = 0; j < h; ++j) {
    k[j] = k[3 * h + j] = d[j];
    k[h + j] = k[4 * h + j] = d[h + j];
    k[2 * h + j] = d[2 * h + j];
    k[5 * h + j] = d[3 * h + j];
  }
  return k;
}

void DnnlRnn::set_threads(int n) { omp_set_num_threads(n); }

}  // namespace loom_bench
