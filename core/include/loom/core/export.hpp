// SPDX-License-Identifier: Apache-2.0
// LOOM_API: marks loom's public namespaces as exported. loom is built with hidden visibility, so a
// shared libloom exports exactly what its installed headers declare (every public header opens
// `namespace loom LOOM_API`), and the internals of its sources stay private.
#pragma once

#if defined(__GNUC__) || defined(__clang__)
#define LOOM_API __attribute__((visibility("default")))
#else
#define LOOM_API
#endif
