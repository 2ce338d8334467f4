#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs, from Debian's archive, whichever of the given packages are missing (sourced by the other scripts).
loom_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "loom: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# What building loom and its tests needs.
LOOM_BUILD_DEPS=(ca-certificates cmake g++ ninja-build ccache pkg-config libtbb-dev xtensor-dev xtl-dev libxsimd-dev
  catch2 libbenchmark-dev nlohmann-json3-dev zlib1g-dev)
# loom::distributed and its tests under mpirun (found quietly by CMake; the README's test command
# installs them, so CI runs the mpi-labelled tests).
LOOM_MPI_DEPS=(libopenmpi-dev openmpi-bin)
# loom::hdf5 (Keras .weights.h5 / .h5 files; found quietly through pkg-config) and its tests.
LOOM_HDF5_DEPS=(libhdf5-dev pkg-config)
