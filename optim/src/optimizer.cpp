// SPDX-License-Identifier: Apache-2.0
// Optimizers: clipping, weight decay, slots and state; the Keras update rules.
#include "loom/optim/optimizer.hpp"

#include <cctype>

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "loom/core/check.hpp"
#include "loom/core/json_util.hpp"
#include "loom/core/elementwise.hpp"
#include "loom/core/reduce.hpp"

namespace loom {
namespace {

// Runs fn(T*) style element loops for f32 / f64 tensors.
template <class Fn>
void for_float(DType d, Fn&& fn) {
  if (d == DType::f32)
    fn(float{});
  else
    fn(double{});
}

double squared_norm(const Tensor& g) { return core::sum(core::mul(g, g)).to(DType::f64).item(); }

}  // namespace

Optimizer::Optimizer(std::string name, OptimizerOptions options) : name_(std::move(name)), options_(std::move(options)) {
  LOOM_CHECK(!(options_.clipnorm && options_.global_clipnorm), ValueError, name_,
             ": Cannot accept both `clipnorm` and `global_clipnorm`. Received: clipnorm=", *options_.clipnorm,
             ", global_clipnorm=", *options_.global_clipnorm, ".");
  for (const auto& [what, v] : {std::pair{"clipnorm", options_.clipnorm}, {"clipvalue", options_.clipvalue},
                                {"global_clipnorm", options_.global_clipnorm}, {"weight_decay", options_.weight_decay}})
    LOOM_CHECK(!v || *v >= 0, ValueError, name_, ": ", what, " must be >= 0; got ", *v, ".");
  if (const double* lr = std::get_if<double>(&options_.learning_rate))
    LOOM_CHECK(*lr >= 0, ValueError, name_, ": learning_rate must be >= 0; got ", *lr, ".");
  else
    LOOM_CHECK(std::get<std::shared_ptr<LearningRateSchedule>>(options_.learning_rate) != nullptr, ValueError, name_,
               ": the learning-rate schedule is null.");
}

double Optimizer::learning_rate() const {
  if (const double* lr = std::get_if<double>(&options_.learning_rate)) return *lr;
  return (*std::get<std::shared_ptr<LearningRateSchedule>>(options_.learning_rate))(iterations_);
}

nlohmann::json Optimizer::to_json() const {
  nlohmann::json c = nlohmann::json::object();
  if (const double* lr = std::get_if<double>(&options_.learning_rate)) {
    c["learning_rate"] = *lr;
  } else {
    nlohmann::json schedule = std::get<std::shared_ptr<LearningRateSchedule>>(options_.learning_rate)->to_json();
    LOOM_CHECK(!schedule.is_null(), ValueError, name_,
               ".to_json: the learning-rate schedule has no config (a user-written schedule cannot be saved); save "
               "the model without its optimizer.");
    c["learning_rate"] = std::move(schedule);
  }
  const auto optional = [&](const char* key, const std::optional<double>& v) {
    c[key] = v ? nlohmann::json(*v) : nlohmann::json(nullptr);
  };
  optional("clipnorm", options_.clipnorm);
  optional("clipvalue", options_.clipvalue);
  optional("global_clipnorm", options_.global_clipnorm);
  optional("weight_decay", options_.weight_decay);
  add_config(c);
  return {{"class_name", name_}, {"config", std::move(c)}};
}

void Optimizer::set_learning_rate(double lr) {
  LOOM_CHECK(lr >= 0, ValueError, name_, ".set_learning_rate: learning_rate must be >= 0; got ", lr, ".");
  options_.learning_rate = lr;
}

std::vector<Tensor> Optimizer::clip(const std::vector<Tensor>& grads) const {
  std::vector<Tensor> out = grads;
  if (options_.clipvalue) {
    const double c = *options_.clipvalue;
    for (Tensor& g : out) {
      Tensor h = g.clone();
      for_float(h.dtype(), [&](auto tag) {
        using T = decltype(tag);
        T* p = h.data<T>();
        for (std::int64_t i = 0; i < h.numel(); ++i) p[i] = std::clamp(p[i], static_cast<T>(-c), static_cast<T>(c));
      });
      g = h;
    }
  }
  if (options_.clipnorm) {
    const double c = *options_.clipnorm;
    for (Tensor& g : out) {
      const double norm = std::sqrt(squared_norm(g));
      if (norm > c) g = core::mul(g, c / norm);
    }
  }
  if (options_.global_clipnorm) {
    const double c = *options_.global_clipnorm;
    double total = 0;
    for (const Tensor& g : out) total += squared_norm(g);
    const double norm = std::sqrt(total);
    if (norm > c)
      for (Tensor& g : out) g = core::mul(g, c / norm);
  }
  return out;
}

void Optimizer::apply_gradients(const std::vector<Tensor>& grads, const std::vector<Var>& vars) {
  LOOM_CHECK(grads.size() == vars.size(), ValueError, name_, ".apply_gradients: got ", grads.size(),
             " gradients for ", vars.size(), " variables.");
  for (std::size_t i = 0; i < vars.size(); ++i) {
    LOOM_CHECK(vars[i].defined() && vars[i].trainable(), ValueError, name_, ".apply_gradients: variable ", i,
               " is not a trainable variable.");
    LOOM_CHECK(grads[i].defined() && grads[i].shape() == vars[i].shape(), ValueError, name_,
               ".apply_gradients: gradient ", i, " for ", vars[i].name(), " must have shape ", vars[i].shape(),
               "; got ", grads[i].defined() ? grads[i].shape().to_string() : "undefined", ".");
    LOOM_CHECK(grads[i].dtype() == vars[i].dtype(), TypeError, name_, ".apply_gradients: gradient ", i, " for ",
               vars[i].name(), " must have dtype ", vars[i].dtype(), "; got ", grads[i].dtype(), ".");
  }
  const std::vector<Tensor> g = clip(grads);
  const double lr = learning_rate();
  const std::int64_t step = iterations_ + 1;
  for (std::size_t i = 0; i < vars.size(); ++i) {
    Tensor value = vars[i].value();
    if (options_.weight_decay && *options_.weight_decay > 0) core::axpy_(value, -*options_.weight_decay * lr, value.clone());
    auto it = slots_.find(vars[i].name());
    if (it == slots_.end()) it = slots_.emplace(vars[i].name(), create_slots(value)).first;
    update(value, g[i], it->second, lr, step);
  }
  ++iterations_;
}

std::map<std::string, Tensor> Optimizer::state() const {
  std::map<std::string, Tensor> out;
  out["iterations"] = Tensor::full({}, static_cast<double>(iterations_), DType::i64);
  if (const double* lr = std::get_if<double>(&options_.learning_rate)) out["learning_rate"] = Tensor::full({}, *lr, DType::f64);
  for (const auto& [var, slots] : slots_)
    for (const auto& [slot, t] : slots) out[var + "/" + slot] = t.clone();
  return out;
}

void Optimizer::load_state(const std::map<std::string, Tensor>& state, const std::vector<Var>& vars) {
  // Every scalar is checked before anything changes: a step count of −1 or 1e300 would make the
  // next update's bias corrections NaN (or be an undefined cast), a negative rate would ascend.
  const auto it = state.find("iterations");
  LOOM_CHECK(it != state.end() && it->second.numel() == 1, FormatError, name_,
             ".load_state: the state has no 'iterations'.");
  const double steps = it->second.item();
  LOOM_CHECK(std::isfinite(steps) && steps >= 0 && steps <= 9007199254740992.0 && steps == std::floor(steps),
             FormatError, name_, ".load_state: 'iterations' must be a whole number in [0, 2^53]; got ", steps, ".");
  const auto lr = state.find("learning_rate");
  if (lr != state.end()) {
    LOOM_CHECK(lr->second.numel() == 1, FormatError, name_, ".load_state: 'learning_rate' must be a scalar; got shape ",
               lr->second.shape(), ".");
    const double rate = lr->second.item();
    LOOM_CHECK(std::isfinite(rate) && rate >= 0, FormatError, name_,
               ".load_state: 'learning_rate' must be finite and >= 0; got ", rate, ".");
  }
  std::map<std::string, Slots> restored;
  for (const Var& v : vars) {
    Slots fresh = create_slots(v.value());
    bool any = false;
    for (auto& [slot, t] : fresh) {
      const auto s = state.find(v.name() + "/" + slot);
      if (s == state.end()) continue;
      LOOM_CHECK(s->second.shape() == t.shape() && s->second.dtype() == t.dtype(), FormatError, name_,
                 ".load_state: slot ", s->first, " must have shape ", t.shape(), " and dtype ", t.dtype(), "; got ",
                 s->second.shape(), " ", s->second.dtype(), ".");
      t = s->second.clone();
      any = true;
    }
    if (any) restored[v.name()] = std::move(fresh);
  }
  if (lr != state.end() && std::holds_alternative<double>(options_.learning_rate))
    options_.learning_rate = lr->second.item();
  iterations_ = static_cast<std::int64_t>(steps);
  slots_ = std::move(restored);
}

// ---- SGD ----------------------------------------------------------------------------------------

SGD::SGD(SGDOptions options) : Optimizer("SGD", OptimizerOptions::of(options)), o_(std::move(options)) {
  LOOM_CHECK(o_.momentum >= 0 && o_.momentum <= 1, ValueError, "SGD: momentum must be in [0, 1]; got ", o_.momentum, ".");
}

Optimizer::Slots SGD::create_slots(const Tensor& var) const {
  if (o_.momentum == 0.0) return {};
  return {{"momentum", Tensor::zeros(var.shape(), var.dtype())}};
}

void SGD::add_config(nlohmann::json& c) const {
  c["momentum"] = o_.momentum;
  c["nesterov"] = o_.nesterov;
}

void SGD::update(Tensor& var, const Tensor& grad, Slots& slots, double lr, std::int64_t) {
  if (o_.momentum == 0.0) {
    core::axpy_(var, -lr, grad);
    return;
  }
  Tensor& m = slots.at("momentum");
  for_float(var.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* w = var.data<T>();
    T* mv = m.data<T>();
    const T* g = grad.data<T>();
    const T mu = static_cast<T>(o_.momentum), eta = static_cast<T>(lr);
    for (std::int64_t i = 0; i < var.numel(); ++i) {
      mv[i] = -g[i] * eta + mv[i] * mu;
      w[i] += o_.nesterov ? -g[i] * eta + mv[i] * mu : mv[i];
    }
  });
}

