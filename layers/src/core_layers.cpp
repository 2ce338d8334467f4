// SPDX-License-Identifier: Apache-2.0
// Dense, Embedding, Dropout, Masking.
#include "loom/layers/core_layers.hpp"

#include "config.hpp"
#include "loom/layers/cell.hpp"
#include "loom/autograd/ops/arithmetic.hpp"
#include "loom/autograd/ops/matmul.hpp"
#include "loom/autograd/ops/nn.hpp"
#include "loom/autograd/ops/select.hpp"

namespace loom {

// ---- Dense --------------------------------------------------------------------------------------

Dense::Dense(std::int64_t units, DenseOptions options) : Layer("Dense", options.name), units_(units), options_(std::move(options)) {
  detail::check_units("Dense", units_);
}

void Dense::build(const Shape& s) {
  LOOM_CHECK(s.rank() >= 2, ValueError, "Dense: the input must be at least 2-D; got shape ", s, ".");
  kernel_ = add_weight("kernel", {s[-1], units_}, options_.kernel_initializer);
  if (options_.use_bias) bias_ = add_weight("bias", {units_}, options_.bias_initializer);
}

Var Dense::call(const Var& x, const CallContext&) {
  LOOM_CHECK(x.dimension() >= 2 && x.shape(-1) == kernel_.shape(0), ValueError, "Dense: expected an input whose last axis is ",
             kernel_.shape(0), "; got shape ", x.shape(), ".");
  Var y = matmul(x, kernel_);
  if (options_.use_bias) y = y + bias_;
  return activate(options_.activation, y);
}

Shape Dense::compute_output_shape(const Shape& s) const {
  Shape out = s;
  out[-1] = units_;
  return out;
}

nlohmann::json Dense::get_config() const {
  nlohmann::json c = Layer::get_config();
  c["units"] = units_;
  c["activation"] = activation_name(options_.activation);
  c["use_bias"] = options_.use_bias;
  c["kernel_initializer"] = options_.kernel_initializer.get_config();
  c["bias_initializer"] = options_.bias_initializer.get_config();
  return c;
}

std::shared_ptr<Layer> Dense::from_config(const nlohmann::json& c) {
  detail::require_object(c, "Dense");
  DenseOptions o;
  o.activation = detail::activation_field(c, "activation", o.activation, "Dense");
  o.use_bias = detail::field<bool>(c, "use_bias", o.use_bias, "Dense");
  o.kernel_initializer = detail::initializer_field(c, "kernel_initializer", o.kernel_initializer);
  o.bias_initializer = detail::initializer_field(c, "bias_initializer", o.bias_initializer);
  o.name = detail::field<std::string>(c, "name", "", "Dense");
  auto layer = std::make_shared<Dense>(detail::field<std::int64_t>(c, "units", 0, "Dense"), std::move(o));
  layer->apply_base_config(c);
  return layer;
}

// ---- Embedding ----------------------------------------------------------------------------------

Embedding::Embedding(std::int64_t input_dim, std::int64_t output_dim, EmbeddingOptions options)
    : Layer("Embedding", options.name), input_dim_(input_dim), output_dim_(output_dim), options_(std::move(options)) {
  LOOM_CHECK(input_dim_ > 0, ValueError, "Embedding: input_dim must be a positive integer; got ", input_dim_, ".");
  LOOM_CHECK(output_dim_ > 0, ValueError, "Embedding: output_dim must be a positive integer; got ", output_dim_, ".");
}

void Embedding::build(const Shape&) {
  embeddings_ = add_weight("embeddings", {input_dim_, output_dim_}, options_.embeddings_initializer);
}

Var Embedding::call(const Var& ids, const CallContext&) {
  LOOM_CHECK(ids.dtype() == DType::i64, TypeError, "Embedding: ids must have dtype i64; got ", ids.dtype(), ".");
  return gather(embeddings_, ids.value());
}

Tensor Embedding::compute_mask(const Var& ids, const Tensor&) const {
  if (!options_.mask_zero) return {};
  const std::vector<std::int64_t> v = ids.value().to_vector<std::int64_t>();
  std::vector<float> m(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) m[i] = v[i] != 0 ? 1.0f : 0.0f;
  return Tensor::from_vector(m, ids.shape());
}

Shape Embedding::compute_output_shape(const Shape& s) const {
  Shape out = s;
  out.push_back(output_dim_);
  return out;
}

nlohmann::json Embedding::get_config() const {
  nlohmann::json c = Layer::get_config();
  c["input_dim"] = input_dim_;
  c["output_dim"] = output_dim_;
  c["embeddings_initializer"] = options_.embeddings_initializer.get_config();
  c["mask_zero"] = options_.mask_zero;
  return c;
}

std::shared_ptr<Layer> Embedding::from_config(const nlohmann::json& c) {
  detail::require_object(c, "Embedding");
  EmbeddingOptions o;
  o.embeddings_initializer = detail::initializer_field(c, "embeddings_initializer", o.embeddings_initializer);
  o.mask_zero = detail::field<bool>(c, "mask_zero", false, "Embedding");
  o.name = detail::field<std::string>(c, "name", "", "Embedding");
  auto layer = std::make_shared<Embedding>(detail::field<std::int64_t>(c, "input_dim", 0, "Embedding"),
                                           detail::field<std::int64_t>(c, "output_dim", 0, "Embedding"), std::move(o));
  layer->apply_base_config(c);
  return layer;
}

// ---- Dropout ------------------------------------------------------------------------------------

Dropout::Dropout(double rate, std::string name) : Layer("Dropout", std::move(name)), rate_(rate) {
  LOOM_CHECK(rate_ >= 0.0 && rate_ < 1.0, ValueError, "Dropout: rate must be in [0, 1); got ", rate_, ".");
}

Var Dropout::call(const Var& x, const CallContext& ctx) { return dropout(x, rate_, ctx.training); }

nlohmann::json Dropout::get_config() const {
  nlohmann::json c = Layer::get_config();
  c["rate"] = rate_;
  return c;
}

std::shared_ptr<Layer> Dropout::from_config(const nlohmann::json& c) {
  detail::require_object(c, "Dropout");
  auto layer = std::make_shared<Dropout>(detail::fraction_field(c, "rate", 0.0, "Dropout"),
                                         detail::field<std::string>(c, "name", "", "Dropout"));
  layer->apply_base_config(c);
  return layer;
}

// ---- Masking ------------------------------------------------------------------------------------

Masking::Masking(double mask_value, std::string name) : Layer("Masking", std::move(name)), mask_value_(mask_value) {}

Tensor Masking::compute_mask(const Var& x, const Tensor&) const {
  LOOM_CHECK(x.dimension() >= 3, ValueError, "Masking: the input must be at least 3-D (batch, time, ...); got shape ",
             x.shape(), ".");
  const std::int64_t rows = x.shape(0) * x.shape(1), width = x.numel() / std::max<std::int64_t>(rows, 1);
  const std::vector<double> v = x.value().to_vector<double>();
  std::vector<float> m(static_cast<std::size_t>(rows), 0.0f);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t j = 0; j < width; ++j)
      if (v[static_cast<std::size_t>(r * width + j)] != mask_value_) {
        m[static_cast<std::size_t>(r)] = 1.0f;
        break;
      }
  return Tensor::from_vector(m, {x.shape(0), x.shape(1)});
}

