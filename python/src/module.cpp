// The Python module `neuroplast` (imported through python/neuroplast/__init__.py): float32
// networks of four activations, the three optimizers, the four policies with their settings as
// keyword arguments, the trainer, the History, LRP and the file formats. docs/python.md.
//
// Arrays: numpy `(batch, features)` in C order is neuroplast's `features × batch` column-major
// layout, so a float32 C-contiguous array reaches `forward`, `predict` and `lrp.explain` without a
// copy (other dtypes or orders are converted once). So do `Trainer.fit`, `evaluate` and
// `notify_new_data`: their datasets borrow the array (`Dataset::borrow`) for the call, which
// holds a reference to it; the trainer keeps no dataset beyond a call.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <utility>

#include "any_network.hpp"

namespace py = pybind11;
namespace np = neuroplast;
using np::Index;
using np::python::AnyNetwork;
using np::python::AnyOptimizer;
using np::python::AnyPolicy;
using np::python::AnySnapshot;
using np::python::AnyTrainer;
using np::python::Mat;
using np::python::Vec;

namespace {

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

// ---- arrays -----------------------------------------------------------------------------------

// A (batch, features) float32 C-order array seen as features × batch, column-major, no copy.
Eigen::Map<const Mat> columns(const FloatArray& a, Index features, const char* who,
                              const char* name) {
  if (a.ndim() != 2) {
    np::detail::fail(who, ": ", name, " must be a 2-D array (batch, ", features, "), got ",
                     a.ndim(), " dimensions");
  }
  const auto batch = static_cast<Index>(a.shape(0));
  if (static_cast<Index>(a.shape(1)) != features) {
    np::detail::fail(who, ": ", name, " has ", a.shape(1),
                     " columns (features) but the network has ", features,
                     " inputs; pass an array of shape (batch, ", features, ")");
  }
  return Eigen::Map<const Mat>(a.data(), features, batch);
}

// A column-major rows × cols matrix handed to numpy as a C-order (cols, rows) array, no copy.
py::array_t<float> transposed_numpy(Mat m) {
  auto* owned = new Mat(std::move(m));
  py::capsule free_it(owned, [](void* p) { delete static_cast<Mat*>(p); });
  const auto rows = static_cast<py::ssize_t>(owned->rows());
  const auto cols = static_cast<py::ssize_t>(owned->cols());
  return py::array_t<float>(
      {cols, rows},
      {rows * static_cast<py::ssize_t>(sizeof(float)), static_cast<py::ssize_t>(sizeof(float))},
      owned->data(), free_it);
}

// The logits of X (batch, features) through `model` (an Mlp or an InferenceSnapshot) as numpy
// (batch, outputs); the pass runs without the GIL, so other Python threads go on meanwhile.
template <class Model>
py::array_t<float> logits_of(const Model& model, const FloatArray& X, const char* who) {
  const auto view = columns(X, model.sizes().front(), who, "X");
  Mat logits;
  {
    py::gil_scoped_release unlocked;
    logits = model.forward(view);
  }
  return transposed_numpy(std::move(logits));
}

// A matrix as numpy (rows, cols) (a copy in C order: weights and masks are small and the network
// may change under a view).
py::array_t<float> numpy_copy(const Mat& m) {
  py::array_t<float> a({static_cast<py::ssize_t>(m.rows()), static_cast<py::ssize_t>(m.cols())});
  auto r = a.mutable_unchecked<2>();
  for (Index i = 0; i < m.rows(); ++i)
    for (Index j = 0; j < m.cols(); ++j) r(i, j) = m(i, j);
  return a;
}

py::array_t<float> numpy_copy(const Vec& v) {
  py::array_t<float> a(static_cast<py::ssize_t>(v.size()));
  std::memcpy(a.mutable_data(), v.data(), static_cast<std::size_t>(v.size()) * sizeof(float));
  return a;
}

Vec vector_from(const FloatArray& a, const char* who) {
  if (a.ndim() != 1) np::detail::fail(who, ": expected a 1-D array, got ", a.ndim(), " dimensions");
  return Eigen::Map<const Vec>(a.data(), static_cast<Index>(a.shape(0)));
}

// A (rows, cols) C-order array as a rows × cols matrix (copied: Eigen's default is column-major).
Mat matrix_from(const FloatArray& a, const char* who) {
  if (a.ndim() != 2) np::detail::fail(who, ": expected a 2-D array, got ", a.ndim(), " dimensions");
  using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  return Eigen::Map<const RowMajor>(a.data(), static_cast<Index>(a.shape(0)),
                                    static_cast<Index>(a.shape(1)));
}

bool is_integer_array(const py::array& a) {
  return a.dtype().kind() == 'i' || a.dtype().kind() == 'u';
}

// `y` as a numpy array: any array-like (a list, a tuple, an array) converts, as numpy.asarray
// would. Labels and targets must be numbers; booleans are the labels 0 and 1 (numpy's bool is
// not an integer kind, and as float targets a bool column became one regression output).
py::array labels_or_targets(const py::object& y, const char* who) {
  py::array a = py::module_::import("numpy").attr("asarray")(y);
  const char kind = a.dtype().kind();
  if (kind == 'b') return a.attr("astype")("int64");
  if (kind != 'i' && kind != 'u' && kind != 'f') {
    np::detail::fail(who, ": y has dtype ", std::string(py::str(a.dtype())),
                     "; pass integer class labels (n,) or float targets (n,) or (n, outputs)");
  }
  return a;
}

// ---- network ----------------------------------------------------------------------------------

// The Python object: shared with every Trainer built on it, so the network outlives them.
struct PyMlp {
  std::shared_ptr<AnyNetwork> net;
};

struct PySnapshot {
  std::shared_ptr<AnySnapshot> snapshot;
};

std::shared_ptr<AnyNetwork> make_network(std::vector<Index> sizes, const std::string& activation,
                                         std::uint64_t seed) {
  if (activation == "relu") return np::python::make_network<np::Relu>(std::move(sizes), seed);
  if (activation == "leaky_relu")
    return np::python::make_network<np::LeakyRelu>(std::move(sizes), seed);
  if (activation == "tanh") return np::python::make_network<np::Tanh>(std::move(sizes), seed);
  if (activation == "sigmoid") return np::python::make_network<np::Sigmoid>(std::move(sizes), seed);
  np::detail::fail("Mlp: unknown activation \"", activation,
                   "\"; use \"relu\", \"leaky_relu\", \"tanh\" or \"sigmoid\"");
}

std::shared_ptr<AnyNetwork> network_from_bytes(std::span<const unsigned char> bytes,
                                               const std::string& file) {
  const np::NetworkFileInfo info = np::network_file_info(bytes, file);
  if (info.scalar != "float") {
    np::detail::fail<np::FileError>("load: ", file, " holds a ", info.scalar,
                                    " network; the Python module reads float networks only");
  }
  if (info.activation == "relu") return np::python::load_network<np::Relu>(bytes, file);
  if (info.activation == "leaky_relu") return np::python::load_network<np::LeakyRelu>(bytes, file);
  if (info.activation == "tanh") return np::python::load_network<np::Tanh>(bytes, file);
  if (info.activation == "sigmoid") return np::python::load_network<np::Sigmoid>(bytes, file);
  np::detail::fail<np::FileError>("load: ", file, " holds a network with activation \"",
                                  info.activation, "\", which the Python module does not offer");
}

std::string sizes_text(const std::vector<Index>& s) {
  std::ostringstream out;
  out << '[';
  for (std::size_t i = 0; i < s.size(); ++i) out << (i ? ", " : "") << s[i];
  out << ']';
  return out.str();
}

// ---- settings from keyword arguments ------------------------------------------------------------

// Reads the keyword arguments of a policy: each known key once, any other key is an error that
// names it and lists the known ones.
class Settings {
 public:
  Settings(const char* who, const py::kwargs& kwargs) : who_(who), kwargs_(kwargs) {}

