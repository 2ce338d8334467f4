// SPDX-License-Identifier: Apache-2.0
// Kernels chosen at run time: the choice, forcing a lower set, bitwise identity of the AVX2 and
// AVX-512 kernels, and a committed digest of a reference training run, which a machine of another
// ISA (or the CI machine) checks against this one.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>

#include "loom/loom.hpp"

using namespace loom;

namespace {

bool available(const std::string& name) {
  for (const std::string& n : available_isas())
    if (n == name) return true;
  return false;
}

// Runs `fn` under each named set, then restores the one in use.
class ScopedIsa {
 public:
  explicit ScopedIsa(const std::string& name) : saved_(cpu_isa()) { detail::set_cpu_isa(name); }
  ~ScopedIsa() { detail::set_cpu_isa(saved_); }
  ScopedIsa(const ScopedIsa&) = delete;
  ScopedIsa& operator=(const ScopedIsa&) = delete;

 private:
  std::string saved_;
};

// FNV-1a over the bytes of tensors.
struct Digest {
  std::uint64_t h = 1469598103934665603ull;
  void add(const void* p, std::size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  }
  void add(const Tensor& t) {
    add(t.raw_data(), t.nbytes());
  }
  void add(double v) { add(&v, sizeof v); }
};

// Every kind of kernel the sets hold, f32 and f64, at sizes with partial vectors and tiles.
std::uint64_t kernel_suite() {
  Digest d;
  for (const DType dtype : {DType::f32, DType::f64}) {
    Generator gen(11);
    auto rnd = [&](const Shape& s) { return Tensor::uniform(s, -2, 2, dtype, &gen); };
    const Tensor a = rnd({37, 53}), b = rnd({53, 29}), bt = rnd({29, 53}), at = rnd({53, 37});
    for (const bool big : {false, true}) {  // below and above the packed-A and parallel cut-offs
      const Tensor x = big ? rnd({150, 300}) : a, w = big ? rnd({300, 70}) : b;
      d.add(core::matmul(x, w));
    }
    d.add(core::matmul_nt(a, bt));
    d.add(core::matmul_tn(at, b));
    Tensor c = rnd({37, 29});
    core::gemm(a, false, b, false, c, 0.75, -1.25);
    d.add(c);
    const core::PackedB packed = core::PackedB::pack(bt, true);
    core::gemm(a, false, packed, c, 1.0, 1.0);
    d.add(c);
    const Tensor u = rnd({7, 45}), v = rnd({45});
    for (const Tensor& r : {core::add(u, v), core::sub(u, v), core::mul(u, v), core::div(u, core::add(v, 3.0)),
                            core::neg(u), core::exp(u), core::log(core::add(u, 2.5)), core::tanh(u), core::sigmoid(u),
                            core::hard_sigmoid(u), core::relu(u), core::tanh_backward(u, core::tanh(u)),
                            core::sigmoid_backward(u, core::sigmoid(u)), core::relu_backward(u, core::relu(u)),
                            core::hard_sigmoid_backward(u, u)})
      d.add(r);
    Tensor acc = rnd({7, 45});
    core::axpy_(acc, -0.3, u);
    d.add(acc);
    const Tensor s = rnd({13, 1000});
    for (const Tensor& r : {core::sum(s), core::sum(s, 1), core::sum(s, 0), core::max(s, 1), core::softmax(s),
                            core::log_softmax(s), core::softmax_backward(u, core::softmax(u)),
                            core::log_softmax_backward(u, core::log_softmax(u))})
      d.add(r);
    // A fused LSTM-like chain, forward and backward, with a row-broadcast input.
    core::FusedProgram p;
    auto push = [&](core::FusedInstr i) {
      p.code.push_back(i);
      return static_cast<std::int32_t>(p.code.size() - 1);
    };
    const std::int32_t z = push({core::EwOp::input, -1, -1, 0, 0, 0}), bias = push({core::EwOp::input, -1, -1, 1, 0, 0});
    const std::int32_t g = push({core::EwOp::add, z, bias}), sg = push({core::EwOp::sigmoid, g});
    const std::int32_t th = push({core::EwOp::tanh, g}), out = push({core::EwOp::mul, sg, th});
    p.outputs = {out, push({core::EwOp::mul_scalar, th, -1, -1, 0, 0.5})};
    p.finish(2);
    const Tensor zin = rnd({9, 70}), bin = rnd({70});
    const std::vector<core::FusedInput> in{{zin, 70, false}, {bin, 0, false}};
    const std::vector<Tensor> fwd = core::fused_forward(p, 9, 70, in);
    for (const Tensor& t : fwd) d.add(t);
    std::vector<Tensor> din{Tensor::zeros({9, 70}, dtype), Tensor::zeros({70}, dtype)};
    core::fused_backward(p, 9, 70, in, fwd, {rnd({9, 70}), rnd({9, 70})}, din);
    for (const Tensor& t : din) d.add(t);
  }
  return d.h;
}

// A short training run through the layers, the compiled loop, the losses and Adam.
std::uint64_t training_run() {
  manual_seed(7);
  const Tensor x = Tensor::uniform({48, 10, 3}, -1, 1);
  Tensor y = Tensor::zeros({48}, DType::i64);
  for (std::int64_t i = 0; i < 48; ++i) {
    float s = 0;
    for (std::int64_t t = 0; t < 10; ++t) s += x.data<float>()[(i * 10 + t) * 3];
    y.data<std::int64_t>()[i] = s > 0.5f ? 2 : s < -0.5f ? 0 : 1;
  }
  Model model(Sequential({LSTM(12, {}, {.return_sequences = true}), GRU(8), Dense(3)}));
  model.compile("adam", losses::sparse_categorical_crossentropy(/*from_logits=*/true), {"accuracy"});
  const History h = model.fit(x, y, {.epochs = 2, .batch_size = 16, .verbose = 0});
  Digest d;
  for (const Tensor& w : model.network().get_weights()) d.add(w);
  for (double l : h.history.at("loss")) d.add(l);
  return d.h;
}

// The digest of training_run() with FMA kernels (AVX2 or AVX-512), and with the baseline set.
// Recompute with `LOOM_PRINT_DIGEST=1 loom_tests "[isa]"` after a deliberate numerical change.
constexpr std::uint64_t kTrainingDigestFma = 7199632954188022000ull;
constexpr std::uint64_t kTrainingDigestBaseline = 3676583405151077466ull;

}  // namespace

