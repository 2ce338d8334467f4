// SPDX-License-Identifier: Apache-2.0
// Learning-rate schedules with Keras's names and formulas.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "loom/core/export.hpp"

namespace loom LOOM_API {

/// A learning rate as a function of the optimizer's step (its `iterations`, counted from 0).
class LearningRateSchedule {
 public:
  virtual ~LearningRateSchedule() = default;
  virtual double operator()(std::int64_t step) const = 0;
  /// `{"class_name": …, "config": {…}}` with Keras's argument names, for saved models; null for a
  /// schedule that cannot be saved (the default, for schedules written by users).
  virtual nlohmann::json to_json() const;
};

/// Rebuilds ExponentialDecay, PiecewiseConstantDecay or CosineDecay from `to_json()`; FormatError for
/// another class or a bad config.
std::shared_ptr<LearningRateSchedule> schedule_from_json(const nlohmann::json& j);

/// lr = initial · rate^(step / decay_steps) (the exponent floored when `staircase`).
class ExponentialDecay final : public LearningRateSchedule {
 public:
  ExponentialDecay(double initial_learning_rate, std::int64_t decay_steps, double decay_rate, bool staircase = false);
  double operator()(std::int64_t step) const override;
  nlohmann::json to_json() const override;

 private:
  double initial_, rate_;
  std::int64_t steps_;
  bool staircase_;
};

/// values[0] while step ≤ boundaries[0], values[i] while boundaries[i−1] < step ≤ boundaries[i], and the
/// last value after the last boundary (needs values.size() == boundaries.size() + 1).
class PiecewiseConstantDecay final : public LearningRateSchedule {
 public:
  PiecewiseConstantDecay(std::vector<std::int64_t> boundaries, std::vector<double> values);
  double operator()(std::int64_t step) const override;
  nlohmann::json to_json() const override;

 private:
  std::vector<std::int64_t> boundaries_;
  std::vector<double> values_;
};

/// Cosine decay with optional linear warmup (Keras 2.13's CosineDecay): for step < warmup_steps, lr
/// rises linearly from `initial` to `warmup_target`; then, over decay_steps, it follows
/// target · ((1 − alpha) · ½(1 + cos(π · t / decay_steps)) + alpha), t clipped at decay_steps, where
/// target is warmup_target when there is a warmup and `initial` otherwise.
class CosineDecay final : public LearningRateSchedule {
 public:
  CosineDecay(double initial_learning_rate, std::int64_t decay_steps, double alpha = 0.0, double warmup_target = -1.0,
              std::int64_t warmup_steps = 0);
  double operator()(std::int64_t step) const override;
  nlohmann::json to_json() const override;

 private:
  double initial_, alpha_, target_;
  std::int64_t decay_steps_, warmup_steps_;
};

/// A fixed learning rate or a schedule.
using LearningRate = std::variant<double, std::shared_ptr<LearningRateSchedule>>;

}  // namespace loom