// ---- Adam / AdamW ---------------------------------------------------------------------------------

Adam::Adam(AdamOptions options) : Adam("Adam", std::move(options)) {}

Adam::Adam(std::string name, AdamOptions options) : Optimizer(std::move(name), OptimizerOptions::of(options)), o_(std::move(options)) {
  LOOM_CHECK(o_.beta_1 >= 0 && o_.beta_1 < 1 && o_.beta_2 >= 0 && o_.beta_2 < 1, ValueError, this->name(),
             ": beta_1 and beta_2 must be in [0, 1); got ", o_.beta_1, " and ", o_.beta_2, ".");
  LOOM_CHECK(o_.epsilon >= 0, ValueError, this->name(), ": epsilon must be >= 0; got ", o_.epsilon, ".");
}

Optimizer::Slots Adam::create_slots(const Tensor& var) const {
  Slots s{{"m", Tensor::zeros(var.shape(), var.dtype())}, {"v", Tensor::zeros(var.shape(), var.dtype())}};
  if (o_.amsgrad) s["vhat"] = Tensor::zeros(var.shape(), var.dtype());
  return s;
}

void Adam::add_config(nlohmann::json& c) const {
  c["beta_1"] = o_.beta_1;
  c["beta_2"] = o_.beta_2;
  c["epsilon"] = o_.epsilon;
  c["amsgrad"] = o_.amsgrad;
}

