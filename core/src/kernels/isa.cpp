// SPDX-License-Identifier: Apache-2.0
// Chooses the kernel set: the best ISA that this build holds and the CPU runs, or LOOM_ISA's.
#include "isa.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "loom/core/check.hpp"
#include "loom/core/cpu.hpp"
#include "loom/core/error.hpp"

// The ISAs built, one namespace each (CMake defines LOOM_ISA_<NAME> for each one it compiles).
#define LOOM_DECLARE_ISA(ns)                                                  \
  namespace loom::core::ns {                                                  \
  void fill_elementwise(isa::Kernels<float>&, isa::Kernels<double>&);         \
  void fill_reduce(isa::Kernels<float>&, isa::Kernels<double>&);              \
  void fill_gemm(isa::Kernels<float>&, isa::Kernels<double>&);                \
  void fill_fused(isa::Kernels<float>&, isa::Kernels<double>&);               \
  }
#if LOOM_ISA_NATIVE
LOOM_DECLARE_ISA(isa_native)
#endif
#if LOOM_ISA_AVX512
LOOM_DECLARE_ISA(isa_avx512)
#endif
#if LOOM_ISA_AVX2
LOOM_DECLARE_ISA(isa_avx2)
#endif
#if LOOM_ISA_BASELINE
LOOM_DECLARE_ISA(isa_baseline)
#endif

namespace loom::core::isa {
namespace {

struct Tables {
  Kernels<float> f32{};
  Kernels<double> f64{};
  KernelSet set{};
};

using Fill = void (*)(Kernels<float>&, Kernels<double>&);

struct Candidate {
  const char* name;
  bool (*runs)();
  Fill parts[4];
};

bool always() { return true; }
#if LOOM_ISA_AVX2 || LOOM_ISA_AVX512
bool has_avx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi") &&
         __builtin_cpu_supports("bmi2");
}
bool has_avx512() {
  __builtin_cpu_init();
  return has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512cd");
}
#endif

#define LOOM_CANDIDATE(label, ns, test) \
  Candidate{label, test, {&ns::fill_elementwise, &ns::fill_reduce, &ns::fill_gemm, &ns::fill_fused}}

// Best first.
const Candidate kCandidates[] = {
#if LOOM_ISA_NATIVE
    LOOM_CANDIDATE("native", core::isa_native, always),
#endif
#if LOOM_ISA_AVX512
    LOOM_CANDIDATE("avx512", core::isa_avx512, has_avx512),
#endif
#if LOOM_ISA_AVX2
    LOOM_CANDIDATE("avx2", core::isa_avx2, has_avx2),
#endif
#if LOOM_ISA_BASELINE
    LOOM_CANDIDATE("baseline", core::isa_baseline, always),
#endif
};
constexpr std::size_t kCount = sizeof(kCandidates) / sizeof(kCandidates[0]);

// Every set the build holds and the CPU runs, filled once. The fill functions are compiled for their
// own ISA too, so a set the CPU cannot run is never filled (its code never runs at all).
const KernelSet* set_at(std::size_t i) {
  static Tables tables[kCount];
  static const bool filled = [] {
    for (std::size_t k = 0; k < kCount; ++k) {
      if (!kCandidates[k].runs()) continue;
      for (Fill f : kCandidates[k].parts) f(tables[k].f32, tables[k].f64);
      tables[k].set = {kCandidates[k].name, &tables[k].f32, &tables[k].f64};
    }
    return true;
  }();
  (void)filled;
  return &tables[i].set;
}

std::size_t find(std::string_view name) {
  for (std::size_t i = 0; i < kCount; ++i)
    if (name == kCandidates[i].name) return i;
  return kCount;
}

// The best set the CPU runs, or the one LOOM_ISA names when the CPU runs it.
std::size_t choose() {
  std::size_t best = 0;
  while (best + 1 < kCount && !kCandidates[best].runs()) ++best;
  const char* env = std::getenv("LOOM_ISA");
  if (!env || !*env) return best;
  const std::size_t forced = find(env);
  if (forced < kCount && forced >= best) return forced;
  std::string names;
  for (std::size_t i = best; i < kCount; ++i) names += std::string(i > best ? ", " : "") + kCandidates[i].name;
  std::fprintf(stderr, "loom: LOOM_ISA=%s is not available here (this build and CPU run: %s); using %s.\n", env,
               names.c_str(), kCandidates[best].name);
  return best;
}

std::atomic<const KernelSet*>& current() {
  static std::atomic<const KernelSet*> set{set_at(choose())};
  return set;
}

}  // namespace

const KernelSet& active() noexcept { return *current().load(std::memory_order_acquire); }

}  // namespace loom::core::isa

namespace loom {

std::string_view cpu_isa() noexcept { return core::isa::active().name; }

std::vector<std::string> available_isas() {
  std::vector<std::string> out;
  for (const auto& c : core::isa::kCandidates)
    if (c.runs()) out.emplace_back(c.name);
  return out;
}

void detail::set_cpu_isa(std::string_view name) {
  using namespace core::isa;
  const std::size_t i = find(name);
  LOOM_CHECK(i < kCount && kCandidates[i].runs(), ValueError, "set_cpu_isa: name must be one of the available ISAs (",
             [] {
               std::string s;
               for (const std::string& n : available_isas()) s += (s.empty() ? "" : ", ") + n;
               return s;
             }(),
             "); got '", name, "'.");
  current().store(set_at(i), std::memory_order_release);
}

}  // namespace loom
