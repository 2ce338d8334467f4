// SPDX-License-Identifier: Apache-2.0
// Weight initializers with Keras's names, defaults and formulas.
#pragma once

#include <string>

#include <nlohmann/json_fwd.hpp>

#include "loom/core/export.hpp"
#include "loom/core/random.hpp"
#include "loom/core/tensor.hpp"

namespace loom LOOM_API {

/// A weight initializer: a Keras initializer name with its parameters. Fans follow Keras: for a 2-D
/// shape (fan_in, fan_out) = shape; for 1-D both are shape[0]; above 2-D the leading axes multiply
/// both (a receptive field). Draws come from a counter-based generator, so they do not depend on
/// the thread count; they do differ from TensorFlow's streams.
///
/// Example:
///   Tensor w = initializers::glorot_uniform()({64, 128}, DType::f32, gen);
class Initializer {
 public:
  enum class Kind {
    zeros, ones, constant, random_uniform, random_normal, truncated_normal,
    glorot_uniform, glorot_normal, he_uniform, he_normal, lecun_uniform, lecun_normal, orthogonal
  };
  Initializer() = default;
  Initializer(Kind kind, double a = 0.0, double b = 0.0) : kind_(kind), a_(a), b_(b) {}

  /// A new tensor of `shape` and `dtype` drawn from `gen`.
  Tensor operator()(const Shape& shape, DType dtype, Generator& gen) const;
  Kind kind() const noexcept { return kind_; }
  /// The Keras class name: "GlorotUniform", "Orthogonal", ...
  std::string class_name() const;
  /// `{"class_name": ..., "config": {...}}`, as Keras serializes initializers.
  nlohmann::json get_config() const;
  /// Accepts the form get_config writes, or a bare identifier ("glorot_uniform", "zeros", ...).
  /// Throws FormatError for an unknown name or a malformed config.
  static Initializer from_config(const nlohmann::json& config);

 private:
  Kind kind_ = Kind::zeros;
  double a_ = 0.0;  // value / minval / mean / gain
  double b_ = 0.0;  // maxval / stddev
};

namespace initializers {
Initializer zeros();
Initializer ones();
Initializer constant(double value);
Initializer random_uniform(double minval = -0.05, double maxval = 0.05);
Initializer random_normal(double mean = 0.0, double stddev = 0.05);
/// Normal, redrawn until within two standard deviations of the mean.
Initializer truncated_normal(double mean = 0.0, double stddev = 0.05);
Initializer glorot_uniform();  ///< U(−l, l), l = sqrt(6 / (fan_in + fan_out))
Initializer glorot_normal();   ///< truncated normal, stddev sqrt(2 / (fan_in + fan_out)) / 0.87962566
Initializer he_uniform();      ///< U(−l, l), l = sqrt(6 / fan_in)
Initializer he_normal();       ///< truncated normal, stddev sqrt(2 / fan_in) / 0.87962566
Initializer lecun_uniform();   ///< U(−l, l), l = sqrt(3 / fan_in)
Initializer lecun_normal();    ///< truncated normal, stddev sqrt(1 / fan_in) / 0.87962566
/// Rows (or columns, whichever are fewer) orthonormal, times `gain`: QR of a Gaussian matrix with
/// the signs of R's diagonal folded into Q, on the whole (prod(shape[:-1]), shape[-1]) matrix.
Initializer orthogonal(double gain = 1.0);
}  // namespace initializers

}  // namespace loom
