// SPDX-License-Identifier: Apache-2.0
// The single Catch2 main of loom_tests (compiled once).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
