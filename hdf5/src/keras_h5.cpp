// SPDX-License-Identifier: Apache-2.0
// Keras weights in HDF5 through HDF5's C API. Layouts: keras-team/keras saving_lib (H5IOStore,
// _save_state, _save_container_state) and tf-keras legacy hdf5_format (save_weights_to_hdf5_group,
// load_weights_from_hdf5_group).
#include "loom/hdf5/keras_h5.hpp"

#include <hdf5.h>

#include <cstdio>
#include <map>
#include <set>

#include "loom/core/check.hpp"
#include "loom/layers/rnn.hpp"
#include "loom/layers/stacked_cells.hpp"
#include "loom/layers/wrappers.hpp"

namespace loom {
namespace {

// An HDF5 identifier, closed when it goes.
class Handle {
 public:
  Handle() = default;
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Handle(Handle&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = -1; }
  Handle& operator=(Handle&& o) noexcept {
    std::swap(id_, o.id_);
    std::swap(close_, o.close_);
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  hid_t get() const noexcept { return id_; }
  bool valid() const noexcept { return id_ >= 0; }

 private:
  hid_t id_ = -1;
  herr_t (*close_)(hid_t) = nullptr;
};

// HDF5 prints its error stack to stderr by default; loom reports errors itself.
class QuietErrors {
 public:
  QuietErrors() {
    H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~QuietErrors() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }
  QuietErrors(const QuietErrors&) = delete;
  QuietErrors& operator=(const QuietErrors&) = delete;

