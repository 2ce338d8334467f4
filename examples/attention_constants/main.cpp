// SPDX-License-Identifier: Apache-2.0
// Passing external constants to a cell (the seed's "note on passing external constants"): an encoded
// context conditions every step. Task: a sequence of noise carries no label; the context holds one of K
// keys, and the model must say which. Without the constant the task is chance (1/K).
//
//   loom_example_attention_constants [--keys 4] [--steps 300] [--smoke]
#include <loom/loom.hpp>

#include <cstdio>

#include "../common/cli.hpp"

using namespace loom;

/// h' = tanh(x·W + h·U + a), with a = softmax(c·Q)·V: the cell attends over the context's slots once
/// per step (the slots are the K keys' embeddings, the query comes from the constant context c).
class ContextCell : public Cell {
 public:
  ContextCell(std::int64_t units, std::int64_t context_dim) : Cell("ContextCell"), units_(units), context_dim_(context_dim) {}
  std::vector<Shape> state_size() const override { return {{units_}}; }
  bool accepts_constants() const override { return true; }
  CellOutput call(const Var& x, const std::vector<Var>& states, const CellContext& ctx) override {
    const Var weights = softmax(matmul(ctx.constants.at(0), query_));  // (B, context_dim): attention over slots
    const Var h = tanh(matmul(x, kernel_) + matmul(states[0], recurrent_kernel_) + matmul(weights, values_));
    return {h, {h}};
  }

 protected:
  void build(const Shape& s) override {
    kernel_ = add_weight("kernel", {s[-1], units_}, initializers::glorot_uniform());
    recurrent_kernel_ = add_weight("recurrent_kernel", {units_, units_}, initializers::orthogonal());
    query_ = add_weight("query", {context_dim_, context_dim_}, initializers::glorot_uniform());
    values_ = add_weight("values", {context_dim_, units_}, initializers::glorot_uniform());
  }

 private:
  std::int64_t units_, context_dim_;
  Var kernel_, recurrent_kernel_, query_, values_;
};

int main(int argc, char** argv) {
  const loom_examples::Args args(argc, argv, {{"keys", "4"}, {"steps", "300"}, {"smoke", "false"}},
                                 "A cell conditioned on constants: recall which key the context holds.");
  manual_seed(3);
  const bool smoke = args.flag("smoke");
  const std::int64_t keys = args.integer("keys"), batch = 32, time = 12, features = 3;
  const int steps = smoke ? 40 : static_cast<int>(args.integer("steps"));
  Generator data(11);
  auto make_batch = [&](std::int64_t n) {
    Tensor x = Tensor::normal({n, time, features}, 0, 1, DType::f32, &data);
    const Tensor labels = core::argmax(Tensor::uniform({n, keys}, 0, 1, DType::f32, &data), 1);
    Tensor context = Tensor::zeros({n, keys});
    for (std::int64_t i = 0; i < n; ++i) context.at<float>({i, labels.at<std::int64_t>({i})}) = 1.0f;
    return std::tuple{x, context, labels};
  };
  RNN layer(std::make_shared<ContextCell>(16, keys));
  Dense head(keys);
  Adam adam(AdamOptions{.learning_rate = 0.01});
  auto run = [&](const Tensor& x, const Tensor& context, bool training) {
    return head(layer.call(Var(x), {.training = training, .constants = {Var(context)}}).output);
  };
  auto accuracy = [&](bool with_context) {
    const auto [x, context, labels] = make_batch(1000);
    NoGrad inference;
    const Tensor logits = run(x, with_context ? context : Tensor::zeros({1000, keys}), false).value();
    return metrics::sparse_categorical_accuracy().batch(labels, logits).first / 1000.0;
  };
  double first = 0, last = 0;
  for (int step = 0; step < steps; ++step) {
    const auto [x, context, labels] = make_batch(batch);
    GradientTape tape;
    const Var loss = sparse_categorical_crossentropy(labels, run(x, context, true), true);
    std::vector<Var> weights = layer.trainable_weights();
    for (const Var& w : head.trainable_weights()) weights.push_back(w);
    adam.apply_gradients(tape.gradient(loss, weights), weights);
    last = loss.value().item();
    if (step == 0) first = last;
    if (step % 100 == 0) std::printf("step %d: loss %.4f\n", step, last);
  }
  std::printf("accuracy with the context: %.3f; with an empty context: %.3f (chance: %.3f); loss %.4f -> %.4f\n",
              accuracy(true), accuracy(false), 1.0 / static_cast<double>(keys), first, last);
  return last < first ? 0 : 1;
}