void Adam::update(Tensor& var, const Tensor& grad, Slots& slots, double lr, std::int64_t step) {
  const double alpha = lr * std::sqrt(1 - std::pow(o_.beta_2, static_cast<double>(step))) /
                       (1 - std::pow(o_.beta_1, static_cast<double>(step)));
  Tensor& m = slots.at("m");
  Tensor& v = slots.at("v");
  Tensor* vhat = o_.amsgrad ? &slots.at("vhat") : nullptr;
  for_float(var.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* w = var.data<T>();
    T* mv = m.data<T>();
    T* vv = v.data<T>();
    T* vh = vhat ? vhat->data<T>() : nullptr;
    const T* g = grad.data<T>();
    const T b1 = static_cast<T>(1 - o_.beta_1), b2 = static_cast<T>(1 - o_.beta_2), a = static_cast<T>(alpha),
            eps = static_cast<T>(o_.epsilon);
    for (std::int64_t i = 0; i < var.numel(); ++i) {
      mv[i] += (g[i] - mv[i]) * b1;
      vv[i] += (g[i] * g[i] - vv[i]) * b2;
      T vi = vv[i];
      if (vh) vi = vh[i] = std::max(vh[i], vv[i]);
      w[i] -= mv[i] * a / (std::sqrt(vi) + eps);
    }
  });
}

