// SPDX-License-Identifier: Apache-2.0
// The instruction set loom's kernels run with, chosen once per process from the CPU.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "loom/core/export.hpp"

namespace loom LOOM_API {

/// The kernels in use: "avx512" (AVX-512 F/BW/DQ/VL), "avx2" (AVX2 + FMA) or "baseline"
/// (x86-64-v2), chosen at the first kernel call as the best the CPU runs; or "native" when loom
/// was built with LOOM_ARCH (one set of kernels, for the build machine).
///
/// The environment variable LOOM_ISA (one of the names above) forces a lower set, for testing;
/// a name this build or CPU cannot run is refused with a warning on stderr, and the best is used.
///
/// Results are bitwise identical under "avx2" and "avx512" (and so across machines with either),
/// as they are for any thread count. "baseline" has no fused multiply-add: its results may differ
/// from theirs in the last bits.
std::string_view cpu_isa() noexcept;

/// The kernel sets this build holds and this CPU runs, best first.
std::vector<std::string> available_isas();

namespace detail {
/// Switches the kernels to `name` (one of available_isas()), for tests that compare ISAs in one
/// process. Not safe while kernels run on other threads; weights packed before the switch
/// (core::PackedB) are refused by the GEMM afterwards. ValueError for a name not available.
void set_cpu_isa(std::string_view name);
}  // namespace detail

}  // namespace loom
