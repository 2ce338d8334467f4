// SPDX-License-Identifier: Apache-2.0
// layer_from_config on arbitrary JSON text; what it builds must survive get_config and a rebuild.
#include <nlohmann/json.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  loom_fuzz::expect_only_loom_errors([&] {
    const std::shared_ptr<loom::Layer> layer = loom::layer_from_config(j);
    if (!layer) std::abort();
    const nlohmann::json again = layer->to_json();
    loom::layer_from_config(again);  // a config loom wrote must load back
  });
  return 0;
}
