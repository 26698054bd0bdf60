"""Continual learning from Python: tasks of new classes in turn, one shared head.

    PYTHONPATH=<build>/python /usr/bin/python3 examples/python/continual.py [--tasks 3] \
        [--epochs 5] [--buffer 200] [--replay 0.25] [--seed 1]

Generated data: two new Gaussian classes per task in 16 dimensions (class-incremental: after the
last task the network must tell every class of every task apart). Three methods, each trained for
the same epochs on each task in turn:

- fine-tune: a fixed network trained on each task alone, which forgets the earlier ones;
- replay: the same network with rehearsal, a ReplayBuffer of past samples mixed into a quarter
  of every batch (Trainer.set_replay);
- growth + freezing + replay: DropinPolicy from a small network; new data (notify_new_data)
  freezes the hidden neurons learned so far and grows new ones with zero fan-out, with the same
  rehearsal.

Prints, after each task, every method's accuracy on each task seen so far, then the average over
all tasks and the final sizes. docs/continual.md explains the methods and the C++ program that
measures them on Fashion-MNIST.
"""
import argparse

import numpy as np

import neuroplast as npl

FEATURES = 16


def make_tasks(tasks, seed):
    """Train and test (X, y) of each task: classes 2t and 2t + 1."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1.2, size=(2 * tasks, FEATURES))
    out = []
    for t in range(tasks):
        split = []
        for n in (300, 100):  # per class: training, test
            y = np.repeat([2 * t, 2 * t + 1], n)
            X = centres[y] + rng.normal(0, 1, size=(len(y), FEATURES))
            split.append((X.astype(np.float32), y.astype(np.int64)))
        out.append(split)
    return out


def run(method, tasks, args):
    """Trains `method` on the tasks in turn; returns the accuracy matrix and the final sizes."""
    classes = 2 * len(tasks)
    grows = method == "growth + freezing + replay"
    net = npl.Mlp([FEATURES, 4 if grows else 32, classes], seed=args.seed)
    policy = npl.DropinPolicy(old_neurons=0.0, depth=0) if grows else npl.StaticPolicy()
    trainer = npl.Trainer(net, npl.Adam(learning_rate=0.01), policy, epochs=args.epochs,
                          batch_size=32, seed=args.seed)
    buffer = npl.ReplayBuffer(args.buffer, seed=args.seed)
    accuracy = np.full((len(tasks), len(tasks)), np.nan)
    for t, ((X, y), _) in enumerate(tasks):
        if t > 0:
            if grows:
                trainer.notify_new_data(X, y)
            if method != "fine-tune":
                trainer.set_replay(*buffer.dataset(), args.replay)
        trainer.fit(X, y)
        buffer.add(X, y)
        for j, (_, (Xt, yt)) in enumerate(tasks[: t + 1]):
            accuracy[t, j] = np.mean(net.predict(Xt) == yt)
    return accuracy, net.sizes


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--buffer", type=int, default=200)
    parser.add_argument("--replay", type=float, default=0.25)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.tasks < 2:
        parser.error("--tasks must be at least 2")
    tasks = make_tasks(args.tasks, args.seed)
    results = {}
    for method in ("fine-tune", "replay", "growth + freezing + replay"):
        accuracy, sizes = run(method, tasks, args)
        results[method] = accuracy[-1].mean()
        print(f"{method} (final sizes {sizes}):")
        for t, row in enumerate(accuracy):
            seen = "  ".join(f"task {j}: {100 * a:5.1f}%" for j, a in enumerate(row[: t + 1]))
            print(f"  after task {t}: {seen}")
    print("average accuracy over every task after the last:")
    for method, average in results.items():
        print(f"  {method:28s} {100 * average:5.1f}%")
    # Without a memory the shared head forgets the old classes; rehearsal keeps them.
    if not results["replay"] > results["fine-tune"]:
        raise SystemExit("rehearsal did not beat fine-tuning: something is wrong")


if __name__ == "__main__":
    main()
