// SPDX-License-Identifier: Apache-2.0
#include "loom/version.hpp"

const char* loom::library_version() noexcept { return LOOM_BUILT_VERSION; }