TEST_CASE("isa: the kernels in use are the CPU's best, or LOOM_ISA's", "[isa]") {
  const std::vector<std::string> sets = available_isas();
  REQUIRE(!sets.empty());
  const std::string chosen(cpu_isa());
  CHECK(available(chosen));
  const char* env = std::getenv("LOOM_ISA");
  if (env && *env && available(env)) {
    CHECK(chosen == env);  // forced lower (ctest runs the suite under each set the CPU has)
  } else {
    CHECK(chosen == sets.front());
  }
#if defined(__x86_64__)
  if (chosen == "native") return;  // a LOOM_ARCH build: one set, for the build machine
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  CHECK(available("baseline"));
  CHECK(available("avx2") == avx2);
  CHECK(available("avx512") == avx512);
  CHECK(sets.front() == (avx512 ? "avx512" : avx2 ? "avx2" : "baseline"));
#endif
  // Set by the ctest runs on emulated CPUs: the choice their CPUID must lead to.
  if (const char* expect = std::getenv("LOOM_EXPECT_ISA")) CHECK(chosen == expect);
}

TEST_CASE("isa: an unknown or unavailable set is refused, and the one in use stays", "[isa]") {
  const std::string before(cpu_isa());
  CHECK_THROWS_AS(detail::set_cpu_isa("sse9"), ValueError);
  CHECK_THROWS_WITH(detail::set_cpu_isa("sse9"),
                    Catch::Matchers::Contains("name must be one of") && Catch::Matchers::Contains("got 'sse9'"));
  CHECK(cpu_isa() == before);
}

