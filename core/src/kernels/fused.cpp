// SPDX-License-Identifier: Apache-2.0
// Fused element-wise programs: checks, the reverse pass's bookkeeping and the parallel chunks of rows;
// the interpreter itself runs in the ISA's kernels (kernels/isa/fused.cpp).
#include "loom/core/fused.hpp"

#include <algorithm>
#include <cstring>

#include "../dispatch.hpp"
#include "../parallel.hpp"
#include "isa.hpp"

namespace loom::core {
namespace {

// Domain elements per parallel chunk of rows. A chunk whose rows are independent takes ~500 (about
// 4 µs of LSTM gates: batch 16 × 128 units can split four ways over a spinning team). One
// that also sums rows (the gradient of an input read by every row) takes 2048, since its partial
// sums are then combined in chunk order: that grain fixes those bits, so it stays as it was.
constexpr std::int64_t kGrainElements = 512;
constexpr std::int64_t kSumGrainElements = 2048;

bool binary_op(EwOp op) { return op == EwOp::add || op == EwOp::sub || op == EwOp::mul || op == EwOp::div; }

// The structural checks of finish(), for a program of `inputs` inputs.
void check_structure(const FusedProgram& p, std::size_t inputs) {
  for (std::size_t i = 0; i < p.code.size(); ++i) {
    const FusedInstr& ins = p.code[i];
    LOOM_CHECK(static_cast<int>(ins.op) <= static_cast<int>(EwOp::log), ValueError, "fused: instruction ", i,
               " has the unknown op ", static_cast<int>(ins.op), ".");
    if (ins.op == EwOp::input) {
      LOOM_CHECK(ins.input >= 0 && static_cast<std::size_t>(ins.input) < inputs, ValueError, "fused: instruction ", i,
                 " reads input ", ins.input, " of ", inputs, ".");
      LOOM_CHECK(ins.offset >= 0, ValueError, "fused: instruction ", i, " reads at the negative offset ", ins.offset,
                 ".");
      continue;
    }
    const auto before = static_cast<std::int32_t>(i);
    LOOM_CHECK(ins.a >= 0 && ins.a < before && (!binary_op(ins.op) || (ins.b >= 0 && ins.b < before)), ValueError,
               "fused: instruction ", i, " reads a register that is not computed before it.");
  }
  for (std::int32_t o : p.outputs)
    LOOM_CHECK(o >= 0 && static_cast<std::size_t>(o) < p.code.size(), ValueError, "fused: register ", o,
               " does not exist.");
}

// Whether the program is still the one finish() analysed (scalars compared by their bits).
bool unchanged(const FusedProgram& p) {
  if (p.code.size() != p.finished_code.size() || p.outputs != p.finished_outputs) return false;
  for (std::size_t i = 0; i < p.code.size(); ++i) {
    const FusedInstr &x = p.code[i], &y = p.finished_code[i];
    if (x.op != y.op || x.a != y.a || x.b != y.b || x.input != y.input || x.offset != y.offset ||
        std::memcmp(&x.scalar, &y.scalar, sizeof x.scalar) != 0)
      return false;
  }
  return true;
}

// The dtype of the inputs; with `backward`, inputs that the reverse pass does not read may be undefined.
// The program's structure was checked by finish(); this checks what a call brings.
// `verified`: the program is a FusedKernel's, unchanged since finish() by construction.
DType check(const FusedProgram& p, std::int64_t rows, std::int64_t cols, std::span<const FusedInput> in,
            const std::span<const Tensor>* forward, bool verified) {
  const bool backward = forward != nullptr;
  LOOM_CHECK(rows >= 0 && cols >= 0, ValueError, "fused: the domain must have non-negative extents; got (", rows, ", ",
             cols, ").");
  LOOM_CHECK(!in.empty(), ValueError, "fused: a program needs at least one input.");
  LOOM_CHECK(p.reads_input.size() == in.size() && p.input_offset.size() == in.size(), ValueError,
             "fused: the program was finished for ", p.reads_input.size(), " inputs; got ", in.size(), ".");
  if (!verified && !unchanged(p)) {
    check_structure(p, in.size());
    LOOM_CHECK(false, ValueError, "fused: the program changed after finish(); finish it again before running it.");
  }
  const Tensor* first = nullptr;
  for (std::size_t i = 0; i < in.size(); ++i) {
    const FusedInput& x = in[i];
    if (backward && !p.reads_input[i] && !x.tensor.defined()) continue;
    detail::check_defined("fused", "an input", x.tensor);
    if (!first) first = &x.tensor;
    detail::check_same_dtype("fused", *first, x.tensor);
    const std::int64_t offset = p.input_offset[i];
    if (offset < 0 || rows * cols == 0) continue;  // not read
    const std::int64_t n = x.tensor.numel();
    if (x.scalar) {
      LOOM_CHECK(n == 1, ValueError, "fused: the scalar input ", i, " has ", n, " elements.");
      continue;
    }
    std::int64_t last = 0;
    const bool fits = x.row_stride >= 0 && !__builtin_mul_overflow(rows - 1, x.row_stride, &last) &&
                      !__builtin_add_overflow(last, offset + cols - 1, &last) && last < n;
    LOOM_CHECK(fits, ValueError, "fused: input ", i, " (", n, " elements, row stride ", x.row_stride,
               ") cannot hold the elements a (", rows, ", ", cols, ") domain reads from it at column offset ", offset,
               ".");
  }
  if (!first && backward && !forward->empty() && forward->front().defined()) return forward->front().dtype();
  LOOM_CHECK(first != nullptr, ValueError, "fused: every input is undefined.");
  return first->dtype();
}

std::int64_t grain_rows(std::int64_t cols, std::int64_t elements = kGrainElements) {
  return std::max<std::int64_t>(1, elements / std::max<std::int64_t>(cols, 1));
}

}  // namespace

void FusedProgram::finish(std::size_t inputs) {
  check_structure(*this, inputs);
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
  input_offset.assign(inputs, -1);
  for (const FusedInstr& ins : code)
    if (ins.op == EwOp::input) {
      std::int64_t& o = input_offset[static_cast<std::size_t>(ins.input)];
      o = std::max(o, ins.offset);
    }
  finished_code = code;
  finished_outputs = outputs;
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
  isa::FusedCall<T> bind(const FusedProgram& p, std::int64_t cols, std::span<const FusedInput> in) {
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

namespace {
void forward_impl(const FusedProgram& p, std::int64_t rows, std::int64_t cols, std::span<const FusedInput> in,
                  bool for_backward, std::span<Tensor> out, bool verified) {
  const DType dtype = check(p, rows, cols, in, nullptr, verified);
  const std::size_t saved = for_backward ? p.saved.size() : 0;
  LOOM_CHECK(out.size() == p.outputs.size() + saved, ValueError, "fused_forward: expected room for ",
             p.outputs.size() + saved, " results; got ", out.size(), ".");
  for (Tensor& t : out) t = Tensor::empty({rows, cols}, dtype);
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
}

}  // namespace

void fused_forward_into(const FusedProgram& p, std::int64_t rows, std::int64_t cols, std::span<const FusedInput> in,
                        bool for_backward, std::span<Tensor> out) {
  forward_impl(p, rows, cols, in, for_backward, out, false);
}

void fused_forward_into(const FusedKernel& k, std::int64_t rows, std::int64_t cols, std::span<const FusedInput> in,
                        bool for_backward, std::span<Tensor> out) {
  forward_impl(k.program(), rows, cols, in, for_backward, out, true);
}

std::vector<Tensor> fused_forward(const FusedProgram& p, std::int64_t rows, std::int64_t cols,
                                  const std::vector<FusedInput>& in, bool for_backward) {
  std::vector<Tensor> out(p.outputs.size() + (for_backward ? p.saved.size() : 0));
  fused_forward_into(p, rows, cols, in, for_backward, out);
  return out;
}

namespace {
void backward_impl(const FusedProgram& p, std::int64_t rows, std::int64_t cols, std::span<const FusedInput> in,
                   std::span<const Tensor> forward, std::span<const Tensor> d_out, std::span<Tensor> d_in,
                   bool verified) {
  const DType dtype = check(p, rows, cols, in, &forward, verified);
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
    const std::int64_t grain = grain_rows(cols, repeated.empty() ? kGrainElements : kSumGrainElements), chunks = rows > 0 ? (rows + grain - 1) / grain : 0;
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

}  // namespace

void fused_backward(const FusedProgram& p, std::int64_t rows, std::int64_t cols, std::span<const FusedInput> in,
                    std::span<const Tensor> forward, std::span<const Tensor> d_out, std::span<Tensor> d_in) {
  backward_impl(p, rows, cols, in, forward, d_out, d_in, false);
}

void fused_backward(const FusedKernel& k, std::int64_t rows, std::int64_t cols, std::span<const FusedInput> in,
                    std::span<const Tensor> forward, std::span<const Tensor> d_out, std::span<Tensor> d_in) {
  backward_impl(k.program(), rows, cols, in, forward, d_out, d_in, true);
}

FusedKernel::FusedKernel(FusedProgram program, std::size_t inputs) : p_(std::move(program)) { p_.finish(inputs); }

}  // namespace loom::core
