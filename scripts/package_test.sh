#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Debian packages, end to end: configure a shared-library build for /usr, make the .debs with
# `cpack -G DEB`, install them with dpkg (root), build tests/consumer against the installed package
# through find_package(loom) and through pkg-config, run both, and remove the packages again.
#
#   scripts/package_test.sh [build-dir]      (default: build-deb)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${1:-build-deb}
[[ $(id -u) == 0 ]] || { echo "package_test: dpkg -i needs root" >&2; exit 2; }
source scripts/deps.sh
loom_install "${LOOM_BUILD_DEPS[@]}" "${LOOM_MPI_DEPS[@]}" "${LOOM_HDF5_DEPS[@]}" dpkg-dev file

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON -DCMAKE_INSTALL_PREFIX=/usr \
  -DLOOM_BUILD_TESTS=OFF -DLOOM_BUILD_BENCH=OFF -DLOOM_BUILD_EXAMPLES=OFF
cmake --build "$build"
rm -f "$build"/*.deb
(cd "$build" && cpack -G DEB)
debs=("$build"/*.deb)
(( ${#debs[@]} == 2 )) || { echo "package_test: expected 2 packages, got ${#debs[@]}" >&2; exit 1; }
for deb in "${debs[@]}"; do
  echo "== $deb"
  dpkg-deb --field "$deb" Package Version Depends
done

cleanup() { dpkg --purge libloom-dev "$(dpkg-deb --field "$build"/libloom0*.deb Package)" >/dev/null 2>&1 || true; }
trap cleanup EXIT
cleanup
dpkg -i "${debs[@]}"
# The shared libraries are where the package says, with their soname links, and export no internals.
dpkg -L "$(dpkg-deb --field "$build"/libloom0*.deb Package)" | grep -E '\.so\.' 
if nm -DC --defined-only /usr/lib/*/libloom_core.so | grep -E ' (T|W) ' | grep -vE ' loom::|typeinfo|vtable|VTT| std::|operator|__gnu_cxx|tbb::' | head -5 | grep .; then
  echo "package_test: libloom_core.so exports symbols outside the loom namespace (above)" >&2
  exit 1
fi
if nm -DC --defined-only /usr/lib/*/libloom_core.so | grep -q 'isa_avx512::\|(anonymous namespace)'; then
  echo "package_test: libloom_core.so exports internal kernels" >&2
  exit 1
fi

# The shipped libraries run on any x86-64-v2 CPU: no AVX outside the per-ISA kernels.
scripts/check_isa_leaks.sh $(dpkg -L "$(dpkg-deb --field "$build"/libloom0*.deb Package)" | grep -E '\.so\.[0-9.]+$' | sort -u)

work=$(mktemp -d)
cmake -S tests/consumer -B "$work/cmake" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$work/cmake"
"$work/cmake/consumer"
soname=libloom_core.so.$(dpkg-deb --field "$build"/libloom0*.deb Version | cut -d. -f1,2)
readelf -d "$work/cmake/consumer" | grep -q "NEEDED.*\[$soname\]" &&
  ldd "$work/cmake/consumer" | grep -q "$soname => /" ||
  { echo "package_test: consumer does not load the installed $soname" >&2; exit 1; }
if [[ -x $work/cmake/consumer_hdf5 ]]; then "$work/cmake/consumer_hdf5"; fi
if [[ -x $work/cmake/consumer_xtensor ]]; then "$work/cmake/consumer_xtensor"; fi
if [[ -x $work/cmake/consumer_distributed ]]; then  # an MPI singleton; Open MPI refuses root without these
  OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "$work/cmake/consumer_distributed"
fi
g++ -std=c++20 -O1 tests/consumer/main.cpp -o "$work/consumer_pc" $(pkg-config --cflags --libs loom)
"$work/consumer_pc"
rm -rf "$work"
echo "package_test: the .debs install, and the consumer builds and runs against them (CMake and pkg-config)"