TEST_CASE("isa: packed weights serve the set that packed them and are refused by another", "[isa]") {
  const Tensor w = Tensor::uniform({64, 40}, -1, 1), x = Tensor::uniform({5, 64}, -1, 1);
  const core::PackedB packed = core::PackedB::pack(w);
  Tensor direct = Tensor::zeros({5, 40}), via_packed = Tensor::zeros({5, 40});
  core::gemm(x, false, w, false, direct);
  core::gemm(x, false, packed, via_packed);
  CHECK(via_packed.to_vector<float>() == direct.to_vector<float>());  // the same bits, packed or not
  for (const std::string& name : available_isas()) {
    if (name == cpu_isa()) continue;
    ScopedIsa isa(name);
    CAPTURE(name);
    Tensor c = Tensor::zeros({5, 40});
    CHECK_THROWS_AS(core::gemm(x, false, packed, c), StateError);
    CHECK_THROWS_WITH(core::gemm(x, false, packed, c), Catch::Matchers::Contains("another ISA"));
    CHECK(c.to_vector<float>() == std::vector<float>(200, 0.0f));  // nothing written
  }
}

TEST_CASE("isa: the AVX2 and AVX-512 kernels give the same bits", "[isa]") {
  std::vector<std::string> fma;
  for (const char* name : {"avx2", "avx512"})
    if (available(name)) fma.emplace_back(name);
  if (fma.size() < 2) {
    // One FMA set here: the digest test checks it against the other ISA's committed bits. What this
    // process can check is that the set in use repeats its bits.
    WARN("this CPU runs " << fma.size() << " of the FMA sets (avx2, avx512): cross-ISA bits are checked by the digest");
    const std::uint64_t k = kernel_suite(), t = training_run();
    CHECK(kernel_suite() == k);
    CHECK(training_run() == t);
    return;
  }
  std::uint64_t kernels_ref = 0, training_ref = 0;
  {
    ScopedIsa isa(fma.front());
    kernels_ref = kernel_suite();
    training_ref = training_run();
  }
  for (std::size_t i = 1; i < fma.size(); ++i) {
    ScopedIsa isa(fma[i]);
    CAPTURE(fma.front(), fma[i]);
    CHECK(kernel_suite() == kernels_ref);
    CHECK(training_run() == training_ref);
  }
}

TEST_CASE("isa: every set agrees with a plain double-precision reference", "[isa]") {
  // The baseline set (no FMA) may differ from the others in the last bits; each set must still be
  // right: products, softmax, tanh and row sums against loops in double.
  manual_seed(3);
  const Tensor a = Tensor::uniform({40, 300}, -1, 1), b = Tensor::uniform({300, 50}, -1, 1);
  const std::vector<float> av = a.to_vector<float>(), bv = b.to_vector<float>();
  std::vector<double> prod(40 * 50, 0.0), soft(av.size()), th(av.size()), rows(40, 0.0);
  for (int i = 0; i < 40; ++i) {
    double m = -1e300, z = 0;
    for (int k = 0; k < 300; ++k) m = std::max(m, double(av[i * 300 + k]));
    for (int k = 0; k < 300; ++k) z += std::exp(double(av[i * 300 + k]) - m);
    for (int k = 0; k < 300; ++k) {
      const double v = av[i * 300 + k];
      soft[i * 300 + k] = std::exp(v - m) / z;
      th[i * 300 + k] = std::tanh(v);
      rows[i] += v;
      for (int j = 0; j < 50; ++j) prod[i * 50 + j] += v * double(bv[k * 50 + j]);
    }
  }
  for (const std::string& name : available_isas()) {
    ScopedIsa isa(name);
    CAPTURE(name);
    const std::pair<Tensor, const std::vector<double>*> results[] = {
        {core::matmul(a, b), &prod}, {core::softmax(a), &soft}, {core::tanh(a), &th}, {core::sum(a, 1), &rows}};
    for (const auto& [got, want] : results) {
      const std::vector<float> g = got.to_vector<float>();
      REQUIRE(g.size() == want->size());
      for (std::size_t j = 0; j < g.size(); ++j) REQUIRE(g[j] == Approx((*want)[j]).epsilon(1e-5).margin(1e-5));
    }
  }
}

TEST_CASE("isa: a reference training run reproduces its committed digest", "[isa]") {
  const std::string isa(cpu_isa());
  const std::uint64_t digest = training_run();
  if (std::getenv("LOOM_PRINT_DIGEST")) WARN(isa << " training digest: " << digest << "ull");
  if (isa == "native") {
    WARN("a LOOM_ARCH build has no committed digest: its code depends on the build machine");
  } else if (isa == "baseline") {
    CHECK(digest == kTrainingDigestBaseline);
  } else {
    CHECK(digest == kTrainingDigestFma);  // the same on every AVX2 and AVX-512 machine
  }
}
