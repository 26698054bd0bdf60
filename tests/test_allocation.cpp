// No heap allocation in a steady-state training step, nor in inference with a reused workspace,
// on one thread or two. This executable interposes malloc (every
// allocation, Eigen's and operator new's, goes through it) and counts calls while armed. It has
// its own executable because the interposition affects the whole program.

#include <catch2/catch.hpp>
#include <cstddef>

#include "neuroplast/neuroplast.hpp"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define NEUROPLAST_COUNT_MALLOC 0  // sanitizers own malloc; the count is skipped under them
#else
#define NEUROPLAST_COUNT_MALLOC 1
#endif

namespace {
bool armed = false;
std::size_t allocations = 0;
}  // namespace

#if NEUROPLAST_COUNT_MALLOC
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void* malloc(std::size_t n) {
  if (armed) ++allocations;
  return __libc_malloc(n);
}
void* calloc(std::size_t n, std::size_t s) {
  if (armed) ++allocations;
  return __libc_calloc(n, s);
}
void* realloc(void* p, std::size_t n) {
  if (armed) ++allocations;
  return __libc_realloc(p, n);
}
void* aligned_alloc(std::size_t a, std::size_t n) {
  if (armed) ++allocations;
  return __libc_memalign(a, n);
}
int posix_memalign(void** out, std::size_t a, std::size_t n) {
  if (armed) ++allocations;
  *out = __libc_memalign(a, n);
  return *out ? 0 : 12;
}
}
#endif

using namespace neuroplast;

namespace {

template <class F>
std::size_t count_allocations(F&& f) {
  allocations = 0;
  armed = true;
  f();
  armed = false;
  return allocations;
}

template <class T, class Act, class Opt>
std::size_t allocations_per_steps(std::vector<Index> sizes, Index batch, Opt opt,
                                  Dropout dropout = {}) {
  Mlp<T, Act> net(sizes, 1);
  for (Index h = 0; h < net.hidden_layer_count(); ++h) net.set_dropout(h, dropout);
  Matrix<T> X = Matrix<T>::Random(sizes.front(), batch);
  std::vector<int> labels(static_cast<std::size_t>(batch));
  for (std::size_t i = 0; i < labels.size(); ++i)
    labels[i] = static_cast<int>(i % static_cast<std::size_t>(sizes.back()));
  Workspace<T> ws;
  auto step = [&] {
    const auto logits = net.forward_train(X, ws);
    auto g = ws.output_gradient();
    SoftmaxCrossEntropy::evaluate(logits, Targets<T>{.labels = labels}, &g);
    net.backward(X, ws);
    opt.step(net);
  };
  step();  // warm-up: workspace buffers and optimizer state are created here
  step();
  return count_allocations([&] {
    for (int i = 0; i < 5; ++i) step();
  });
}

}  // namespace

TEST_CASE("the malloc counter sees allocations", "[allocation]") {
  if (!NEUROPLAST_COUNT_MALLOC)
    SUCCEED("sanitizer build: counting disabled");
  else
    CHECK(count_allocations([] {
            Matrix<double> m(100, 100);
            m.setZero();
          }) >= 1);
}

TEST_CASE("a steady-state training step does not allocate", "[allocation]") {
  if (!NEUROPLAST_COUNT_MALLOC) return;
  CHECK(allocations_per_steps<float, Relu>({64, 64, 10}, 32, Adam<float>{}) == 0);
  CHECK(allocations_per_steps<float, Relu>({784, 128, 10}, 64, Adam<float>{}) == 0);
  CHECK(allocations_per_steps<double, Tanh>({20, 30, 30, 5}, 16, Sgd<double>{.momentum = 0.9}) ==
        0);
  CHECK(allocations_per_steps<float, Sigmoid>({10, 10, 3}, 1, AdamW<float>{}) == 0);
  CHECK(allocations_per_steps<float, Relu>({784, 1024, 1024, 10}, 256, Adam<float>{}) == 0);
}

