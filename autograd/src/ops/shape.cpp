// SPDX-License-Identifier: Apache-2.0
// Shape ops: reshape, transpose, slice, concat, stack, unstack, split.
#include "loom/autograd/ops/shape.hpp"

#include "loom/autograd/record.hpp"
#include "loom/core/check.hpp"
#include "loom/core/layout.hpp"

namespace loom {
namespace {

using detail::OpInfo;
using detail::OpKind;

/// y = x viewed with a new shape.  dx = dy viewed with x's shape.
struct ReshapeOp {
  static constexpr const char* name = "reshape";
  Shape to;
  Shape from;
  Tensor forward(const Tensor& x) {
    from = x.shape();
    LOOM_CHECK(to.numel() == x.numel(), ValueError, name, ": cannot reshape ", x.shape(), " into ", to, ".");
    return x.reshape(to);
  }
  void backward(const Tensor& dy, Grads& g) const { g.add(0, dy.reshape(from)); }
};

/// y = x with its last two axes swapped.  dx = dy with them swapped back.
struct TransposeOp {
  static constexpr const char* name = "transpose";
  Tensor forward(const Tensor& x) {
    LOOM_CHECK(x.dimension() >= 2, ValueError, name, ": x must be at least 2-D; got shape ", x.shape(), ".");
    return x.transpose();
  }
  void backward(const Tensor& dy, Grads& g) const { g.add(0, dy.transpose()); }
};

/// y = x reversed along axis.  dx = dy reversed along axis.
struct ReverseOp {
  static constexpr const char* name = "reverse";
  int axis;
  Tensor forward(const Tensor& x) {
    axis = x.shape().axis(axis, name);
    return core::flip(x, axis);
  }
  void backward(const Tensor& dy, Grads& g) const { g.add(0, core::flip(dy, axis)); }
};

/// y = x[start : start+length] along axis.  dx = zeros with dy written at that range.
struct SliceOp {
  static constexpr const char* name = "slice";
  OpInfo info() const {
    return {OpKind::along_axis, axis < 0 ? axis + shape.rank() : axis, shape, {}, core::EwOp::input, 0, 0, start, length};
  }
  int axis;
  std::int64_t start, length;
  Shape shape;
  Tensor forward(const Tensor& x) {
    shape = x.shape();
    return core::slice(x, axis, start, length);
  }
  void backward(const Tensor& dy, Grads& g) const {
    Tensor dx = Tensor::zeros(shape, dy.dtype());
    core::slice_assign(dx, dy, axis, start);
    g.add(0, dx);
  }
};

/// y = concat(xs, axis).  dxᵢ = the slice of dy that xᵢ filled.
struct ConcatOp {
  static constexpr const char* name = "concat";
  OpInfo info() const { return {OpKind::along_axis, axis, {}, {}}; }
  int axis;
  std::vector<std::int64_t> extents;
  Tensor forward(const std::vector<Tensor>& xs) {
    Tensor y = core::concat(xs, axis);
    axis = y.shape().axis(axis, name);
    extents.clear();
    for (const Tensor& x : xs) extents.push_back(x.shape(axis));
    return y;
  }
  void backward(const Tensor& dy, Grads& g) const {
    std::int64_t at = 0;
    for (std::size_t i = 0; i < extents.size(); ++i) {
      if (g.needed(i)) g.add(i, core::slice(dy, axis, at, extents[i]));
      at += extents[i];
    }
  }
};

Shape insert_axis(const Shape& s, int axis) {
  Shape out;
  for (int i = 0; i <= s.rank(); ++i) {
    if (i == axis) out.push_back(1);
    if (i < s.rank()) out.push_back(s[i]);
  }
  return out;
}

Shape remove_axis(const Shape& s, int axis) {
  Shape out;
  for (int i = 0; i < s.rank(); ++i)
    if (i != axis) out.push_back(s[i]);
  return out;
}

int stack_axis(const char* api, int axis, int rank) {
  LOOM_CHECK(axis >= -(rank + 1) && axis <= rank, ValueError, api, ": axis ", axis, " is out of range for rank ",
             rank, " inputs.");
  return axis < 0 ? axis + rank + 1 : axis;
}

/// y = the xs stacked along a new axis.  dxᵢ = dy's entry i along it.
struct StackOp {
  static constexpr const char* name = "stack";
  int axis;
  Shape item;
  Tensor forward(const std::vector<Tensor>& xs) {
    LOOM_CHECK(!xs.empty(), ValueError, name, ": needs at least one Var.");
    item = xs[0].shape();
    axis = stack_axis(name, axis, item.rank());
    std::vector<Tensor> expanded;
    for (std::size_t i = 0; i < xs.size(); ++i) {
      LOOM_CHECK(xs[i].shape() == item, ValueError, name, ": xs[", i, "] has shape ", xs[i].shape(),
                 " but xs[0] has shape ", item, ".");
      expanded.push_back(xs[i].reshape(insert_axis(item, axis)));
    }
    return core::concat(expanded, axis);
  }
  void backward(const Tensor& dy, Grads& g) const {
    for (std::int64_t i = 0; i < dy.shape(axis); ++i)
      if (g.needed(static_cast<std::size_t>(i))) g.add(static_cast<std::size_t>(i), core::slice(dy, axis, i, 1).reshape(item));
  }
};

// Gradient pieces of a multi-output split: zeros for outputs that received none.
std::vector<Tensor> fill_missing(const std::vector<Tensor>& dys, const Shape& piece, DType dtype) {
  std::vector<Tensor> out;
  for (const Tensor& d : dys) out.push_back(d.defined() ? d : Tensor::zeros(piece, dtype));
  return out;
}

/// ys = x's entries along axis (axis removed).  dx = stack(dys).
struct UnstackOp {
  static constexpr const char* name = "unstack";
  int axis;
  Shape piece;
  std::vector<Tensor> forward(const Tensor& x) {
    axis = x.shape().axis(axis, name);
    piece = remove_axis(x.shape(), axis);
    std::vector<Tensor> ys;
    for (std::int64_t i = 0; i < x.shape(axis); ++i) ys.push_back(core::slice(x, axis, i, 1).reshape(piece));
    return ys;
  }
  void backward(const std::vector<Tensor>& dys, Grads& g) const {
    std::vector<Tensor> parts;
    for (const Tensor& d : fill_missing(dys, piece, dys_dtype(dys))) parts.push_back(d.reshape(insert_axis(piece, axis)));
    g.add(0, core::concat(parts, axis));
  }
  static DType dys_dtype(const std::vector<Tensor>& dys) {
    for (const Tensor& d : dys)
      if (d.defined()) return d.dtype();
    return DType::f32;
  }
};

/// ys = `parts` equal pieces of x along axis.  dx = concat(dys).
struct SplitOp {
  static constexpr const char* name = "split";
  OpInfo info() const { return {OpKind::along_axis, axis, {}, {}, core::EwOp::input, 0, parts, 0, piece[axis]}; }
  int parts;
  int axis;
  Shape piece;
  std::vector<Tensor> forward(const Tensor& x) {
    axis = x.shape().axis(axis, name);
    LOOM_CHECK(parts > 0 && x.shape(axis) % parts == 0, ValueError, name, ": axis ", axis, " of shape ", x.shape(),
               " cannot be split into ", parts, " equal parts.");
    const std::int64_t len = x.shape(axis) / parts;
    piece = x.shape();
    piece[axis] = len;
    std::vector<Tensor> ys;
    for (int i = 0; i < parts; ++i) ys.push_back(core::slice(x, axis, i * len, len));
    return ys;
  }
  void backward(const std::vector<Tensor>& dys, Grads& g) const {
    g.add(0, core::concat(fill_missing(dys, piece, UnstackOp::dys_dtype(dys)), axis));
  }
};

}  // namespace

Var reshape(const Var& x, const Shape& shape) { return record(ReshapeOp{shape, {}}, x); }
Var reshape(const Var& x, std::initializer_list<std::int64_t> dims) {
  return reshape(x, x.value().reshape(dims).shape());
}
Var transpose(const Var& x) { return record(TransposeOp{}, x); }
Var reverse(const Var& x, int axis) { return record(ReverseOp{axis}, x); }
Var slice(const Var& x, int axis, std::int64_t start, std::int64_t length) {
  return record(SliceOp{axis, start, length, {}}, x);
}
Var concat(const std::vector<Var>& xs, int axis) { return record_list(ConcatOp{axis, {}}, xs); }
Var stack(const std::vector<Var>& xs, int axis) { return record_list(StackOp{axis, {}}, xs); }
std::vector<Var> unstack(const Var& x, int axis) { return record_multi(UnstackOp{axis, {}}, x); }
std::vector<Var> split(const Var& x, int parts, int axis) { return record_multi(SplitOp{parts, axis, {}}, x); }

}  // namespace loom
