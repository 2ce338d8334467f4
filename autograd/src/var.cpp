// SPDX-License-Identifier: Apache-2.0
// Var and Variable.
#include "loom/autograd/var.hpp"

#include "loom/core/check.hpp"

namespace loom {

void detail::VarImpl::add_mark(std::uint64_t serial, std::int32_t slot) {
  if (first_mark.slot < 0) {
    first_mark = {serial, slot};
    return;
  }
  if (!more_marks) more_marks = std::make_unique<std::vector<TapeMark>>();
  more_marks->push_back({serial, slot});
}

void detail::VarImpl::remove_mark(std::uint64_t serial) noexcept {
  if (first_mark.serial == serial && first_mark.slot >= 0) {
    first_mark = {};
    if (more_marks && !more_marks->empty()) {  // keep the common case (one mark) in first_mark
      first_mark = more_marks->back();
      more_marks->pop_back();
    }
    return;
  }
  if (!more_marks) return;
  auto& m = *more_marks;
  for (std::size_t i = 0; i < m.size(); ++i)
    if (m[i].serial == serial) {
      m[i] = m.back();
      m.pop_back();
      return;
    }
}

Var::Var(Tensor value) : impl_(std::make_shared<detail::VarImpl>()) {
  LOOM_CHECK(value.defined(), ValueError, "Var: the value is an undefined tensor.");
  impl_->value = std::move(value);
}

Var Var::variable(Tensor value, std::string name, bool trainable) {
  LOOM_CHECK(is_floating(value.dtype()), TypeError, "Var.variable: variable '", name,
             "' must hold f32 or f64; got ", value.dtype(), ".");
  Var v(std::move(value));
  v.impl_->name = std::move(name);
  v.impl_->trainable = trainable;
  return v;
}

const Tensor& Var::value() const {
  LOOM_CHECK(impl_ != nullptr, ValueError, "Var.value: the Var is undefined.");
  return impl_->value;
}

const std::string& Var::name() const {
  static const std::string empty;
  return impl_ ? impl_->name : empty;
}

void Var::assign(const Tensor& value) {
  LOOM_CHECK(impl_ != nullptr, ValueError, "Var.assign: the Var is undefined.");
  const std::string& n = impl_->name.empty() ? std::string("<var>") : impl_->name;
  LOOM_CHECK(value.defined() && value.shape() == impl_->value.shape(), ValueError, "Var.assign: ", n,
             " has shape ", impl_->value.shape(), "; got ", value.defined() ? value.shape().to_string() : "undefined",
             ".");
  LOOM_CHECK(value.dtype() == impl_->value.dtype(), TypeError, "Var.assign: ", n, " has dtype ",
             impl_->value.dtype(), "; got ", value.dtype(), ".");
  impl_->value.copy_(value);
}

}  // namespace loom
