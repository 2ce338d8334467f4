// SPDX-License-Identifier: Apache-2.0
// Layer: the Keras layer protocol — names, lazily built weights, weight I/O, masks and configs.
#pragma once

#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "loom/autograd/var.hpp"
#include "loom/core/export.hpp"
#include "loom/layers/initializers.hpp"

namespace loom LOOM_API {

/// What a layer's forward receives besides its input: the Keras mask of the input (empty when none)
/// and whether it runs in training mode (dropout applies only then). Constructed, not aggregate-
/// initialised, so that `rnn.call(x, {.mask = m})` unambiguously means the RNN's richer arguments.
struct CallContext {
  CallContext() = default;
  explicit CallContext(Tensor mask_, bool training_ = false) : mask(std::move(mask_)), training(training_) {}
  static CallContext train() { return CallContext(Tensor(), true); }
  Tensor mask;
  bool training = false;
};

/// Base of every layer, after `tf.keras.layers.Layer`.
///
/// - A name, unique per class like Keras's defaults (`lstm`, `lstm_1`, …) unless given.
/// - Weights are created by `build(input_shape)` on the first call, through `add_weight`, which
///   registers them by name; registration order is the order of `get_weights()`.
/// - `get_weights` / `set_weights` copy values out and in (count and shapes checked first; nothing
///   changes on error). `count_params` needs a built layer (StateError otherwise).
/// - `get_config()` returns the constructor arguments as JSON; `layer_from_config` rebuilds any
///   registered layer from `{"class_name": ..., "config": ...}`.
///
/// Example:
///   Dense dense(10, {.activation = Activation::relu});
///   Var y = dense(x);                 // builds kernel (in, 10) and bias (10,) from x's shape
///   std::vector<Tensor> w = dense.get_weights();
class Layer {
 public:
  Layer(std::string class_name, std::string name);
  virtual ~Layer();
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;
  /// A temporary layer moves into shared ownership (see `Ref`); weights, if built, move with it.
  Layer(Layer&&) noexcept = default;
  Layer& operator=(Layer&&) = delete;

  const std::string& name() const noexcept { return name_; }
  const std::string& class_name() const noexcept { return class_name_; }
  /// Renames the layer (before it is built: weight names derive from it). StateError once built.
  void set_name(std::string name);
  bool built() const noexcept { return built_; }
  bool trainable() const noexcept { return trainable_; }
  void set_trainable(bool trainable) noexcept { trainable_ = trainable; }
  /// The dtype of the weights the layer creates (f32 by default). Set it before the first call.
  DType dtype() const noexcept { return dtype_; }
  void set_dtype(DType dtype);

  /// Builds (once) for `input_shape`, then runs `call`.
  Var operator()(const Var& inputs, const CallContext& ctx = {});
  /// Creates the weights for an input of `input_shape` (batch axis included) and marks the layer
  /// built. Calling it on a built layer does nothing.
  void build_for(const Shape& input_shape);
  /// The input shape the layer was built for (batch axis included); empty if it was built another way
  /// (a cell built by its RNN) or not at all.
  const Shape& built_input_shape() const noexcept { return built_input_shape_; }

  /// The forward of a single-input layer (what Sequential calls). Throws NotImplementedError for
  /// layers that are not called this way (cells).
  virtual Var call(const Var& inputs, const CallContext& ctx);
  /// The mask of the output, given the input and its mask. Default: the input mask passes through.
  virtual Tensor compute_mask(const Var& inputs, const Tensor& mask) const;
  /// The output shape for an input shape (−1 marks an unknown extent).
  virtual Shape compute_output_shape(const Shape& input_shape) const;

  /// Own weights, then those of sublayers; trainable ones only when the layer is trainable.
  std::vector<Var> trainable_weights() const;
  std::vector<Var> non_trainable_weights() const;
  /// trainable_weights() followed by non_trainable_weights(), as in Keras.
  std::vector<Var> weights() const;
  std::vector<Tensor> get_weights() const;
  /// Copies `values` into the weights (same count, shapes and order as `weights()`). Throws
  /// ValueError naming the first mismatch, before changing anything.
  void set_weights(const std::vector<Tensor>& values);
  std::int64_t count_params() const;

  /// The constructor arguments (and `name`, `trainable`, `dtype`) as a JSON object.
  virtual nlohmann::json get_config() const;
  /// `{"class_name": class_name(), "config": get_config()}`.
  nlohmann::json to_json() const;

  /// Layers whose weights this layer owns (a cell in an RNN, the layers of a Sequential).
  virtual std::vector<const Layer*> sublayers() const;

