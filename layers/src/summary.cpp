// SPDX-License-Identifier: Apache-2.0
// summary(): Keras's model table, in tf.keras 2.x's layout (print_summary with line_length 65 and
// column stops at 45%, 85% and 100%).
#include <sstream>
#include <string>
#include <vector>

#include "loom/core/check.hpp"
#include "loom/layers/layer.hpp"
#include "loom/layers/wrappers.hpp"

namespace loom {
namespace {

constexpr int kLineLength = 65;
constexpr int kStops[3] = {29, 55, 65};  // int(65 · 0.45), int(65 · 0.85), 65

// A Python tuple of the shape, the batch axis (and any unknown extent) as None: "(None, 28, 64)".
std::string shape_text(const Shape& s) {
  if (s.empty()) return "?";
  std::string out = "(";
  for (int i = 0; i < s.rank(); ++i) {
    if (i > 0) out += ", ";
    out += i == 0 || s[i] < 0 ? "None" : std::to_string(s[i]);
  }
  return out + (s.rank() == 1 ? ",)" : ")");
}

// 1234567 → "1,234,567", as Python's "{:,}".
std::string grouped(std::int64_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// Each field starts at the previous stop (over the previous field's last character when it ran
// long) and is cut at its own stop, then padded to it: Keras's print_row.
std::string row(const std::vector<std::string>& fields) {
  std::string line;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) line.back() = ' ';
    line += fields[i];
    const auto stop = static_cast<std::size_t>(kStops[i]);
    if (line.size() > stop) line.resize(stop);
    line.append(stop - line.size(), ' ');
  }
  return line;
}

std::int64_t numel_of(const std::vector<Var>& weights) {
  std::int64_t n = 0;
  for (const Var& w : weights) n += w.numel();
  return n;
}

}  // namespace

std::string summary(const Layer& model) {
  LOOM_CHECK(model.built(), StateError, "summary: ", model.name(),
             " is not built yet; call it on a batch, or build_for(input_shape), first.");
  std::vector<const Layer*> rows{&model};
  Shape shape = model.built_input_shape();
  if (const auto* seq = dynamic_cast<const Sequential*>(&model)) {
    rows.clear();
    for (const auto& l : seq->layers()) rows.push_back(l.get());
  }
  std::ostringstream out;
  out << "Model: \"" << model.name() << "\"\n" << std::string(kLineLength, '_') << '\n';
  out << row({"Layer (type)", "Output Shape", "Param #"}) << '\n' << std::string(kLineLength, '=') << '\n';
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Layer& l = *rows[i];
    if (!shape.empty()) shape = l.compute_output_shape(shape);
    out << row({l.name() + " (" + l.class_name() + ")", shape_text(shape), std::to_string(l.count_params())}) << '\n';
    out << std::string(kLineLength, i + 1 == rows.size() ? '=' : '_') << '\n';
  }
  const std::int64_t trainable = numel_of(model.trainable_weights());
  const std::int64_t frozen = numel_of(model.non_trainable_weights());
  out << "Total params: " << grouped(trainable + frozen) << '\n'
      << "Trainable params: " << grouped(trainable) << '\n'
      << "Non-trainable params: " << grouped(frozen) << '\n'
      << std::string(kLineLength, '_') << '\n';
  return out.str();
}

}  // namespace loom
