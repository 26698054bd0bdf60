// Training steps while another process keeps one core busy, on 1 and on 2 threads, in one run:
// the busy-machine case of docs/performance.md ("Threads on a busy machine"). A shared machine,
// a laptop or a CI runner often has a core taken by something else; a split product must then not
// wait for the thread whose core is taken. Compare the two rows of each shape: the ratio
// 2 threads / 1 thread is what a user on such a machine gets from the second thread.

#include <benchmark/benchmark.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

#include "neuroplast/neuroplast.hpp"
#include "support/step.hpp"

namespace np = neuroplast;
using np::Index;

namespace {

// A child process that spins for as long as this object lives: one core kept busy.
class BusyCore {
 public:
  BusyCore() : child_(fork()) {
    if (child_ == 0) {
      volatile unsigned long spin = 0;
      for (;;) spin = spin + 1;
    }
    if (child_ < 0) std::abort();  // no process to keep the core busy: the run would mislead
  }
  BusyCore(const BusyCore&) = delete;
  BusyCore& operator=(const BusyCore&) = delete;
  ~BusyCore() {
    kill(child_, SIGKILL);
    waitpid(child_, nullptr, 0);
  }

 private:
  pid_t child_;
};

struct Shape {
  std::vector<Index> sizes;
  Index batch;
};

// The shapes of the performance issue: a small regression-sized net at batch 32 (2.5× slower on
// two threads with a core taken, before), the Fashion-MNIST MLP at its usual batches, and a wide
// network whose products are large.
const Shape kShapes[] = {{{2, 256, 256, 2}, 32},
                         {{784, 128, 10}, 64},
                         {{784, 128, 10}, 256},
                         {{784, 1024, 1024, 10}, 256}};

void bm_train_step_busy(benchmark::State& state) {
  const Shape& s = kShapes[state.range(0)];
  np::set_thread_count(static_cast<int>(state.range(1)));
  np::Mlp<float, np::Relu> net(s.sizes, 1);
  const np::Matrix<float> X = np::Matrix<float>::Random(s.sizes.front(), s.batch);
  const auto y = np::bench::cyclic_labels(s.batch, s.sizes.back());
  np::Workspace<float> ws;
  np::Adam<float> opt{.learning_rate = 1e-4f};
  np::bench::train_step(net, opt, X, y, ws);  // allocate before the clock runs
  const BusyCore busy;
  for (auto _ : state) np::bench::train_step(net, opt, X, y, ws);
}

void busy_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"shape", "threads"})->Unit(benchmark::kMicrosecond)->UseRealTime();
  for (int shape = 0; shape < 4; ++shape)
    for (int threads : {1, 2}) b->Args({shape, threads});
}

}  // namespace

// shape 0: 2-256-256-2 at batch 32, 1: 784-128-10 at 64, 2: 784-128-10 at 256,
// 3: 784-1024-1024-10 at 256; float, Adam.
BENCHMARK(bm_train_step_busy)->Apply(busy_args)->MinTime(1.0);