  template <class V>
  void read(const char* key, V& into) {
    known_.insert(key);
    if (kwargs_.contains(key)) {
      try {
        into = kwargs_[key].cast<V>();
      } catch (const py::cast_error&) {
        np::detail::fail(who_, ": ", key, " = ", std::string(py::str(kwargs_[key])),
                         " has the wrong type");
      }
    }
  }
  bool has(const char* key) {
    known_.insert(key);
    return kwargs_.contains(key);
  }
  py::object get(const char* key) { return kwargs_[key]; }

  // Call after every read: fails on a key nobody read.
  void finish() const {
    for (const auto& item : kwargs_) {
      const auto key = item.first.cast<std::string>();
      if (known_.count(key) == 0) {
        std::string list;
        for (const auto& k : known_) list += (list.empty() ? "" : ", ") + k;
        np::detail::fail(who_, ": unknown setting \"", key, "\"; the settings are: ", list);
      }
    }
  }

 private:
  const char* who_;
  const py::kwargs& kwargs_;
  std::set<std::string> known_;
};

np::NeuronInit neuron_init(const std::string& name, const char* who) {
  if (name == "zero_fan_out") return np::init::ZeroFanOut{};
  if (name == "he") return np::init::He{};
  if (name == "glorot") return np::init::Glorot{};
  if (name == "net2wider") return np::init::Net2Wider{};
  if (name == "gradmax") return np::GradMaxInit{};
  np::detail::fail(who, ": unknown init \"", name,
                   "\"; use \"zero_fan_out\", \"he\", \"glorot\", \"net2wider\" or \"gradmax\"");
}

np::LayerSelector layer_selector(const py::object& value, const char* who) {
  if (py::isinstance<py::int_>(value)) return np::FixedLayer{.layer = value.cast<Index>()};
  const auto name = value.cast<std::string>();
  if (name == "every_layer") return np::EveryLayer{};
  if (name == "lrp") return np::LrpLayerSelector{};
  if (name == "narrowest") return np::NarrowestLayer{};
  if (name == "round_robin") return np::RoundRobin{};
  np::detail::fail(who, ": unknown selector \"", name,
                   "\"; use \"every_layer\", \"lrp\", \"narrowest\", \"round_robin\" or a hidden "
                   "layer index");
}

// The settings Algorithms 1 and 3 share.
template <class P>
void growth_settings(P& p, Settings& s, const char* who) {
  std::string trigger = "stagnation";
  s.read("trigger", trigger);
  if (trigger == "stagnation") {
    np::Stagnation t;
    s.read("min_improvement", t.min_improvement);
    s.read("window_steps", t.window_steps);
    s.read("first_step_improvement", t.first_step_improvement);
    s.read("min_phase_windows", t.min_phase_windows);
    p.trigger = t;
  } else if (trigger == "plateau") {
    np::LossPlateau t;
    s.read("delta", t.delta);
    s.read("cooldown", t.cooldown);
    p.trigger = t;
  } else {
    np::detail::fail(who, ": unknown trigger \"", trigger,
                     "\"; use \"stagnation\" (default) or \"plateau\" (the paper's Eq. 1)");
  }
  if (s.has("selector")) p.selector = layer_selector(s.get("selector"), who);
  s.read("grow_neurons", p.grow.neurons);
  s.read("grow_fraction", p.grow.fraction);
  s.read("replace_dead", p.grow.replace_dead);
  s.read("centre_bias", p.grow.centre_bias);
  s.read("depth", p.grow.depth);
  if (s.has("init")) p.grow.init = neuron_init(s.get("init").cast<std::string>(), who);
  std::string criterion = "growth_pays";
  s.read("criterion", criterion);
  if (criterion == "growth_pays") {
    np::GrowthPays c;
    s.read("patience", c.patience);
    s.read("min_gain", c.min_gain);
    s.read("min_accuracy_gain", c.min_accuracy_gain);
    s.read("grow_while_paying", c.grow_while_paying);
    s.read("stop_when_fit", c.stop_when_fit);
    p.criterion = c;
  } else if (criterion == "validation_accuracy" || criterion == "validation_loss") {
    int patience = 3;
    s.read("patience", patience);
    if (criterion == "validation_accuracy") {
      p.criterion = np::ValidationAccuracy{.patience = patience};
    } else {
      p.criterion = np::ValidationLoss{.patience = patience};
    }
  } else {
    np::detail::fail(who, ": unknown criterion \"", criterion,
                     "\"; use \"growth_pays\" (default), \"validation_accuracy\" or "
                     "\"validation_loss\" (the paper's)");
  }
  s.read("max_width", p.bounds.max_width);
  s.read("max_parameters", p.bounds.max_parameters);
  s.read("max_parameters_per_target", p.bounds.max_parameters_per_target);
  s.read("max_growth_events", p.bounds.max_growth_events);
  s.read("min_width", p.bounds.min_width);
  s.read("rollback_to_best", p.rollback_to_best);
  s.read("early_stop_windows", p.early_stop_windows);
  s.read("old_neurons", p.new_data.old_neurons);
  s.read("thaw_epochs", p.new_data.thaw_epochs);
  s.read("protect_output_layer", p.new_data.output_layer);
}

np::DropinPolicy dropin_policy(const py::kwargs& kwargs) {
  np::DropinPolicy p;
  Settings s("DropinPolicy", kwargs);
  growth_settings(p, s, "DropinPolicy");
  s.finish();
  return p;
}

np::NeuroplasticPolicy neuroplastic_policy(const py::kwargs& kwargs) {
  np::NeuroplasticPolicy p;
  Settings s("NeuroplasticPolicy", kwargs);
  growth_settings(p, s, "NeuroplasticPolicy");
  s.read("prune_fraction", p.prune.fraction);
  s.read("max_prune_events", p.max_prune_events);
  s.read("prune_retries", p.prune_retries);
  s.read("prune_tolerance", p.prune_tolerance);
  s.read("prune_accuracy_tolerance", p.prune_accuracy_tolerance);
  s.read("settle_windows", p.settle_windows);
  s.read("prune_windows", p.prune_windows);
  s.finish();
  return p;
}

// ---- trainer ----------------------------------------------------------------------------------

// The samples `features` (features × n, X's memory) with `y` as labels (integers, (n,)) or
// targets (floats, (n,) or (n, outputs)), as a dataset that borrows X's memory: valid while X is.
np::Dataset<float> dataset_of(const Eigen::Map<const Mat>& features, const py::object& y_like,
                              const char* who, Index outputs = 0) {
  const py::array y = labels_or_targets(y_like, who);
  // Said in Python's terms (samples are rows) before the C++ Dataset says it in its own.
  if (y.ndim() == 0 || static_cast<Index>(y.shape(0)) != features.cols()) {
    np::detail::fail(who, ": X has ", features.cols(), " samples (rows) but y has ",
                     y.ndim() == 0 ? py::ssize_t{0} : y.shape(0),
                     "; pass one label, or one row of targets, per row of X");
  }
  if (is_integer_array(y)) {
    if (y.ndim() != 1)
      np::detail::fail(who, ": labels y must be 1-D, got ", y.ndim(), " dimensions");
    const auto labels = py::array_t<long long, py::array::c_style | py::array::forcecast>(y);
    std::vector<int> l(static_cast<std::size_t>(labels.shape(0)));
    for (std::size_t i = 0; i < l.size(); ++i) {
      const long long v = labels.data()[i];
      if (v < 0 || v > std::numeric_limits<int>::max())
        np::detail::fail(who, ": label ", i, " is ", v, "; labels must be class indices ≥ 0");
      l[i] = static_cast<int>(v);
    }
    return np::Dataset<float>::borrow(features, std::move(l));
  }
  const FloatArray targets(y);
  if (targets.ndim() == 1 && outputs > 1) {
    np::detail::fail(who, ": y is 1-D (one target per sample) but the network has ", outputs,
                     " outputs; pass y of shape (samples, ", outputs, "), or integer class labels");
  }
  if (targets.ndim() == 1) {
    Mat t = Eigen::Map<const Mat>(targets.data(), 1, static_cast<Index>(targets.shape(0)));
    return np::Dataset<float>::borrow(features, std::move(t));
  }
  if (targets.ndim() != 2)
    np::detail::fail(who, ": targets y must be 1-D or 2-D (samples, outputs), got ",
                     targets.ndim());
  if (outputs > 0 && static_cast<Index>(targets.shape(1)) != outputs) {
    np::detail::fail(who, ": y has ", targets.shape(1),
                     " columns (targets per sample) but the network has ", outputs,
                     " outputs; pass y of shape (samples, ", outputs, ")");
  }
  Mat t = Eigen::Map<const Mat>(targets.data(), static_cast<Index>(targets.shape(1)),
                                static_cast<Index>(targets.shape(0)));
  return np::Dataset<float>::borrow(features, std::move(t));
}

// `dataset_of` for `net`: X must have one column per input of the network.
np::Dataset<float> dataset(const AnyNetwork& net, const FloatArray& X, const py::object& y,
                           const char* who) {
  return dataset_of(columns(X, net.sizes().front(), who, "X"), y, who, net.sizes().back());
}

// ---- replay buffer ----------------------------------------------------------------------------

// ReplayBuffer.add: the samples of X (n, features) with labels or targets y, offered in order.
void replay_add(np::ReplayBuffer<float>& buffer, const FloatArray& X, const py::object& y) {
  constexpr const char* who = "ReplayBuffer.add";
  const auto features = X.ndim() == 2 ? static_cast<Index>(X.shape(1)) : Index{0};
  buffer.add(dataset_of(columns(X, features, who, "X"), y, who));
}

// ReplayBuffer.dataset: what is kept as numpy (X (n, features) float32, y (n,) int64 labels or
// (n, outputs) float32 targets), ready for Trainer.set_replay.
py::tuple replay_dataset(const np::ReplayBuffer<float>& buffer) {
  const np::Dataset<float> d = buffer.dataset();
  py::array_t<float> X = transposed_numpy(Mat(d.features()));
  if (!d.has_labels()) return py::make_tuple(X, transposed_numpy(d.targets()));
  py::array_t<long long> y(static_cast<py::ssize_t>(d.size()));
  std::copy(d.labels().begin(), d.labels().end(), y.mutable_data());
  return py::make_tuple(X, y);
}

// The Python Trainer: the settings of its constructor, and the C++ trainer built at the first fit
// (when the targets tell which loss applies, unless `loss` was given).
class PyTrainer {
 public:
  PyTrainer(PyMlp net, AnyOptimizer optimizer, AnyPolicy policy, np::TrainOptions options,
            std::string loss)
      : net_(std::move(net.net)),
        optimizer_(std::move(optimizer)),
        policy_(std::move(policy)),
        options_(std::move(options)),
        loss_(std::move(loss)) {
    if (!loss_.empty()) options_.loss = loss_kind(loss_);
    options_.validate();
    optimizer_.validate();
  }

