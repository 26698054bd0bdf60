#pragma once
/// \file
/// What a verbose trainer prints (`TrainOptions::verbose`): one line per epoch and one per
/// structural event, on stdout.

#include <cmath>
#include <cstdio>

#include "neuroplast/core/error.hpp"
#include "neuroplast/train/history.hpp"

namespace neuroplast::detail {

/// "epoch   3  loss 0.4213  val_loss …  val_acc …  sizes {…}  params …  0.2 s".
inline void print_epoch(const EpochRecord& r) {
  std::printf("epoch %3d  loss %.4f", r.epoch, r.train_loss);
  if (!std::isnan(r.validation_loss)) std::printf("  val_loss %.4f", r.validation_loss);
  if (!std::isnan(r.validation_accuracy))
    std::printf("  val_acc %6.2f%%", 100.0 * r.validation_accuracy);
  std::printf("  sizes %s  params %lld  %.1f s\n", format_sizes(r.sizes).c_str(),
              static_cast<long long>(r.parameter_count), r.seconds);
  std::fflush(stdout);
}

/// "          grow_neurons layer 0, 8 (reason)  sizes {…}".
inline void print_event(const StructuralEvent& ev) {
  std::printf("          %s layer %lld, %lld (%s)  sizes %s\n", event_name(ev.kind),
              static_cast<long long>(ev.layer), static_cast<long long>(ev.count), ev.reason.c_str(),
              format_sizes(ev.sizes_after).c_str());
}

}  // namespace neuroplast::detail
