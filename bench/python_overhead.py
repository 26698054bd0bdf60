"""Python overhead, side by side in one run: the same work through the Python module and in C++
(bench/bench_python_reference.cpp, Google Benchmark), one thread each, minimum over repetitions.

    NEUROPLAST_NUM_THREADS=1 PYTHONPATH=<build>/python /usr/bin/python3 bench/python_overhead.py \
        <build>/bench/neuroplast_bench_python_reference

Targets (docs/python.md): an epoch within 5% of C++, forward of one sample within 5 us of C++.
"""
import gzip
import json
import os
import subprocess
import sys
import time

import numpy as np

import neuroplast as npl

FASHION = "/usr/share/datasets/fashion-mnist"


def idx(name):
    with gzip.open(os.path.join(FASHION, name)) as f:
        raw = f.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def cpp(binary):
    out = subprocess.run([binary, "--benchmark_format=json"], check=True, capture_output=True,
                         text=True, env={**os.environ, "NEUROPLAST_NUM_THREADS": "1"}).stdout
    runs = json.loads(out)["benchmarks"]
    forward = min(r["real_time"] for r in runs if r["name"].startswith("bm_forward_batch1")
                  and r.get("run_type") == "iteration") * 1e-6  # us -> s
    epochs = [r["real_time"] * 1e-3 for r in runs
              if r["name"].startswith("bm_fashion_epoch") and r.get("run_type") == "iteration"]
    return forward, min(epochs)


def python(X, y):
    net = npl.Mlp([784, 256, 10], seed=1)
    x = np.random.default_rng(1).uniform(-1, 1, size=(1, 784)).astype(np.float32)
    best = float("inf")
    for _ in range(20):
        n = 20000
        start = time.perf_counter()
        for _ in range(n):
            net.forward(x)
        best = min(best, (time.perf_counter() - start) / n)
    epochs = []
    for _ in range(3):
        net = npl.Mlp([784, 256, 10], seed=1)
        trainer = npl.Trainer(net, npl.Adam(learning_rate=1e-3), epochs=1, batch_size=64, seed=1)
        start = time.perf_counter()
        trainer.fit(X, y)
        epochs.append(time.perf_counter() - start)
    return best, min(epochs)


def main(binary):
    images = idx("train-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255
    labels = idx("train-labels-idx1-ubyte.gz").astype(np.int64)
    runs = []
    # Interleaved, so both sides see the same machine load; five rounds, because on a shared
    # machine one side's best epoch of a round can be 15% off the other's for no reason of theirs.
    for _ in range(5):
        runs.append(("C++", *cpp(binary)))
        runs.append(("Python", *python(images, labels)))
    c_fwd = min(r[1] for r in runs if r[0] == "C++")
    c_epoch = min(r[2] for r in runs if r[0] == "C++")
    p_fwd = min(r[1] for r in runs if r[0] == "Python")
    p_epoch = min(r[2] for r in runs if r[0] == "Python")
    print("| measure | C++ | Python | Python − C++ | ratio |")
    print("|---|---|---|---|---|")
    print(f"| forward, 1 sample, 784-256-10 | {c_fwd * 1e6:.2f} µs | {p_fwd * 1e6:.2f} µs | "
          f"{(p_fwd - c_fwd) * 1e6:+.2f} µs | {p_fwd / c_fwd:.2f} |")
    print(f"| training epoch, Fashion-MNIST 784-256-10 | {c_epoch:.3f} s | {p_epoch:.3f} s | "
          f"{p_epoch - c_epoch:+.3f} s | {p_epoch / c_epoch:.3f} |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python_overhead.py <neuroplast_bench_python_reference>")
    main(sys.argv[1])
