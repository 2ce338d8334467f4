// SPDX-License-Identifier: Apache-2.0
// The safetensors reader on arbitrary bytes: every accepted file's tensors lie inside it.
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  loom_fuzz::expect_only_loom_errors([&] {
    const loom::TensorFile f = loom::parse_safetensors(bytes, "fuzz");
    std::size_t total = 0;
    for (const auto& [name, t] : f.tensors) total += t.nbytes();
    if (total > size) std::abort();  // tensors can only hold bytes the file had
  });
  return 0;
}
