#pragma once
/// \file
/// A training policy's progress as bytes, for trainer checkpoints: what the policy has decided so
/// far (phase flags, event counters, the epoch of its last event, a deferred decision, reference
/// scores) and the state of a stateful layer selector (RoundRobin). The policy's settings are not
/// stored: a resumed trainer is built with the same policy, and only its progress is restored.
///
/// A policy opts in with `static auto progress(Self&)` returning `std::tie` of its progress
/// fields: any type with a FieldCodec (io/field_codec.hpp: arithmetic, bool, std::string,
/// std::vector of those, and whatever a user specialises it for); policies without it
/// (StaticPolicy, DropoutPolicy) have no progress to store.

#include <cstdint>
#include <string>
#include <tuple>
#include <type_traits>
#include <variant>
#include <vector>

#include "neuroplast/io/byte_io.hpp"
#include "neuroplast/io/field_codec.hpp"
#include "neuroplast/train/layer_selectors.hpp"

namespace neuroplast::detail {

template <class Policy>
concept HasProgress = requires(Policy& p) {
  Policy::progress(p);
};

/// Writes the state of `p`'s layer selector, if it has one: its kind and, for RoundRobin, its
/// next layer.
template <class Policy>
void write_selector_state(ByteWriter& w, const Policy& p) {
  if constexpr (requires { p.selector; }) {
    w.u8(static_cast<std::uint8_t>(p.selector.index()));
    if (const auto* rr = std::get_if<RoundRobin>(&p.selector)) w.i64(rr->next);
  }
}

/// The bytes of `p`'s progress (empty for a policy without progress).
template <class Policy>
std::vector<unsigned char> policy_state_bytes(const Policy& p) {
  ByteWriter w;
  if constexpr (HasProgress<Policy>) {
    write_fields(w, Policy::progress(p));
  }
  write_selector_state(w, p);
  return w.take();
}

/// Restores `p`'s progress from `bytes` (as written by `policy_state_bytes` for the same policy
/// type). Progress fields a policy gained after the file was written (they are appended) keep
/// the values `p` has, its fresh-run defaults: a checkpoint of an earlier version resumes (a
/// NeuroplasticPolicy state from before `prune_failures` resumes with none). Throws FileError
/// naming `file` on bytes that do not fit, or a selector of another kind than the trainer's
/// policy has.
template <class Policy>
void read_policy_state(std::span<const unsigned char> bytes, Policy& p, const std::string& where,
                       const std::string& file) {
  ByteReader r(bytes, where, file);
  if constexpr (HasProgress<Policy>) {
    // What follows the progress: the selector's state, as long for the file as for `p` (a
    // selector of another kind is refused below).
    ByteWriter selector;
    write_selector_state(selector, p);
    read_fields_present(r, Policy::progress(p), selector.take().size());
    if constexpr (requires { p.progress_valid(); }) {
      if (!p.progress_valid()) r.corrupt("the policy's progress holds values no run reaches");
    }
  }
  if constexpr (requires { p.selector; }) {
    const std::uint8_t kind = r.u8("layer selector kind");
    if (kind != p.selector.index()) {
      fail<Error>(where, ": ", file, " was written by a policy with another layer selector (kind ",
                  static_cast<int>(kind), ", this policy's is ", p.selector.index(),
                  "); build the trainer with the policy of the run that wrote it");
    }
    if (auto* rr = std::get_if<RoundRobin>(&p.selector)) rr->next = r.i64("round-robin layer");
  }
  if (!r.done()) r.corrupt(r.remaining(), " unexpected bytes at the end of the policy state");
}

}  // namespace neuroplast::detail
