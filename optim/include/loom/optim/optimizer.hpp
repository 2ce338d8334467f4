// SPDX-License-Identifier: Apache-2.0
// Optimizers with Keras's names, defaults and update formulas (the TF 2.11+ optimizers).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "loom/autograd/var.hpp"
#include "loom/core/export.hpp"
#include "loom/optim/schedules.hpp"

namespace loom LOOM_API {

/// Options every optimizer shares (Keras's base optimizer arguments). Each optimizer's own options
/// struct starts with these same five fields, so that they are written flat, as in Keras:
/// `Adam({.learning_rate = 1e-3, .clipnorm = 1.0, .beta_1 = 0.8})`.
struct OptimizerOptions {
  LearningRate learning_rate = 0.001;
  std::optional<double> clipnorm;         ///< each gradient scaled to norm ≤ clipnorm
  std::optional<double> clipvalue;        ///< each element clipped to [−clipvalue, clipvalue]
  std::optional<double> global_clipnorm;  ///< all gradients scaled together to global norm ≤ value
  std::optional<double> weight_decay;     ///< var −= var · weight_decay · lr, before the update

  /// The shared part of any optimizer's options.
  template <class Options>
  static OptimizerOptions of(const Options& o) {
    return {o.learning_rate, o.clipnorm, o.clipvalue, o.global_clipnorm, o.weight_decay};
  }
};

/// Base of the optimizers. `apply_gradients(grads, vars)` clips, applies weight decay, updates
/// each variable in place and counts the step (`iterations`). Slots (moments, accumulators) are
/// created on a variable's first update and keyed by the variable's name, so `state()` /
/// `load_state()` save and restore an optimizer exactly (the training checkpoint uses them).
/// A call whose arguments are bad (count, shapes, dtypes) throws before changing any variable or slot.
class Optimizer {
 public:
  Optimizer(std::string name, OptimizerOptions options);
  virtual ~Optimizer() = default;

  void apply_gradients(const std::vector<Tensor>& grads, const std::vector<Var>& vars);
  std::int64_t iterations() const noexcept { return iterations_; }
  /// The learning rate of the next step (the schedule's value at `iterations`).
  double learning_rate() const;
  /// Replaces the learning rate with a constant (ReduceLROnPlateau does this).
  void set_learning_rate(double lr);
  const std::string& name() const noexcept { return name_; }
  /// `{"class_name": name(), "config": {…}}` with Keras's argument names (a schedule as its own
  /// `to_json()`), for saved models. ValueError for a schedule that cannot be saved.
  nlohmann::json to_json() const;

  /// Every slot as "<variable name>/<slot name>" → tensor, plus "iterations" and, when it is a
  /// constant, "learning_rate" (scalars), for checkpoints.
  std::map<std::string, Tensor> state() const;
  /// Restores a `state()`: slots for variables not updated yet are created from it. FormatError for
  /// a missing "iterations" or a slot whose shape or dtype does not match its variable; nothing
  /// changes on error.
  void load_state(const std::map<std::string, Tensor>& state, const std::vector<Var>& vars);

 protected:
  using Slots = std::map<std::string, Tensor>;
  /// Updates one variable in place: `step` counts from 1; `lr` is this step's learning rate.
  virtual void update(Tensor& var, const Tensor& grad, Slots& slots, double lr, std::int64_t step) = 0;
  /// The slots a variable starts with (zeros by default); called on its first update.
  virtual Slots create_slots(const Tensor& var) const = 0;
  /// The optimizer's own options (beside the shared ones) for `to_json`.
  virtual void add_config(nlohmann::json& config) const = 0;

 private:
  std::vector<Tensor> clip(const std::vector<Tensor>& grads) const;
  std::string name_;
  OptimizerOptions options_;
  std::int64_t iterations_ = 0;
  std::map<std::string, Slots> slots_;  // by variable name
};

/// Options of SGD (Keras defaults: learning rate 0.01).
struct SGDOptions {
  // The options every optimizer shares (OptimizerOptions), first, so that designated initializers
  // read as Keras's keyword arguments: SGD({.learning_rate = 0.1, .clipnorm = 1.0, .momentum = 0.9}).
  LearningRate learning_rate = 0.01;
  std::optional<double> clipnorm;
  std::optional<double> clipvalue;
  std::optional<double> global_clipnorm;
  std::optional<double> weight_decay;
  double momentum = 0.0;
  bool nesterov = false;
};

/// m = momentum·m − lr·g;  var += m (plain), or var += momentum·m − lr·g (nesterov); var −= lr·g without momentum.
class SGD final : public Optimizer {
 public:
  explicit SGD(SGDOptions options = {});

