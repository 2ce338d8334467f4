// SPDX-License-Identifier: Apache-2.0
// StackedRNNCells: several cells run one after the other within each time step.
#pragma once

#include <memory>
#include <vector>

#include "loom/core/export.hpp"
#include "loom/layers/cell.hpp"

namespace loom LOOM_API {

/// Cells stacked within one step: cell i+1 consumes cell i's output. States are in natural order,
/// cell by cell (`state_size()` concatenates them; `cell_state_counts()` says how many each owns).
/// Cell i is built on the previous cell's output size. Constants go to every cell that accepts them;
/// passing constants to a stack none of whose cells accepts them is a ValueError (from the RNN).
///
/// Example:
///   auto stack = std::make_shared<StackedRNNCells>(std::vector<std::shared_ptr<Cell>>{
///       std::make_shared<LSTMCell>(32), std::make_shared<LSTMCell>(64)});
class StackedRNNCells final : public Cell {
 public:
  explicit StackedRNNCells(std::vector<std::shared_ptr<Cell>> cells, std::string name = "");
  std::vector<Shape> state_size() const override;
  std::vector<Shape> output_size() const override { return cells_.back()->output_size(); }
  std::vector<Tensor> get_initial_state(std::int64_t batch_size, DType dtype) const override;
  bool accepts_constants() const override;
  CellOutput call_nested(const std::vector<Var>& inputs_t, const std::vector<Var>& states,
                         const CellContext& ctx) override;
  CellOutput call(const Var& input_t, const std::vector<Var>& states, const CellContext& ctx) override;
  void build_nested(const std::vector<Shape>& step_input_shapes) override;
  void begin_call(std::int64_t batch, DType dtype, bool training) override;
  void end_call() override;
  const std::vector<std::shared_ptr<Cell>>& cells() const noexcept { return cells_; }
  /// Number of states of each cell, in order.
  std::vector<std::size_t> cell_state_counts() const;
  nlohmann::json get_config() const override;
  static std::shared_ptr<Layer> from_config(const nlohmann::json& config);

 protected:
  std::vector<const Layer*> sublayers() const override;

 private:
  std::vector<std::shared_ptr<Cell>> cells_;
};

}  // namespace loom
