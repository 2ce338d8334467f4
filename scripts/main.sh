#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The main job: installs what is missing (build dependencies and Debian's dataset-fashion-mnist), builds
# in Release, and trains the row-sequential Fashion-MNIST LSTM. Extra arguments go to the trainer,
# e.g. `bash scripts/main.sh --epochs 10` for the full setting.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
loom_install "${LOOM_BUILD_DEPS[@]}" dataset-fashion-mnist
build=${LOOM_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLOOM_BUILD_EXAMPLES=ON > /dev/null
cmake --build "$build" --parallel "$(nproc)" --target loom_example_fashion_mnist
mkdir -p runs
cd runs
"../$build/examples/loom_example_fashion_mnist" "$@"