  np::History fit(const FloatArray& X, const py::object& y, const std::optional<FloatArray>& X_val,
                  const std::optional<py::object>& y_val) {
    if (X_val.has_value() != y_val.has_value())
      np::detail::fail("Trainer.fit: give both X_val and y_val, or neither");
    const np::Dataset<float> train = dataset(*net_, X, y, "Trainer.fit");
    std::optional<np::Dataset<float>> validation;
    if (X_val) validation = dataset(*net_, *X_val, *y_val, "Trainer.fit (validation)");
    AnyTrainer& t = trainer(train, "Trainer.fit");
    if (validation) check_targets(*validation, "Trainer.fit (validation)");
    py::gil_scoped_release unlocked;
    return t.fit(train, validation ? &*validation : nullptr);
  }

  np::Evaluation evaluate(const FloatArray& X, const py::object& y) {
    const np::Dataset<float> data = dataset(*net_, X, y, "Trainer.evaluate");
    AnyTrainer& t = trainer(data, "Trainer.evaluate");
    py::gil_scoped_release unlocked;
    return t.evaluate(data);
  }

  void notify_new_data(const FloatArray& X, const py::object& y) {
    const np::Dataset<float> data = dataset(*net_, X, y, "Trainer.notify_new_data");
    trainer(data, "Trainer.notify_new_data").notify_new_data(data);
  }

