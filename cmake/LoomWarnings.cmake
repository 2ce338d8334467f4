# SPDX-License-Identifier: Apache-2.0
# Warning, sanitizer and assertion flags shared by every loom target (never exported).
add_library(loom_warnings INTERFACE)
# -Wno-missing-field-initializers: options structs are set with designated initializers that name only
# the fields that differ from their defaults ({.return_sequences = true}); GCC 12 flags every one.
target_compile_options(loom_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wno-unused-parameter
  -Wno-missing-field-initializers $<$<CXX_COMPILER_ID:GNU>:-Wno-maybe-uninitialized>)
if(LOOM_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
if(LOOM_ENABLE_ASSERT)
  add_compile_definitions(LOOM_ENABLE_ASSERT=1)
endif()
install(TARGETS loom_warnings EXPORT loomTargets)
