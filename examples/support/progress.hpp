#pragma once
// A progress bar within an epoch for the example programs, driven by TrainOptions::on_batch_end:
//
//   epoch 3  [##########----------]  47%  412 batch/s  ETA 2 s  loss 0.3581
//
// On a terminal it redraws one line in place (at most 10 times a second) and clears it when the
// epoch ends, so the trainer's per-epoch line follows on a clean line. When standard output is not
// a terminal (a log file, CI) it draws nothing: the per-epoch lines are the plain progress there.
// Kept out of the library, which prints nothing it is not asked to.

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "neuroplast/train/history.hpp"

namespace neuroplast::examples {

class ProgressBar {
 public:
  explicit ProgressBar(bool enabled = ::isatty(STDOUT_FILENO) != 0) : enabled_(enabled) {}

  /// For TrainOptions::on_batch_end: `.on_batch_end = [&](const BatchRecord& b) { bar.update(b);
  /// }`.
  void update(const BatchRecord& b) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (b.batch == 0) epoch_start_ = now;
    const bool last = b.batch + 1 == b.batches;
    if (last) {
      std::printf("\r%*s\r", static_cast<int>(width_), "");  // the epoch's own line follows
      std::fflush(stdout);
      return;
    }
    if (now - drawn_ < std::chrono::milliseconds(100)) return;
    drawn_ = now;
    const double done = static_cast<double>(b.batch + 1) / static_cast<double>(b.batches);
    const double seconds = std::chrono::duration<double>(now - epoch_start_).count();
    const double rate = seconds > 0 ? static_cast<double>(b.batch + 1) / seconds : 0;
    const double eta = rate > 0 ? static_cast<double>(b.batches - b.batch - 1) / rate : 0;
    constexpr int kCells = 20;
    const int filled = static_cast<int>(done * kCells);
    const std::string bar = std::string(static_cast<std::size_t>(filled), '#') +
                            std::string(static_cast<std::size_t>(kCells - filled), '-');
    const int n = std::printf("\repoch %d  [%s] %3.0f%%  %.0f batch/s  ETA %.0f s  loss %.4f",
                              b.epoch, bar.c_str(), 100 * done, rate, eta, b.loss);
    width_ = n > 0 ? static_cast<std::size_t>(n) : width_;
    std::fflush(stdout);
  }

 private:
  bool enabled_;
  std::size_t width_ = 80;
  std::chrono::steady_clock::time_point epoch_start_{};
  std::chrono::steady_clock::time_point drawn_{};
};

}  // namespace neuroplast::examples
