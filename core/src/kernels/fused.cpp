// SPDX-License-Identifier: Apache-2.0
// Fused element-wise programs: an interpreter over vector tiles. Each tile (one row, W columns) runs
// the whole program in registers; a partial tile at a row's end runs the same code on a zero-padded
// copy, so an element's value never depends on its position, the chunking or the thread count.
#include "loom/core/fused.hpp"

#include <algorithm>

#include "../dispatch.hpp"
#include "../parallel.hpp"
#include "../simd.hpp"

namespace loom::core {
namespace {

constexpr std::int64_t kGrainElements = 8192;  // domain elements per parallel chunk of rows

template <class T>
struct Machine {
  using B = simd::batch<T>;
  static constexpr int W = simd::width<T>;

  const FusedProgram& p;
  const std::vector<FusedInput>& in;
  std::vector<const T*> data;

  Machine(const FusedProgram& prog, const std::vector<FusedInput>& inputs) : p(prog), in(inputs) {
    for (const FusedInput& x : in) data.push_back(x.tensor.defined() ? x.tensor.data<T>() : nullptr);
  }

  B load(const FusedInstr& ins, std::int64_t r, std::int64_t c, int n) const {
    const FusedInput& x = in[static_cast<std::size_t>(ins.input)];
    const T* base = data[static_cast<std::size_t>(ins.input)];
    if (x.scalar) return B(base[0]);
    const T* at = base + r * x.row_stride + ins.offset + c;
    if (n == W) return B::load_unaligned(at);
    alignas(64) T buf[W] = {};
    std::copy(at, at + n, buf);
    return B::load_aligned(buf);
  }

  // reg[i] for every instruction, at tile (r, c..c+n).
  void forward(B* reg, std::int64_t r, std::int64_t c, int n) const {
    const T one(1);
    for (std::size_t i = 0; i < p.code.size(); ++i) {
      const FusedInstr& ins = p.code[i];
      const auto a = static_cast<std::size_t>(ins.a), b = static_cast<std::size_t>(ins.b);
      const B s(static_cast<T>(ins.scalar));
      switch (ins.op) {
        case EwOp::input: reg[i] = load(ins, r, c, n); break;
        case EwOp::add: reg[i] = reg[a] + reg[b]; break;
        case EwOp::sub: reg[i] = reg[a] - reg[b]; break;
        case EwOp::mul: reg[i] = reg[a] * reg[b]; break;
        case EwOp::div: reg[i] = reg[a] / reg[b]; break;
        case EwOp::neg: reg[i] = -reg[a]; break;
        case EwOp::add_scalar: reg[i] = reg[a] + s; break;
        case EwOp::mul_scalar: reg[i] = reg[a] * s; break;
        case EwOp::rsub_scalar: reg[i] = s - reg[a]; break;
        case EwOp::rdiv_scalar: reg[i] = s / reg[a]; break;
        case EwOp::tanh: reg[i] = xsimd::tanh(reg[a]); break;
        case EwOp::sigmoid: reg[i] = B(one) / (B(one) + xsimd::exp(-reg[a])); break;
        case EwOp::hard_sigmoid:
          reg[i] = xsimd::min(xsimd::max(reg[a] * B(T(0.2)) + B(T(0.5)), B(T(0))), B(one));
          break;
        case EwOp::relu: reg[i] = xsimd::select(reg[a] > B(T(0)), reg[a], B(T(0))); break;
        case EwOp::exp: reg[i] = xsimd::exp(reg[a]); break;
        case EwOp::log: reg[i] = xsimd::log(reg[a]); break;
      }
    }
  }

