#pragma once
/// \file
/// Dropout (temporary neuroapoptosis, Algorithm 2 of the paper) as a per-layer setting.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string_view>

#include "neuroplast/core/error.hpp"

namespace neuroplast {

/// What is dropped in training.
enum class DropoutKind {
  bernoulli,     ///< each activation of each sample independently, with probability `rate`
  gaussian,      ///< each activation multiplied by 1 + √(rate/(1−rate))·ε, ε ~ N(0, 1)
  drop_connect,  ///< each weight of W(h) (the fan-in of hidden layer h), per batch
  batch_shared,  ///< whole neurons, the same for every sample of a batch; their rows and columns
                 ///< are left out of the matrix products, so rate p saves about a fraction p of the
                 ///< layer's compute
};

/// Where the 1/(1−p) correction goes, so that training and inference agree in expectation.
enum class DropoutConvention {
  inverted,  ///< kept values are scaled by 1/(1−p) in training; inference is untouched
  paper,     ///< training only masks; inference scales by (1−p), as in Algorithm 2 of the paper
};

/// Dropout of one hidden layer: `net.set_dropout(h, Dropout{.rate = 0.3})`. `ramp_steps` > 0 makes
/// it a curriculum: the rate rises linearly from 0 to `rate` over that many training steps.
/// Gaussian noise has mean 1 in both conventions, so its inference is never scaled.
struct Dropout {
  DropoutKind kind = DropoutKind::bernoulli;  ///< what is dropped
  double rate = 0.0;                          ///< probability of dropping, in [0, 1); 0 = off
  DropoutConvention convention = DropoutConvention::inverted;  ///< where 1/(1−p) goes
  std::int64_t ramp_steps = 0;  ///< curriculum length in training steps (0 = constant rate)

  /// The rate in force after `step` training steps.
  double rate_at(std::int64_t step) const noexcept {
    if (ramp_steps <= 0 || step >= ramp_steps) return rate;
    return rate * static_cast<double>(std::max<std::int64_t>(step, 0)) /
           static_cast<double>(ramp_steps);
  }

  /// Throws Error unless 0 ≤ rate < 1 and ramp_steps ≥ 0.
  void validate(std::string_view where) const {
    if (!(rate >= 0.0 && rate < 1.0)) {
      detail::fail(where, ": dropout rate ", rate,
                   " is outside [0, 1); it is the probability of dropping");
    }
    if (ramp_steps < 0) detail::fail(where, ": ramp_steps = ", ramp_steps, " must be ≥ 0");
  }
};

}  // namespace neuroplast
