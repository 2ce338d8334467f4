// SPDX-License-Identifier: Apache-2.0
// Companion layers: Dense, Embedding, Dropout, Masking.
#pragma once

#include "loom/core/export.hpp"
#include "loom/layers/activations.hpp"
#include "loom/layers/layer.hpp"

namespace loom LOOM_API {

/// Options of `Dense`; names and defaults are `tf.keras.layers.Dense`'s.
struct DenseOptions {
  Activation activation = Activation::linear;
  bool use_bias = true;
  Initializer kernel_initializer = initializers::glorot_uniform();
  Initializer bias_initializer = initializers::zeros();
  std::string name;
};

/// y = activation(x·kernel + bias) on the last axis of an input of any rank ≥ 2. Weights `kernel`
/// (in, units), `bias` (units,). The input mask passes through.
class Dense final : public Layer {
 public:
  explicit Dense(std::int64_t units, DenseOptions options = {});
  Var call(const Var& inputs, const CallContext& ctx) override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;
  static std::shared_ptr<Layer> from_config(const nlohmann::json& config);

 protected:
  void build(const Shape& input_shape) override;

 private:
  std::int64_t units_;
  DenseOptions options_;
  Var kernel_, bias_;
};

/// Options of `Embedding`.
struct EmbeddingOptions {
  Initializer embeddings_initializer = initializers::random_uniform(-0.05, 0.05);
  bool mask_zero = false;  ///< id 0 is padding: compute_mask marks it masked
  std::string name;
};

/// Looks up rows of `embeddings` (input_dim, output_dim) for i64 ids of any shape: the output has
/// the ids' shape plus output_dim. With mask_zero, the mask of (batch, time) ids is `ids != 0`.
class Embedding final : public Layer {
 public:
  Embedding(std::int64_t input_dim, std::int64_t output_dim, EmbeddingOptions options = {});
  Var call(const Var& ids, const CallContext& ctx) override;
  Tensor compute_mask(const Var& ids, const Tensor& mask) const override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  nlohmann::json get_config() const override;
  static std::shared_ptr<Layer> from_config(const nlohmann::json& config);

 protected:
  void build(const Shape& input_shape) override;

 private:
  std::int64_t input_dim_, output_dim_;
  EmbeddingOptions options_;
  Var embeddings_;
};

/// Inverted dropout at `rate` when training; identity otherwise.
class Dropout final : public Layer {
 public:
  explicit Dropout(double rate, std::string name = "");
  Var call(const Var& inputs, const CallContext& ctx) override;
  nlohmann::json get_config() const override;
  static std::shared_ptr<Layer> from_config(const nlohmann::json& config);

 private:
  double rate_;
};

/// Masks the time steps whose features all equal `mask_value`: the mask is (batch, time) and the
/// output is the input with those steps zeroed (as Keras's Masking).
class Masking final : public Layer {
 public:
  explicit Masking(double mask_value = 0.0, std::string name = "");
  Var call(const Var& inputs, const CallContext& ctx) override;
  Tensor compute_mask(const Var& inputs, const Tensor& mask) const override;
  nlohmann::json get_config() const override;
  static std::shared_ptr<Layer> from_config(const nlohmann::json& config);

 private:
  double mask_value_;
};

}  // namespace loom