  // Adjoints: adj[i] holds d(loss)/d(reg[i]) once every later instruction has run; input
  // instructions add theirs into d_in (or, for inputs repeated over rows, into `row_sums`).
  void backward(const B* reg, B* adj, std::int64_t r, std::int64_t c, int n, const std::vector<T*>& d_in,
                const std::vector<T*>& row_sums) const {
    const T one(1);
    for (std::size_t i = p.code.size(); i-- > 0;) {
      const FusedInstr& ins = p.code[i];
      const auto a = static_cast<std::size_t>(ins.a), b = static_cast<std::size_t>(ins.b);
      const B g = adj[i];
      const B s(static_cast<T>(ins.scalar));
      switch (ins.op) {
        case EwOp::input: accumulate(ins, g, r, c, n, d_in, row_sums); break;
        case EwOp::add: adj[a] += g; adj[b] += g; break;
        case EwOp::sub: adj[a] += g; adj[b] -= g; break;
        case EwOp::mul: adj[a] += g * reg[b]; adj[b] += g * reg[a]; break;
        case EwOp::div: {
          const B q = g / reg[b];
          adj[a] += q;
          adj[b] -= q * reg[i];
          break;
        }
        case EwOp::neg: adj[a] -= g; break;
        case EwOp::add_scalar: adj[a] += g; break;
        case EwOp::mul_scalar: adj[a] += g * s; break;
        case EwOp::rsub_scalar: adj[a] -= g; break;
        case EwOp::rdiv_scalar: adj[a] -= g * (reg[i] / reg[a]); break;
        case EwOp::tanh: adj[a] += g * (B(one) - reg[i] * reg[i]); break;
        case EwOp::sigmoid: adj[a] += g * reg[i] * (B(one) - reg[i]); break;
        case EwOp::hard_sigmoid:
          adj[a] += xsimd::select((reg[a] > B(T(-2.5))) && (reg[a] < B(T(2.5))), g * B(T(0.2)), B(T(0)));
          break;
        case EwOp::relu: adj[a] += xsimd::select(reg[i] > B(T(0)), g, B(T(0))); break;
        case EwOp::exp: adj[a] += g * reg[i]; break;
        case EwOp::log: adj[a] += g / reg[a]; break;
      }
    }
  }

