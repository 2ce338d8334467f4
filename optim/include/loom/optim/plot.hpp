// SPDX-License-Identifier: Apache-2.0
// Learning curves as a self-contained SVG: one panel per metric, training and validation curves.
#pragma once

#include <string>

#include "loom/core/export.hpp"
#include "loom/optim/model.hpp"

namespace loom LOOM_API {

/// Options of `plot_history`.
struct PlotOptions {
  std::string title;              ///< above the panels (none when empty)
  std::string x_label = "epoch";  ///< the x axis of every panel
  double x_offset = 1;            ///< added to History::epoch (Keras counts epochs from 0; people from 1)
};

/// Writes `history` as an SVG file at `path`: one panel per metric ("loss" first, then the others
/// by name), each with the training curve and, when the history has "val_<metric>", the validation
/// curve, axes with ticks and labels, and a legend. Non-finite values leave gaps. No plotting
/// library is needed; any browser shows the file. ValueError for a history without values,
/// IOError when the file cannot be written.
///
/// Example:
///   const History h = model.fit(x, y, {.epochs = 10, .validation_split = 0.1});
///   plot_history(h, "curves.svg");
void plot_history(const History& history, const std::string& path, const PlotOptions& options = {});

/// The SVG text that plot_history writes.
std::string history_svg(const History& history, const PlotOptions& options = {});

}  // namespace loom
