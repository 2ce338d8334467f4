// SPDX-License-Identifier: Apache-2.0
// Built against the installed package with loom::xtensor: the interop header finds xtensor's headers.
#include <loom/core/xtensor.hpp>

#include <cstdio>

int main() {
  loom::Tensor t = loom::Tensor::zeros({2, 3});
  auto view = loom::xt_view<float>(t);
  view(1, 2) = 5.0f;
  const loom::Tensor back = loom::from_xtensor(view);
  const bool ok = t.get({1, 2}) == 5.0 && back.get({1, 2}) == 5.0 && back.shape() == loom::Shape{2, 3};
  std::printf("consumer_xtensor: %s\n", ok ? "ok" : "wrong");
  return ok ? 0 : 1;
}