  void accumulate(const FusedInstr& ins, const B& g, std::int64_t r, std::int64_t c, int n,
                  const std::vector<T*>& d_in, const std::vector<T*>& row_sums) const {
    const auto k = static_cast<std::size_t>(ins.input);
    if (!d_in[k]) return;
    const FusedInput& x = in[k];
    alignas(64) T buf[W];
    g.store_aligned(buf);
    if (x.scalar || x.row_stride == 0) {  // summed over rows (and columns for a scalar) per chunk
      T* sums = row_sums[k];
      if (x.scalar) {
        for (int l = 0; l < n; ++l) sums[0] += buf[l];
      } else {
        for (int l = 0; l < n; ++l) sums[ins.offset + c + l] += buf[l];
      }
      return;
    }
    T* at = d_in[k] + r * x.row_stride + ins.offset + c;
    for (int l = 0; l < n; ++l) at[l] += buf[l];
  }
};

// The dtype of the inputs; with `backward`, inputs that the reverse pass does not read may be undefined.
DType check(const FusedProgram& p, std::int64_t rows, std::int64_t cols, const std::vector<FusedInput>& in,
            const std::vector<Tensor>* forward) {
  const bool backward = forward != nullptr;
  LOOM_CHECK(rows >= 0 && cols >= 0, ValueError, "fused: the domain must have non-negative extents; got (", rows, ", ",
             cols, ").");
  LOOM_CHECK(!in.empty(), ValueError, "fused: a program needs at least one input.");
  LOOM_CHECK(p.reads_input.size() == in.size(), ValueError, "fused: the program was finished for ",
             p.reads_input.size(), " inputs; got ", in.size(), ".");
  const Tensor* first = nullptr;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (backward && !p.reads_input[i] && !in[i].tensor.defined()) continue;
    detail::check_defined("fused", "an input", in[i].tensor);
    if (!first) first = &in[i].tensor;
    detail::check_same_dtype("fused", *first, in[i].tensor);
  }
  for (std::size_t i = 0; i < p.code.size(); ++i) {
    const FusedInstr& ins = p.code[i];
    const auto before = static_cast<std::int32_t>(i);
    if (ins.op == EwOp::input) {
      LOOM_CHECK(ins.input >= 0 && static_cast<std::size_t>(ins.input) < in.size(), ValueError, "fused: instruction ", i,
                 " reads input ", ins.input, " of ", in.size(), ".");
      const FusedInput& x = in[static_cast<std::size_t>(ins.input)];
      if (!x.tensor.defined()) continue;  // not read by the reverse pass (checked above)
      const std::int64_t n = x.tensor.numel();
      const std::int64_t last = x.scalar ? 0 : (rows > 0 ? (rows - 1) * x.row_stride : 0) + ins.offset + cols - 1;
      LOOM_CHECK(x.scalar ? n == 1 : (ins.offset >= 0 && x.row_stride >= 0 && (rows * cols == 0 || last < n)), ValueError,
                 "fused: input ", ins.input, " (", n, " elements) cannot hold element ", last, " that instruction ", i,
                 " reads.");
      continue;
    }
    const bool binary = ins.op == EwOp::add || ins.op == EwOp::sub || ins.op == EwOp::mul || ins.op == EwOp::div;
    LOOM_CHECK(ins.a >= 0 && ins.a < before && (!binary || (ins.b >= 0 && ins.b < before)), ValueError,
               "fused: instruction ", i, " reads a register that is not computed before it.");
  }
  for (const auto* regs : {&p.outputs, &p.saved})
    for (std::int32_t o : *regs)
      LOOM_CHECK(o >= 0 && static_cast<std::size_t>(o) < p.code.size(), ValueError, "fused: register ", o,
                 " does not exist.");
  if (!first && backward && !forward->empty() && forward->front().defined()) return forward->front().dtype();
  LOOM_CHECK(first != nullptr, ValueError, "fused: every input is undefined.");
  return first->dtype();
}

std::int64_t grain_rows(std::int64_t cols) { return std::max<std::int64_t>(1, kGrainElements / std::max<std::int64_t>(cols, 1)); }

}  // namespace

void FusedProgram::finish(std::size_t inputs) {
  std::vector<std::uint8_t> read(code.size(), 0), is_output(code.size(), 0);
  for (std::size_t i = 0; i < code.size(); ++i) {
    const FusedInstr& ins = code[i];
    auto mark = [&](std::int32_t r) { read[static_cast<std::size_t>(r)] = 1; };
    switch (ins.op) {
      case EwOp::mul: mark(ins.a); mark(ins.b); break;
      case EwOp::div: mark(ins.b); read[i] = 1; break;
      case EwOp::rdiv_scalar: mark(ins.a); read[i] = 1; break;
      case EwOp::tanh: case EwOp::sigmoid: case EwOp::relu: case EwOp::exp: read[i] = 1; break;
      case EwOp::hard_sigmoid: case EwOp::log: mark(ins.a); break;
      default: break;
    }
  }
  for (std::int32_t r : outputs) is_output[static_cast<std::size_t>(r)] = 1;
  saved.clear();
  reads_input.assign(inputs, 0);
  for (std::size_t i = 0; i < code.size(); ++i) {
    if (!read[i]) continue;
    if (code[i].op == EwOp::input)
      reads_input[static_cast<std::size_t>(code[i].input)] = 1;
    else if (!is_output[i])
      saved.push_back(static_cast<std::int32_t>(i));
  }
}

