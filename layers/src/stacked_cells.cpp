// SPDX-License-Identifier: Apache-2.0
// StackedRNNCells.
#include "loom/layers/stacked_cells.hpp"

#include "config.hpp"

namespace loom {

StackedRNNCells::StackedRNNCells(std::vector<std::shared_ptr<Cell>> cells, std::string name)
    : Cell("StackedRNNCells", std::move(name)), cells_(std::move(cells)) {
  LOOM_CHECK(!cells_.empty(), ValueError, "StackedRNNCells: needs at least one cell.");
  for (std::size_t i = 0; i < cells_.size(); ++i)
    LOOM_CHECK(cells_[i] != nullptr, ValueError, "StackedRNNCells: cell ", i, " is null.");
}

std::vector<Shape> StackedRNNCells::state_size() const {
  std::vector<Shape> out;
  for (const auto& c : cells_)
    for (const Shape& s : c->state_size()) out.push_back(s);
  return out;
}

std::vector<std::size_t> StackedRNNCells::cell_state_counts() const {
  std::vector<std::size_t> out;
  for (const auto& c : cells_) out.push_back(c->state_size().size());
  return out;
}

std::vector<Tensor> StackedRNNCells::get_initial_state(std::int64_t batch_size, DType dtype) const {
  std::vector<Tensor> out;
  for (const auto& c : cells_)
    for (Tensor& t : c->get_initial_state(batch_size, dtype)) out.push_back(std::move(t));
  return out;
}

bool StackedRNNCells::accepts_constants() const {
  for (const auto& c : cells_)
    if (c->accepts_constants()) return true;
  return false;
}

void StackedRNNCells::build_nested(const std::vector<Shape>& shapes) {
  const NameScope scope(*this);  // the cells' paths go through this one (rnn/stacked_rnn_cells/lstm_cell/…)
  std::vector<Shape> in = shapes;
  for (const auto& c : cells_) {
    if (!c->built()) c->set_dtype(dtype());
    c->build_nested(in);
    const std::int64_t batch = in[0][0];
    in.clear();
    for (const Shape& o : c->output_size()) {
      Shape s{batch};
      for (std::int64_t d : o) s.push_back(d);
      in.push_back(s);
    }
  }
  mark_built();
}

CellOutput StackedRNNCells::call_nested(const std::vector<Var>& inputs_t, const std::vector<Var>& states,
                                        const CellContext& ctx) {
  std::vector<Var> x = inputs_t, new_states;
  std::size_t at = 0;
  for (const auto& c : cells_) {
    const std::size_t n = c->state_size().size();
    const std::vector<Var> own(states.begin() + static_cast<std::ptrdiff_t>(at),
                               states.begin() + static_cast<std::ptrdiff_t>(at + n));
    at += n;
    const CellContext inner{c->accepts_constants() ? ctx.constants : std::vector<Var>{}, ctx.training};
    CellOutput out = c->call_nested(x, own, inner);
    x = std::move(out.outputs);
    new_states.insert(new_states.end(), out.states.begin(), out.states.end());
  }
  return CellOutput(std::move(x), std::move(new_states));
}

CellOutput StackedRNNCells::call(const Var& input_t, const std::vector<Var>& states, const CellContext& ctx) {
  return call_nested({input_t}, states, ctx);
}

void StackedRNNCells::begin_call(std::int64_t batch, DType dtype, bool training) {
  for (const auto& c : cells_) c->begin_call(batch, dtype, training);
}

void StackedRNNCells::end_call() {
  for (const auto& c : cells_) c->end_call();
}

std::vector<const Layer*> StackedRNNCells::sublayers() const {
  std::vector<const Layer*> out;
  for (const auto& c : cells_) out.push_back(c.get());
  return out;
}

nlohmann::json StackedRNNCells::get_config() const {
  nlohmann::json c = Cell::get_config();
  c["cells"] = nlohmann::json::array();
  for (const auto& cell : cells_) c["cells"].push_back(cell->to_json());
  return c;
}

std::shared_ptr<Layer> StackedRNNCells::from_config(const nlohmann::json& c) {
  detail::require_object(c, "StackedRNNCells");
  LOOM_CHECK(c.contains("cells") && c.at("cells").is_array(), FormatError,
             "StackedRNNCells.from_config: 'cells' must be a list of cell configs.");
  std::vector<std::shared_ptr<Cell>> cells;
  for (const auto& j : c.at("cells")) {
    auto cell = std::dynamic_pointer_cast<Cell>(layer_from_config(j));
    LOOM_CHECK(cell != nullptr, FormatError, "StackedRNNCells.from_config: ", j.value("class_name", "?"),
               " is not a cell.");
    cells.push_back(std::move(cell));
  }
  auto stack = std::make_shared<StackedRNNCells>(std::move(cells), detail::field<std::string>(c, "name", "", "StackedRNNCells"));
  stack->apply_base_config(c);
  return stack;
}

}  // namespace loom
