# SPDX-License-Identifier: Apache-2.0
# Warning, sanitizer and assertion flags shared by every loom target (never exported).
add_library(loom_warnings INTERFACE)
# -Wno-missing-field-initializers: options structs are set with designated initializers that name only
# the fields that differ from their defaults ({.return_sequences = true}); GCC 12 flags every one.
target_compile_options(loom_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wno-unused-parameter
  -Wno-missing-field-initializers $<$<CXX_COMPILER_ID:GNU>:-Wno-maybe-uninitialized>)
if(LOOM_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "LOOM_FUZZ needs clang (libFuzzer); configure with -DCMAKE_CXX_COMPILER=clang++")
  endif()
  # Coverage for the whole library, so that the fuzzer sees into the readers it drives.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
elseif(LOOM_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
if(LOOM_ENABLE_ASSERT)
  add_compile_definitions(LOOM_ENABLE_ASSERT=1)
endif()