std::vector<Tensor> fused_forward(const FusedProgram& p, std::int64_t rows, std::int64_t cols,
                                  const std::vector<FusedInput>& in) {
  const DType dtype = check(p, rows, cols, in, nullptr);
  std::vector<Tensor> out;
  for (std::size_t k = 0; k < p.outputs.size() + p.saved.size(); ++k) out.push_back(Tensor::empty({rows, cols}, dtype));
  detail::dispatch_float(dtype, "fused", [&](auto tag) {
    using T = decltype(tag);
    using M = Machine<T>;
    const M m(p, in);
    std::vector<T*> dst;
    std::vector<std::size_t> written;  // registers: the outputs, then the saved ones
    for (Tensor& t : out) dst.push_back(t.data<T>());
    for (std::int32_t r : p.outputs) written.push_back(static_cast<std::size_t>(r));
    for (std::int32_t r : p.saved) written.push_back(static_cast<std::size_t>(r));
    detail::parallel_chunks(rows, grain_rows(cols), [&](std::int64_t r0, std::int64_t r1) {
      std::vector<typename M::B> reg(p.code.size());
      for (std::int64_t r = r0; r < r1; ++r)
        for (std::int64_t c = 0; c < cols; c += M::W) {
          const int n = static_cast<int>(std::min<std::int64_t>(M::W, cols - c));
          m.forward(reg.data(), r, c, n);
          for (std::size_t k = 0; k < written.size(); ++k) {
            T* at = dst[k] + r * cols + c;
            const auto& v = reg[written[k]];
            if (n == M::W) {
              v.store_unaligned(at);
            } else {
              alignas(64) T buf[M::W];
              v.store_aligned(buf);
              std::copy(buf, buf + n, at);
            }
          }
        }
    });
  });
  return out;
}