 protected:
  void update(Tensor& var, const Tensor& grad, Slots& slots, double lr, std::int64_t step) override;
  Slots create_slots(const Tensor& var) const override;
  void add_config(nlohmann::json& config) const override;

 private:
  SGDOptions o_;
};

/// Options of Adam / AdamW (Keras defaults; note epsilon 1e-7, not PyTorch's 1e-8).
struct AdamOptions {
  // Shared options first (see SGDOptions).
  LearningRate learning_rate = 0.001;
  std::optional<double> clipnorm;
  std::optional<double> clipvalue;
  std::optional<double> global_clipnorm;
  std::optional<double> weight_decay;
  double beta_1 = 0.9;
  double beta_2 = 0.999;
  double epsilon = 1e-7;
  bool amsgrad = false;
};

/// m += (g − m)(1 − β₁);  v += (g² − v)(1 − β₂);  (amsgrad: v̂ = max(v̂, v));
/// var −= α·m / (√v + ε) with α = lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ) — Keras's form: ε applies to the raw √v.
class Adam : public Optimizer {
 public:
  explicit Adam(AdamOptions options = {});

 protected:
  Adam(std::string name, AdamOptions options);
  void update(Tensor& var, const Tensor& grad, Slots& slots, double lr, std::int64_t step) override;
  Slots create_slots(const Tensor& var) const override;
  void add_config(nlohmann::json& config) const override;

 private:
  AdamOptions o_;
};

/// Options of AdamW: Adam's, with Keras's default weight decay of 0.004.
struct AdamWOptions {
  // Shared options first (see SGDOptions).
  LearningRate learning_rate = 0.001;
  std::optional<double> clipnorm;
  std::optional<double> clipvalue;
  std::optional<double> global_clipnorm;
  std::optional<double> weight_decay = 0.004;
  double beta_1 = 0.9;
  double beta_2 = 0.999;
  double epsilon = 1e-7;
  bool amsgrad = false;
};

/// Adam with decoupled weight decay (Keras's default weight_decay 0.004): var −= var·wd·lr, then Adam.
class AdamW final : public Adam {
 public:
  explicit AdamW(AdamWOptions options = {});
};

/// Options of RMSprop (Keras defaults).
struct RMSpropOptions {
  // Shared options first (see SGDOptions).
  LearningRate learning_rate = 0.001;
  std::optional<double> clipnorm;
  std::optional<double> clipvalue;
  std::optional<double> global_clipnorm;
  std::optional<double> weight_decay;
  double rho = 0.9;
  double momentum = 0.0;
  double epsilon = 1e-7;
  bool centered = false;
};

/// v = ρv + (1 − ρ)g²;  centered: a = ρa + (1 − ρ)g, d = v − a² + ε; else d = v + ε;
/// Δ = lr·g/√d;  with momentum: m = μm + Δ, var −= m; else var −= Δ.
class RMSprop final : public Optimizer {
 public:
  explicit RMSprop(RMSpropOptions options = {});

 protected:
  void update(Tensor& var, const Tensor& grad, Slots& slots, double lr, std::int64_t step) override;
  Slots create_slots(const Tensor& var) const override;
  void add_config(nlohmann::json& config) const override;

 private:
  RMSpropOptions o_;
};

/// Options of Adagrad (Keras defaults).
struct AdagradOptions {
  // Shared options first (see SGDOptions).
  LearningRate learning_rate = 0.001;
  std::optional<double> clipnorm;
  std::optional<double> clipvalue;
  std::optional<double> global_clipnorm;
  std::optional<double> weight_decay;
  double initial_accumulator_value = 0.1;
  double epsilon = 1e-7;
};

/// acc += g²;  var −= lr·g / √(acc + ε).
class Adagrad final : public Optimizer {
 public:
  explicit Adagrad(AdagradOptions options = {});

 protected:
  void update(Tensor& var, const Tensor& grad, Slots& slots, double lr, std::int64_t step) override;
  Slots create_slots(const Tensor& var) const override;
  void add_config(nlohmann::json& config) const override;

 private:
  AdagradOptions o_;
};

namespace optimizers {
/// An optimizer with Keras's defaults by its Keras name, as `compile("adam", …)` takes it: "sgd",
/// "adam", "adamw", "rmsprop" or "adagrad" (any letter case). ValueError for another name.
std::shared_ptr<Optimizer> by_name(const std::string& name);
/// Rebuilds an optimizer from its `to_json()`; FormatError for an unknown class or a bad option.
std::shared_ptr<Optimizer> from_json(const nlohmann::json& j);
}  // namespace optimizers

}  // namespace loom
