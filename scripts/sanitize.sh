#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The whole test suite under AddressSanitizer + UndefinedBehaviorSanitizer (and LeakSanitizer), in a
# Debug build of its own (build-asan/). Any report fails the run. CI runs this after scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
loom_install "${LOOM_BUILD_DEPS[@]}" "${LOOM_MPI_DEPS[@]}" "${LOOM_HDF5_DEPS[@]}" dataset-fashion-mnist bible-kjv
build=${LOOM_ASAN_BUILD_DIR:-build-asan}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DLOOM_SANITIZE=ON -DLOOM_BUILD_TESTS=ON \
  -DLOOM_BUILD_BENCH=OFF -DLOOM_BUILD_EXAMPLES=ON
cmake --build "$build" --parallel "$(nproc)"
cd "$build"
# allocator_may_return_null: a refused allocation returns null, as glibc's does, so the tests of
# loom's ResourceError see what a real out-of-memory looks like instead of ASan's abort.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The consumer check builds a separate project against the installed library, which needs the
# sanitizer runtime too; it checks packaging, and runs in scripts/test.sh. The runs on emulated CPUs
# (qemu-user) check the ISA choice, not memory, and ASan's shadow memory does not map under qemu.
ctest --output-on-failure --parallel "$(nproc)" --exclude-regex '^consumer\.|^isa\.emulated_' --label-exclude mpi
# The mpirun jobs: Open MPI keeps process-lifetime allocations it never frees, which LeakSanitizer
# would report. They are suppressed by library name (tests/distributed/lsan_openmpi.supp), which
# needs Open MPI's plugins kept loaded and the slow unwinder to name them; a leak with a loom frame
# on its stack still fails.
export OMPI_MCA_mca_base_component_disable_dlclose=1
export LSAN_OPTIONS=suppressions=$PWD/../tests/distributed/lsan_openmpi.supp:print_suppressions=0
export ASAN_OPTIONS=$ASAN_OPTIONS:fast_unwind_on_malloc=0
ctest --output-on-failure --label-regex mpi

