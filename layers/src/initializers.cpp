// SPDX-License-Identifier: Apache-2.0
// Initializers: Keras's variance-scaling formulas, truncated normals and the orthogonal QR.
#include "loom/layers/initializers.hpp"

#include <cmath>
#include <nlohmann/json.hpp>
#include <vector>

#include "loom/core/check.hpp"

namespace loom {
namespace {

constexpr double kTruncatedStd = 0.87962566103423978;  // stddev of N(0, 1) truncated to [−2, 2]

struct Fans {
  double in, out;
};

Fans fans(const Shape& s) {
  if (s.rank() == 0) return {1, 1};
  if (s.rank() == 1) return {static_cast<double>(s[0]), static_cast<double>(s[0])};
  const double receptive = static_cast<double>(s.numel(0, s.rank() - 2));
  return {static_cast<double>(s[-2]) * receptive, static_cast<double>(s[-1]) * receptive};
}

// Normal values redrawn (sequentially, so deterministically) until within two stddevs of the mean.
Tensor truncated(const Shape& shape, double mean, double stddev, DType dtype, Generator& gen) {
  Tensor t = Tensor::empty(shape, DType::f64);
  double* p = t.data<double>();
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    double z;
    do {
      z = Tensor::normal({1}, 0.0, 1.0, DType::f64, &gen).data<double>()[0];
    } while (std::abs(z) > 2.0);
    p[i] = mean + stddev * z;
  }
  return t.to(dtype);
}

// Orthogonal matrix (rows × cols) via Householder QR of a Gaussian (max × min) matrix, in f64.
Tensor orthogonal_matrix(std::int64_t rows, std::int64_t cols, double gain, Generator& gen) {
  const std::int64_t m = std::max(rows, cols), n = std::min(rows, cols);
  std::vector<double> a = Tensor::normal({m, n}, 0.0, 1.0, DType::f64, &gen).to_vector<double>();
  std::vector<double> q(static_cast<std::size_t>(m * m), 0.0);
  for (std::int64_t i = 0; i < m; ++i) q[i * m + i] = 1.0;
  // Householder reflections: A = Q R; Q accumulated explicitly (m × m), R left in a.
  for (std::int64_t k = 0; k < n; ++k) {
    double norm = 0;
    for (std::int64_t i = k; i < m; ++i) norm += a[i * n + k] * a[i * n + k];
    norm = std::sqrt(norm);
    if (norm == 0) continue;
    const double alpha = a[k * n + k] > 0 ? -norm : norm;
    std::vector<double> v(static_cast<std::size_t>(m), 0.0);
    for (std::int64_t i = k; i < m; ++i) v[i] = a[i * n + k];
    v[k] -= alpha;
    double vv = 0;
    for (std::int64_t i = k; i < m; ++i) vv += v[i] * v[i];
    if (vv == 0) continue;
    for (std::int64_t j = 0; j < n; ++j) {  // a ← (I − 2vvᵀ/vᵀv) a
      double d = 0;
      for (std::int64_t i = k; i < m; ++i) d += v[i] * a[i * n + j];
      for (std::int64_t i = k; i < m; ++i) a[i * n + j] -= 2 * d / vv * v[i];
    }
    for (std::int64_t r = 0; r < m; ++r) {  // q ← q (I − 2vvᵀ/vᵀv)
      double d = 0;
      for (std::int64_t i = k; i < m; ++i) d += q[r * m + i] * v[i];
      for (std::int64_t i = k; i < m; ++i) q[r * m + i] -= 2 * d / vv * v[i];
    }
  }
  // The first n columns of Q, with the signs of R's diagonal folded in (makes Q unique, as Keras does).
  std::vector<double> out(static_cast<std::size_t>(rows * cols));
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      const double sign = a[j * n + j] < 0 ? -1.0 : 1.0;
      const double v = gain * q[i * m + j] * sign;
      if (rows >= cols)
        out[i * cols + j] = v;  // (m × n) = (rows × cols)
      else
        out[j * cols + i] = v;  // transposed: (n × m) = (rows × cols)
    }
  return Tensor::from_vector(out, {rows, cols});
}

struct Name {
  Initializer::Kind kind;
  const char* class_name;
  const char* identifier;
};

constexpr Name kNames[] = {
    {Initializer::Kind::zeros, "Zeros", "zeros"},
    {Initializer::Kind::ones, "Ones", "ones"},
    {Initializer::Kind::constant, "Constant", "constant"},
    {Initializer::Kind::random_uniform, "RandomUniform", "random_uniform"},
    {Initializer::Kind::random_normal, "RandomNormal", "random_normal"},
    {Initializer::Kind::truncated_normal, "TruncatedNormal", "truncated_normal"},
    {Initializer::Kind::glorot_uniform, "GlorotUniform", "glorot_uniform"},
    {Initializer::Kind::glorot_normal, "GlorotNormal", "glorot_normal"},
    {Initializer::Kind::he_uniform, "HeUniform", "he_uniform"},
    {Initializer::Kind::he_normal, "HeNormal", "he_normal"},
    {Initializer::Kind::lecun_uniform, "LecunUniform", "lecun_uniform"},
    {Initializer::Kind::lecun_normal, "LecunNormal", "lecun_normal"},
    {Initializer::Kind::orthogonal, "Orthogonal", "orthogonal"},
};

}  // namespace

