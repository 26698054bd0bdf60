#pragma once
/// \file
/// `save(net, path)` and `load<T, Act>(path)`: a network with everything training needs to resume
/// exactly, in neuroplast's versioned, checksummed binary format (docs/file-format.md), written
/// atomically.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "neuroplast/core/error.hpp"
#include "neuroplast/core/param.hpp"
#include "neuroplast/data/standard_scaler.hpp"
#include "neuroplast/grow/init.hpp"
#include "neuroplast/io/atomic_file.hpp"
#include "neuroplast/io/byte_io.hpp"
#include "neuroplast/io/container.hpp"
#include "neuroplast/io/mlp_access.hpp"
#include "neuroplast/network/check_batch.hpp"
#include "neuroplast/network/mlp.hpp"
#include "neuroplast/optim/adam.hpp"
#include "neuroplast/optim/sgd.hpp"

namespace neuroplast {

/// What `save` writes besides the parameters and the network's bookkeeping.
struct SaveOptions {
  /// The optimizer's per-parameter state (Adam's moments, SGD's velocity, parameter births), so
  /// training resumes exactly. Without it the file is smaller and a resumed optimizer starts from
  /// fresh state, as after a change of optimizer.
  bool optimizer_state = true;
};

namespace detail {

/// Scalar type codes of the format: 1 = IEEE binary32 (float), 2 = IEEE binary64 (double).
template <Scalar T>
inline constexpr std::uint8_t kScalarCode = std::is_same_v<T, float> ? 1 : 2;

inline const char* scalar_code_name(std::uint8_t code) {
  switch (code) {
    case 1: return "float";
    case 2: return "double";
    default: return "unknown";
  }
}

/// Most distinct names of optimizers and initialisers outside the library's own that one program
/// reads from files (a bound, so that damaged files cannot make the table grow without end).
inline constexpr std::size_t kMaxInternedNames = 256;

/// Whether `name` may name an optimizer or initialiser in a file: 1 to 64 lower-case letters,
/// digits and '_'.
inline bool is_file_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

/// Why `intern_name` refused `name`, completing "…, which " in a loader's message.
inline std::string intern_refusal(std::string_view name) {
  if (!is_file_name(name)) return "is not a name (lower-case letters, digits and '_', at most 64)";
  return message("is one name more than the ", kMaxInternedNames,
                 " distinct optimizer and initialiser names a program reads from files");
}

/// A name read from a file as a string_view into storage that lives as long as the program
/// (Param::state_owner and EditRecord::initializer are string_views): interned once per distinct
/// name. Empty when `name` is not a file name (is_file_name) or the table is full.
inline std::string_view intern_name(std::string_view name) {
  if (!is_file_name(name)) return {};
  static std::mutex mutex;
  static std::set<std::string, std::less<>> names;  // nodes never move: views stay valid
  const std::lock_guard lock(mutex);
  auto it = names.find(name);
  if (it == names.end()) {
    if (names.size() >= kMaxInternedNames) return {};
    it = names.emplace(name).first;
  }
  return *it;
}

/// Most optimizer state planes per parameter a file may hold for an optimizer outside the library.
inline constexpr std::size_t kMaxStatePlanes = 8;

/// The owner of the state planes a file holds, as the string_view Param::state_owner keeps, and
/// the plane count it must have (0 = any from 1 to kMaxStatePlanes, for an optimizer outside the
/// library: a user's optimizer names its planes with `Param::state_for(name, count)`). Empty for
/// a name that is not an identifier.
inline std::string_view known_state_owner(std::string_view name, std::size_t& planes) {
  planes = 0;
  if (name.empty()) return {};
  if (name == Adam<float>::name) {  // Adam and AdamW share "adam" planes (m, v)
    planes = 2;
    return Adam<float>::name;
  }
  if (name == Sgd<float>::name) {
    planes = 1;
    return Sgd<float>::name;
  }
  return intern_name(name);
}

/// Maps an initialiser name read from a file back to the initialiser's own static string, or to
/// an interned copy for an initialiser outside the library (EditRecord::initializer is a
/// string_view); empty when it is not an identifier.
inline std::string_view known_initializer(std::string_view name) {
  for (std::string_view known :
       {init::ZeroFanOut::name, init::He::name, init::Glorot::name, init::Net2Wider::name,
        init::GradMax<float>::name, init::Identity::name}) {
    if (name == known) return known;
  }
  return intern_name(name);
}

/// File codes of the enumerations a file holds. Fixed by the format, independent of the order of
/// the C++ enumerators: `file_code` switches over every enumerator (so a new one is a compile error
/// here, not a silently different file), `from_file_code` indexes these tables.
inline constexpr DropoutKind kDropoutKindCodes[] = {DropoutKind::bernoulli, DropoutKind::gaussian,
                                                    DropoutKind::drop_connect,
                                                    DropoutKind::batch_shared};
inline constexpr DropoutConvention kDropoutConventionCodes[] = {DropoutConvention::inverted,
                                                                DropoutConvention::paper};
/// The one table of structural event codes: a network's edit log and a trainer's history alike.
inline constexpr EventKind kEventKindCodes[] = {
    EventKind::grow_neurons,      EventKind::remove_neurons, EventKind::grow_connections,
    EventKind::prune_connections, EventKind::insert_layer,   EventKind::remove_layer,
    EventKind::new_data,          EventKind::rollback};

inline std::uint8_t file_code(DropoutKind k) {
  switch (k) {
    case DropoutKind::bernoulli: return 0;
    case DropoutKind::gaussian: return 1;
    case DropoutKind::drop_connect: return 2;
    case DropoutKind::batch_shared: return 3;
  }
  return 255;
}
inline std::uint8_t file_code(DropoutConvention c) {
  switch (c) {
    case DropoutConvention::inverted: return 0;
    case DropoutConvention::paper: return 1;
  }
  return 255;
}
inline std::uint8_t file_code(EventKind k) {
  switch (k) {
    case EventKind::grow_neurons: return 0;
    case EventKind::remove_neurons: return 1;
    case EventKind::grow_connections: return 2;
    case EventKind::prune_connections: return 3;
    case EventKind::insert_layer: return 4;
    case EventKind::remove_layer: return 5;
    case EventKind::new_data: return 6;
    case EventKind::rollback: return 7;
  }
  return 255;
}

/// The enumerator with file code `code`, or a FileError naming `what`.
template <class E, std::size_t N>
E from_file_code(ByteReader& r, const E (&table)[N], const char* what) {
  const std::uint8_t code = r.u8(what);
  if (code >= N) r.corrupt("unknown ", what, " code ", static_cast<int>(code));
  return table[code];
}

/// Throws NumericError naming the tensor and position of the first non-finite entry of `m`.
template <class M>
void check_finite_for_save(const M& m, Index layer, const char* tensor, std::int64_t steps) {
  for (Index r = 0; r < m.rows(); ++r) {
    for (Index c = 0; c < m.cols(); ++c) {
      if (!std::isfinite(static_cast<double>(m(r, c)))) {
        fail<NumericError>("save: layer ", layer, " ", tensor, " holds ",
                           static_cast<double>(m(r, c)), " at (", r, ", ", c, ") after ", steps,
                           " training steps; a network with NaN or infinity is not saved (the "
                           "previous file is unchanged). Restore the last good checkpoint");
      }
    }
  }
}

template <Scalar T>
void write_param(ByteWriter& w, const Param<T>& p, bool with_state) {
  const auto v = p.value.view();
  for (Index r = 0; r < v.rows(); ++r)
    w.put_run(v.row(r).data(), static_cast<std::size_t>(v.cols()));
  w.u8(p.has_mask() ? 1 : 0);
  if (p.has_mask()) {
    const auto m = p.mask.view();
    for (Index r = 0; r < m.rows(); ++r)
      w.put_run(m.row(r).data(), static_cast<std::size_t>(m.cols()));
  }
  const bool state = with_state && !p.state_owner.empty();
  w.str(state ? p.state_owner : std::string_view{});
  w.u8(state ? static_cast<std::uint8_t>(p.state.size()) : 0);
  if (state) {
    for (const auto& plane : p.state) {
      const auto s = plane.view();
      for (Index r = 0; r < s.rows(); ++r)
        w.put_run(s.row(r).data(), static_cast<std::size_t>(s.cols()));
    }
  }
  for (std::int64_t b : p.row_birth) w.i64(state ? b : kUnbornStep);
  for (std::int64_t b : p.col_birth) w.i64(state ? b : kUnbornStep);
}

/// Writes a layer's plasticity: flag 0 (every neuron at 1), or flag 1 and one value per output
/// neuron (format version 8; older files end the LAYR section before the flag).
template <Scalar T>
void write_plasticity(ByteWriter& w, const DenseParams<T>& d) {
  const std::vector<T>& p = d.weight_param().row_plasticity;
  w.u8(p.empty() ? 0 : 1);
  if (!p.empty()) w.put_run(p.data(), p.size());
}

/// Writes the NETW section and one LAYR section per dense layer.
template <Scalar T, Activation Act>
void write_network(ContainerWriter& file, const Mlp<T, Act>& net, const SaveOptions& options) {
  check_not_empty(net.input_size(), "save");
  using Access = MlpAccess<Mlp<T, Act>>;
  const std::int64_t steps = Access::steps(net);
  for (Index l = 0; l < net.layer_count(); ++l) {
    const DenseParams<T>& d = net.layer_params(l);
    check_finite_for_save(d.weight_param().value.view(), l, "weights", steps);
    check_finite_for_save(d.bias_param().value.view(), l, "bias", steps);
    if (options.optimizer_state) {
      for (const Param<T>* p : {&d.weight_param(), &d.bias_param()})
        for (const auto& plane : p->state)
          check_finite_for_save(plane.view(), l, "optimizer state", steps);
    }
  }
  ByteWriter& w = file.out();
  file.begin("NETW");
  w.u8(kScalarCode<T>);
  w.str(Act::name);
  const std::vector<Index> sizes = net.sizes();
  w.u32(static_cast<std::uint32_t>(net.layer_count()));
  for (Index s : sizes) w.u64(static_cast<std::uint64_t>(s));
  w.u64(Access::next_neuron_id(net));
  w.i64(steps);
  const Rng::State rng = Access::rng_state(net);
  for (std::uint64_t word : rng.words) w.u64(word);
  w.f64(rng.spare_normal);
  w.put(rng.has_spare_normal);
  for (Index h = 0; h < net.hidden_layer_count(); ++h) {
    const NeuronAxis& axis = net.axis(h);
    w.u64(static_cast<std::uint64_t>(axis.min_width));
    const Dropout& d = axis.dropout;
    w.u8(file_code(d.kind));
    w.f64(d.rate);
    w.u8(file_code(d.convention));
    w.i64(d.ramp_steps);
    for (std::uint64_t id : axis.ids) w.u64(id);
  }
  const auto& log = Access::edit_log(net);
  w.u32(static_cast<std::uint32_t>(log.size()));
  for (const EditRecord& e : log) {
    w.u8(file_code(e.kind));
    w.i64(e.layer);
    w.i64(e.count);
    w.i64(e.first);
    w.str(e.initializer);
    w.i64(e.step);
  }
  file.end();
  for (Index l = 0; l < net.layer_count(); ++l) {
    file.begin("LAYR");
    w.u32(static_cast<std::uint32_t>(l));
    write_param(w, net.layer_params(l).weight_param(), options.optimizer_state);
    write_param(w, net.layer_params(l).bias_param(), options.optimizer_state);
    write_plasticity(w, net.layer_params(l));
    file.end();
  }
}

/// Reads `rows × cols` scalars into the active block of a row-major plane, refusing non-finite
/// values (a network file never legitimately holds them: `save` refuses to write them).
template <Scalar T>
void read_plane(ByteReader& r, ParamMatrix<T>& plane, const std::string& what) {
  auto v = plane.view();
  r.need_items(static_cast<std::uint64_t>(v.rows()) * static_cast<std::uint64_t>(v.cols()),
               sizeof(T), what);
  for (Index i = 0; i < v.rows(); ++i)
    r.get_run(&v(i, 0), static_cast<std::size_t>(v.cols()), what);
  if (!all_finite(v)) r.corrupt(what, " holds NaN or infinity");
}

template <Scalar T>
void read_param(ByteReader& r, Param<T>& p, const std::string& label) {
  read_plane(r, p.value, label);
  const std::uint8_t has_mask = r.u8(label + " mask flag");
  if (has_mask > 1) r.corrupt(label, " mask flag is ", static_cast<int>(has_mask));
  if (has_mask == 1) {
    if (!p.maskable) r.corrupt(label, " has a connection mask, but biases cannot be masked");
    p.materialise_mask();
    read_plane(r, p.mask, label + " mask");
    if (!((p.mask.view().array() == T(0)) || (p.mask.view().array() == T(1))).all())
      r.corrupt(label, " mask has entries other than 0 and 1");
    // −0.0 passes the test above but would flip the sign of the zeros apply_mask writes (w · −0),
    // so a loaded file would not save back to the same bytes: keep only +0 and 1.
    p.mask.view() = p.mask.view().unaryExpr([](T m) { return m == T(0) ? T(0) : T(1); });
    p.refresh_masked();
  }
  const std::string owner = r.str(label + " optimizer name", 64);
  std::size_t expected = 0;
  const std::string_view known = known_state_owner(owner, expected);
  if (!owner.empty() && known.empty()) {
    r.corrupt(label, " holds state of an optimizer named \"", owner, "\", which ",
              intern_refusal(owner));
  }
  const std::uint8_t planes = r.u8(label + " optimizer plane count");
  if (expected == 0 && !owner.empty() && (planes < 1 || planes > kMaxStatePlanes)) {
    r.corrupt(label, " has ", static_cast<int>(planes), " optimizer state planes of \"", owner,
              "\"; an optimizer keeps 1 to ", kMaxStatePlanes);
  } else if ((expected != 0 || owner.empty()) && planes != expected) {
    r.corrupt(label, " has ", static_cast<int>(planes), " optimizer state planes where \"", owner,
              "\" has ", expected);
  }
  std::vector<ParamMatrix<T>> state(planes);
  for (std::size_t i = 0; i < state.size(); ++i) {
    state[i].reserve(p.value.row_capacity(), p.value.col_capacity());
    state[i].reshape_zero(p.rows(), p.cols());
    read_plane(r, state[i], label + " optimizer state plane " + std::to_string(i));
  }
  p.state = std::move(state);
  p.state_owner = known;
  for (auto* births : {&p.row_birth, &p.col_birth}) {
    r.need_items(births->size(), 8, label + " births");
    for (auto& b : *births) {
      b = r.i64(label + " birth");
      if (b < kUnbornStep) r.corrupt(label, " has a birth step ", b, " below -1");
    }
  }
}

/// Reads what write_plasticity wrote, refusing values outside [0, 1].
template <Scalar T>
void read_plasticity(ByteReader& r, DenseParams<T>& d, const std::string& label) {
  const std::uint8_t flag = r.u8(label + " plasticity flag");
  if (flag > 1) r.corrupt(label, " plasticity flag is ", static_cast<int>(flag));
  if (flag == 0) return;
  Vector<T> values(d.outputs());
  r.get_run(values.data(), static_cast<std::size_t>(values.size()), label + " plasticity");
  if (!((values.array() >= T(0)) && (values.array() <= T(1))).all())
    r.corrupt(label, " has a plasticity outside [0, 1]");
  d.set_plasticity(values, /*keep_ones=*/true);
}

/// Rebuilds a network from the NETW and LAYR sections (the first 1 + L sections), checking every
/// field; returns it and how many sections it used.
template <Scalar T, Activation Act>
Mlp<T, Act> read_network(const std::vector<Section>& sections, std::size_t& used,
                         const std::string& where, const std::string& file) {
  using Access = MlpAccess<Mlp<T, Act>>;
  if (sections.empty() || sections[0].tag != "NETW") {
    fail<FileError>(where, ": ", file, " is corrupt: its first section is not the network (NETW)");
  }
  ByteReader r(sections[0].body, where, file, sections[0].offset);
  const std::uint8_t scalar = r.u8("scalar type");
  if (scalar != 1 && scalar != 2) r.corrupt("unknown scalar type code ", static_cast<int>(scalar));
  if (scalar != kScalarCode<T>) {
    fail<FileError>(where, ": ", file, " holds a ", scalar_code_name(scalar), " network but ",
                    where, "<", scalar_code_name(kScalarCode<T>),
                    ", ...> was asked for; read it as ", where, "<", scalar_code_name(scalar),
                    ", ...>");
  }
  const std::string activation = r.str("activation name", 64);
  if (activation != Act::name) {
    fail<FileError>(where, ": ", file, " holds a network with activation \"", activation, "\" but ",
                    where, "<..., ", Act::name, "> was asked for; read it with the activation \"",
                    activation, "\"");
  }
  const std::uint32_t layers = r.u32("dense layer count");
  if (layers < 1) r.corrupt("the network has 0 dense layers");
  r.need_items(std::uint64_t{layers} + 1, 8, "layer sizes");
  std::vector<Index> sizes(layers + std::size_t{1});
  // Every size is backed by bytes of the file: the layers' weights and biases must fit in the
  // payload, which bounds what the network below allocates by the file's own size.
  std::uint64_t payload = 0;
  for (const Section& s : sections) payload += s.body.size();
  for (auto& s : sizes) {
    const std::uint64_t v = r.u64("layer size");
    if (v < 1 || v > payload) r.corrupt("layer size ", v, " is impossible for this file");
    s = static_cast<Index>(v);
  }
  std::uint64_t scalars = 0;
  for (std::size_t l = 0; l < layers; ++l) {
    const auto in = static_cast<std::uint64_t>(sizes[l]);
    const auto out = static_cast<std::uint64_t>(sizes[l + 1]);
    // in, out ≤ payload < 2^48 in practice; check the product against the payload without overflow
    if (in > payload / out)
      r.corrupt("layer ", l, " of ", out, " × ", in, " does not fit the file");
    scalars += in * out + out;
    if (scalars > payload / sizeof(T))
      r.corrupt("the layer sizes ", format_sizes(sizes), " need more bytes than the file holds");
  }
  const std::uint64_t next_id = r.u64("next neuron id");
  const std::int64_t steps = r.i64("training steps");
  if (steps < 0) r.corrupt("negative training step count ", steps);
  Rng::State rng;
  for (auto& word : rng.words) word = r.u64("random state");
  rng.spare_normal = r.f64("random state");
  rng.has_spare_normal = r.boolean("random state");
  if (!Rng::reachable(rng))
    r.corrupt("the random stream's state is all zero, which xoshiro256** never reaches");
  if (!std::isfinite(rng.spare_normal)) r.corrupt("the random stream's spare normal is not finite");

  Mlp<T, Act> net(sizes, 0);
  Access::set_next_neuron_id(net, next_id);
  Access::set_steps(net, steps);
  Access::set_rng_state(net, rng);
  for (std::size_t h = 0; h + 1 < layers; ++h) {
    const std::uint64_t min_width = r.u64("minimum width");
    if (min_width < 1 || min_width > payload)
      r.corrupt("hidden layer ", h, " has minimum width ", min_width);
    NeuronAxis& axis = Access::axis(net, h);
    axis.min_width = static_cast<Index>(min_width);
    Dropout d;
    d.kind = from_file_code(r, kDropoutKindCodes, "dropout kind");
    d.rate = r.f64("dropout rate");
    d.convention = from_file_code(r, kDropoutConventionCodes, "dropout convention");
    d.ramp_steps = r.i64("dropout ramp");
    if (!(d.rate >= 0.0 && d.rate < 1.0) || d.ramp_steps < 0)
      r.corrupt("hidden layer ", h, " has dropout rate ", d.rate, " and ramp ", d.ramp_steps);
    axis.dropout = d;
    auto& ids = axis.ids;
    r.need_items(ids.size(), 8, "neuron ids");
    for (auto& id : ids) {
      id = r.u64("neuron id");
      if (id >= next_id) r.corrupt("neuron id ", id, " is not below the id counter ", next_id);
    }
    std::vector<std::uint64_t> sorted = ids;
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
      r.corrupt("hidden layer ", h, " has two neurons with the same id");
  }
  const std::uint32_t edits = r.u32("edit log length");
  constexpr std::uint64_t min_record = 1 + 8 + 8 + 8 + 4 + 8;
  r.need_items(edits, min_record, "edit log");
  auto& log = Access::edit_log(net);
  log.resize(edits);
  for (EditRecord& e : log) {
    e.kind = from_file_code(r, kEventKindCodes, "edit kind");
    if (!is_network_edit(e.kind))
      r.corrupt("the edit log holds a ", event_name(e.kind),
                " event, which only a trainer records");
    e.layer = r.i64("edit layer");
    e.count = r.i64("edit count");
    e.first = r.i64("edit first neuron");
    const std::string init = r.str("edit initialiser", 64);
    e.initializer = known_initializer(init);
    if (!init.empty() && e.initializer.empty())
      r.corrupt("the edit log names an initialiser \"", init, "\", which ", intern_refusal(init));
    e.step = r.i64("edit step");
    if (e.layer < -1 || e.count < 0 || e.first < -1 || e.step < 0 || e.step > steps)
      r.corrupt("an edit log record is inconsistent");
  }
  if (!r.done()) r.corrupt(r.remaining(), " unexpected bytes at the end of the network section");

  used = 1;
  for (std::size_t l = 0; l < layers; ++l, ++used) {
    if (used >= sections.size() || sections[used].tag != "LAYR") {
      fail<FileError>(where, ": ", file, " is corrupt: the section of dense layer ", l,
                      " (LAYR) is missing");
    }
    ByteReader lr(sections[used].body, where, file, sections[used].offset);
    const std::uint32_t index = lr.u32("layer index");
    if (index != l) lr.corrupt("layer ", l, "'s section says it is layer ", index);
    DenseParams<T>& d = net.layer_params(static_cast<Index>(l));
    const std::string name = "layer " + std::to_string(l);
    read_param(lr, d.weight_param(), name + " weights");
    read_param(lr, d.bias_param(), name + " bias");
    if (!lr.done()) read_plasticity(lr, d, name);
    if (!lr.done()) lr.corrupt(lr.remaining(), " unexpected bytes at the end of ", name);
    // The file may break "masked entries are 0" only if it was edited by hand: re-establish it
    // exactly as apply_masks() would.
    d.apply_mask();
  }
  return net;
}

/// The bytes `save` writes.
template <Scalar T, Activation Act>
std::vector<unsigned char> network_bytes(const Mlp<T, Act>& net, const SaveOptions& options = {}) {
  ContainerWriter file;
  write_network(file, net, options);
  return file.finish();
}

/// Sections a file may hold after the network, in this order; `load` skips them (they are covered
/// by the checksum), `load_checkpoint` reads them. SCAL (the feature scaler a model was trained
/// with) is read by `load_scaler`.
inline bool is_trainer_section(std::string_view tag) {
  return tag == "OPTM" || tag == "HIST" || tag == "TRNR" || tag == "PLCY" || tag == "BEST" ||
         tag == "SAVD" || tag == "SCAL";
}

/// Writes the SCAL section: the feature count, then each feature's mean and standard deviation
/// as f64.
template <Scalar T>
void write_scaler(ContainerWriter& file, const StandardScaler<T>& scaler) {
  ByteWriter& w = file.out();
  file.begin("SCAL");
  w.u64(static_cast<std::uint64_t>(scaler.mean.size()));
  for (Index i = 0; i < scaler.mean.size(); ++i) {
    w.f64(static_cast<double>(scaler.mean(i)));
    w.f64(static_cast<double>(scaler.sd(i)));
  }
  file.end();
}

/// The first fields of a network section: enough to tell which `load<T, Act>` reads it.
struct NetworkHead {
  std::uint8_t scalar = 0;  ///< kScalarCode: 1 float, 2 double
  std::string activation;
  std::uint64_t inputs = 0;  ///< the network's input count
};

/// Reads the head of the network section that opens `sections` (FileError when there is none).
inline NetworkHead read_network_head(const std::vector<Section>& sections, const char* where,
                                     const std::string& file) {
  if (sections.empty() || sections.front().tag != "NETW")
    fail<FileError>(where, ": ", file, " is corrupt: it does not start with a network");
  ByteReader head(sections.front().body, where, file, sections.front().offset);
  NetworkHead h;
  h.scalar = head.u8("scalar type");
  if (h.scalar != 1 && h.scalar != 2)
    head.corrupt("unknown scalar type code ", static_cast<int>(h.scalar));
  h.activation = head.str("activation name", 64);
  (void)head.u32("layer count");
  h.inputs = head.u64("input size");
  return h;
}

/// `load` on bytes already in memory; `file` names them in messages.
template <Scalar T, Activation Act>
Mlp<T, Act> load_bytes(std::span<const unsigned char> bytes, const std::string& file,
                       const std::string& where = "load") {
  const std::vector<Section> sections = read_container(bytes, where, file);
  std::size_t used = 0;
  Mlp<T, Act> net = read_network<T, Act>(sections, used, where, file);
  for (std::size_t i = used; i < sections.size(); ++i) {
    if (!is_trainer_section(sections[i].tag)) {
      fail<FileError>(where, ": ", file, " is corrupt: unknown section \"", sections[i].tag,
                      "\" at byte ", sections[i].offset - 12);
    }
  }
  return net;
}

}  // namespace detail

/// Saves `net` to `path` in neuroplast's binary format (docs/file-format.md): sizes, activation,
/// weights, biases, connection masks, the optimizer's per-parameter state (unless
/// `options.optimizer_state` is false) and the network's bookkeeping (neuron ids, minimum widths,
/// dropout settings, training steps, random stream, edit log), so that training resumes exactly.
/// Versioned, CRC-32 checksummed and written atomically: on any failure the previous file at
/// `path` is unchanged. Throws NumericError (nothing written) if a parameter is NaN or infinite,
/// FileError if the file cannot be written.
template <Scalar T, Activation Act>
void save(const Mlp<T, Act>& net, const std::string& path, const SaveOptions& options = {}) {
  const std::vector<unsigned char> bytes = detail::network_bytes(net, options);
  write_file_atomically(path, bytes, "save");
}

/// Saves `net` as `save` does, together with the feature scaler its inputs were standardised
/// with (`StandardScaler`), so that the model file alone says how to prepare data for it;
/// `load_scaler` reads it back, `load` ignores it. Throws Error (nothing written) unless the
/// scaler has one finite mean and one positive, finite standard deviation per network input.
template <Scalar T, Activation Act>
void save(const Mlp<T, Act>& net, const StandardScaler<T>& scaler, const std::string& path,
          const SaveOptions& options = {}) {
  if (scaler.mean.size() != net.sizes().front() || scaler.sd.size() != scaler.mean.size()) {
    detail::fail("save: the scaler has ", scaler.mean.size(), " means and ", scaler.sd.size(),
                 " standard deviations but the network has ", net.sizes().front(),
                 " inputs; save the scaler the network's training data was standardised with");
  }
  if (!scaler.mean.allFinite() || !scaler.sd.allFinite() || !(scaler.sd.array() > T(0)).all()) {
    detail::fail(
        "save: the scaler holds a non-finite mean or a standard deviation that is not "
        "positive and finite; nothing was written (",
        path, " is unchanged)");
  }
  detail::ContainerWriter file;
  detail::write_network(file, net, options);
  detail::write_scaler(file, scaler);
  write_file_atomically(path, file.finish(), "save");
}

/// The feature scaler saved with a model (`save(net, scaler, path)`), or std::nullopt when the
/// file holds none. Throws FileError as `load` does for an unreadable, foreign or damaged file,
/// and for a scaler section that contradicts the network (another feature count, a non-finite
/// mean, a standard deviation that is not positive and finite).
template <Scalar T>
std::optional<StandardScaler<T>> load_scaler(const std::string& path) {
  constexpr const char* where = "load_scaler";
  const std::vector<unsigned char> bytes = read_file(path, where);
  const std::vector<detail::Section> sections = detail::read_container(bytes, where, path);
  const std::uint64_t inputs = detail::read_network_head(sections, where, path).inputs;
  for (const detail::Section& section : sections) {
    if (section.tag != "SCAL") continue;
    detail::ByteReader r(section.body, where, path, section.offset);
    const std::uint64_t n = r.u64("scaler feature count");
    if (n != inputs) {
      r.corrupt("a scaler for ", n, " features, but the network has ", inputs, " inputs");
    }
    r.need_items(n, 16, "scaler statistics");
    StandardScaler<T> scaler;
    scaler.mean.resize(static_cast<Index>(n));
    scaler.sd.resize(static_cast<Index>(n));
    for (Index i = 0; i < static_cast<Index>(n); ++i) {
      const double mean = r.f64("scaler mean"), sd = r.f64("scaler standard deviation");
      if (!std::isfinite(mean) || !(sd > 0 && std::isfinite(sd)))
        r.corrupt("feature ", i, " has scaler mean ", mean, " and standard deviation ", sd);
      scaler.mean(i) = static_cast<T>(mean);
      scaler.sd(i) = static_cast<T>(sd);
    }
    if (!r.done()) r.corrupt(r.remaining(), " unexpected bytes at the end of the scaler");
    return scaler;
  }
  return std::nullopt;
}

/// What a network file holds, as far as choosing `load<T, Act>` needs: its scalar type
/// ("float" or "double") and activation name (`Act::name`, e.g. "relu").
struct NetworkFileInfo {
  std::string scalar;      ///< "float" or "double"
  std::string activation;  ///< the hidden layers' `Act::name`
};

/// Reads the scalar type and activation of the network in `bytes` (a file written by `save` or
/// `save_checkpoint`), checking the container as `load` does; `file` names them in messages.
/// Throws FileError for a foreign, truncated or damaged file. For bindings and tools that choose
/// the template arguments of `load` at run time.
inline NetworkFileInfo network_file_info(std::span<const unsigned char> bytes,
                                         const std::string& file) {
  constexpr const char* where = "network_file_info";
  const detail::NetworkHead h =
      detail::read_network_head(detail::read_container(bytes, where, file), where, file);
  return {detail::scalar_code_name(h.scalar), h.activation};
}

/// As above, for the file at `path`.
inline NetworkFileInfo network_file_info(const std::string& path) {
  return network_file_info(read_file(path, "network_file_info"), path);
}

/// Loads a network saved by `save` (or `save_checkpoint`, whose trainer sections it skips).
/// Throws FileError saying which when the file is missing, foreign, truncated, damaged (CRC-32),
/// of a newer format version, holds another scalar type (a float file read as double) or
/// activation, or has any inconsistent field; never allocates more than the file's size justifies.
/// The loaded network equals the saved one bit for bit (parameters, masks, optimizer state,
/// bookkeeping), except that capacity is exactly the current sizes and gradients are zero.
template <Scalar T, Activation Act>
Mlp<T, Act> load(const std::string& path) {
  const std::vector<unsigned char> bytes = read_file(path, "load");
  return detail::load_bytes<T, Act>(bytes, path, "load");
}

}  // namespace neuroplast
