// SPDX-License-Identifier: Apache-2.0
// Custom cells for the layer tests, written as a user would (the seed's MinimalRNNCell and friends).
#pragma once

#include "support/gradcheck.hpp"

namespace loom::testing {

/// The seed's MinimalRNNCell: h = x·kernel + h_prev·recurrent_kernel.
class MinimalRNNCell : public Cell {
 public:
  explicit MinimalRNNCell(std::int64_t units) : Cell("MinimalRNNCell"), units_(units) {}
  std::vector<Shape> state_size() const override { return {{units_}}; }
  CellOutput call(const Var& x, const std::vector<Var>& states, const CellContext&) override {
    const Var h = matmul(x, kernel_) + matmul(states[0], recurrent_kernel_);
    return {h, {h}};
  }
  /// What a saved model needs to rebuild it (with a registered factory).
  nlohmann::json get_config() const override {
    nlohmann::json c = Cell::get_config();
    c["units"] = units_;
    return c;
  }

 protected:
  void build(const Shape& s) override {
    kernel_ = add_weight("kernel", {s[-1], units_}, initializers::glorot_uniform());
    recurrent_kernel_ = add_weight("recurrent_kernel", {units_, units_}, initializers::orthogonal());
  }

 private:
  std::int64_t units_;
  Var kernel_, recurrent_kernel_;
};

/// T38's RNNCellWithConstants: out = x·Wi + h·Wr + c·Wc, an attention-like use of a constant.
class CellWithConstants : public Cell {
 public:
  CellWithConstants(std::int64_t units, std::int64_t constant_size)
      : Cell("CellWithConstants"), units_(units), constant_size_(constant_size) {}
  std::vector<Shape> state_size() const override { return {{units_}}; }
  bool accepts_constants() const override { return true; }
  CellOutput call(const Var& x, const std::vector<Var>& states, const CellContext& ctx) override {
    const Var h = matmul(x, wi_) + matmul(states[0], wr_) + matmul(ctx.constants.at(0), wc_);
    return {h, {h}};
  }

 protected:
  void build(const Shape& s) override {
    wi_ = add_weight("kernel", {s[-1], units_}, initializers::random_uniform(-0.3, 0.3));
    wr_ = add_weight("recurrent_kernel", {units_, units_}, initializers::random_uniform(-0.3, 0.3));
    wc_ = add_weight("constant_kernel", {constant_size_, units_}, initializers::random_uniform(-0.3, 0.3));
  }

 private:
  std::int64_t units_, constant_size_;
  Var wi_, wr_, wc_;
};

/// T40-style high-dimensional state: the state is (2, 3) per sample; s' = s·0.5 + reshape(x·K).
class Matrix2DCell : public Cell {
 public:
  Matrix2DCell() : Cell("Matrix2DCell") {}
  std::vector<Shape> state_size() const override { return {{2, 3}}; }
  CellOutput call(const Var& x, const std::vector<Var>& states, const CellContext&) override {
    const Var s = states[0] * 0.5 + reshape(matmul(x, kernel_), {x.shape(0), 2, 3});
    return {s, {s}};
  }

 protected:
  void build(const Shape& s) override { kernel_ = add_weight("kernel", {s[-1], 6}, initializers::ones()); }

 private:
  Var kernel_;
};

/// T43-style nested cell: inputs ((B, i1), (B, i2, i3)); states ((B, 2), (B, i2, i3)); two outputs.
class NestedCell : public Cell {
 public:
  NestedCell() : Cell("NestedCell") {}
  std::vector<Shape> state_size() const override { return {{2}, {2, 3}}; }
  std::vector<Shape> output_size() const override { return {{2}, {2, 3}}; }
  void build_nested(const std::vector<Shape>& shapes) override {
    k1_ = add_weight("kernel_1", {shapes[0][-1], 2}, initializers::ones());
    mark_built();
  }
  CellOutput call_nested(const std::vector<Var>& x, const std::vector<Var>& s, const CellContext&) override {
    const Var o1 = matmul(x[0], k1_), o2 = x[1] * 2.0;
    return CellOutput(std::vector<Var>{o1, o2}, {s[0] + o1, s[1] + o2});
  }

 private:
  Var k1_;
};

/// A stateless cell: output = 3·x, no states.
class StatelessCell : public Cell {
 public:
  StatelessCell() : Cell("StatelessCell") {}
  std::vector<Shape> state_size() const override { return {}; }
  std::vector<Shape> output_size() const override { return {{4}}; }
  CellOutput call(const Var& x, const std::vector<Var>&, const CellContext&) override { return {x * 3.0, {}}; }
};

}  // namespace loom::testing
