"""Grow a network on a CSV data set from a tiny start, and plot what happened.

    PYTHONPATH=<build>/python /usr/bin/python3 examples/python/grow_on_csv.py data.csv \
        [--label-column -1] [--epochs 300] [--policy dropin|neuroplastic] [--plot growth.png]

The CSV holds one sample per row, numeric features and an integer class label (by default in the
last column; a header row is skipped when it is not numeric). Without a file it makes one: two
interleaved spirals. Features are standardised on the training split; 60/20/20 split. Plots
(matplotlib, Debian python3-matplotlib) the training loss, the validation accuracy and every
hidden layer's width per epoch, with the structural events; without matplotlib it prints them.
"""
import argparse
import csv
import math
import os
import sys

import numpy as np

import neuroplast as npl


def spirals(n=600, seed=1):
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, 1, n)
    c = np.arange(n) % 2
    angle = 4 * math.pi * t + c * math.pi
    X = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1) + rng.normal(0, 0.02, (n, 2))
    return X.astype(np.float32), c.astype(np.int64)


def read(path, label_column):
    with open(path, newline="") as f:
        rows = [r for r in csv.reader(f) if r]
    try:
        float(rows[0][0])
    except ValueError:
        rows = rows[1:]  # a header
    table = np.array(rows, dtype=np.float64)
    labels = table[:, label_column].astype(np.int64)
    features = np.delete(table, label_column % table.shape[1], axis=1).astype(np.float32)
    return features, labels - labels.min()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("csv", nargs="?", help="data file (default: generated spirals)")
    p.add_argument("--label-column", type=int, default=-1)
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--policy", choices=["dropin", "neuroplastic"], default="dropin")
    p.add_argument("--plot", default="growth.png", help="image to write (needs matplotlib)")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()

    X, y = read(a.csv, a.label_column) if a.csv else spirals(seed=a.seed)
    order = np.random.default_rng(a.seed).permutation(len(y))
    X, y = X[order], y[order]
    n_train, n_val = int(0.6 * len(y)), int(0.2 * len(y))
    mean, sd = X[:n_train].mean(axis=0), X[:n_train].std(axis=0) + 1e-8
    X = ((X - mean) / sd).astype(np.float32)
    train, val, test = slice(0, n_train), slice(n_train, n_train + n_val), slice(n_train + n_val, None)

    classes = int(y.max()) + 1
    net = npl.Mlp([X.shape[1], 2, 2, classes], seed=a.seed)  # far too small on purpose
    policy = npl.DropinPolicy() if a.policy == "dropin" else npl.NeuroplasticPolicy()
    trainer = npl.Trainer(net, npl.Adam(learning_rate=1e-2), policy, epochs=a.epochs,
                          batch_size=32, seed=a.seed)
    history = trainer.fit(X[train], y[train], X[val], y[val])
    result = trainer.evaluate(X[test], y[test])
    print(f"{a.policy}: {net.sizes} after {len(history.epochs)} epochs, "
          f"{net.active_parameter_count} active parameters, test accuracy {100 * result.accuracy:.2f}%")
    for e in history.events:
        print(f"  epoch {e.epoch:4d}: {e.kind} layer {e.layer} ({e.count}) - {e.reason}")

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (apt-get install python3-matplotlib): no plot written")
        return 0
    epochs = [e.epoch for e in history.epochs]
    fig, axes = plt.subplots(3, 1, figsize=(7, 8), sharex=True)
    axes[0].plot(epochs, [e.train_loss for e in history.epochs])
    axes[0].set_ylabel("training loss")
    axes[1].plot(epochs, [100 * e.validation_accuracy for e in history.epochs])
    axes[1].set_ylabel("validation accuracy (%)")
    for h in range(len(net.sizes) - 2):
        axes[2].plot(epochs, [e.sizes[h + 1] if h + 1 < len(e.sizes) - 1 else math.nan
                              for e in history.epochs], label=f"hidden layer {h}")
    axes[2].set_ylabel("width")
    axes[2].set_xlabel("epoch")
    axes[2].legend()
    for e in history.events:
        for ax in axes:
            ax.axvline(e.epoch, color="red" if e.kind == "grow_neurons" else "green", lw=0.5,
                       ls="--")
    fig.tight_layout()
    fig.savefig(a.plot)
    print(f"wrote {a.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
