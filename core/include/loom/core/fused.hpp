// SPDX-License-Identifier: Apache-2.0
// Fused element-wise programs: a chain of element-wise ops run as one pass over a 2-D domain, with
// the intermediates in registers. The RNN loop compiler builds them from traced step graphs.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "loom/core/export.hpp"
#include "loom/core/tensor.hpp"

namespace loom LOOM_API {
namespace core {

/// The functions of a fused program. The `_scalar` forms use `FusedInstr::scalar`
/// (x + s, x·s, s − x, s / x); `input` reads an input.
enum class EwOp : std::uint8_t {
  input,
  add,
  sub,
  mul,
  div,
  neg,
  add_scalar,
  mul_scalar,
  rsub_scalar,
  rdiv_scalar,
  tanh,
  sigmoid,
  hard_sigmoid,
  relu,
  exp,
  log,
};

/// One instruction; its result is the register with the instruction's index.
struct FusedInstr {
  EwOp op = EwOp::input;
  std::int32_t a = -1, b = -1;  ///< operand registers (earlier instructions)
  std::int32_t input = -1;      ///< `input`: which input it reads
  std::int64_t offset = 0;      ///< `input`: the column it reads domain column 0 from
  double scalar = 0;
};

/// How an input is laid out. Domain element (r, c) of an `input` instruction with column offset o
/// reads data[r·row_stride + o + c]; row_stride 0 repeats one row for every r; a scalar input reads
/// its only element.
struct FusedInput {
  Tensor tensor;
  std::int64_t row_stride = 0;
  bool scalar = false;
};

/// A program over a (rows × cols) domain: `code` in dependency order, `outputs` the registers it
/// writes, each as a (rows, cols) tensor. Every element is computed by the same vector code whatever
/// its position and the thread count, with the formulas of core's element-wise kernels.
///
/// `finish()` works out what the reverse pass reads (the operands and results its derivative
/// formulas use, as the per-op backward would save them): registers that are outputs are read back
/// from the outputs, input registers from the inputs (`reads_input`), and the others (`saved`) are
/// written by the forward pass as extra tensors. So nothing is recomputed and nothing else is kept.
struct FusedProgram {
  std::vector<FusedInstr> code;
  std::vector<std::int32_t> outputs;
  std::vector<std::int32_t> saved;        ///< set by finish()
  std::vector<std::uint8_t> reads_input;  ///< set by finish(): per input, whether backward reads it
  /// Set by finish(): the registers the reverse pass loads, with the forward result holding each
  /// (outputs first, then `saved`), and the input instructions it reloads.
  std::vector<std::pair<std::int32_t, std::int32_t>> reload_forward;
  std::vector<std::int32_t> reload_input;
  /// Set by finish(): per input, the largest column offset an instruction reads it at (−1: none).
  std::vector<std::int64_t> input_offset;
  /// Set by finish(): the code and outputs it checked and analysed. A run compares the program
  /// with them (cheaper than checking it again at every RNN step) and refuses one that changed.
  std::vector<FusedInstr> finished_code;
  std::vector<std::int32_t> finished_outputs;
  /// Checks the program for `inputs` inputs (ValueError: a register read before it is computed, an
  /// input or register that does not exist, a negative offset, an unknown op), then works out the
  /// fields above.
  void finish(std::size_t inputs);
};

/// A finished program that can no longer change. A run of a FusedProgram compares it with what
/// finish() analysed; a kernel's program cannot have changed, so its runs (an RNN step's, thousands
/// per call) check only the tensors they are given.
class FusedKernel {
 public:
  /// Finishes `program` for `inputs` inputs (the ValueErrors of finish()).
  FusedKernel(FusedProgram program, std::size_t inputs);
  const FusedProgram& program() const noexcept { return p_; }

 private:
  FusedProgram p_;
};

/// Runs `p` (finished) into `out`: one new (rows, cols) tensor per output, then, `for_backward`, one
/// per saved register (`out` has exactly that many elements). Throws ValueError when an input cannot
/// hold what the program reads from it or the program changed after finish(), TypeError when the
/// inputs' dtypes differ.
void fused_forward_into(const FusedProgram& p, std::int64_t rows, std::int64_t cols, std::span<const FusedInput> in,
                        bool for_backward, std::span<Tensor> out);
void fused_forward_into(const FusedKernel& k, std::int64_t rows, std::int64_t cols, std::span<const FusedInput> in,
                        bool for_backward, std::span<Tensor> out);
/// fused_forward_into, returning the tensors.
std::vector<Tensor> fused_forward(const FusedProgram& p, std::int64_t rows, std::int64_t cols,
                                  const std::vector<FusedInput>& in, bool for_backward = true);

/// The reverse pass, from `forward` (what fused_forward returned) and the inputs the program reads
/// back (`reads_input`; the others may be undefined tensors): adds each input's gradient into
/// `d_in[i]` (a tensor with input i's numel, at the positions read; undefined = not wanted), given
/// the outputs' gradients `d_out` (undefined = zero). Inputs repeated over rows, or scalars, are
/// summed over the rows in a fixed order.
void fused_backward(const FusedProgram& p, std::int64_t rows, std::int64_t cols, std::span<const FusedInput> in,
                    std::span<const Tensor> forward, std::span<const Tensor> d_out, std::span<Tensor> d_in);
void fused_backward(const FusedKernel& k, std::int64_t rows, std::int64_t cols, std::span<const FusedInput> in,
                    std::span<const Tensor> forward, std::span<const Tensor> d_out, std::span<Tensor> d_in);
inline void fused_backward(const FusedProgram& p, std::int64_t rows, std::int64_t cols,
                           const std::vector<FusedInput>& in, const std::vector<Tensor>& forward,
                           const std::vector<Tensor>& d_out, std::vector<Tensor>& d_in) {
  fused_backward(p, rows, cols, std::span<const FusedInput>(in), std::span<const Tensor>(forward),
                 std::span<const Tensor>(d_out), std::span<Tensor>(d_in));
}

}  // namespace core
}  // namespace loom
