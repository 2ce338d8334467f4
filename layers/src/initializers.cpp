// SPDX-License-Identifier: Apache-2.0
// Initializers: Keras's variance-scaling formulas, truncated normals and the orthogonal QR.
#include "loom/layers/initializers.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <vector>

#include "loom/core/check.hpp"
#include "loom/core/json_util.hpp"
#include "loom/core/gemm.hpp"

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

// Orthogonal matrix (rows × cols) via a thin, blocked Householder QR of a Gaussian (max × min) matrix,
// in f64: A = Q R with Q (m × n), O(m·n²). Panels of kPanel columns are factored one reflector at a
// time; each panel's reflectors then act together as I − V·T·Vᵀ (compact WY), applied to the rest
// of A and, last panel first, to the first n columns of the identity, as GEMMs.
Tensor orthogonal_matrix(std::int64_t rows, std::int64_t cols, double gain, Generator& gen) {
  constexpr std::int64_t kPanel = 32;
  const std::int64_t m = std::max(rows, cols), n = std::min(rows, cols);
  // Row-major throughout; the unblocked loops run along rows, so they vectorise without reassociating sums.
  std::vector<double> a = Tensor::normal({m, n}, 0.0, 1.0, DType::f64, &gen).to_vector<double>();
  auto at = [n](std::int64_t i, std::int64_t j) { return static_cast<std::size_t>(i * n + j); };
  std::vector<double> v(static_cast<std::size_t>(m * n), 0.0), beta(static_cast<std::size_t>(n), 0.0);
  std::vector<double> d(static_cast<std::size_t>(n));

  // Rows [r0, m) × columns [c0, c1) of a row-major (m × n) matrix, as a tensor, and back.
  auto block = [&](const std::vector<double>& x, std::int64_t r0, std::int64_t c0, std::int64_t c1) {
    Tensor t = Tensor::empty({m - r0, c1 - c0}, DType::f64);
    double* p = t.data<double>();
    for (std::int64_t i = r0; i < m; ++i)
      for (std::int64_t j = c0; j < c1; ++j) *p++ = x[at(i, j)];
    return t;
  };
  auto store = [&](std::vector<double>& x, const Tensor& t, std::int64_t r0, std::int64_t c0) {
    const double* p = t.data<double>();
    const std::int64_t c1 = c0 + t.shape(1);
    for (std::int64_t i = r0; i < m; ++i)
      for (std::int64_t j = c0; j < c1; ++j) x[at(i, j)] = *p++;
  };
  // T (kb × kb, upper) of the panel [k0, k0 + kb) whose reflectors are the columns of vb:
  // H_k0 ⋯ H_(k0+kb−1) = I − V T Vᵀ, with T[:i, i] = −β_i T[:i, :i] (Vᵀ v_i).
  auto panel_t = [&](const Tensor& vb, std::int64_t k0, std::int64_t kb) {
    Tensor z = Tensor::empty({kb, kb}, DType::f64);
    core::gemm(vb, true, vb, false, z);  // z = Vᵀ V
    const double* zp = z.data<double>();
    Tensor t = Tensor::zeros({kb, kb}, DType::f64);
    double* tp = t.data<double>();
    for (std::int64_t i = 0; i < kb; ++i) {
      const double b = beta[static_cast<std::size_t>(k0 + i)];
      tp[i * kb + i] = b;
      for (std::int64_t j = 0; j < i; ++j) {
        double sum = 0;
        for (std::int64_t l = j; l < i; ++l) sum += tp[j * kb + l] * zp[l * kb + i];
        tp[j * kb + i] = -b * sum;
      }
    }
    return t;
  };
  // x[r0:, c0:c1] ← (I − V op(T) Vᵀ) x[r0:, c0:c1] for the panel starting at k0 = r0.
  auto apply_panel = [&](std::vector<double>& x, std::int64_t k0, std::int64_t kb, bool transpose_t, std::int64_t c0,
                         std::int64_t c1) {
    if (c0 >= c1) return;
    const Tensor vb = block(v, k0, k0, k0 + kb), t = panel_t(vb, k0, kb);
    Tensor xb = block(x, k0, c0, c1);
    Tensor w = Tensor::empty({kb, c1 - c0}, DType::f64), tw = Tensor::empty({kb, c1 - c0}, DType::f64);
    core::gemm(vb, true, xb, false, w);            // W = Vᵀ X
    core::gemm(t, transpose_t, w, false, tw);      // W = op(T) W
    core::gemm(vb, false, tw, false, xb, -1.0, 1.0);  // X −= V W
    store(x, xb, k0, c0);
  };

  for (std::int64_t k0 = 0; k0 < n; k0 += kPanel) {
    const std::int64_t kb = std::min(kPanel, n - k0), c_end = k0 + kb;
    for (std::int64_t k = k0; k < c_end; ++k) {  // reflector k: H = I − β v vᵀ, v zero above row k
      double norm = 0;
      for (std::int64_t i = k; i < m; ++i) norm += a[at(i, k)] * a[at(i, k)];
      norm = std::sqrt(norm);
      if (norm == 0) continue;
      const double alpha = a[at(k, k)] > 0 ? -norm : norm;
      double vv = 0;
      for (std::int64_t i = k; i < m; ++i) {
        const double vi = a[at(i, k)] - (i == k ? alpha : 0.0);
        v[at(i, k)] = vi;
        vv += vi * vi;
      }
      if (vv == 0) continue;
      const double b = beta[static_cast<std::size_t>(k)] = 2 / vv;
      std::fill(d.begin(), d.end(), 0.0);  // the panel's columns k..c_end ← H a (earlier ones are done)
      for (std::int64_t i = k; i < m; ++i)
        for (std::int64_t j = k; j < c_end; ++j) d[static_cast<std::size_t>(j)] += v[at(i, k)] * a[at(i, j)];
      for (std::int64_t i = k; i < m; ++i)
        for (std::int64_t j = k; j < c_end; ++j) a[at(i, j)] -= b * v[at(i, k)] * d[static_cast<std::size_t>(j)];
    }
    // The rest of A sees the panel's reflectors in order: H_(c_end−1) ⋯ H_k0 = (I − V T Vᵀ)ᵀ.
    apply_panel(a, k0, kb, /*transpose_t=*/true, c_end, n);
  }
  // Q = H₀ H₁ ⋯ Hₙ₋₁ I[:, :n], last panel first; columns before k0 are still zero below row k0.
  std::vector<double> q(static_cast<std::size_t>(m * n), 0.0);
  for (std::int64_t i = 0; i < n; ++i) q[at(i, i)] = 1.0;
  for (std::int64_t k0 = (n - 1) / kPanel * kPanel; k0 >= 0; k0 -= kPanel)
    apply_panel(q, k0, std::min(kPanel, n - k0), /*transpose_t=*/false, k0, n);
  // Q's columns with the signs of R's diagonal folded in (makes Q unique, as Keras does).
  std::vector<double> out(static_cast<std::size_t>(rows * cols));
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      const double sign = a[at(j, j)] < 0 ? -1.0 : 1.0;
      const double value = gain * q[at(i, j)] * sign;
      if (rows >= cols)
        out[static_cast<std::size_t>(i * cols + j)] = value;  // (m × n) = (rows × cols)
      else
        out[static_cast<std::size_t>(j * cols + i)] = value;  // transposed: (n × m) = (rows × cols)
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
  detail::check_json_depth(j, "Initializer.from_config");
  std::string name;
  nlohmann::json config = nlohmann::json::object();
  if (j.is_string()) {
    name = j.get<std::string>();
  } else {
    LOOM_CHECK(j.is_object() && j.contains("class_name") && j["class_name"].is_string(), FormatError,
               "Initializer.from_config: expected a name or {\"class_name\": ..., \"config\": {...}}; got ", detail::json_excerpt(j),
               ".");
    name = j["class_name"].get<std::string>();
    if (j.contains("config")) config = j["config"];
  }
  auto number = [&](const char* key, double fallback) {
    if (!config.contains(key)) return fallback;
    LOOM_CHECK(config[key].is_number(), FormatError, "Initializer.from_config: '", key, "' of ", name,
               " must be a number; got ", detail::json_excerpt(config[key]), ".");
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