 private:
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
};

std::string join(const std::string& a, const std::string& b) { return a.empty() ? b : a + "/" + b; }

// ---- reading ------------------------------------------------------------------------------------

class Reader {
 public:
  explicit Reader(const std::string& path) : path_(path) {
    LOOM_CHECK(H5Fis_hdf5(path.c_str()) > 0, FormatError, "load_keras_weights: '", path,
               "' is not a readable HDF5 file.");
    file_ = Handle(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    LOOM_CHECK(file_.valid(), FormatError, "load_keras_weights: cannot open '", path, "' as HDF5.");
  }
  hid_t root() const { return file_.get(); }
  const std::string& path() const { return path_; }

  // Whether `name` (a path relative to `loc`, "a/b/c") leads to an object: every link on the way exists.
  bool exists(hid_t loc, const std::string& name) const {
    std::size_t at = 0;
    while (true) {
      const std::size_t slash = name.find('/', at);
      const std::string prefix = name.substr(0, slash);
      if (prefix.empty() || H5Lexists(loc, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
      if (slash == std::string::npos) return true;
      at = slash + 1;
    }
  }
  H5O_type_t type_of(hid_t loc, const std::string& name) const {
    H5O_info_t info;
    if (!exists(loc, name) || H5Oget_info_by_name2(loc, name.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0)
      return H5O_TYPE_UNKNOWN;
    return info.type;
  }
  Handle group(hid_t loc, const std::string& name, const std::string& where) const {
    LOOM_CHECK(type_of(loc, name) == H5O_TYPE_GROUP, FormatError, "load_keras_weights: '", path_, "' has no group '",
               where, "'.");
    Handle g(H5Gopen2(loc, name.c_str(), H5P_DEFAULT), H5Gclose);
    LOOM_CHECK(g.valid(), FormatError, "load_keras_weights: '", path_, "': cannot open group '", where, "'.");
    return g;
  }
  std::size_t links(hid_t group) const {
    H5G_info_t info;
    LOOM_CHECK(H5Gget_info(group, &info) >= 0, FormatError, "load_keras_weights: '", path_, "': cannot list a group.");
    return static_cast<std::size_t>(info.nlinks);
  }

  // The dataset `name` in `loc` as `dtype`, checked against `shape` before any data is read.
  Tensor dataset(hid_t loc, const std::string& name, const Shape& shape, DType dtype, const std::string& where) const {
    LOOM_CHECK(type_of(loc, name) == H5O_TYPE_DATASET, FormatError, "load_keras_weights: '", path_, "' has no dataset '",
               where, "'.");
    Handle d(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), H5Dclose);
    LOOM_CHECK(d.valid(), FormatError, "load_keras_weights: '", path_, "': cannot open dataset '", where, "'.");
    Handle type(H5Dget_type(d.get()), H5Tclose);
    LOOM_CHECK(type.valid() && H5Tget_class(type.get()) == H5T_FLOAT, FormatError, "load_keras_weights: '", path_,
               "': dataset '", where, "' must hold floating-point values.");
    Handle space(H5Dget_space(d.get()), H5Sclose);
    const int rank = space.valid() ? H5Sget_simple_extent_ndims(space.get()) : -1;
    LOOM_CHECK(rank >= 0 && rank <= Shape::max_rank, FormatError, "load_keras_weights: '", path_, "': dataset '", where,
               "' has an unreadable shape (rank ", rank, ").");
    hsize_t dims[Shape::max_rank] = {};
    H5Sget_simple_extent_dims(space.get(), dims, nullptr);
    bool same = rank == shape.rank();
    for (int i = 0; same && i < rank; ++i) same = dims[i] == static_cast<hsize_t>(shape[i]);
    if (!same) {
      std::string got = "(";
      for (int i = 0; i < rank; ++i) got += (i ? ", " : "") + std::to_string(dims[i]);
      got += rank == 1 ? ",)" : ")";
      LOOM_CHECK(false, FormatError, "load_keras_weights: '", path_, "': dataset '", where, "' has shape ", got,
                 "; the model's weight is ", shape, ".");
    }
    Tensor out = Tensor::empty(shape, DType::f64);
    LOOM_CHECK(H5Dread(d.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data<double>()) >= 0, FormatError,
               "load_keras_weights: '", path_, "': cannot read dataset '", where, "'.");
    return out.to(dtype);
  }

  // A string-array attribute as h5py writes it (fixed- or variable-length strings), including the
  // chunks name0, name1, … tf-keras uses for attributes over 64 KiB. Empty if absent.
  std::vector<std::string> strings(hid_t obj, const std::string& name, const std::string& where) const {
    if (H5Aexists(obj, name.c_str()) > 0) return read_strings(obj, name, where);
    std::vector<std::string> out;
    for (int chunk = 0; H5Aexists(obj, (name + std::to_string(chunk)).c_str()) > 0; ++chunk)
      for (std::string& s : read_strings(obj, name + std::to_string(chunk), where)) out.push_back(std::move(s));
    return out;
  }
  bool has_attribute(hid_t obj, const std::string& name) const {
    return H5Aexists(obj, name.c_str()) > 0 || H5Aexists(obj, (name + "0").c_str()) > 0;
  }

 private:
  std::vector<std::string> read_strings(hid_t obj, const std::string& name, const std::string& where) const {
    const std::string what = "attribute '" + name + "' of '" + where + "'";
    Handle a(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose);
    LOOM_CHECK(a.valid(), FormatError, "load_keras_weights: '", path_, "': cannot open ", what, ".");
    Handle type(H5Aget_type(a.get()), H5Tclose);
    LOOM_CHECK(type.valid() && H5Tget_class(type.get()) == H5T_STRING, FormatError, "load_keras_weights: '", path_,
               "': ", what, " must hold strings.");
    Handle space(H5Aget_space(a.get()), H5Sclose);
    const hssize_t n = space.valid() ? H5Sget_simple_extent_npoints(space.get()) : -1;
    LOOM_CHECK(n >= 0 && n <= (1 << 20), FormatError, "load_keras_weights: '", path_, "': ", what,
               " has an unreadable size.");
    std::vector<std::string> out;
    if (H5Tis_variable_str(type.get()) > 0) {
      std::vector<char*> ptrs(static_cast<std::size_t>(n), nullptr);
      Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
      H5Tset_size(mem.get(), H5T_VARIABLE);
      LOOM_CHECK(n == 0 || H5Aread(a.get(), mem.get(), ptrs.data()) >= 0, FormatError, "load_keras_weights: '", path_,
                 "': cannot read ", what, ".");
      for (char* p : ptrs) out.emplace_back(p ? p : "");
      if (n > 0) H5Dvlen_reclaim(mem.get(), space.get(), H5P_DEFAULT, ptrs.data());
      return out;
    }
    const std::size_t size = H5Tget_size(type.get());
    LOOM_CHECK(size > 0 && size <= (1u << 16) && static_cast<std::size_t>(n) * size <= (std::size_t{64} << 20),
               FormatError, "load_keras_weights: '", path_, "': ", what, " holds ", n, " strings of ", size,
               " bytes; at most 64 MiB of names are read.");
    std::vector<char> buf(static_cast<std::size_t>(n) * size + 1, '\0');
    LOOM_CHECK(n == 0 || H5Aread(a.get(), type.get(), buf.data()) >= 0, FormatError, "load_keras_weights: '", path_,
               "': cannot read ", what, ".");
    for (hssize_t i = 0; i < n; ++i) {
      const char* s = buf.data() + static_cast<std::size_t>(i) * size;
      std::size_t len = 0;
      while (len < size && s[len] != '\0') ++len;
      out.emplace_back(s, len);
    }
    return out;
  }

  std::string path_;
  Handle file_;
};

// ---- writing ------------------------------------------------------------------------------------

class Writer {
 public:
  explicit Writer(const std::string& path) : path_(path), tmp_(path + ".tmp") {
    file_ = Handle(H5Fcreate(tmp_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    LOOM_CHECK(file_.valid(), IOError, "save_keras_weights: cannot create '", tmp_, "'.");
    lcpl_ = Handle(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
    H5Pset_create_intermediate_group(lcpl_.get(), 1);
    // No modification times in object headers: the same weights give the same bytes.
    gcpl_ = Handle(H5Pcreate(H5P_GROUP_CREATE), H5Pclose);
    H5Pset_obj_track_times(gcpl_.get(), 0);
    dcpl_ = Handle(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    H5Pset_obj_track_times(dcpl_.get(), 0);
  }
  ~Writer() {
    if (file_.valid()) {  // not committed: an error on the way
      file_ = Handle();
      std::remove(tmp_.c_str());
    }
  }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  hid_t root() const { return file_.get(); }
  Handle group(hid_t loc, const std::string& name) {
    Handle g(H5Gcreate2(loc, name.c_str(), lcpl_.get(), gcpl_.get(), H5P_DEFAULT), H5Gclose);
    LOOM_CHECK(g.valid(), IOError, "save_keras_weights: cannot create group '", name, "' in '", tmp_, "'.");
    return g;
  }
  void dataset(hid_t loc, const std::string& name, const Tensor& t) {
    hsize_t dims[Shape::max_rank] = {};
    for (int i = 0; i < t.dimension(); ++i) dims[i] = static_cast<hsize_t>(t.shape(i));
    Handle space(t.dimension() == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(t.dimension(), dims, nullptr), H5Sclose);
    const bool f64 = t.dtype() == DType::f64;
    const Tensor values = t.dtype() == DType::f32 || f64 ? t : t.to(DType::f32);  // tensors are contiguous
    Handle d(H5Dcreate2(loc, name.c_str(), f64 ? H5T_IEEE_F64LE : H5T_IEEE_F32LE, space.get(), lcpl_.get(), dcpl_.get(),
                        H5P_DEFAULT),
             H5Dclose);
    LOOM_CHECK(d.valid() && H5Dwrite(d.get(), f64 ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                     values.raw_data()) >= 0,
               IOError, "save_keras_weights: cannot write dataset '", name, "' to '", tmp_, "'.");
  }
  // Fixed-length, null-padded strings, as h5py stores a list of bytes (`scalar` for one bytes value).
  void strings(hid_t obj, const std::string& name, const std::vector<std::string>& values, bool scalar = false) {
    std::size_t size = 1;
    for (const std::string& s : values) size = std::max(size, s.size());
    Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(type.get(), size);
    H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
    const hsize_t n = values.size();
    Handle space(scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr), H5Sclose);
    std::vector<char> buf(values.size() * size + 1, '\0');
    for (std::size_t i = 0; i < values.size(); ++i) std::copy(values[i].begin(), values[i].end(), buf.begin() + i * size);
    Handle a(H5Acreate2(obj, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    LOOM_CHECK(a.valid() && H5Awrite(a.get(), type.get(), buf.data()) >= 0, IOError,
               "save_keras_weights: cannot write attribute '", name, "' to '", tmp_, "'.");
  }
  void commit() {
    LOOM_CHECK(H5Fflush(file_.get(), H5F_SCOPE_GLOBAL) >= 0, IOError, "save_keras_weights: cannot flush '", tmp_, "'.");
    file_ = Handle();
    LOOM_CHECK(std::rename(tmp_.c_str(), path_.c_str()) == 0, IOError, "save_keras_weights: cannot rename '", tmp_,
               "' to '", path_, "'.");
  }

 private:
  std::string path_, tmp_;
  Handle file_, lcpl_, gcpl_, dcpl_;
};

// ---- the Keras 3 tree ---------------------------------------------------------------------------

// A layer's group in a Keras 3 file and the variables it holds itself (sublayers' excluded),
// trainable ones first, as keras.Layer.save_own_variables writes them.
struct Entry {
  std::string path;
  const Layer* layer = nullptr;
  std::vector<Var> vars;
};

std::vector<Var> own_weights(const Layer& layer) {
  std::set<std::string> inner;
  for (const Layer* sub : layer.sublayers())
    for (const Var& w : sub->weights()) inner.insert(w.name());
  std::vector<Var> own;
  for (const Var& w : layer.weights())
    if (!inner.count(w.name())) own.push_back(w);
  return own;
}

void keras3_entries(const Layer& layer, const std::string& path, std::vector<Entry>& out);

// A list of saveables (a Sequential's layers, a stack's cells): named by snake-case class, numbered.
void container(const std::vector<const Layer*>& items, const std::string& path, std::vector<Entry>& out) {
  std::map<std::string, int> used;
  for (const Layer* item : items) {
    std::string name = to_snake_case(item->class_name());
    const auto [it, fresh] = used.try_emplace(name, 0);
    if (!fresh) name += "_" + std::to_string(++it->second);
    keras3_entries(*item, join(path, name), out);
  }
}

void keras3_entries(const Layer& layer, const std::string& path, std::vector<Entry>& out) {
  out.push_back({path, &layer, own_weights(layer)});
  if (dynamic_cast<const Sequential*>(&layer)) {
    container(layer.sublayers(), join(path, "layers"), out);
  } else if (const auto* bi = dynamic_cast<const Bidirectional*>(&layer)) {
    keras3_entries(*bi->forward_layer(), join(path, "forward_layer"), out);
    keras3_entries(*bi->backward_layer(), join(path, "backward_layer"), out);
  } else if (const auto* rnn = dynamic_cast<const RNN*>(&layer)) {
    keras3_entries(*rnn->cell(), join(path, "cell"), out);
  } else if (dynamic_cast<const StackedRNNCells*>(&layer)) {
    container(layer.sublayers(), join(path, "cells"), out);
  } else if (dynamic_cast<const TimeDistributed*>(&layer)) {
    keras3_entries(*layer.sublayers().at(0), join(path, "layer"), out);
  } else {
    LOOM_CHECK(layer.sublayers().empty(), ValueError, "keras weights: layer ", layer.name(), " (", layer.class_name(),
               ") has sublayers; Keras 3 files name those by Python attribute, which loom cannot know.");
  }
}

// ---- the legacy tree ----------------------------------------------------------------------------

std::vector<const Layer*> top_layers(const Layer& model) {
  if (dynamic_cast<const Sequential*>(&model)) return model.sublayers();
  return {&model};
}

// tf-keras's weight name: the path below the top-level model, with TF's ":0". tf-keras creates a
// TimeDistributed's inner weights in the wrapper's own scope (time_distributed/kernel:0).
std::string legacy_name(const Layer& model, const Layer& top, const Var& w) {
  std::string n = w.name();
  const std::string prefix = model.name() + "/";
  if (dynamic_cast<const Sequential*>(&model) && n.rfind(prefix, 0) == 0) n = n.substr(prefix.size());
  if (dynamic_cast<const TimeDistributed*>(&top)) {
    const std::string inner = top.name() + "/" + top.sublayers().at(0)->name() + "/";
    if (n.rfind(inner, 0) == 0) n = top.name() + "/" + n.substr(inner.size());
  }
  return n + ":0";
}

KerasH5Layout detect(const Reader& r) {
  if (r.type_of(r.root(), "model_weights") == H5O_TYPE_GROUP || r.has_attribute(r.root(), "layer_names"))
    return KerasH5Layout::legacy;
  LOOM_CHECK(r.type_of(r.root(), "vars") == H5O_TYPE_GROUP || r.type_of(r.root(), "layers") == H5O_TYPE_GROUP, FormatError,
             "load_keras_weights: '", r.path(), "' is in neither Keras layout: it has no 'layer_names' attribute or "
             "'model_weights' group (tf-keras .h5), and no 'vars' or 'layers' group (Keras 3 .weights.h5).");
  return KerasH5Layout::keras3;
}

// Every dataset of the file, by path: what a Keras 3 file holds that the model does not read is an error.
herr_t collect_dataset(hid_t, const char* name, const H5O_info_t* info, void* data) {
  if (info->type == H5O_TYPE_DATASET) static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  return 0;
}

std::vector<Tensor> read_keras3(const Reader& r, const Layer& model, std::vector<Var>& order) {
  std::vector<Entry> entries;
  keras3_entries(model, "", entries);
  std::map<std::string, Tensor> by_name;
  std::set<std::string> read;
  for (const Entry& e : entries) {
    if (e.vars.empty()) continue;
    const std::string vars = join(e.path, "vars");
    const Handle g = r.group(r.root(), vars, vars);
    LOOM_CHECK(r.links(g.get()) == e.vars.size(), FormatError, "load_keras_weights: '", r.path(), "': '", vars, "' holds ",
               r.links(g.get()), " variables; layer ", e.layer->name(), " (", e.layer->class_name(), ") has ",
               e.vars.size(), ".");
    for (std::size_t i = 0; i < e.vars.size(); ++i) {
      const std::string where = vars + "/" + std::to_string(i);
      by_name[e.vars[i].name()] = r.dataset(g.get(), std::to_string(i), e.vars[i].shape(), e.vars[i].dtype(), where);
      read.insert(where);
    }
  }
  std::vector<std::string> all;
  LOOM_CHECK(H5Ovisit2(r.root(), H5_INDEX_NAME, H5_ITER_INC, collect_dataset, &all, H5O_INFO_BASIC) >= 0, FormatError,
             "load_keras_weights: '", r.path(), "': cannot list its datasets.");
  // The optimizer's variables (a .keras archive's model.weights.h5 keeps them under optimizer/) are
  // not the model's to load; anything else no weight reads means the architectures differ.
  for (const std::string& d : all)
    LOOM_CHECK(read.count(d) || d.rfind("optimizer/", 0) == 0, FormatError, "load_keras_weights: '", r.path(),
               "' holds '", d, "', which no weight of the model reads; the architectures differ.");
  order = model.weights();
  std::vector<Tensor> values;
  for (const Var& w : order) values.push_back(by_name.at(w.name()));
  return values;
}

std::vector<Tensor> read_legacy(const Reader& r, const Layer& model, std::vector<Var>& order) {
  Handle nested;
  hid_t root = r.root();
  std::string base;
  if (r.type_of(root, "model_weights") == H5O_TYPE_GROUP) {  // a whole-model .h5: weights in model_weights
    nested = r.group(root, "model_weights", "model_weights");
    root = nested.get();
    base = "model_weights/";
  }
  // As tf-keras: the file's layers with weights, in its `layer_names` order, meet the model's.
  std::vector<std::pair<std::string, std::vector<std::string>>> saved;
  for (const std::string& name : r.strings(root, "layer_names", base.empty() ? "/" : base)) {
    const Handle g = r.group(root, name, base + name);
    std::vector<std::string> weights = r.strings(g.get(), "weight_names", base + name);
    if (!weights.empty()) saved.emplace_back(name, std::move(weights));
  }
  std::vector<const Layer*> layers;
  for (const Layer* l : top_layers(model))
    if (!l->weights().empty()) layers.push_back(l);
  LOOM_CHECK(saved.size() == layers.size(), FormatError, "load_keras_weights: '", r.path(), "' holds weights for ",
             saved.size(), " layers; the model has ", layers.size(), " layers with weights.");
  std::vector<Tensor> values;
  order.clear();
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const auto& [group_name, names] = saved[i];
    const std::vector<Var> ws = layers[i]->weights();
    LOOM_CHECK(names.size() == ws.size(), FormatError, "load_keras_weights: '", r.path(), "': layer '", group_name,
               "' holds ", names.size(), " weights; the model's layer ", layers[i]->name(), " (", layers[i]->class_name(),
               ") has ", ws.size(), ".");
    const Handle g = r.group(root, group_name, base + group_name);
    for (std::size_t k = 0; k < ws.size(); ++k) {
      values.push_back(r.dataset(g.get(), names[k], ws[k].shape(), ws[k].dtype(), base + group_name + "/" + names[k]));
      order.push_back(ws[k]);
    }
  }
  return values;
}

}  // namespace

KerasH5Layout keras_h5_layout(const std::string& path) {
  const QuietErrors quiet;
  return detect(Reader(path));
}

void load_keras_weights(Layer& model, const std::string& path) {
  LOOM_CHECK(model.built(), StateError, "load_keras_weights: the model ", model.name(),
             " is not built, so it has no weights to load '", path, "' into; build it first.");
  const QuietErrors quiet;
  const Reader r(path);
  std::vector<Var> order;
  const std::vector<Tensor> values =
      detect(r) == KerasH5Layout::keras3 ? read_keras3(r, model, order) : read_legacy(r, model, order);
  // Every value is read and checked; now they go in, in the model's weight order.
  std::map<std::string, Tensor> by_name;
  for (std::size_t i = 0; i < order.size(); ++i) by_name[order[i].name()] = values[i];
  std::vector<Tensor> ordered;
  for (const Var& w : model.weights()) ordered.push_back(by_name.at(w.name()));
  model.set_weights(ordered);
}

void save_keras_weights(const Layer& model, const std::string& path, KerasH5Layout layout) {
  LOOM_CHECK(model.built(), StateError, "save_keras_weights: the model ", model.name(), " is not built, so it has no weights.");
  const QuietErrors quiet;
  std::vector<Entry> entries;
  if (layout == KerasH5Layout::keras3) keras3_entries(model, "", entries);  // refuses unknown containers first
  Writer w(path);
  if (layout == KerasH5Layout::keras3) {
    for (const Entry& e : entries) {  // every saveable gets its vars group, empty or not, as H5IOStore.make does
      const Handle g = w.group(w.root(), join(e.path, "vars"));
      for (std::size_t i = 0; i < e.vars.size(); ++i) w.dataset(g.get(), std::to_string(i), e.vars[i].value());
    }
  } else {
    std::vector<std::string> names;
    for (const Layer* l : top_layers(model)) names.push_back(l->name());
    w.strings(w.root(), "layer_names", names);
    w.strings(w.root(), "backend", {"tensorflow"}, true);
    w.strings(w.root(), "keras_version", {"2.15.0"}, true);
    for (const Layer* l : top_layers(model)) {
      const Handle g = w.group(w.root(), l->name());
      std::vector<std::string> weight_names;
      for (const Var& v : l->weights()) weight_names.push_back(legacy_name(model, *l, v));
      w.strings(g.get(), "weight_names", weight_names);
      const std::vector<Var> ws = l->weights();
      for (std::size_t k = 0; k < ws.size(); ++k) w.dataset(g.get(), weight_names[k], ws[k].value());
    }
  }
  w.commit();
}

}  // namespace loom
