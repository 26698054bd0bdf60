"""End-to-end checks of neuroplast-train (CTest tools/neuroplast_train).

Usage: check_train_tool.py PATH/TO/neuroplast-train

Generates small CSV files, trains on them (classification with a growing policy, regression with
a header and named target columns, a static network without validation), reads every output back
(history.csv with the csv module, events.jsonl with json, the model's magic bytes, the SVG), and
checks that each kind of bad input ends the program with a non-zero status and exactly one line on
standard error naming what is wrong. Exits non-zero with a message on the first failed check.
"""

import csv
import json
import math
import os
import random
import subprocess
import sys
import tempfile

TOOL = sys.argv[1]
failures = []


def check(condition, what):
    if not condition:
        failures.append(what)
        print("FAILED:", what)


def run(*args):
    return subprocess.run([TOOL, *args], capture_output=True, text=True, timeout=240)


def blobs_csv(path, n=240, seed=1):
    # Three Gaussian classes in 4 features; label in the last column.
    rng = random.Random(seed)
    with open(path, "w") as f:
        for i in range(n):
            k = i % 3
            row = [rng.gauss(3.0 * (k == j), 1.0) + 10 for j in range(4)]
            f.write(",".join(f"{x:.5f}" for x in row) + f",{k}\n")


def spirals_csv(path, n=400, seed=3):
    # Two interleaved spirals: a 2-2 network cannot separate them, so dropin has to grow.
    rng = random.Random(seed)
    with open(path, "w") as f:
        for i in range(n):
            k, t = i % 2, rng.uniform(0.25, 1.0)
            a = 3 * math.pi * t + k * math.pi
            x, y = t * math.cos(a) + rng.gauss(0, 0.03), t * math.sin(a) + rng.gauss(0, 0.03)
            f.write(f"{x:.5f},{y:.5f},{k}\n")


def regression_csv(path, n=300, seed=2):
    # y = sin(a) + b/2 in column 0, features a and b after it; a header row.
    rng = random.Random(seed)
    with open(path, "w") as f:
        f.write("y,a,b\n")
        for _ in range(n):
            a, b = rng.uniform(-2, 2), rng.uniform(-2, 2)
            f.write(f"{math.sin(a) + b / 2:.5f},{a:.5f},{b:.5f}\n")


def outputs_ok(out, epochs, label):
    names = ["model.npl", "model.safetensors", "model.onnx", "history.csv", "events.jsonl",
             "history.svg"]
    for name in names:
        path = os.path.join(out, name)
        # events.jsonl is empty when nothing changed the structure.
        check(os.path.exists(path) and (name == "events.jsonl" or os.path.getsize(path) > 0),
              f"{label}: {name} written")
    with open(os.path.join(out, "model.npl"), "rb") as f:
        model = f.read()
    check(model[:4] == b"\x89NPL", f"{label}: model.npl starts with the magic number")
    # The container as docs/file-format.md describes it: every section's length adds up to the
    # payload (a section left unterminated once made every model with a scaler unreadable).
    payload = model[24:]
    check(int.from_bytes(model[16:24], "little") == len(payload), f"{label}: payload size")
    sections, at = {}, 0
    while at + 12 <= len(payload):
        tag, n = payload[at:at + 4], int.from_bytes(payload[at + 4:at + 12], "little")
        sections[tag] = payload[at + 12:at + 12 + n]
        at += 12 + n
    check(at == len(payload), f"{label}: model.npl's sections fill its payload exactly")
    scal = sections.get(b"SCAL", b"")
    check(len(scal) >= 8 and len(scal) == 8 + 16 * int.from_bytes(scal[:8], "little"),
          f"{label}: model.npl carries the feature scaler (count, then mean and sd per feature)")
    try:
        import onnx  # Debian's python3-onnx, when installed
        onnx.checker.check_model(onnx.load(os.path.join(out, "model.onnx")), full_check=True)
    except ImportError:
        pass
    with open(os.path.join(out, "history.csv")) as f:
        rows = list(csv.DictReader(f))
    check(len(rows) == epochs, f"{label}: history.csv has one row per epoch ({len(rows)})")
    check([int(r["epoch"]) for r in rows] == list(range(1, epochs + 1)), f"{label}: epochs 1..N")
    check(all(float(r["train_loss"]) >= 0 for r in rows), f"{label}: losses are numbers")
    with open(os.path.join(out, "events.jsonl")) as f:
        events = [json.loads(line) for line in f if line.strip()]
    with open(os.path.join(out, "history.svg")) as f:
        svg = f.read()
    check(svg.startswith("<svg") and svg.rstrip().endswith("</svg>"), f"{label}: a whole SVG")
    return rows, events


