"""Reads the History log files neuroplast wrote (write_history_csv, write_events_jsonl) with
Python's csv and json modules and numpy, and checks what a user relies on: one row per epoch with
as many cells as the header, numbers that parse, sizes in their own columns, and events whose
sizes match the epoch rows. Usage: read_history_log.py DIR (with history.csv and events.jsonl)."""

import csv
import json
import math
import pathlib
import sys

import numpy

directory = pathlib.Path(sys.argv[1])
header_fixed = ["epoch", "train_loss", "validation_loss", "validation_accuracy", "parameters",
                "active_parameters", "seconds", "layers"]

with open(directory / "history.csv", newline="") as f:
    reader = csv.reader(f)
    header = next(reader)
    rows = list(reader)
assert header[:8] == header_fixed, header
sizes_columns = header[8:]
assert sizes_columns == [f"size_{i}" for i in range(len(sizes_columns))], header
assert rows, "no epochs"
for i, row in enumerate(rows):
    assert len(row) == len(header), (i, row)
    assert int(row[0]) == i + 1, row
    assert float(row[1]) > 0 and math.isfinite(float(row[1])), row
    layers = int(row[7])
    sizes = [int(s) for s in row[8:8 + layers]]
    assert all(s == "" for s in row[8 + layers:]), row
    assert int(row[4]) == sum((a + 1) * b for a, b in zip(sizes, sizes[1:])), row
    assert int(row[5]) <= int(row[4]), row

# numpy reads it too: empty cells are NaN, every row has every column.
table = numpy.genfromtxt(directory / "history.csv", delimiter=",", names=True)
assert table.shape == (len(rows),), table.shape
assert list(table["epoch"]) == list(range(1, len(rows) + 1))

kinds = {"grow_neurons", "remove_neurons", "prune_connections", "grow_connections",
         "insert_layer", "remove_layer", "new_data", "rollback"}
keys = {"epoch", "kind", "layer", "count", "reason", "trigger_value", "sizes_after"}
events = [json.loads(line) for line in open(directory / "events.jsonl")]
assert events, "no events"
last_of_epoch = {}
for e in events:
    assert set(e) == keys, e
    assert e["kind"] in kinds, e
    assert isinstance(e["reason"], str) and isinstance(e["sizes_after"], list), e
    assert e["trigger_value"] is None or isinstance(e["trigger_value"], float), e
    last_of_epoch[e["epoch"]] = e
# The last event of an epoch leaves the sizes that epoch's row shows.
for epoch, e in last_of_epoch.items():
    if epoch == 0:
        continue
    row = rows[epoch - 1]
    assert [int(s) for s in row[8:8 + int(row[7])]] == e["sizes_after"], (row, e)
print(f"read_history_log: {len(rows)} epochs, {len(events)} events read back")
