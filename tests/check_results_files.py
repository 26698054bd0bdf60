"""Every per-run history in docs/results/ is tidy data (issue 19): <run>.csv has the columns
write_history_csv writes and loads with numpy.genfromtxt, and <run>_events.jsonl, when present,
holds one JSON object per line with the fields write_events_jsonl writes.

    /usr/bin/python3 check_results_files.py <docs/results directory>
"""
import csv
import glob
import json
import os
import sys

import numpy

HEADER = ["epoch", "train_loss", "validation_loss", "validation_accuracy", "parameters",
          "active_parameters", "seconds", "layers"]
EVENT_FIELDS = {"epoch", "kind", "layer", "count", "reason", "trigger_value", "sizes_after"}


def fail(message):
    print(f"check_results_files: {message}", file=sys.stderr)
    sys.exit(1)


def main(directory):
    runs = sorted(glob.glob(os.path.join(directory, "*.csv")))
    if not runs:
        fail(f"no CSV files in {directory}")
    for path in runs:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
        header = rows[0]
        sizes = header[len(HEADER):]
        if header[:len(HEADER)] != HEADER or sizes != [f"size_{i}" for i in range(len(sizes))]:
            fail(f"{path}: header {header} is not write_history_csv's")
        if any(len(r) != len(header) for r in rows[1:]) or len(rows) < 2:
            fail(f"{path}: ragged or empty table")
        table = numpy.genfromtxt(path, delimiter=",", names=True)
        table = numpy.atleast_1d(table)
        if not numpy.all(numpy.diff(table["epoch"]) == 1):
            fail(f"{path}: epochs are not consecutive")
        for row in table:
            layers = int(row["layers"])
            present = [row[f"size_{i}"] for i in range(layers)]
            if any(numpy.isnan(present)) or layers < 2:
                fail(f"{path}: epoch {int(row['epoch'])} lacks its sizes")
        events = path[:-4] + "_events.jsonl"
        if os.path.exists(events):
            with open(events) as f:
                for number, line in enumerate(f, 1):
                    event = json.loads(line)
                    if set(event) != EVENT_FIELDS:
                        fail(f"{events} line {number}: fields {sorted(event)}")
    print(f"check_results_files: {len(runs)} runs read as tidy data")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        fail("usage: check_results_files.py <directory>")
    main(sys.argv[1])