void fused_backward(const FusedProgram& p, std::int64_t rows, std::int64_t cols, const std::vector<FusedInput>& in,
                    const std::vector<Tensor>& forward, const std::vector<Tensor>& d_out, std::vector<Tensor>& d_in) {
  const DType dtype = check(p, rows, cols, in, &forward);
  LOOM_CHECK(d_out.size() == p.outputs.size() && d_in.size() == in.size(), ValueError,
             "fused_backward: expected ", p.outputs.size(), " output gradients and ", in.size(),
             " input gradient slots; got ", d_out.size(), " and ", d_in.size(), ".");
  LOOM_CHECK(forward.size() == p.outputs.size() + p.saved.size(), ValueError, "fused_backward: expected ",
             p.outputs.size() + p.saved.size(), " forward results; got ", forward.size(), ".");
  for (const Tensor& f : forward) {
    detail::check_defined("fused_backward", "a forward result", f);
    LOOM_CHECK(f.dtype() == dtype && f.numel() == rows * cols, ValueError,
               "fused_backward: forward results must be (", rows, ", ", cols, ") of ", dtype, "; got ", f.shape(),
               " of ", f.dtype(), ".");
  }
  for (std::size_t k = 0; k < d_out.size(); ++k)
    if (d_out[k].defined()) {
      LOOM_CHECK(d_out[k].dtype() == dtype, TypeError, "fused_backward: output gradient ", k, " must be ", dtype,
                 "; got ", d_out[k].dtype(), ".");
      LOOM_CHECK(d_out[k].numel() == rows * cols, ValueError, "fused_backward: output gradient ", k, " must have ",
                 rows * cols, " elements; got ", d_out[k].numel(), ".");
    }
  for (std::size_t i = 0; i < d_in.size(); ++i)
    if (d_in[i].defined()) {
      LOOM_CHECK(d_in[i].dtype() == dtype, TypeError, "fused_backward: the gradient of input ", i, " must be ", dtype,
                 "; got ", d_in[i].dtype(), ".");
      if (in[i].tensor.defined())
        LOOM_CHECK(d_in[i].numel() == in[i].tensor.numel(), ValueError, "fused_backward: the gradient of input ", i,
                   " must have ", in[i].tensor.numel(), " elements; got ", d_in[i].numel(), ".");
    }
  detail::dispatch_float(dtype, "fused_backward", [&](auto tag) {
    using T = decltype(tag);
    using M = Machine<T>;
    using B = typename M::B;
    const M m(p, in);
    std::vector<T*> din(in.size(), nullptr);
    std::vector<const T*> dout;
    std::vector<std::size_t> repeated;  // inputs read by every row: summed per chunk, then in chunk order
    for (std::size_t i = 0; i < in.size(); ++i) {
      if (d_in[i].defined()) din[i] = d_in[i].data<T>();
      if (din[i] && (in[i].scalar || in[i].row_stride == 0)) repeated.push_back(i);
    }
    for (const Tensor& d : d_out) dout.push_back(d.defined() ? d.data<T>() : nullptr);
    // Where each register the reverse pass reads comes from: an input, an output or a saved register.
    std::vector<std::pair<std::size_t, const T*>> kept;
    std::vector<std::size_t> kept_inputs;
    {
      std::vector<std::uint8_t> done(p.code.size(), 0);
      for (std::size_t k = 0; k < p.outputs.size(); ++k) {
        const auto r = static_cast<std::size_t>(p.outputs[k]);
        if (!done[r] && p.code[r].op != EwOp::input) kept.emplace_back(r, forward[k].data<T>());
        done[r] = 1;
      }
      for (std::size_t j = 0; j < p.saved.size(); ++j) {
        const auto r = static_cast<std::size_t>(p.saved[j]);
        kept.emplace_back(r, forward[p.outputs.size() + j].data<T>());
        done[r] = 1;
      }
      for (std::size_t i = 0; i < p.code.size(); ++i)
        if (p.code[i].op == EwOp::input && p.reads_input[static_cast<std::size_t>(p.code[i].input)])
          kept_inputs.push_back(i);
    }
    const std::int64_t grain = grain_rows(cols), chunks = rows > 0 ? (rows + grain - 1) / grain : 0;
    std::vector<std::vector<T>> partial(static_cast<std::size_t>(repeated.empty() ? 0 : chunks) * in.size());
    detail::parallel_chunks(rows, grain, [&](std::int64_t r0, std::int64_t r1) {
      std::vector<B> reg(p.code.size()), adj(p.code.size());
      std::vector<T*> sums(in.size(), nullptr);
      const auto chunk = static_cast<std::size_t>(r0 / grain);
      for (std::size_t i : repeated) {
        std::vector<T>& buf = partial[chunk * in.size() + i];
        buf.assign(static_cast<std::size_t>(d_in[i].numel()), T(0));
        sums[i] = buf.data();
      }
      for (std::int64_t r = r0; r < r1; ++r)
        for (std::int64_t c = 0; c < cols; c += M::W) {
          const int n = static_cast<int>(std::min<std::int64_t>(M::W, cols - c));
          for (const auto& [reg_index, from] : kept) {  // the registers the derivative formulas read
            const T* at = from + r * cols + c;
            if (n == M::W) {
              reg[reg_index] = B::load_unaligned(at);
            } else {
              alignas(64) T buf[M::W] = {};
              std::copy(at, at + n, buf);
              reg[reg_index] = B::load_aligned(buf);
            }
          }
          for (std::size_t i : kept_inputs) reg[i] = m.load(p.code[i], r, c, n);
          std::fill(adj.begin(), adj.end(), B(T(0)));
          for (std::size_t k = 0; k < p.outputs.size(); ++k) {
            if (!dout[k]) continue;
            const T* at = dout[k] + r * cols + c;
            alignas(64) T buf[M::W] = {};
            std::copy(at, at + n, buf);
            adj[static_cast<std::size_t>(p.outputs[k])] += B::load_aligned(buf);
          }
          m.backward(reg.data(), adj.data(), r, c, n, din, sums);
        }
    });
    for (std::int64_t chunk = 0; chunk < chunks; ++chunk)
      for (std::size_t i : repeated) {
        const std::vector<T>& buf = partial[static_cast<std::size_t>(chunk) * in.size() + i];
        for (std::size_t e = 0; e < buf.size(); ++e) din[i][e] += buf[e];
      }
  });
}

}  // namespace loom::core
