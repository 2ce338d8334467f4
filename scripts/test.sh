#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what is missing, builds loom and its tests (Release), and runs the whole suite with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
# The data packages let every example run its smoke test; oneDNN lets bench.peers_agree check loom
# against its fused RNN primitives (libtorch-dev, a large download, joins that check when installed);
# Open MPI builds loom::distributed and runs its tests under mpirun -np 2 (label mpi); HDF5 builds
# loom::hdf5 and its tests of Keras weight files; qemu-user runs the kernel tests on emulated CPUs
# without AVX and without AVX-512 (ctest isa.emulated_*).
loom_install "${LOOM_BUILD_DEPS[@]}" "${LOOM_MPI_DEPS[@]}" "${LOOM_HDF5_DEPS[@]}" dataset-fashion-mnist bible-kjv libdnnl-dev \
  qemu-user
build=${LOOM_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLOOM_BUILD_TESTS=ON -DLOOM_BUILD_BENCH=ON
cmake --build "$build" --parallel "$(nproc)"
cd "$build"
ctest --output-on-failure --parallel "$(nproc)"
