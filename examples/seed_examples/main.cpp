// SPDX-License-Identifier: Apache-2.0
// The seed's examples: a custom MinimalRNNCell used alone, RNN(MinimalRNNCell(32)), and stacked,
// RNN([MinimalRNNCell(32), MinimalRNNCell(64)]), trained for a few epochs on a toy task (the mean of a
// sequence) to show how a custom cell is written and used.
//
//   loom_example_seed_examples [--epochs 20] [--smoke]
#include <loom/loom.hpp>

#include <cstdio>

#include "../common/cli.hpp"

using namespace loom;

/// The seed's MinimalRNNCell: output = x·kernel + h_prev·recurrent_kernel; state_size = units.
class MinimalRNNCell : public Cell {
 public:
  explicit MinimalRNNCell(std::int64_t units) : Cell("MinimalRNNCell"), units_(units) {}
  std::vector<Shape> state_size() const override { return {{units_}}; }
  CellOutput call(const Var& inputs, const std::vector<Var>& states, const CellContext&) override {
    const Var h = matmul(inputs, kernel_);
    const Var output = h + matmul(states[0], recurrent_kernel_);
    return {output, {output}};
  }

 protected:
  void build(const Shape& input_shape) override {
    kernel_ = add_weight("kernel", {input_shape[-1], units_}, initializers::glorot_uniform());
    recurrent_kernel_ = add_weight("recurrent_kernel", {units_, units_}, initializers::orthogonal(0.5));
  }

 private:
  std::int64_t units_;
  Var kernel_, recurrent_kernel_;
};

int main(int argc, char** argv) {
  const loom_examples::Args args(argc, argv, {{"epochs", "20"}, {"smoke", "false"}}, "The seed's MinimalRNNCell examples.");
  manual_seed(7);
  const bool smoke = args.flag("smoke");
  const int epochs = smoke ? 3 : static_cast<int>(args.integer("epochs"));
  // Inputs (None, 5) per step as in the seed: here 8 steps; target: the mean over time of the features' sum.
  Generator gen(1);
  const Tensor x = Tensor::uniform({smoke ? 128 : 1024, 8, 5}, -1, 1, DType::f32, &gen);
  const Tensor y = core::sum(core::mean(x, 1), 1, true);

  bool ok = true;
  for (bool stacked : {false, true}) {
    // cell = MinimalRNNCell(32); layer = RNN(cell)   /   cells = [MinimalRNNCell(32), MinimalRNNCell(64)]
    std::shared_ptr<RNN> layer =
        stacked ? std::make_shared<RNN>(std::vector<std::shared_ptr<Cell>>{std::make_shared<MinimalRNNCell>(32),
                                                                          std::make_shared<MinimalRNNCell>(64)})
                : std::make_shared<RNN>(std::make_shared<MinimalRNNCell>(32));
    Model model(std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{layer, std::make_shared<Dense>(1)}));
    model.compile(std::make_shared<Adam>(AdamOptions{.learning_rate = 0.003}), losses::mse());
    const double before = model.evaluate(x, y).at("loss");
    const History h = model.fit(x, y, {.epochs = epochs, .batch_size = 32, .verbose = 0});
    const double after = model.evaluate(x, y).at("loss");
    std::printf("%s: output %s, %lld parameters; mse %.4f -> %.4f after %d epochs\n",
                stacked ? "RNN([MinimalRNNCell(32), MinimalRNNCell(64)])" : "RNN(MinimalRNNCell(32))",
                layer->compute_output_shape(x.shape()).to_string().c_str(), static_cast<long long>(model.network().count_params()),
                before, after, static_cast<int>(h.epoch.size()));
    ok = ok && after < before;
  }
  return ok ? 0 : 1;
}