  void set_replay(const FloatArray& X, const py::object& y, double ratio) {
    const np::Dataset<float> memory = dataset(*net_, X, y, "Trainer.set_replay");
    trainer(memory, "Trainer.set_replay").set_replay(memory, ratio);
  }

  void clear_replay() {
    if (trainer_) trainer_->clear_replay();
  }

  np::History history() const { return trainer_ ? trainer_->history() : np::History{}; }
  PyMlp network() const { return {net_}; }

 private:
  static np::LossKind loss_kind(const std::string& name) {
    if (name == "cross_entropy") return np::LossKind::softmax_cross_entropy;
    if (name == "mse") return np::LossKind::mean_squared_error;
    np::detail::fail("Trainer: unknown loss \"", name,
                     "\"; use \"cross_entropy\" (labels) or \"mse\" (regression targets)");
  }

  // The C++ trainer, made at the first data it is given (`data`, whose labels or targets pick the
  // loss unless `loss` was given), after `check_targets`.
  AnyTrainer& trainer(const np::Dataset<float>& data, const char* who) {
    if (!trainer_ && loss_.empty())
      options_.loss = data.has_labels() ? np::LossKind::softmax_cross_entropy
                                        : np::LossKind::mean_squared_error;
    check_targets(data, who);
    if (!trainer_) trainer_ = net_->trainer(optimizer_, policy_, options_);
    return *trainer_;
  }

  // Float targets given to a Trainer that trains with cross-entropy, said in Python's terms (the
  // library's own message names the C++ setting).
  void check_targets(const np::Dataset<float>& data, const char* who) const {
    if (data.has_labels() || !(options_.loss == np::LossKind::softmax_cross_entropy)) return;
    np::detail::fail(
        who,
        ": y holds float targets, but this Trainer trains with softmax "
        "cross-entropy (",
        loss_.empty() ? "chosen by the integer labels of its first data" : "loss='cross_entropy'",
        "); pass integer class labels, or train on float targets with "
        "Trainer(..., loss='mse')");
  }

  std::shared_ptr<AnyNetwork> net_;
  AnyOptimizer optimizer_;
  AnyPolicy policy_;
  np::TrainOptions options_;
  std::string loss_;
  std::unique_ptr<AnyTrainer> trainer_;
};

AnyOptimizer any_optimizer(const py::object& o) {
  if (py::isinstance<np::Sgd<float>>(o)) return AnyOptimizer(o.cast<np::Sgd<float>>());
  if (py::isinstance<np::Adam<float>>(o)) return AnyOptimizer(o.cast<np::Adam<float>>());
  if (py::isinstance<np::AdamW<float>>(o)) return AnyOptimizer(o.cast<np::AdamW<float>>());
  np::detail::fail("Trainer: the optimizer must be neuroplast.Sgd, Adam or AdamW, not ",
                   std::string(py::str(py::type::of(o))));
}

AnyPolicy any_policy(const py::object& p) {
  if (p.is_none() || py::isinstance<np::StaticPolicy>(p)) return {np::StaticPolicy{}};
  if (py::isinstance<np::DropinPolicy>(p)) return {p.cast<np::DropinPolicy>()};
  if (py::isinstance<np::DropoutPolicy>(p)) return {p.cast<np::DropoutPolicy>()};
  if (py::isinstance<np::NeuroplasticPolicy>(p)) return {p.cast<np::NeuroplasticPolicy>()};
  np::detail::fail(
      "Trainer: the policy must be neuroplast.StaticPolicy, DropinPolicy, DropoutPolicy or "
      "NeuroplasticPolicy, not ",
      std::string(py::str(py::type::of(p))));
}

// ---- LRP --------------------------------------------------------------------------------------

np::lrp::Composite lrp_rule(const std::string& name, const py::kwargs& kwargs) {
  Settings s("lrp.explain", kwargs);
  np::lrp::Composite rule;
  if (name == "composite") {
    // The library's recipe for ReLU networks: ε at the input and output, z⁺ in between.
  } else if (name == "epsilon") {
    np::lrp::Epsilon r;
    s.read("epsilon", r.epsilon);
    rule = np::lrp::Composite::uniform(r);
  } else if (name == "zplus") {
    rule = np::lrp::Composite::uniform(np::lrp::ZPlus{});
  } else if (name == "alpha_beta") {
    np::lrp::AlphaBeta r;
    s.read("alpha", r.alpha);
    s.read("beta", r.beta);
    rule = np::lrp::Composite::uniform(r);
  } else if (name == "gamma") {
    np::lrp::Gamma r;
    s.read("gamma", r.gamma);
    rule = np::lrp::Composite::uniform(r);
  } else if (name == "wsquare") {
    rule = np::lrp::Composite::uniform(np::lrp::WSquare{});
  } else if (name == "flat") {
    rule = np::lrp::Composite::uniform(np::lrp::Flat{});
  } else if (name == "zbox") {
    np::lrp::ZBox r;
    s.read("low", r.low);
    s.read("high", r.high);
    rule = np::lrp::Composite::uniform(r);
  } else {
    np::detail::fail("lrp.explain: unknown rule \"", name,
                     "\"; use \"epsilon\", \"zplus\", \"alpha_beta\", \"gamma\", \"wsquare\", "
                     "\"flat\", \"zbox\" or \"composite\"");
  }
  s.finish();
  return rule;
}

}  // namespace