Tensor Initializer::operator()(const Shape& shape, DType dtype, Generator& gen) const {
  const Fans f = fans(shape);
  switch (kind_) {
    case Kind::zeros: return Tensor::zeros(shape, dtype);
    case Kind::ones: return Tensor::ones(shape, dtype);
    case Kind::constant: return Tensor::full(shape, a_, dtype);
    case Kind::random_uniform: return Tensor::uniform(shape, a_, b_, dtype, &gen);
    case Kind::random_normal: return Tensor::normal(shape, a_, b_, dtype, &gen);
    case Kind::truncated_normal: return truncated(shape, a_, b_, dtype, gen);
    case Kind::glorot_uniform: {
      const double limit = std::sqrt(6.0 / (f.in + f.out));
      return Tensor::uniform(shape, -limit, limit, dtype, &gen);
    }
    case Kind::glorot_normal: return truncated(shape, 0.0, std::sqrt(2.0 / (f.in + f.out)) / kTruncatedStd, dtype, gen);
    case Kind::he_uniform: {
      const double limit = std::sqrt(6.0 / f.in);
      return Tensor::uniform(shape, -limit, limit, dtype, &gen);
    }
    case Kind::he_normal: return truncated(shape, 0.0, std::sqrt(2.0 / f.in) / kTruncatedStd, dtype, gen);
    case Kind::lecun_uniform: {
      const double limit = std::sqrt(3.0 / f.in);
      return Tensor::uniform(shape, -limit, limit, dtype, &gen);
    }
    case Kind::lecun_normal: return truncated(shape, 0.0, std::sqrt(1.0 / f.in) / kTruncatedStd, dtype, gen);
    case Kind::orthogonal: {
      LOOM_CHECK(shape.rank() >= 2, ValueError, "Orthogonal: the shape must be at least 2-D; got ", shape, ".");
      return orthogonal_matrix(shape.numel(0, shape.rank() - 1), shape[-1], a_, gen).reshape(shape).to(dtype);
    }
  }
  return Tensor::zeros(shape, dtype);
}

std::string Initializer::class_name() const {
  for (const Name& n : kNames)
    if (n.kind == kind_) return n.class_name;
  return "Zeros";
}

nlohmann::json Initializer::get_config() const {
  nlohmann::json config = nlohmann::json::object();
  switch (kind_) {
    case Kind::constant: config["value"] = a_; break;
    case Kind::random_uniform: config = {{"minval", a_}, {"maxval", b_}}; break;
    case Kind::random_normal:
    case Kind::truncated_normal: config = {{"mean", a_}, {"stddev", b_}}; break;
    case Kind::orthogonal: config["gain"] = a_; break;
    default: break;
  }
  return {{"class_name", class_name()}, {"config", config}};
}

Initializer Initializer::from_config(const nlohmann::json& j) {
  std::string name;
  nlohmann::json config = nlohmann::json::object();
  if (j.is_string()) {
    name = j.get<std::string>();
  } else {
    LOOM_CHECK(j.is_object() && j.contains("class_name") && j["class_name"].is_string(), FormatError,
               "Initializer.from_config: expected a name or {\"class_name\": ..., \"config\": {...}}; got ", j.dump(),
               ".");
    name = j["class_name"].get<std::string>();
    if (j.contains("config")) config = j["config"];
  }
  auto number = [&](const char* key, double fallback) {
    if (!config.contains(key)) return fallback;
    LOOM_CHECK(config[key].is_number(), FormatError, "Initializer.from_config: '", key, "' of ", name,
               " must be a number; got ", config[key].dump(), ".");
    return config[key].get<double>();
  };
  for (const Name& n : kNames) {
    if (name != n.class_name && name != n.identifier) continue;
    switch (n.kind) {
      case Kind::constant: return initializers::constant(number("value", 0.0));
      case Kind::random_uniform: return initializers::random_uniform(number("minval", -0.05), number("maxval", 0.05));
      case Kind::random_normal: return initializers::random_normal(number("mean", 0.0), number("stddev", 0.05));
      case Kind::truncated_normal: return initializers::truncated_normal(number("mean", 0.0), number("stddev", 0.05));
      case Kind::orthogonal: return initializers::orthogonal(number("gain", 1.0));
      default: return Initializer(n.kind);
    }
  }
  LOOM_CHECK(false, FormatError, "Initializer.from_config: unknown initializer '", name, "'.");
  return {};
}

namespace initializers {
Initializer zeros() { return Initializer(Initializer::Kind::zeros); }
Initializer ones() { return Initializer(Initializer::Kind::ones); }
Initializer constant(double value) { return Initializer(Initializer::Kind::constant, value); }
Initializer random_uniform(double minval, double maxval) {
  LOOM_CHECK(minval <= maxval, ValueError, "RandomUniform: minval must be <= maxval; got ", minval, " and ", maxval, ".");
  return Initializer(Initializer::Kind::random_uniform, minval, maxval);
}
Initializer random_normal(double mean, double stddev) {
  LOOM_CHECK(stddev >= 0, ValueError, "RandomNormal: stddev must be >= 0; got ", stddev, ".");
  return Initializer(Initializer::Kind::random_normal, mean, stddev);
}
Initializer truncated_normal(double mean, double stddev) {
  LOOM_CHECK(stddev >= 0, ValueError, "TruncatedNormal: stddev must be >= 0; got ", stddev, ".");
  return Initializer(Initializer::Kind::truncated_normal, mean, stddev);
}
Initializer glorot_uniform() { return Initializer(Initializer::Kind::glorot_uniform); }
Initializer glorot_normal() { return Initializer(Initializer::Kind::glorot_normal); }
Initializer he_uniform() { return Initializer(Initializer::Kind::he_uniform); }
Initializer he_normal() { return Initializer(Initializer::Kind::he_normal); }
Initializer lecun_uniform() { return Initializer(Initializer::Kind::lecun_uniform); }
Initializer lecun_normal() { return Initializer(Initializer::Kind::lecun_normal); }
Initializer orthogonal(double gain) { return Initializer(Initializer::Kind::orthogonal, gain); }
}  // namespace initializers

}  // namespace loom