namespace {

// AdamW's options are Adam's with another weight-decay default.
AdamOptions adam_options(const AdamWOptions& o) {
  return {.learning_rate = o.learning_rate,
          .clipnorm = o.clipnorm,
          .clipvalue = o.clipvalue,
          .global_clipnorm = o.global_clipnorm,
          .weight_decay = o.weight_decay,
          .beta_1 = o.beta_1,
          .beta_2 = o.beta_2,
          .epsilon = o.epsilon,
          .amsgrad = o.amsgrad};
}

}  // namespace

AdamW::AdamW(AdamWOptions o) : Adam("AdamW", adam_options(o)) {}

// ---- RMSprop --------------------------------------------------------------------------------------

RMSprop::RMSprop(RMSpropOptions options) : Optimizer("RMSprop", OptimizerOptions::of(options)), o_(std::move(options)) {
  LOOM_CHECK(o_.rho >= 0 && o_.rho <= 1, ValueError, "RMSprop: rho must be in [0, 1]; got ", o_.rho, ".");
  LOOM_CHECK(o_.momentum >= 0 && o_.momentum <= 1, ValueError, "RMSprop: momentum must be in [0, 1]; got ", o_.momentum, ".");
}

Optimizer::Slots RMSprop::create_slots(const Tensor& var) const {
  Slots s{{"velocity", Tensor::zeros(var.shape(), var.dtype())}};
  if (o_.momentum > 0) s["momentum"] = Tensor::zeros(var.shape(), var.dtype());
  if (o_.centered) s["average_gradient"] = Tensor::zeros(var.shape(), var.dtype());
  return s;
}

void RMSprop::add_config(nlohmann::json& c) const {
  c["rho"] = o_.rho;
  c["momentum"] = o_.momentum;
  c["epsilon"] = o_.epsilon;
  c["centered"] = o_.centered;
}

void RMSprop::update(Tensor& var, const Tensor& grad, Slots& slots, double lr, std::int64_t) {
  for_float(var.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* w = var.data<T>();
    T* vel = slots.at("velocity").data<T>();
    T* mom = o_.momentum > 0 ? slots.at("momentum").data<T>() : nullptr;
    T* avg = o_.centered ? slots.at("average_gradient").data<T>() : nullptr;
    const T* g = grad.data<T>();
    const T rho = static_cast<T>(o_.rho), eps = static_cast<T>(o_.epsilon), eta = static_cast<T>(lr),
            mu = static_cast<T>(o_.momentum);
    for (std::int64_t i = 0; i < var.numel(); ++i) {
      vel[i] = rho * vel[i] + (1 - rho) * g[i] * g[i];
      T denominator = vel[i] + eps;
      if (avg) {
        avg[i] = rho * avg[i] + (1 - rho) * g[i];
        denominator = vel[i] - avg[i] * avg[i] + eps;
      }
      const T increment = eta * g[i] / std::sqrt(denominator);
      if (mom) {
        mom[i] = mu * mom[i] + increment;
        w[i] -= mom[i];
      } else {
        w[i] -= increment;
      }
    }
  });
}

// ---- Adagrad --------------------------------------------------------------------------------------

Adagrad::Adagrad(AdagradOptions options) : Optimizer("Adagrad", OptimizerOptions::of(options)), o_(std::move(options)) {
  LOOM_CHECK(o_.initial_accumulator_value >= 0, ValueError, "Adagrad: initial_accumulator_value must be >= 0; got ",
             o_.initial_accumulator_value, ".");
}

Optimizer::Slots Adagrad::create_slots(const Tensor& var) const {
  return {{"accumulator", Tensor::full(var.shape(), o_.initial_accumulator_value, var.dtype())}};
}

void Adagrad::add_config(nlohmann::json& c) const {
  c["initial_accumulator_value"] = o_.initial_accumulator_value;
  c["epsilon"] = o_.epsilon;
}

void Adagrad::update(Tensor& var, const Tensor& grad, Slots& slots, double lr, std::int64_t) {
  for_float(var.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* w = var.data<T>();
    T* acc = slots.at("accumulator").data<T>();
    const T* g = grad.data<T>();
    const T eta = static_cast<T>(lr), eps = static_cast<T>(o_.epsilon);
    for (std::int64_t i = 0; i < var.numel(); ++i) {
      acc[i] += g[i] * g[i];
      w[i] -= eta * g[i] / std::sqrt(acc[i] + eps);
    }
  });
}

