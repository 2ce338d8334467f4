// SPDX-License-Identifier: Apache-2.0
// Fused element-wise programs: checks, the reverse pass's bookkeeping and the parallel chunks of rows;
// the interpreter itself runs in the ISA's kernels (kernels/isa/fused.cpp).
#include "loom/core/fused.hpp"

#include <algorithm>

#include "../dispatch.hpp"
#include "../parallel.hpp"
#include "isa.hpp"

namespace loom::core {
namespace {

constexpr std::int64_t kGrainElements = 2048;  // domain elements per parallel chunk of rows (~15 µs of LSTM gates)

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
  saved.clear();
  reads_input.assign(inputs, 0);
  reload_forward.clear();
  reload_input.clear();
  for (std::size_t k = 0; k < outputs.size(); ++k) {
    const auto r = static_cast<std::size_t>(outputs[k]);
    if (read[r] && !is_output[r] && code[r].op != EwOp::input)
      reload_forward.emplace_back(outputs[k], static_cast<std::int32_t>(k));
    is_output[r] = 1;
  }
  for (std::size_t i = 0; i < code.size(); ++i) {
    if (!read[i]) continue;
    if (code[i].op == EwOp::input) {
      reads_input[static_cast<std::size_t>(code[i].input)] = 1;
      reload_input.push_back(static_cast<std::int32_t>(i));
    } else if (!is_output[i]) {
      reload_forward.emplace_back(static_cast<std::int32_t>(i), static_cast<std::int32_t>(outputs.size() + saved.size()));
      saved.push_back(static_cast<std::int32_t>(i));
    }
  }
}

namespace {
/// Per-thread vectors a call reuses instead of allocating (the loop calls these kernels every step).
template <class T>
struct CallScratch {
  std::vector<isa::FusedArg> args;
  std::vector<const T*> data, dout;
  std::vector<T*> dst, din;
  std::vector<std::size_t> written, repeated;
  std::vector<std::pair<std::size_t, const T*>> kept;

  // A call of `p` over `cols` columns that reads the inputs `in` (laid out here).
  isa::FusedCall<T> bind(const FusedProgram& p, std::int64_t cols, const std::vector<FusedInput>& in) {
    args.clear();
    data.clear();
    for (const FusedInput& x : in) {
      args.push_back({x.row_stride, x.scalar});
      data.push_back(x.tensor.defined() ? x.tensor.data<T>() : nullptr);
    }
    isa::FusedCall<T> call;
    call.program = &p;
    call.args = args.data();
    call.data = data.data();
    call.cols = cols;
    return call;
  }
};
}  // namespace

std::vector<Tensor> fused_forward(const FusedProgram& p, std::int64_t rows, std::int64_t cols,
                                  const std::vector<FusedInput>& in, bool for_backward) {
  const DType dtype = check(p, rows, cols, in, nullptr);
  std::vector<Tensor> out;
  const std::size_t saved = for_backward ? p.saved.size() : 0;
  for (std::size_t k = 0; k < p.outputs.size() + saved; ++k) out.push_back(Tensor::empty({rows, cols}, dtype));
  detail::dispatch_float(dtype, "fused", [&](auto tag) {
    using T = decltype(tag);
    thread_local CallScratch<T> scratch;
    isa::FusedCall<T> call = scratch.bind(p, cols, in);
    scratch.dst.clear();
    scratch.written.clear();  // registers: the outputs, then the saved ones
    for (Tensor& t : out) scratch.dst.push_back(t.data<T>());
    for (std::int32_t r : p.outputs) scratch.written.push_back(static_cast<std::size_t>(r));
    for (std::size_t j = 0; j < saved; ++j) scratch.written.push_back(static_cast<std::size_t>(p.saved[j]));
    call.dst = scratch.dst.data();
    call.written = scratch.written.data();
    call.n_written = scratch.written.size();
    const auto run = isa::get<T>().fused_forward;
    detail::parallel_chunks(rows, grain_rows(cols), [&](std::int64_t r0, std::int64_t r1) { run(call, r0, r1); });
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
    thread_local CallScratch<T> scratch;
    isa::FusedCall<T> call = scratch.bind(p, cols, in);
    std::vector<T*>& din = scratch.din;
    std::vector<std::size_t>& repeated = scratch.repeated;  // inputs read by every row: summed per chunk
    din.assign(in.size(), nullptr);
    scratch.dout.clear();
    repeated.clear();
    for (std::size_t i = 0; i < in.size(); ++i) {
      if (d_in[i].defined()) din[i] = d_in[i].data<T>();
      if (din[i] && (in[i].scalar || in[i].row_stride == 0)) repeated.push_back(i);
    }
    for (const Tensor& d : d_out) scratch.dout.push_back(d.defined() ? d.data<T>() : nullptr);
    scratch.kept.clear();  // register ← forward result
    for (const auto& [reg, from] : p.reload_forward)
      scratch.kept.emplace_back(static_cast<std::size_t>(reg), forward[static_cast<std::size_t>(from)].data<T>());
    call.kept = scratch.kept.data();
    call.n_kept = scratch.kept.size();
    call.dout = scratch.dout.data();
    call.din = din.data();
    const auto run = isa::get<T>().fused_backward;
    const std::int64_t grain = grain_rows(cols), chunks = rows > 0 ? (rows + grain - 1) / grain : 0;
    // With one chunk, rows are summed straight into d_in; with several, per chunk, then in chunk order.
    std::vector<std::vector<T>> partial(static_cast<std::size_t>(repeated.empty() || chunks < 2 ? 0 : chunks) *
                                        in.size());
    detail::parallel_chunks(rows, grain, [&](std::int64_t r0, std::int64_t r1) {
      thread_local std::vector<T*> sums;
      sums.assign(in.size(), nullptr);
      const auto chunk = static_cast<std::size_t>(r0 / grain);
      for (std::size_t i : repeated) {
        if (partial.empty()) {
          sums[i] = din[i];
          continue;
        }
        std::vector<T>& buf = partial[chunk * in.size() + i];
        buf.assign(static_cast<std::size_t>(d_in[i].numel()), T(0));
        sums[i] = buf.data();
      }
      run(call, r0, r1, sums.data());
    });
    for (std::int64_t chunk = 0; chunk < chunks && !partial.empty(); ++chunk)
      for (std::size_t i : repeated) {
        const std::vector<T>& buf = partial[static_cast<std::size_t>(chunk) * in.size() + i];
        for (std::size_t e = 0; e < buf.size(); ++e) din[i][e] += buf[e];
      }
  });
}

}  // namespace loom::core
