// SPDX-License-Identifier: Apache-2.0
// The adding problem (Hochreiter & Schmidhuber): sequences of T random numbers in [0, 1), two of them
// marked (one in each half); the target is the sum of the two marked numbers. Predicting 1 scores an
// MSE of 1/6 ≈ 0.167; an LSTM that carries the two values across T = 200 steps goes far below.
//
//   loom_example_adding_problem [--length 200] [--units 64] [--steps 6000] [--minutes 10] [--smoke]
#include <loom/loom.hpp>

#include <chrono>
#include <cstdio>

#include "../common/cli.hpp"

using namespace loom;

namespace {

std::pair<Tensor, Tensor> make_batch(std::int64_t n, std::int64_t length, Generator& gen) {
  Tensor x = Tensor::zeros({n, length, 2});
  Tensor y = Tensor::zeros({n, 1});
  const Tensor values = Tensor::uniform({n, length}, 0, 1, DType::f32, &gen);
  const Tensor picks = Tensor::uniform({n, 2}, 0, 1, DType::f32, &gen);
  const std::int64_t half = length / 2;
  for (std::int64_t i = 0; i < n; ++i) {
    const auto a = static_cast<std::int64_t>(picks.get({i, 0}) * static_cast<double>(half));
    const auto b = half + static_cast<std::int64_t>(picks.get({i, 1}) * static_cast<double>(length - half));
    for (std::int64_t t = 0; t < length; ++t) x.at<float>({i, t, 0}) = values.at<float>({i, t});
    x.at<float>({i, a, 1}) = x.at<float>({i, b, 1}) = 1.0f;
    y.at<float>({i, 0}) = values.at<float>({i, a}) + values.at<float>({i, b});
  }
  return {x, y};
}

}  // namespace

int main(int argc, char** argv) {
  const loom_examples::Args args(argc, argv,
                                 {{"length", "200"}, {"units", "64"}, {"steps", "6000"}, {"batch-size", "64"}, {"lr", "0.002"},
                                  {"minutes", "10"}, {"threads", "0"}, {"smoke", "false"}, {"tensorboard", ""},
                                  {"plot", "adding_problem_curves.svg"}},
                                 "The adding problem with an LSTM.");
  set_num_threads(static_cast<int>(args.integer("threads")));
  manual_seed(5);
  const bool smoke = args.flag("smoke");
  const std::int64_t length = smoke ? 20 : args.integer("length"), batch = args.integer("batch-size");
  const int steps = smoke ? 60 : static_cast<int>(args.integer("steps"));
  Generator train_data(1), test_data(2);
  const auto [test_x, test_y] = make_batch(1000, length, test_data);
  Model model(std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{
      std::make_shared<LSTM>(args.integer("units"), LSTMCellOptions{}, RNNOptions{.name = "lstm"}),
      std::make_shared<Dense>(1, DenseOptions{.name = "sum"})}));
  model.compile(std::make_shared<Adam>(AdamOptions{.learning_rate = args.number("lr"), .clipnorm = 1.0}),
                losses::mse());
  const auto start = std::chrono::steady_clock::now();
  double first = 0, last = 0;
  int done = 0;
  std::unique_ptr<SummaryWriter> tb_train, tb_test;  // view with: tensorboard --logdir DIR
  if (!args.str("tensorboard").empty()) {
    tb_train = std::make_unique<SummaryWriter>(args.str("tensorboard") + "/train");
    tb_test = std::make_unique<SummaryWriter>(args.str("tensorboard") + "/validation");
  }
  History history;  // one point per report, at x = the step
  for (int step = 1; step <= steps; ++step, ++done) {
    const auto [x, y] = make_batch(batch, length, train_data);
    last = model.train_on_batch(x, y).at("loss");
    if (step == 1) first = last;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (tb_train && step % 10 == 0) tb_train->add_scalar("batch_mse", last, step);
    if (step % 250 == 0 || step == 1) {
      const double test_mse = model.evaluate(test_x, test_y, 250).at("loss");
      std::printf("step %5d  train mse %.4f  test mse %.4f  (%.0f s)\n", step, last, test_mse, elapsed);
      std::fflush(stdout);
      history.epoch.push_back(step);
      history.history["mse"].push_back(last);
      history.history["val_mse"].push_back(test_mse);
      if (tb_train) {
        tb_test->add_scalar("mse", test_mse, step);
        tb_train->flush();
        tb_test->flush();
      }
      if (!args.str("plot").empty())
        plot_history(history, args.str("plot"), {.title = "adding problem, T = " + std::to_string(length), .x_label = "step",
                                                 .x_offset = 0});
    }
    if (elapsed > args.number("minutes") * 60) break;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("T = %lld: test mse %.4f after %d steps in %.0f s (predicting 1 scores 0.167)\n", static_cast<long long>(length),
              model.evaluate(test_x, test_y, 250).at("loss"), done, seconds);
  return last < first ? 0 : 1;
}