namespace optimizers {
std::shared_ptr<Optimizer> by_name(const std::string& name) {
  std::string key = name;
  for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (key == "sgd") return std::make_shared<SGD>();
  if (key == "adam") return std::make_shared<Adam>();
  if (key == "adamw") return std::make_shared<AdamW>();
  if (key == "rmsprop") return std::make_shared<RMSprop>();
  if (key == "adagrad") return std::make_shared<Adagrad>();
  LOOM_CHECK(false, ValueError, "optimizers: unknown optimizer '", name.substr(0, 40),
             "'; expected sgd, adam, adamw, rmsprop or adagrad.");
  return nullptr;
}
namespace {

// Reads option `key` of an optimizer config into `out` when present (Keras's configs carry every
// key; a missing one keeps the default). FormatError for a value of the wrong type.
struct ConfigReader {
  const nlohmann::json& c;
  const std::string& cls;
  void number(const char* key, double& out) const {
    if (!c.contains(key)) return;
    LOOM_CHECK(c[key].is_number(), FormatError, "optimizers::from_json: ", cls, ".", key, " must be a number; got ",
               detail::json_excerpt(c[key]), ".");
    out = c[key].get<double>();
  }
  void flag(const char* key, bool& out) const {
    if (!c.contains(key)) return;
    LOOM_CHECK(c[key].is_boolean(), FormatError, "optimizers::from_json: ", cls, ".", key, " must be a boolean; got ",
               detail::json_excerpt(c[key]), ".");
    out = c[key].get<bool>();
  }
  void optional(const char* key, std::optional<double>& out) const {
    if (!c.contains(key)) return;
    if (c[key].is_null()) {
      out.reset();
      return;
    }
    double v = 0;
    number(key, v);
    out = v;
  }
  template <class Options>
  void shared(Options& o) const {
    if (c.contains("learning_rate")) {
      const nlohmann::json& lr = c["learning_rate"];
      if (lr.is_number()) {
        o.learning_rate = lr.get<double>();
      } else {
        o.learning_rate = schedule_from_json(lr);
      }
    }
    optional("clipnorm", o.clipnorm);
    optional("clipvalue", o.clipvalue);
    optional("global_clipnorm", o.global_clipnorm);
    optional("weight_decay", o.weight_decay);
  }
};

}  // namespace

std::shared_ptr<Optimizer> from_json(const nlohmann::json& j) {
  LOOM_CHECK(j.is_object() && j.contains("class_name") && j["class_name"].is_string() && j.contains("config") &&
                 j["config"].is_object(),
             FormatError, "optimizers::from_json: expected {\"class_name\": ..., \"config\": {...}}; got ",
             detail::json_excerpt(j), ".");
  const std::string cls = j["class_name"].get<std::string>();
  const ConfigReader r{j["config"], cls};
  try {
    if (cls == "SGD") {
      SGDOptions o;
      r.shared(o);
      r.number("momentum", o.momentum);
      r.flag("nesterov", o.nesterov);
      return std::make_shared<SGD>(o);
    }
    if (cls == "Adam" || cls == "AdamW") {
      AdamWOptions o;
      if (cls == "Adam") o.weight_decay.reset();
      r.shared(o);
      r.number("beta_1", o.beta_1);
      r.number("beta_2", o.beta_2);
      r.number("epsilon", o.epsilon);
      r.flag("amsgrad", o.amsgrad);
      if (cls == "AdamW") return std::make_shared<AdamW>(o);
      return std::make_shared<Adam>(adam_options(o));
    }
    if (cls == "RMSprop") {
      RMSpropOptions o;
      r.shared(o);
      r.number("rho", o.rho);
      r.number("momentum", o.momentum);
      r.number("epsilon", o.epsilon);
      r.flag("centered", o.centered);
      return std::make_shared<RMSprop>(o);
    }
    if (cls == "Adagrad") {
      AdagradOptions o;
      r.shared(o);
      r.number("initial_accumulator_value", o.initial_accumulator_value);
      r.number("epsilon", o.epsilon);
      return std::make_shared<Adagrad>(o);
    }
  } catch (const ValueError& e) {  // an option the constructor refuses: the config is what is wrong
    LOOM_CHECK(false, FormatError, "optimizers::from_json: ", e.what());
  }
  LOOM_CHECK(false, FormatError, "optimizers::from_json: unknown optimizer '", cls.substr(0, 40),
             "'; expected SGD, Adam, AdamW, RMSprop or Adagrad.");
  return nullptr;
}
}  // namespace optimizers

}  // namespace loom