  /// Restarts the per-class counters behind default names (Keras's `clear_session`).
  static void reset_name_counters();
  /// Restores `trainable` and `dtype` from a config; from_config functions call it on the layer they
  /// construct (the name goes to the constructor).
  void apply_base_config(const nlohmann::json& config);

 protected:
  /// Creates the weights; called once, by `build_for`.
  virtual void build(const Shape& input_shape);
  /// Registers and initialises a weight named `name` with this layer's dtype. Its full name is the
  /// Keras 3 path: the names of the layers being built around this one, this layer's name, then
  /// `name` (`sequential/bidirectional/forward_lstm/lstm_cell/kernel`).
  Var add_weight(const std::string& name, const Shape& shape, const Initializer& initializer, bool trainable = true);
  void mark_built() noexcept { built_ = true; }

  /// While alive, this layer encloses the weights created on this thread: a container that builds
  /// its sublayers outside `build` (as StackedRNNCells::build_nested does) opens one around them so
  /// that their paths name it. `build_for` opens one around `build`.
  class NameScope {
   public:
    explicit NameScope(const Layer& layer);
    ~NameScope();
    NameScope(const NameScope&) = delete;
    NameScope& operator=(const NameScope&) = delete;
  };

 private:
  void collect(std::vector<Var>& out, bool trainable) const;
  std::string class_name_;
  std::string name_;
  bool trainable_ = true;
  bool built_ = false;
  DType dtype_ = DType::f32;
  Shape built_input_shape_;
  std::vector<Var> own_weights_;
};

/// Keras's `model.summary()` table for a built layer: one row per layer of a Sequential (or one for
/// any other layer) with its name and class, output shape (batch as None) and parameter count, then
/// the total, trainable and non-trainable parameter counts, in tf.keras 2.x's 65-column layout.
/// StateError if the layer is not built.
///
///   Model: "sequential"
///   _________________________________________________________________
///   Layer (type)                 Output Shape              Param #
///   =================================================================
///   lstm (LSTM)                  (None, 64)                16896
///   _________________________________________________________________
///   dense (Dense)                (None, 10)                650
///   =================================================================
///   Total params: 17,546
///   Trainable params: 17,546
///   Non-trainable params: 0
///   _________________________________________________________________
std::string summary(const Layer& model);

/// A shared layer of type T, made from a `shared_ptr` to it or from a temporary layer (moved into a
/// new shared one). Containers and wrappers take `Ref`s, so that models read as in Keras:
///
///   Sequential model({Embedding(1000, 32, {.mask_zero = true}), Bidirectional(GRU(64)), Dense(1)});
///
/// and a layer kept by name for later (`auto lstm = std::make_shared<LSTM>(64)`) is passed the same way.
template <class T>
class Ref {
 public:
  template <class U>
    requires std::derived_from<U, T>
  Ref(std::shared_ptr<U> layer) : ptr_(std::move(layer)) {}  // NOLINT(google-explicit-constructor)
  template <class U>
    requires(std::derived_from<std::remove_cvref_t<U>, T> && !std::is_lvalue_reference_v<U>)
  Ref(U&& layer)  // NOLINT(google-explicit-constructor)
      : ptr_(std::make_shared<std::remove_cvref_t<U>>(std::move(layer))) {}
  operator std::shared_ptr<T>() const { return ptr_; }  // NOLINT(google-explicit-constructor)
  const std::shared_ptr<T>& get() const noexcept { return ptr_; }

 private:
  std::shared_ptr<T> ptr_;
};

/// A function that rebuilds a layer from its `get_config()`.
using LayerFactory = std::function<std::shared_ptr<Layer>(const nlohmann::json& config)>;

/// Makes `from_config` know `class_name` (custom layers and cells register themselves once).
void register_layer(const std::string& class_name, LayerFactory factory);

/// Rebuilds a layer from `{"class_name": ..., "config": {...}}`. FormatError for an unknown class, a
/// malformed config, nesting deeper than 64 levels, or (for loom's own classes) a key their
/// get_config does not write, listing the valid ones; ValueError for invalid argument values.
/// Keras keys that loom reads nothing from are accepted: `implementation`, `batch_input_shape`,
/// `batch_shape`, `input_shape`; regularizer and constraint keys only when null (else
/// NotImplementedError). A registered custom class's factory checks its own keys.
std::shared_ptr<Layer> layer_from_config(const nlohmann::json& json);

/// Converts a snake_case name from a PascalCase class name: "SimpleRNNCell" → "simple_rnn_cell".
std::string to_snake_case(const std::string& class_name);

}  // namespace loom
