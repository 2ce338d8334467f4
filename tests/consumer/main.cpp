// SPDX-License-Identifier: Apache-2.0
// Built against the installed package: includes <loom/loom.hpp>, links loom::loom, checks one product.
#include <loom/loom.hpp>

#include <cstdio>

int main() {
  const loom::Tensor a = loom::Tensor::of({1, 2, 3, 4}, {2, 2});
  const loom::Tensor c = loom::core::matmul(a, a);  // [[7, 10], [15, 22]]
  const bool ok = c.get({0, 0}) == 7 && c.get({0, 1}) == 10 && c.get({1, 0}) == 15 && c.get({1, 1}) == 22;
  std::printf("consumer: %s\n", ok ? "ok" : "wrong result");
  return ok ? 0 : 1;
}
