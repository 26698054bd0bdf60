#pragma once
/// \file
/// Open serialisation traits for what a checkpoint keeps of objects the library does not know in
/// advance: the fields of a policy's progress and of an optimizer's settings. A type of one's own
/// becomes storable by specialising `FieldCodec` (one field) or `OptimizerCodec` (a whole
/// optimizer), as with fmt's `formatter`: no edit of io/ is needed.

#include <cstdint>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "neuroplast/io/byte_io.hpp"

namespace neuroplast {

/// The writer and reader a codec receives (little-endian, bounds-checked; io/byte_io.hpp).
using ByteWriter = detail::ByteWriter;
/// See ByteWriter; every failed read throws FileError naming the file and the offset.
using ByteReader = detail::ByteReader;

/// How one field of a checkpointed object is written and read. Defined for arithmetic types and
/// `bool` (little-endian bytes), `std::string` and `std::vector` of storable fields. Specialise
/// for a type of your own with
///
///     static void write(ByteWriter& w, const V& value);
///     static V read(ByteReader& r);   // throw through r.corrupt(...) on bytes that do not fit
template <class V>
struct FieldCodec;

/// Arithmetic fields and `bool`: their bytes, little-endian.
template <class V>
  requires std::is_arithmetic_v<V>
struct FieldCodec<V> {
  /// Writes `v`'s bytes.
  static void write(ByteWriter& w, V v) { w.put(v); }
  /// Reads what `write` wrote.
  static V read(ByteReader& r) { return r.get<V>("checkpointed field"); }
};

/// A string: its length (u32) and bytes.
template <>
struct FieldCodec<std::string> {
  /// Writes the length and the bytes.
  static void write(ByteWriter& w, const std::string& s) { w.str(s); }
  /// Reads what `write` wrote.
  static std::string read(ByteReader& r) { return r.str("checkpointed string"); }
};

/// Whether `V` has a FieldCodec here.
template <class V>
concept StorableField = requires(ByteWriter& w, ByteReader& r, const V& v) {
  FieldCodec<V>::write(w, v);
  { FieldCodec<V>::read(r) } -> std::same_as<V>;
};

/// A vector: its length (u64), then each element by its own codec.
template <StorableField V>
struct FieldCodec<std::vector<V>> {
  /// Writes the length and every element.
  static void write(ByteWriter& w, const std::vector<V>& values) {
    w.u64(values.size());
    for (const V& v : values) FieldCodec<V>::write(w, v);
  }
  /// Reads what `write` wrote; a length the remaining bytes cannot hold is corrupt.
  static std::vector<V> read(ByteReader& r) {
    const std::uint64_t n = r.u64("checkpointed vector length");
    if (n > r.remaining())
      r.corrupt("a checkpointed vector of ", n, " elements in ", r.remaining(), " bytes");
    std::vector<V> values;
    values.reserve(static_cast<std::size_t>(n));
    for (std::uint64_t i = 0; i < n; ++i) values.push_back(FieldCodec<V>::read(r));
    return values;
  }
};

/// Writes every field of a `std::tie` of fields.
template <class... V>
void write_fields(ByteWriter& w, const std::tuple<V&...>& fields) {
  std::apply([&](const auto&... f) { (FieldCodec<std::decay_t<decltype(f)>>::write(w, f), ...); },
             fields);
}

/// Reads every field of a `std::tie` of fields, in order.
template <class... V>
void read_fields(ByteReader& r, const std::tuple<V&...>& fields) {
  std::apply([&](auto&... f) { ((f = FieldCodec<std::decay_t<decltype(f)>>::read(r)), ...); },
             fields);
}

/// Reads the fields of a `std::tie` in order while more than `tail` bytes remain, and leaves the
/// rest as they are: the fields a state written before they existed does not hold. Fields are
/// only ever appended, so what is missing is always a suffix; a field cut in half still fails
/// (it reads into the tail, and what follows finds too few bytes).
template <class... V>
void read_fields_present(ByteReader& r, const std::tuple<V&...>& fields, std::size_t tail) {
  const auto read_one = [&](auto& f) {
    if (r.remaining() > tail) f = FieldCodec<std::decay_t<decltype(f)>>::read(r);
  };
  std::apply([&](auto&... f) { (read_one(f), ...); }, fields);
}

/// How a trainer checkpoint stores an optimizer's settings and step count (its state lives in the
/// parameters' planes and is stored with them). Defined for `Sgd`, `Adam` and `AdamW`
/// (io/trainer_checkpoint.hpp) and for every optimizer that lists what to keep as
///
///     template <class Self> static auto fields(Self& self) {
///       return std::tie(self.learning_rate, self.beta, self.steps);
///     }
///
/// over storable fields (FieldCodec). Or specialise it with
/// `static void write(ByteWriter&, const Opt&)` and `static Opt read(ByteReader&)`.
template <class Opt>
struct OptimizerCodec;

/// Optimizers that list their fields.
template <class Opt>
  requires requires(Opt& o) { Opt::fields(o); }
struct OptimizerCodec<Opt> {
  /// Writes the listed fields in order.
  static void write(ByteWriter& w, const Opt& o) { write_fields(w, Opt::fields(o)); }
  /// Reads them into a default-constructed optimizer.
  static Opt read(ByteReader& r) {
    Opt o{};
    read_fields(r, Opt::fields(o));
    return o;
  }
};

}  // namespace neuroplast