with tempfile.TemporaryDirectory() as tmp:
    blobs = os.path.join(tmp, "blobs.csv")
    blobs_csv(blobs)

    # Classification that a tiny network already solves: the default dropin run fits it and
    # does not grow past 64.
    out = os.path.join(tmp, "blobs")
    # Every epoch is wanted in history.csv: no early stop once growth has ended.
    r = run("--data", blobs, "--epochs", "30", "--lr", "0.01", "--early-stop-windows", "0",
            "--out", out, "--quiet")
    check(r.returncode == 0, f"blobs run succeeds: {r.stderr.strip()}")
    if r.returncode == 0:
        rows, events = outputs_ok(out, 30, "blobs")
        check("validation accuracy" in r.stdout, "blobs: prints the validation accuracy")
        accuracy = float(r.stdout.split("validation accuracy ")[1].split("%")[0])
        check(accuracy > 90, f"blobs: learned ({accuracy}%)")
        check(rows[0]["size_1"] == "2", "blobs: starts from 2 neurons per hidden layer")
        check(all(int(r["size_1"]) <= 64 for r in rows), "blobs: no layer past 64")
        with open(os.path.join(out, "scaler.csv")) as f:
            scaler = list(csv.DictReader(f))
        check(len(scaler) == 4, "blobs: scaler.csv has one row per feature")
        # The features were shifted by 10: the fitted means say so.
        check(all(9 < float(s["mean"]) < 12 for s in scaler), "blobs: scaler means fitted")

    # Spirals from 2-2: Algorithm 1 has to grow, and says so in events.jsonl.
    spirals = os.path.join(tmp, "spirals.csv")
    spirals_csv(spirals)
    out = os.path.join(tmp, "spirals")
    r = run("--data", spirals, "--policy", "dropin", "--epochs", "80", "--lr", "0.01",
            "--lr-schedule", "cosine", "--early-stop-windows", "0", "--out", out, "--quiet")
    check(r.returncode == 0, f"spirals run succeeds: {r.stderr.strip()}")
    if r.returncode == 0:
        rows, events = outputs_ok(out, 80, "spirals")
        grew = [e for e in events if e["kind"] == "grow_neurons"]
        check(len(grew) >= 2, f"spirals: growth events recorded ({len(grew)})")
        check(int(rows[-1]["size_1"]) > 2, "spirals: the first hidden layer grew")

    # Regression with a header, the target in column 0, a fixed network, tanh and SGD.
    reg = os.path.join(tmp, "regression.csv")
    regression_csv(reg)
    out = os.path.join(tmp, "regression")
    r = run("--data", reg, "--task", "regression", "--header", "--target-columns", "0",
            "--policy", "static", "--hidden", "16,16", "--activation", "tanh", "--optimizer",
            "sgd", "--lr", "0.05", "--epochs", "40", "--out", out, "--quiet")
    check(r.returncode == 0, f"regression run succeeds: {r.stderr.strip()}")
    if r.returncode == 0:
        rows, _ = outputs_ok(out, 40, "regression")
        mse = float(r.stdout.split("validation MSE ")[1].split(",")[0])
        check(mse < 0.1, f"regression: fits y = sin(a) + b/2 (MSE {mse})")
        check(rows[-1]["size_1"] == "16", "regression: the static network keeps its widths")

    # No validation split: judged on the training set; neuroplastic policy, leaky ReLU.
    out = os.path.join(tmp, "plastic")
    r = run("--data", blobs, "--policy", "neuroplastic", "--validation-split", "0",
            "--activation", "leaky_relu", "--epochs", "20", "--lr", "0.01", "--out", out,
            "--quiet")
    check(r.returncode == 0, f"neuroplastic run without validation: {r.stderr.strip()}")
    if r.returncode == 0:
        check("training accuracy" in r.stdout, "without validation the training set is judged")
        rows, _ = outputs_ok(out, 20, "plastic")
        check(all(r["validation_loss"] == "" for r in rows), "no validation loss recorded")
        try:
            import onnx
            ops = [n.op_type for n in onnx.load(os.path.join(out, "model.onnx")).graph.node]
            check("LeakyRelu" in ops and "Relu" not in ops,
                  f"--activation leaky_relu reaches the exported graph ({ops})")
        except ImportError:
            print("note: python3-onnx not installed; the exported activation is not checked")

    # --help is complete: every option the tool has is listed with its text.
    r = run("--help")
    check(r.returncode == 0, "--help exits 0")
    for flag in ["--data", "--labels", "--validation", "--task", "--policy", "--hidden",
                 "--optimizer", "--lr", "--epochs", "--batch", "--seed", "--scale", "--out",
                 "--max-parameters-per-target", "--early-stop-windows", "--restore-best",
                 "--clip-norm",
                 "--lr-schedule"]:
        check(flag in r.stdout, f"--help lists {flag}")

    # A first line of column names is read as the header without --header.
    named = os.path.join(tmp, "named.csv")
    with open(named, "w") as f:
        f.write("a,b,c,d,label\n")
        with open(blobs) as src:
            f.write(src.read())
    r = run("--data", named, "--epochs", "3", "--out", os.path.join(tmp, "named"))
    check(r.returncode == 0, f"a CSV with column names trains without --header: {r.stderr[-300:]}")
    check("read as the header" in r.stderr, "the tool says it read line 1 as the header")

    # Bad input: a non-zero status and one line on stderr that names the problem.
    ragged = os.path.join(tmp, "ragged.csv")
    with open(ragged, "w") as f:
        f.write("1,2,3,0\n4,5,1\n")
    text = os.path.join(tmp, "text.csv")
    with open(text, "w") as f:
        f.write("1,2,3,0\n4,x,6,1\n")
    missing = os.path.join(tmp, "no-such-file.csv")
    bad = [
        (["--data", missing], "no-such-file.csv"),
        (["--data", ragged, "--out", os.path.join(tmp, "r")], "line 2"),
        (["--data", text, "--out", os.path.join(tmp, "t")], "'x' is not a number"),
        (["--data", blobs, "--policy", "growfast"], "--policy"),
        (["--data", blobs, "--epochs", "abc"], "--epochs"),
        (["--data", blobs, "--epochs", "0"], "--epochs"),
        (["--data", blobs, "--lr", "-1"], "--lr"),
        (["--data", blobs, "--hidden", "16,x"], "--hidden"),
        (["--data", blobs, "--validation-split", "1.5"], "--validation-split"),
        (["--data", blobs, "--no-such-flag"], "--no-such-flag"),
        (["--data", blobs, "--lr-schedule", "wavy"], "--lr-schedule"),
        (["--data", blobs, "--early-stop-windows", "-1"], "--early-stop-windows"),
        (["--epochs", "3"], "--data"),
        (["--data", blobs, "--task", "regression", "--target-columns", "9",
          "--out", os.path.join(tmp, "c")], "column"),
    ]
    for args, expected in bad:
        r = run(*args)
        lines = [line for line in r.stderr.splitlines() if line.strip()]
        label = " ".join(args[2:] if args[0] == "--data" else args)
        check(r.returncode != 0, f"bad input fails: {label}")
        check(len(lines) == 1, f"one line on stderr for {label}: {lines}")
        check(expected in r.stderr, f"stderr names {expected!r} for {label}: {r.stderr.strip()}")
    check(not os.path.exists(os.path.join(tmp, "r", "model.npl")), "no model after a bad file")

if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("neuroplast-train: all checks passed")
