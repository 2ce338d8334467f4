// SPDX-License-Identifier: Apache-2.0
// SimpleRNNCell, LSTMCell, GRUCell: one time step each, written with autograd ops.
#include "loom/layers/recurrent_cells.hpp"

#include "config.hpp"
#include "loom/autograd/ops/arithmetic.hpp"
#include "loom/autograd/ops/matmul.hpp"
#include "loom/autograd/ops/nn.hpp"
#include "loom/autograd/ops/shape.hpp"
#include "loom/core/layout.hpp"

namespace loom {
namespace {

// Dropout masks are drawn once per layer call, and only for 0 < rate < 1 (rate 1 means no dropout,
// as in Keras's LSTM/GRU).
Tensor draw_mask(double rate, const Shape& shape, DType dtype, bool training) {
  if (!training || rate <= 0.0 || rate >= 1.0) return {};
  return dropout_mask(shape, rate, dtype);
}

template <class Options>
void check_options(const char* api, std::int64_t units, const Options& o) {
  detail::check_units(api, units);
  detail::check_fraction(api, "dropout", o.dropout);
  detail::check_fraction(api, "recurrent_dropout", o.recurrent_dropout);
}

}  // namespace

template <class Options>
detail::KerasCell<Options>::KerasCell(const char* class_name, std::int64_t units, Options options)
    : Cell(class_name, options.name), units_(units), options_(std::move(options)) {
  check_options(class_name, units_, options_);
}

template <class Options>
void detail::KerasCell<Options>::begin_call(std::int64_t batch, DType dtype, bool training) {
  dp_mask_ = draw_mask(options_.dropout, {batch, kernel_.shape(0)}, dtype, training);
  rec_dp_mask_ = draw_mask(options_.recurrent_dropout, {batch, units_}, dtype, training);
}

template <class Options>
void detail::KerasCell<Options>::end_call() {
  dp_mask_ = rec_dp_mask_ = Tensor();
}

template <class Options>
Var detail::KerasCell<Options>::drop_input(const Var& x) const {
  return dp_mask_.defined() ? apply_mask(x, dp_mask_) : x;
}

template <class Options>
Var detail::KerasCell<Options>::drop_recurrent(const Var& h) const {
  return rec_dp_mask_.defined() ? apply_mask(h, rec_dp_mask_) : h;
}

template <class Options>
nlohmann::json detail::KerasCell<Options>::cell_config() const {
  const Options& o = options_;
  nlohmann::json c = Cell::get_config();
  c["units"] = units_;
  c["activation"] = activation_name(o.activation);
  c["use_bias"] = o.use_bias;
  c["kernel_initializer"] = o.kernel_initializer.get_config();
  c["recurrent_initializer"] = o.recurrent_initializer.get_config();
  c["bias_initializer"] = o.bias_initializer.get_config();
  c["dropout"] = o.dropout;
  c["recurrent_dropout"] = o.recurrent_dropout;
  return c;
}

template class detail::KerasCell<SimpleRNNCellOptions>;
template class detail::KerasCell<LSTMCellOptions>;
template class detail::KerasCell<GRUCellOptions>;

namespace {

template <class Options>
Options common_options(const nlohmann::json& c, const char* api) {
  detail::require_object(c, api);
  Options o;
  o.activation = detail::activation_field(c, "activation", o.activation, api);
  o.use_bias = detail::field<bool>(c, "use_bias", o.use_bias, api);
  o.kernel_initializer = detail::initializer_field(c, "kernel_initializer", o.kernel_initializer);
  o.recurrent_initializer = detail::initializer_field(c, "recurrent_initializer", o.recurrent_initializer);
  o.bias_initializer = detail::initializer_field(c, "bias_initializer", o.bias_initializer);
  o.dropout = detail::fraction_field(c, "dropout", o.dropout, api);
  o.recurrent_dropout = detail::fraction_field(c, "recurrent_dropout", o.recurrent_dropout, api);
  o.name = detail::field<std::string>(c, "name", "", api);
  return o;
}

std::int64_t units_field(const nlohmann::json& c, const char* api) {
  LOOM_CHECK(c.contains("units"), FormatError, api, ".from_config: the config has no 'units'.");
  return detail::field<std::int64_t>(c, "units", 0, api);
}

}  // namespace

// ---- SimpleRNNCell ------------------------------------------------------------------------------

SimpleRNNCell::SimpleRNNCell(std::int64_t units, SimpleRNNCellOptions options)
    : KerasCell("SimpleRNNCell", units, std::move(options)) {}

void SimpleRNNCell::build(const Shape& s) {
  kernel_ = add_weight("kernel", {s[-1], units_}, options_.kernel_initializer);
  recurrent_kernel_ = add_weight("recurrent_kernel", {units_, units_}, options_.recurrent_initializer);
  if (options_.use_bias) bias_ = add_weight("bias", {units_}, options_.bias_initializer);
}

CellOutput SimpleRNNCell::call(const Var& x, const std::vector<Var>& states, const CellContext&) {
  Var z = matmul(drop_input(x), kernel_);
  if (options_.use_bias) z = z + bias_;
  const Var h = activate(options_.activation, z + matmul(drop_recurrent(states[0]), recurrent_kernel_));
  return {h, {h}};
}

nlohmann::json SimpleRNNCell::get_config() const { return cell_config(); }

std::shared_ptr<Layer> SimpleRNNCell::from_config(const nlohmann::json& c) {
  auto cell = std::make_shared<SimpleRNNCell>(units_field(c, "SimpleRNNCell"),
                                              common_options<SimpleRNNCellOptions>(c, "SimpleRNNCell"));
  cell->apply_base_config(c);
  return cell;
}

// ---- LSTMCell -----------------------------------------------------------------------------------

LSTMCell::LSTMCell(std::int64_t units, LSTMCellOptions options)
    : KerasCell("LSTMCell", units, std::move(options)) {}

void LSTMCell::build(const Shape& s) {
  kernel_ = add_weight("kernel", {s[-1], 4 * units_}, options_.kernel_initializer);
  recurrent_kernel_ = add_weight("recurrent_kernel", {units_, 4 * units_}, options_.recurrent_initializer);
  if (!options_.use_bias) return;
  bias_ = add_weight("bias", {4 * units_}, options_.bias_initializer);
  if (options_.unit_forget_bias) {  // the forget block starts at exactly 1, the others keep their initializer
    Tensor b = bias_.value();
    core::slice_assign(b, Tensor::ones({units_}, dtype()), 0, units_);
  }
}

CellOutput LSTMCell::call(const Var& x, const std::vector<Var>& states, const CellContext&) {
  const Var& h = states[0];
  const Var& c = states[1];
  Var z = matmul(drop_input(x), kernel_) + matmul(drop_recurrent(h), recurrent_kernel_);
  if (options_.use_bias) z = z + bias_;
  const std::vector<Var> g = split(z, 4, -1);  // i, f, c, o
  const Activation ra = options_.recurrent_activation, a = options_.activation;
  const Var c_next = activate(ra, g[1]) * c + activate(ra, g[0]) * activate(a, g[2]);
  const Var h_next = activate(ra, g[3]) * activate(a, c_next);
  return {h_next, {h_next, c_next}};
}

nlohmann::json LSTMCell::get_config() const {
  nlohmann::json c = cell_config();
  c["recurrent_activation"] = activation_name(options_.recurrent_activation);
  c["unit_forget_bias"] = options_.unit_forget_bias;
  return c;
}

std::shared_ptr<Layer> LSTMCell::from_config(const nlohmann::json& c) {
  LSTMCellOptions o = common_options<LSTMCellOptions>(c, "LSTMCell");
  o.recurrent_activation = detail::activation_field(c, "recurrent_activation", o.recurrent_activation, "LSTMCell");
  o.unit_forget_bias = detail::field<bool>(c, "unit_forget_bias", o.unit_forget_bias, "LSTMCell");
  auto cell = std::make_shared<LSTMCell>(units_field(c, "LSTMCell"), std::move(o));
  cell->apply_base_config(c);
  return cell;
}

// ---- GRUCell ------------------------------------------------------------------------------------

GRUCell::GRUCell(std::int64_t units, GRUCellOptions options)
    : KerasCell("GRUCell", units, std::move(options)) {}

void GRUCell::build(const Shape& s) {
  kernel_ = add_weight("kernel", {s[-1], 3 * units_}, options_.kernel_initializer);
  recurrent_kernel_ = add_weight("recurrent_kernel", {units_, 3 * units_}, options_.recurrent_initializer);
  if (options_.use_bias)
    bias_ = add_weight("bias", options_.reset_after ? Shape{2, 3 * units_} : Shape{3 * units_},
                       options_.bias_initializer);
}

CellOutput GRUCell::call(const Var& x, const std::vector<Var>& states, const CellContext&) {
  const Var& h = states[0];
  const Var hd = drop_recurrent(h);  // dropout touches the recurrent products, never z ⊙ h
  const Activation ra = options_.recurrent_activation, a = options_.activation;
  const std::int64_t u = units_;
  Var xw = matmul(drop_input(x), kernel_);
  if (options_.reset_after) {
    Var hu = matmul(hd, recurrent_kernel_);
    if (options_.use_bias) {
      xw = xw + reshape(slice(bias_, 0, 0, 1), {3 * u});
      hu = hu + reshape(slice(bias_, 0, 1, 1), {3 * u});
    }
    const std::vector<Var> xs = split(xw, 3, -1), hs = split(hu, 3, -1);
    const Var z = activate(ra, xs[0] + hs[0]);
    const Var r = activate(ra, xs[1] + hs[1]);
    const Var hh = activate(a, xs[2] + r * hs[2]);
    const Var h_next = z * h + (1.0 - z) * hh;
    return {h_next, {h_next}};
  }
  if (options_.use_bias) xw = xw + bias_;
  const std::vector<Var> xs = split(xw, 3, -1);
  const Var z = activate(ra, xs[0] + matmul(hd, slice(recurrent_kernel_, 1, 0, u)));
  const Var r = activate(ra, xs[1] + matmul(hd, slice(recurrent_kernel_, 1, u, u)));
  const Var hh = activate(a, xs[2] + matmul(r * hd, slice(recurrent_kernel_, 1, 2 * u, u)));
  const Var h_next = z * h + (1.0 - z) * hh;
  return {h_next, {h_next}};
}

nlohmann::json GRUCell::get_config() const {
  nlohmann::json c = cell_config();
  c["recurrent_activation"] = activation_name(options_.recurrent_activation);
  c["reset_after"] = options_.reset_after;
  return c;
}

std::shared_ptr<Layer> GRUCell::from_config(const nlohmann::json& c) {
  GRUCellOptions o = common_options<GRUCellOptions>(c, "GRUCell");
  o.recurrent_activation = detail::activation_field(c, "recurrent_activation", o.recurrent_activation, "GRUCell");
  o.reset_after = detail::field<bool>(c, "reset_after", o.reset_after, "GRUCell");
  auto cell = std::make_shared<GRUCell>(units_field(c, "GRUCell"), std::move(o));
  cell->apply_base_config(c);
  return cell;
}

}  // namespace loom