namespace {

// A float default shown in help() as written (0.001, not 0.0010000000474974513).
py::arg_v shown(const char* name, float value) {
  // The shortest decimal that rounds to `value`, as a Python float: help() prints its repr.
  char text[32];
  std::snprintf(text, sizeof text, "%g", static_cast<double>(value));
  return py::arg_v(name, std::strtod(text, nullptr));
}

// Adam and AdamW: the same fields; each keeps its own default weight decay.
template <class O>
void bind_adam(py::module_& m, const char* name, const char* doc) {
  const O defaults{};
  py::class_<O>(m, name, doc)
      .def(py::init([](float learning_rate, float beta1, float beta2, float epsilon,
                       float weight_decay) {
             return O{.learning_rate = learning_rate,
                      .beta1 = beta1,
                      .beta2 = beta2,
                      .epsilon = epsilon,
                      .weight_decay = weight_decay};
           }),
           shown("learning_rate", defaults.learning_rate), shown("beta1", defaults.beta1),
           shown("beta2", defaults.beta2), shown("epsilon", defaults.epsilon),
           shown("weight_decay", defaults.weight_decay))
      .def_readwrite("learning_rate", &O::learning_rate)
      .def_readwrite("beta1", &O::beta1)
      .def_readwrite("beta2", &O::beta2)
      .def_readwrite("epsilon", &O::epsilon)
      .def_readwrite("weight_decay", &O::weight_decay);
}

}  // namespace

