// SPDX-License-Identifier: Apache-2.0
// Learning-rate schedules.
#include "loom/optim/schedules.hpp"

#include <cmath>
#include <numbers>

#include <nlohmann/json.hpp>

#include "loom/core/check.hpp"
#include "loom/core/json_util.hpp"

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

nlohmann::json LearningRateSchedule::to_json() const { return nullptr; }

nlohmann::json ExponentialDecay::to_json() const {
  return {{"class_name", "ExponentialDecay"},
          {"config",
           {{"initial_learning_rate", initial_}, {"decay_steps", steps_}, {"decay_rate", rate_}, {"staircase", staircase_}}}};
}

nlohmann::json PiecewiseConstantDecay::to_json() const {
  return {{"class_name", "PiecewiseConstantDecay"}, {"config", {{"boundaries", boundaries_}, {"values", values_}}}};
}

nlohmann::json CosineDecay::to_json() const {
  return {{"class_name", "CosineDecay"},
          {"config",
           {{"initial_learning_rate", initial_},
            {"decay_steps", decay_steps_},
            {"alpha", alpha_},
            {"warmup_target", target_},
            {"warmup_steps", warmup_steps_}}}};
}

namespace {

template <class T>
T schedule_field(const nlohmann::json& c, const char* key, const std::string& cls) {
  LOOM_CHECK(c.contains(key), FormatError, "schedule_from_json: ", cls, " needs '", key, "'.");
  const nlohmann::json& v = c.at(key);
  if constexpr (std::is_same_v<T, bool>) {
    LOOM_CHECK(v.is_boolean(), FormatError, "schedule_from_json: ", cls, ".", key, " must be a boolean; got ",
               detail::json_excerpt(v), ".");
  } else if constexpr (std::is_integral_v<T>) {
    LOOM_CHECK(v.is_number_integer(), FormatError, "schedule_from_json: ", cls, ".", key, " must be a whole number; got ",
               detail::json_excerpt(v), ".");
  } else if constexpr (std::is_floating_point_v<T>) {
    LOOM_CHECK(v.is_number(), FormatError, "schedule_from_json: ", cls, ".", key, " must be a number; got ",
               detail::json_excerpt(v), ".");
  } else {
    LOOM_CHECK(v.is_array(), FormatError, "schedule_from_json: ", cls, ".", key, " must be a list; got ",
               detail::json_excerpt(v), ".");
    for (const auto& e : v)
      LOOM_CHECK(e.is_number(), FormatError, "schedule_from_json: ", cls, ".", key, " must hold numbers; got ",
                 detail::json_excerpt(e), ".");
  }
  return v.get<T>();
}

}  // namespace

std::shared_ptr<LearningRateSchedule> schedule_from_json(const nlohmann::json& j) {
  LOOM_CHECK(j.is_object() && j.contains("class_name") && j["class_name"].is_string() && j.contains("config") &&
                 j["config"].is_object(),
             FormatError, "schedule_from_json: expected {\"class_name\": ..., \"config\": {...}}; got ",
             detail::json_excerpt(j), ".");
  const std::string cls = j["class_name"].get<std::string>();
  const nlohmann::json& c = j["config"];
  try {
    if (cls == "ExponentialDecay")
      return std::make_shared<ExponentialDecay>(
          schedule_field<double>(c, "initial_learning_rate", cls), schedule_field<std::int64_t>(c, "decay_steps", cls),
          schedule_field<double>(c, "decay_rate", cls), schedule_field<bool>(c, "staircase", cls));
    if (cls == "PiecewiseConstantDecay")
      return std::make_shared<PiecewiseConstantDecay>(schedule_field<std::vector<std::int64_t>>(c, "boundaries", cls),
                                                      schedule_field<std::vector<double>>(c, "values", cls));
    if (cls == "CosineDecay")
      return std::make_shared<CosineDecay>(
          schedule_field<double>(c, "initial_learning_rate", cls), schedule_field<std::int64_t>(c, "decay_steps", cls),
          schedule_field<double>(c, "alpha", cls), schedule_field<double>(c, "warmup_target", cls),
          schedule_field<std::int64_t>(c, "warmup_steps", cls));
  } catch (const ValueError& e) {  // a constructor's own check: the file is what is wrong
    LOOM_CHECK(false, FormatError, "schedule_from_json: ", e.what());
  }
  LOOM_CHECK(false, FormatError, "schedule_from_json: unknown schedule '", cls.substr(0, 40),
             "'; expected ExponentialDecay, PiecewiseConstantDecay or CosineDecay.");
  return nullptr;
}

}  // namespace loom
