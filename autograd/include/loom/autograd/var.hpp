// SPDX-License-Identifier: Apache-2.0
// Var: a Tensor value with an identity the tape can track. Variables are trainable, named Vars.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "loom/core/export.hpp"
#include "loom/core/tensor.hpp"

namespace loom LOOM_API {

namespace detail {

/// Where a Var lives on one tape: the tape's serial number and the Var's gradient slot there.
struct TapeMark {
  std::uint64_t serial = 0;
  std::int32_t slot = -1;
};

/// Shared state behind a Var. `marks` lists the tapes that track this Var (usually none or one).
struct VarImpl {
  Tensor value;
  std::string name;
  bool trainable = false;
  TapeMark first_mark;
  std::unique_ptr<std::vector<TapeMark>> more_marks;  // only with nested tapes

  /// Slot of this Var on the tape with `serial`, or -1.
  std::int32_t slot_on(std::uint64_t serial) const noexcept {
    if (first_mark.serial == serial && first_mark.slot >= 0) return first_mark.slot;
    if (more_marks)
      for (const TapeMark& m : *more_marks)
        if (m.serial == serial) return m.slot;
    return -1;
  }
  void add_mark(std::uint64_t serial, std::int32_t slot);
  /// Forgets the tape with `serial` (when it is destroyed), so that a long-lived Var's marks do not
  /// grow with every tape that ever tracked it.
  void remove_mark(std::uint64_t serial) noexcept;
};

}  // namespace detail

/// What every differentiable op takes and returns: a Tensor value plus an identity that a
/// `GradientTape` can track. Copies are cheap and refer to the same Var (like a Python reference).
///
/// A Var built from a Tensor is a *constant*: tapes ignore it unless told to `watch()` it.
/// A *variable* (`Var::variable`, made by layers with `add_weight`) is trainable and is watched by
/// every active tape automatically, like a `tf.Variable`.
///
/// Example:
///   Var w = Var::variable(Tensor::uniform({3, 2}), "kernel");
///   Var x(Tensor::ones({4, 3}));
///   GradientTape tape;
///   Var loss = mean(tanh(matmul(x, w)));
///   Tensor dw = tape.gradient(loss, {w})[0];
class Var {
 public:
  /// An undefined Var (`defined() == false`).
  Var() = default;
  /// A constant holding `value` (implicit, so Tensors can be passed where Vars are expected).
  Var(Tensor value);  // NOLINT(google-explicit-constructor)
  /// A named variable; `trainable` variables are watched by every tape automatically.
  static Var variable(Tensor value, std::string name, bool trainable = true);

  bool defined() const noexcept { return impl_ != nullptr; }
  const Tensor& value() const;
  const Shape& shape() const { return value().shape(); }
  std::int64_t shape(int i) const { return value().shape(i); }
  int dimension() const { return value().dimension(); }
  DType dtype() const { return value().dtype(); }
  std::int64_t numel() const { return value().numel(); }
  const std::string& name() const;
  bool trainable() const noexcept { return impl_ && impl_->trainable; }
  /// Same underlying Var (identity, not value equality).
  bool is(const Var& other) const noexcept { return impl_ == other.impl_; }

  /// Overwrites the value in place (same shape and dtype required; ValueError/TypeError otherwise).
  /// Used by optimizers and `set_weights`; nodes recorded earlier keep the tensors they saved.
  void assign(const Tensor& value);

  detail::VarImpl* impl() const noexcept { return impl_.get(); }
  /// The Var that owns `impl` (internal: lets the RNN loop node name the variables a step captured).
  static Var from_impl(std::shared_ptr<detail::VarImpl> impl) noexcept {
    Var v;
    v.impl_ = std::move(impl);
    return v;
  }
  const std::shared_ptr<detail::VarImpl>& shared_impl() const noexcept { return impl_; }

 private:
  std::shared_ptr<detail::VarImpl> impl_;
};

}  // namespace loom