TEST_CASE("steps and inference on two threads do not allocate", "[allocation][threads]") {
  if (!NEUROPLAST_COUNT_MALLOC) return;
  const int before = thread_count();
  set_thread_count(2);
  set_adaptive_split(false);  // every split the rule allows happens, whatever the machine's load
  // Big enough for every product (and Adam's update) to be split over both threads.
  CHECK(allocations_per_steps<float, Relu>({784, 1024, 1024, 10}, 256, Adam<float>{}) == 0);
  CHECK(allocations_per_steps<float, Relu>({784, 128, 10}, 64, Adam<float>{}) == 0);
  set_adaptive_split(true);
  set_thread_count(before);
}

TEST_CASE("inference with a reused workspace does not allocate", "[allocation]") {
  if (!NEUROPLAST_COUNT_MALLOC) return;
  const int before = thread_count();
  for (int threads : {1, 2}) {
    set_thread_count(threads);
    for (const auto& sizes : {std::vector<Index>{64, 64, 10}, std::vector<Index>{784, 128, 10},
                              std::vector<Index>{784, 1024, 1024, 10}}) {
      Mlp<float, Relu> net(sizes, 1);
      Workspace<float> ws;
      for (Index batch : {Index{1}, Index{64}, Index{256}}) {
        INFO("threads " << threads << ", " << sizes[1] << " wide, batch " << batch);
        const Matrix<float> X = Matrix<float>::Random(sizes.front(), batch);
        net.forward(X, ws);  // warm-up for this batch size
        CHECK(count_allocations([&] {
                for (int i = 0; i < 3; ++i) net.forward(X, ws);
              }) == 0);
      }
    }
  }
  set_thread_count(before);
}

TEST_CASE("a steady-state training step with dropout does not allocate", "[allocation][dropout]") {
  if (!NEUROPLAST_COUNT_MALLOC) return;
  for (auto kind : {DropoutKind::bernoulli, DropoutKind::gaussian, DropoutKind::drop_connect}) {
    CHECK(allocations_per_steps<float, Relu>({64, 64, 64, 10}, 32, Adam<float>{},
                                             Dropout{.kind = kind, .rate = 0.3}) == 0);
  }
  // Batch-shared dropout keeps a random number of neurons; its buffers settle at the largest.
  Mlp<float, Relu> net({64, 64, 10}, 1);
  net.set_dropout(0, Dropout{.kind = DropoutKind::batch_shared, .rate = 0.3});
  Matrix<float> X = Matrix<float>::Random(64, 32);
  std::vector<int> y(32, 1);
  Workspace<float> ws;
  Adam<float> opt;
  auto step = [&] {
    const auto logits = net.forward_train(X, ws);
    auto g = ws.output_gradient();
    SoftmaxCrossEntropy::evaluate(logits, Targets<float>{.labels = y}, &g);
    net.backward(X, ws);
    opt.step(net);
  };
  for (int i = 0; i < 200; ++i) step();  // enough draws to have met a near-maximal kept count
  CHECK(count_allocations([&] {
          for (int i = 0; i < 20; ++i) step();
        }) <= 2);
}

TEST_CASE("the trainer's batches do not allocate", "[allocation]") {
  if (!NEUROPLAST_COUNT_MALLOC) return;
  // Allocation count of an epoch must not depend on its number of batches.
  auto make = [](Index n) {
    Matrix<float> X = Matrix<float>::Random(16, n);
    std::vector<int> y(static_cast<std::size_t>(n));
    for (Index i = 0; i < n; ++i) y[static_cast<std::size_t>(i)] = static_cast<int>(i % 4);
    return Dataset<float>(X, y);
  };
  // Everything a fit allocates (workspace, optimizer state, shuffling order, history) is allocated
  // once, so a fresh fit of 10 batches and one of 100 batches allocate the same number of times.
  auto fresh_fit = [](const Dataset<float>& data) {
    Mlp<float, Relu> net({16, 32, 4}, 2);
    Trainer trainer(net, Adam<float>{}, StaticPolicy{},
                    TrainOptions{.epochs = 2, .batch_size = 10});
    return count_allocations([&] { trainer.fit(data); });
  };
  const auto small = make(100), large = make(1000);
  const auto few = fresh_fit(small);
  const auto many = fresh_fit(large);
  CHECK(many == few);
}
