// SPDX-License-Identifier: Apache-2.0
// Learning-rate schedules.
#include "loom/optim/schedules.hpp"

#include <cmath>
#include <numbers>

#include "loom/core/check.hpp"

namespace loom {

ExponentialDecay::ExponentialDecay(double initial, std::int64_t decay_steps, double decay_rate, bool staircase)
    : initial_(initial), rate_(decay_rate), steps_(decay_steps), staircase_(staircase) {
  LOOM_CHECK(decay_steps > 0, ValueError, "ExponentialDecay: decay_steps must be positive; got ", decay_steps, ".");
}

double ExponentialDecay::operator()(std::int64_t step) const {
  double p = static_cast<double>(step) / static_cast<double>(steps_);
  if (staircase_) p = std::floor(p);
  return initial_ * std::pow(rate_, p);
}

PiecewiseConstantDecay::PiecewiseConstantDecay(std::vector<std::int64_t> boundaries, std::vector<double> values)
    : boundaries_(std::move(boundaries)), values_(std::move(values)) {
  LOOM_CHECK(values_.size() == boundaries_.size() + 1, ValueError,
             "PiecewiseConstantDecay: the length of values must be one more than the length of boundaries; got ",
             values_.size(), " values and ", boundaries_.size(), " boundaries.");
  for (std::size_t i = 1; i < boundaries_.size(); ++i)
    LOOM_CHECK(boundaries_[i - 1] < boundaries_[i], ValueError, "PiecewiseConstantDecay: boundaries must increase.");
}

double PiecewiseConstantDecay::operator()(std::int64_t step) const {
  for (std::size_t i = 0; i < boundaries_.size(); ++i)
    if (step <= boundaries_[i]) return values_[i];
  return values_.back();
}

CosineDecay::CosineDecay(double initial, std::int64_t decay_steps, double alpha, double warmup_target,
                         std::int64_t warmup_steps)
    : initial_(initial), alpha_(alpha), target_(warmup_target < 0 ? initial : warmup_target), decay_steps_(decay_steps),
      warmup_steps_(warmup_steps) {
  LOOM_CHECK(decay_steps > 0, ValueError, "CosineDecay: decay_steps must be positive; got ", decay_steps, ".");
  LOOM_CHECK(warmup_steps >= 0, ValueError, "CosineDecay: warmup_steps must be >= 0; got ", warmup_steps, ".");
}

double CosineDecay::operator()(std::int64_t step) const {
  if (step < warmup_steps_)
    return initial_ + (target_ - initial_) * static_cast<double>(step) / static_cast<double>(warmup_steps_);
  const double t = std::min(static_cast<double>(step - warmup_steps_), static_cast<double>(decay_steps_));
  const double cosine = 0.5 * (1.0 + std::cos(std::numbers::pi * t / static_cast<double>(decay_steps_)));
  return target_ * ((1.0 - alpha_) * cosine + alpha_);
}

}  // namespace loom