Var Masking::call(const Var& x, const CallContext&) {
  const Tensor m = compute_mask(x, {});
  const std::int64_t width = x.numel() / std::max<std::int64_t>(m.numel(), 1);
  Tensor full = Tensor::empty(x.shape(), x.dtype());
  const std::vector<float> mv = m.to_vector<float>();
  std::vector<double> fv(static_cast<std::size_t>(x.numel()));
  for (std::size_t i = 0; i < fv.size(); ++i) fv[i] = mv[i / static_cast<std::size_t>(width)];
  full = x.dtype() == DType::f32 ? Tensor::from_vector(std::vector<float>(fv.begin(), fv.end()), x.shape())
                                 : Tensor::from_vector(fv, x.shape());
  return apply_mask(x, full);
}

nlohmann::json Masking::get_config() const {
  nlohmann::json c = Layer::get_config();
  c["mask_value"] = mask_value_;
  return c;
}

std::shared_ptr<Layer> Masking::from_config(const nlohmann::json& c) {
  detail::require_object(c, "Masking");
  auto layer = std::make_shared<Masking>(detail::field<double>(c, "mask_value", 0.0, "Masking"),
                                         detail::field<std::string>(c, "name", "", "Masking"));
  layer->apply_base_config(c);
  return layer;
}

}  // namespace loom