PYBIND11_MODULE(_neuroplast, m) {
  m.doc() =
      "neuroplast: neural networks that grow and shrink while they learn (float32 bindings of the "
      "header-only C++20 library).";

  // Most derived last: pybind11 tries the translators in reverse order of registration.
  auto& error = py::register_exception<np::Error>(m, "Error", PyExc_Exception);
  error.doc() = "Any error the library reports, with its C++ message (what, where, how to fix).";
  py::register_exception<np::FileError>(m, "FileError", error.ptr());
  py::register_exception<np::NumericError>(m, "NumericError", error.ptr());

  // ---- network ----
  py::class_<PySnapshot>(m, "InferenceSnapshot",
                         "A read-only copy of an Mlp's inference (Mlp.snapshot()), for serving.")
      .def_property_readonly(
          "sizes", [](const PySnapshot& s) { return s.snapshot->sizes(); },
          "[inputs, hidden..., outputs] of the network it was taken from.")
      .def(
          "packed", [](const PySnapshot& s, Index l) { return s.snapshot->packed(l); },
          py::arg("l"), "Whether dense layer l holds its active weights packed.")
      .def(
          "forward",
          [](const PySnapshot& s, const FloatArray& X) {
            return logits_of(*s.snapshot, X, "InferenceSnapshot.forward");
          },
          py::arg("X"), "Logits (batch, outputs) of X (batch, features), as Mlp.forward gave.")
      .def(
          "predict",
          [](const PySnapshot& s, const FloatArray& X) {
            return s.snapshot->predict(
                columns(X, s.snapshot->sizes().front(), "InferenceSnapshot.predict", "X"));
          },
          py::arg("X"), "The class (argmax of the logits) of each sample of X (batch, features).");

  py::class_<PyMlp>(m, "Mlp",
                    "A multilayer perceptron (float32): hidden layers use `activation`, the output "
                    "layer is linear (logits). Arrays are numpy (batch, features).")
      .def(
          py::init([](std::vector<Index> sizes, const std::string& activation, std::uint64_t seed) {
            return PyMlp{make_network(std::move(sizes), activation, seed)};
          }),
          py::arg("sizes"), py::arg("activation") = "relu", py::arg("seed") = 0,
          "Mlp(sizes, activation='relu', seed=0): sizes = [inputs, hidden..., outputs]; "
          "activation 'relu', 'leaky_relu', 'tanh' or 'sigmoid'.")
      .def_property_readonly(
          "sizes", [](const PyMlp& n) { return n.net->sizes(); }, "[inputs, hidden..., outputs]")
      .def_property_readonly("activation",
                             [](const PyMlp& n) { return std::string(n.net->activation()); })
      .def_property_readonly(
          "layer_count", [](const PyMlp& n) { return n.net->layer_count(); },
          "Number of dense layers (len(sizes) - 1).")
      .def_property_readonly(
          "parameter_count", [](const PyMlp& n) { return n.net->parameter_count(); },
          "Weights and biases (pruned connections count until their neuron is removed).")
      .def_property_readonly(
          "active_parameter_count", [](const PyMlp& n) { return n.net->active_parameter_count(); },
          "Weights and biases without the pruned connections.")
      .def(
          "forward",
          [](const PyMlp& n, const FloatArray& X) { return logits_of(*n.net, X, "Mlp.forward"); },
          py::arg("X"), "Logits (batch, outputs) of the inference pass on X (batch, features).")
      .def(
          "predict",
          [](const PyMlp& n, const FloatArray& X) {
            return n.net->predict(columns(X, n.net->sizes().front(), "Mlp.predict", "X"));
          },
          py::arg("X"), "The class (argmax of the logits) of each sample of X (batch, features).")
      .def(
          "snapshot", [](const PyMlp& n) { return PySnapshot{n.net->snapshot()}; },
          "A read-only InferenceSnapshot of the network as it is now: the same forward, with "
          "pruned layers' active weights packed (single samples gain from pruning). Later "
          "training or edits of the network do not reach it.")
      .def(
          "weights", [](const PyMlp& n, Index l) { return numpy_copy(n.net->weights(l)); },
          py::arg("l"), "A copy of dense layer l's weights, (sizes[l+1], sizes[l]).")
      .def(
          "bias", [](const PyMlp& n, Index l) { return numpy_copy(n.net->bias(l)); }, py::arg("l"),
          "A copy of dense layer l's biases, (sizes[l+1],).")
      .def(
          "connection_mask",
          [](const PyMlp& n, Index l) { return numpy_copy(n.net->connection_mask(l)); },
          py::arg("l"), "Dense layer l's connection mask (1 active, 0 pruned), shaped as weights.")
      .def(
          "inference_scale", [](const PyMlp& n, Index l) { return n.net->inference_scale(l); },
          py::arg("l"),
          "The factor inference applies to W(l)·a: 1, or 1 - p under the paper's dropout "
          "convention. forward computes inference_scale(l) * W(l) a + b(l).")
      .def(
          "set_weights",
          [](PyMlp& n, Index l, const FloatArray& w) {
            n.net->set_weights(l, matrix_from(w, "Mlp.set_weights"));
          },
          py::arg("l"), py::arg("w"),
          "Writes dense layer l's weights (sizes[l+1], sizes[l]); pruned connections stay 0.")
      .def(
          "set_bias",
          [](PyMlp& n, Index l, const FloatArray& b) {
            n.net->set_bias(l, vector_from(b, "Mlp.set_bias"));
          },
          py::arg("l"), py::arg("b"), "Writes dense layer l's biases (sizes[l+1],).")
      .def(
          "plasticity", [](const PyMlp& n, Index l) { return numpy_copy(n.net->plasticity(l)); },
          py::arg("l"), "How much each output neuron of dense layer l may still learn, in [0, 1].")
      .def(
          "set_plasticity",
          [](PyMlp& n, Index l, const py::object& v) {
            if (py::isinstance<py::float_>(v) || py::isinstance<py::int_>(v)) {
              n.net->set_plasticity(l, v.cast<float>());
            } else {
              n.net->set_plasticity(l, vector_from(v.cast<FloatArray>(), "Mlp.set_plasticity"));
            }
          },
          py::arg("l"), py::arg("values"),
          "Sets the plasticity of dense layer l's neurons: one value in [0, 1] or an array "
          "(sizes[l+1],); 0 freezes.")
      .def(
          "freeze", [](PyMlp& n, Index l) { n.net->freeze(l); }, py::arg("l"),
          "Plasticity 0 for every neuron dense layer l has now.")
      .def(
          "grow_neurons",
          [](PyMlp& n, Index h, Index k, const std::string& init) {
            n.net->grow_neurons(h, k, neuron_init(init, "Mlp.grow_neurons"));
          },
          py::arg("h"), py::arg("k"), py::arg("init") = "zero_fan_out",
          "Adds k neurons to hidden layer h (init 'zero_fan_out' keeps the function, 'he', "
          "'glorot', 'net2wider').")
      .def(
          "remove_neurons",
          [](PyMlp& n, Index h, std::vector<Index> neurons) {
            n.net->remove_neurons(h, std::move(neurons));
          },
          py::arg("h"), py::arg("neurons"), "Removes those neurons of hidden layer h.")
      .def(
          "prune_connections",
          [](PyMlp& n, Index l, const FloatArray& mask) {
            n.net->prune_connections(l, matrix_from(mask, "Mlp.prune_connections"));
          },
          py::arg("l"), py::arg("mask"),
          "ANDs a 0/1 mask shaped as weights(l) into dense layer l's connection mask.")
      .def(
          "insert_layer",
          [](PyMlp& n, Index h, const std::string& init) { n.net->insert_layer(h, init); },
          py::arg("h"), py::arg("init") = "identity",
          "Inserts a hidden layer after axis h ('identity' keeps a ReLU network's function).")
      .def(
          "remove_layer", [](PyMlp& n, Index h) { n.net->remove_layer(h); }, py::arg("h"),
          "Removes hidden layer h (its two dense layers become one).")
      .def(
          "copy", [](const PyMlp& n) { return PyMlp{n.net->clone()}; }, "An independent copy.")
      .def("__copy__", [](const PyMlp& n) { return PyMlp{n.net->clone()}; })
      .def("__deepcopy__", [](const PyMlp& n, py::dict) { return PyMlp{n.net->clone()}; })
      .def("__repr__",
           [](const PyMlp& n) {
             return "neuroplast.Mlp(" + sizes_text(n.net->sizes()) + ", activation='" +
                    std::string(n.net->activation()) + "')";
           })
      .def(py::pickle(
          [](const PyMlp& n) {
            const std::vector<unsigned char> b = n.net->to_bytes();
            return py::bytes(reinterpret_cast<const char*>(b.data()), b.size());
          },
          [](const py::bytes& state) {
            const std::string s = state;
            const auto* p = reinterpret_cast<const unsigned char*>(s.data());
            return PyMlp{network_from_bytes({p, s.size()}, "a pickled neuroplast.Mlp")};
          }));

  // ---- optimizers ----
  py::class_<np::Sgd<float>>(m, "Sgd", "Stochastic gradient descent with optional momentum.")
      .def(py::init([](float learning_rate, float momentum, float weight_decay, bool nesterov) {
             return np::Sgd<float>{.learning_rate = learning_rate,
                                   .momentum = momentum,
                                   .weight_decay = weight_decay,
                                   .nesterov = nesterov};
           }),
           py::arg("learning_rate") = 0.01f, py::arg("momentum") = 0.0f,
           py::arg("weight_decay") = 0.0f, py::arg("nesterov") = false)
      .def_readwrite("learning_rate", &np::Sgd<float>::learning_rate)
      .def_readwrite("momentum", &np::Sgd<float>::momentum)
      .def_readwrite("weight_decay", &np::Sgd<float>::weight_decay)
      .def_readwrite("nesterov", &np::Sgd<float>::nesterov);
  m.attr("SGD") = m.attr("Sgd");
  bind_adam<np::Adam<float>>(m, "Adam", "Adam (L2 weight decay added to the gradient).");
  bind_adam<np::AdamW<float>>(m, "AdamW", "Adam with decoupled weight decay.");

  // ---- policies ----
  py::class_<np::StaticPolicy>(m, "StaticPolicy", "Plain training: the structure never changes.")
      .def(py::init<>());
  py::class_<np::DropoutPolicy>(
      m, "DropoutPolicy",
      "Algorithm 2: dropout on every hidden layer (rate), optionally relevance-guided.")
      .def(py::init([](double rate, bool relevance_guided, double max_rate) {
             np::DropoutPolicy p;
             p.dropout.rate = rate;
             p.relevance_guided = relevance_guided;
             p.max_rate = max_rate;
             return p;
           }),
           py::arg("rate") = 0.5, py::arg("relevance_guided") = false, py::arg("max_rate") = 0.9);
  const char* growth_doc =
      "Settings (keyword arguments, library defaults when absent): trigger ('stagnation' with "
      "min_improvement, window_steps, first_step_improvement, min_phase_windows; or 'plateau', the "
      "paper's Eq. 1, "
      "with delta, cooldown), "
      "selector ('every_layer', 'lrp', 'narrowest', 'round_robin' or a layer index), "
      "grow_neurons, grow_fraction, init, replace_dead, centre_bias, depth, criterion "
      "('growth_pays' "
      "with patience, min_gain, min_accuracy_gain, grow_while_paying, stop_when_fit; "
      "'validation_accuracy' or "
      "'validation_loss' "
      "with patience), max_width, max_parameters, max_parameters_per_target, "
      "max_growth_events, min_width, rollback_to_best, early_stop_windows, and for new data "
      "old_neurons, "
      "thaw_epochs, protect_output_layer.";
  py::class_<np::DropinPolicy>(m, "DropinPolicy",
                               (std::string("Algorithm 1, dropin: grows the network while growth "
                                            "pays. ") +
                                growth_doc)
                                   .c_str())
      .def(py::init([](const py::kwargs& kwargs) { return dropin_policy(kwargs); }))
      .def_readonly("growth_events", &np::DropinPolicy::growth_events)
      .def_readonly("growing", &np::DropinPolicy::growing);
  py::class_<np::NeuroplasticPolicy>(
      m, "NeuroplasticPolicy",
      (std::string("Algorithm 3, neuroplasticity: dropin, then pruning by LRP while the "
                   "validation holds. ") +
       growth_doc +
       " Pruning: prune_fraction, max_prune_events, prune_retries, prune_tolerance, "
       "prune_accuracy_tolerance, settle_windows, prune_windows.")
          .c_str())
      .def(py::init([](const py::kwargs& kwargs) { return neuroplastic_policy(kwargs); }))
      .def_readonly("growth_events", &np::NeuroplasticPolicy::growth_events)
      .def_readonly("prune_events", &np::NeuroplasticPolicy::prune_events);

  // ---- history ----
  py::class_<np::EpochRecord>(m, "EpochRecord", "One epoch of a fit.")
      .def_readonly("epoch", &np::EpochRecord::epoch)
      .def_readonly("train_loss", &np::EpochRecord::train_loss)
      .def_readonly("validation_loss", &np::EpochRecord::validation_loss)
      .def_readonly("validation_accuracy", &np::EpochRecord::validation_accuracy)
      .def_readonly("sizes", &np::EpochRecord::sizes)
      .def_readonly("parameter_count", &np::EpochRecord::parameter_count)
      .def_readonly("active_parameter_count", &np::EpochRecord::active_parameter_count)
      .def_readonly("seconds", &np::EpochRecord::seconds)
      .def("__repr__", [](const np::EpochRecord& e) {
        std::ostringstream out;
        out << "EpochRecord(epoch=" << e.epoch << ", train_loss=" << e.train_loss
            << ", validation_loss=" << e.validation_loss
            << ", validation_accuracy=" << e.validation_accuracy
            << ", sizes=" << sizes_text(e.sizes) << ")";
        return out.str();
      });
  py::class_<np::StructuralEvent>(m, "StructuralEvent", "One structural change of a fit.")
      .def_readonly("epoch", &np::StructuralEvent::epoch)
      .def_property_readonly(
          "kind", [](const np::StructuralEvent& e) { return std::string(np::event_name(e.kind)); },
          "'grow_neurons', 'remove_neurons', 'prune_connections', 'insert_layer', 'new_data', "
          "'rollback', ...")
      .def_readonly("layer", &np::StructuralEvent::layer)
      .def_readonly("count", &np::StructuralEvent::count)
      .def_readonly("reason", &np::StructuralEvent::reason)
      .def_readonly("trigger_value", &np::StructuralEvent::trigger_value)
      .def_readonly("sizes_after", &np::StructuralEvent::sizes_after)
      .def("__repr__", [](const np::StructuralEvent& e) {
        return "StructuralEvent(epoch=" + std::to_string(e.epoch) + ", kind='" +
               np::event_name(e.kind) + "', layer=" + std::to_string(e.layer) +
               ", count=" + std::to_string(e.count) + ", reason='" + e.reason + "')";
      });
  py::class_<np::History>(m, "History", "What a Trainer did: one record per epoch, every event.")
      .def_readonly("epochs", &np::History::epochs)
      .def_readonly("events", &np::History::events)
      .def("__len__", [](const np::History& h) { return h.epochs.size(); });
  py::class_<np::Evaluation>(m, "Evaluation", "Mean loss and accuracy on a dataset.")
      .def_readonly("loss", &np::Evaluation::loss)
      .def_readonly("accuracy", &np::Evaluation::accuracy)
      .def("__repr__", [](const np::Evaluation& e) {
        return "Evaluation(loss=" + std::to_string(e.loss) +
               ", accuracy=" + std::to_string(e.accuracy) + ")";
      });

  // ---- trainer ----
  py::class_<np::ReplayBuffer<float>>(
      m, "ReplayBuffer",
      "A bounded memory of past samples for rehearsal: a class-balanced reservoir sample of "
      "everything added (one reservoir for regression targets), reproducible for a seed.")
      .def(py::init<Index, std::uint64_t>(), py::arg("capacity"), py::arg("seed") = 0)
      .def("add", &replay_add, py::arg("X"), py::arg("y"),
           "Offers every sample of X (n, features) with labels (n,) int or targets (n,) / "
           "(n, outputs) float, in order; the same kind and feature count every time.")
      .def("dataset", &replay_dataset,
           "What is kept, as (X, y) numpy arrays grouped by label: for Trainer.set_replay(X, y, "
           "ratio). Raises on an empty buffer.")
      .def("class_counts", &np::ReplayBuffer<float>::class_counts,
           "Kept samples per label (regression targets under -1).")
      .def_property_readonly("size", &np::ReplayBuffer<float>::size)
      .def_property_readonly("capacity", &np::ReplayBuffer<float>::capacity)
      .def("__len__", &np::ReplayBuffer<float>::size);

  py::class_<PyTrainer>(m, "Trainer",
                        "Trains a network in place under a policy. The network is shared (edits "
                        "show in the Python object); optimizer and policy are copied.")
      .def(py::init([](PyMlp net, const py::object& optimizer, const py::object& policy, int epochs,
                       Index batch_size, std::uint64_t seed, std::optional<std::string> loss,
                       bool verbose, bool shuffle, double clip_gradient_norm, bool restore_best,
                       int early_stopping_patience, const std::string& on_numeric_error) {
             np::TrainOptions o{.epochs = epochs,
                                .batch_size = batch_size,
                                .seed = seed,
                                .shuffle = shuffle,
                                .verbose = verbose,
                                .early_stopping_patience = early_stopping_patience,
                                .restore_best = restore_best,
                                .clip_gradient_norm = clip_gradient_norm};
             if (on_numeric_error == "rollback") {
               o.on_numeric_error = np::NumericErrorAction::rollback;
             } else if (on_numeric_error != "stop") {
               np::detail::fail("Trainer: on_numeric_error = \"", on_numeric_error,
                                "\"; use \"stop\" or \"rollback\"");
             }
             return PyTrainer(std::move(net), any_optimizer(optimizer), any_policy(policy), o,
                              loss.value_or(""));
           }),
           py::arg("net"), py::arg("optimizer"), py::arg("policy") = py::none(),
           py::arg("epochs") = 10, py::arg("batch_size") = 32, py::arg("seed") = 0,
           py::arg("loss") = py::none(), py::arg("verbose") = false, py::arg("shuffle") = true,
           py::arg("clip_gradient_norm") = 0.0, py::arg("restore_best") = false,
           py::arg("early_stopping_patience") = 0, py::arg("on_numeric_error") = "stop",
           "Trainer(net, optimizer, policy=StaticPolicy(), epochs=10, batch_size=32, seed=0, "
           "loss=None, ...): loss 'cross_entropy' or 'mse'; None picks it from the first "
           "targets (integer labels: cross_entropy, floats: mse).")
      .def("fit", &PyTrainer::fit, py::arg("X"), py::arg("y"), py::arg("X_val") = py::none(),
           py::arg("y_val") = py::none(),
           "Trains for `epochs` epochs on X (n, features) with labels y (n,) int (or bool) or "
           "targets (n,) or (n, outputs) float, any array-like; returns the History so far.")
      .def("evaluate", &PyTrainer::evaluate, py::arg("X"), py::arg("y"),
           "Mean loss and accuracy of the network on (X, y).")
      .def("notify_new_data", &PyTrainer::notify_new_data, py::arg("X"), py::arg("y"),
           "The 'new data' trigger of Algorithms 1 and 3 (call before fitting on the new data).")
      .def("set_replay", &PyTrainer::set_replay, py::arg("X"), py::arg("y"), py::arg("ratio"),
           "Rehearsal: from the next fit on, `ratio` in (0, 1) of every batch are samples drawn "
           "from the memory (X (n, features), y as for fit; copied), the rest from the training "
           "set; an epoch is still one pass over the training set.")
      .def("clear_replay", &PyTrainer::clear_replay,
           "Ends rehearsal: batches come from the training set alone again.")
      .def_property_readonly("history", &PyTrainer::history)
      .def_property_readonly("network", &PyTrainer::network);

  // ---- files ----
  m.def(
      "save", [](const PyMlp& n, const std::string& path) { n.net->save(path); }, py::arg("net"),
      py::arg("path"), "Saves net to path in neuroplast's format (atomic, checksummed).");
  m.def(
      "load",
      [](const std::string& path) {
        const std::vector<unsigned char> bytes = np::read_file(path, "load");
        return PyMlp{network_from_bytes(bytes, path)};
      },
      py::arg("path"), "Loads a float network saved by save (any of the four activations).");
  m.def(
      "save_safetensors",
      [](const PyMlp& n, const std::string& path) { n.net->save_safetensors(path); },
      py::arg("net"), py::arg("path"), "Writes net's function as safetensors.");
  m.def(
      "save_onnx", [](const PyMlp& n, const std::string& path) { n.net->save_onnx(path); },
      py::arg("net"), py::arg("path"),
      "Writes net as an ONNX model (opset 13): input 'input' (batch, inputs), output 'logits'.");

  // ---- LRP ----
  py::module_ lrp = m.def_submodule("lrp", "Layer-wise relevance propagation.");
  py::class_<np::lrp::Explanation<float>>(lrp, "Explanation", "The relevance of one sample.")
      .def_property_readonly(
          "input", [](const np::lrp::Explanation<float>& e) { return numpy_copy(e.input); },
          "Relevance of each input feature, (features,).")
      .def_property_readonly(
          "hidden",
          [](const np::lrp::Explanation<float>& e) {
            py::list out;
            for (const Vec& v : e.hidden) out.append(numpy_copy(v));
            return out;
          },
          "Relevance of each neuron of each hidden layer: one array per layer.")
      .def_readonly("output", &np::lrp::Explanation<float>::output,
                    "Relevance put in at the output (the target's logit).")
      .def_readonly("target", &np::lrp::Explanation<float>::target, "The explained class.");
  lrp.def(
      "explain",
      [](const PyMlp& n, const FloatArray& x, const std::string& rule, int target,
         const py::kwargs& kwargs) {
        const np::lrp::Composite r = lrp_rule(rule, kwargs);
        const Index inputs = n.net->sizes().front();
        if (x.ndim() != 1 && !(x.ndim() == 2 && x.shape(0) == 1))
          np::detail::fail("lrp.explain: x must be one sample, shape (", inputs, ",)");
        if (static_cast<Index>(x.size()) != inputs) {
          np::detail::fail("lrp.explain: x has ", x.size(), " features but the network has ",
                           inputs, " inputs; pass one sample of shape (", inputs, ",)");
        }
        const Vec v = Eigen::Map<const Vec>(x.data(), static_cast<Index>(x.size()));
        return n.net->explain(v, r, target);
      },
      py::arg("net"), py::arg("x"), py::arg("rule") = "epsilon", py::arg("target") = -1,
      "Explains sample x (features,) for class target (-1: the predicted one). rule: "
      "'epsilon' (epsilon=1e-6), 'zplus', 'alpha_beta' (alpha, beta), 'gamma' (gamma), "
      "'wsquare', 'flat', 'zbox' (low, high) or 'composite'.");

  m.attr("__version__") = NEUROPLAST_VERSION_STRING;
}
