// SPDX-License-Identifier: Apache-2.0
// The installed loom::hdf5 links and runs: a model's Keras 3 weights file round-trips.
#include <loom/hdf5/keras_h5.hpp>
#include <loom/loom.hpp>

#include <cstdio>
#include <filesystem>

int main() {
  const std::string path = (std::filesystem::temp_directory_path() / "loom_consumer.weights.h5").string();
  loom::Sequential a({loom::LSTM(4), loom::Dense(1)}), b({loom::LSTM(4), loom::Dense(1)});
  a.build_for({2, 3, 5});
  b.build_for({2, 3, 5});
  loom::save_keras_weights(a, path);
  loom::load_keras_weights(b, path);
  const bool same = a.get_weights()[0].to_vector<double>() == b.get_weights()[0].to_vector<double>();
  std::printf("hdf5 consumer: %s\n", same ? "round trip ok" : "weights differ");
  return same ? 0 : 1;
}
