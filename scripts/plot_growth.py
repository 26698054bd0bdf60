#!/usr/bin/env python3
"""Growth cost against layer width, as an SVG (log-log), from Google Benchmark JSON.

    ./build/bench/bench/neuroplast_bench_growth --benchmark_filter=width \
        --benchmark_repetitions=3 --benchmark_format=json > growth.json
    python3 scripts/plot_growth.py growth.json docs/results/growth_vs_width.svg

Reads bm_width_grow_in_place and bm_width_reallocate_and_copy (the median when there are
repetitions). Standard library only, so it runs wherever python3 does.
"""
import json
import math
import sys

SERIES = [
    ("bm_width_grow_in_place", "in place, within capacity (ZeroFanOut)", "#1f77b4"),
    ("bm_width_reallocate_and_copy", "reallocate and copy (torch.cat + optimizer rebuild)", "#d62728"),
]


def read_points(path):
    with open(path) as f:
        runs = json.load(f)["benchmarks"]
    has_median = any(r.get("aggregate_name") == "median" for r in runs)
    points = {}
    for r in runs:
        if has_median and r.get("aggregate_name") != "median":
            continue
        name = r.get("run_name", r["name"])
        base, _, arg = name.partition("/width:")
        if not arg:
            continue
        scale = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}[r.get("time_unit", "ns")]
        points.setdefault(base, []).append((int(arg), r["real_time"] * scale))
    return {k: sorted(v) for k, v in points.items()}


def svg(points):
    w, h, left, right, top, bottom = 640, 400, 70, 20, 40, 70
    xs = [x for s in points.values() for x, _ in s]
    ys = [y for s in points.values() for _, y in s]
    x0, x1 = math.log10(min(xs)), math.log10(max(xs))
    y0, y1 = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))

    def px(x):
        return left + (math.log10(x) - x0) / (x1 - x0) * (w - left - right)

    def py(y):
        return h - bottom - (math.log10(y) - y0) / (y1 - y0) * (h - top - bottom)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{w / 2}" y="22" text-anchor="middle" font-size="14">'
           'Adding one neuron between two w × w matrices, with Adam state (float)</text>']
    for e in range(y0, y1 + 1):
        y = py(10 ** e)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{w - right}" y2="{y:.1f}" stroke="#ddd"/>')
        label = f"{10 ** e:g} µs" if e < 3 else f"{10 ** (e - 3):g} ms"
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
    for x in sorted(set(xs)):
        out.append(f'<text x="{px(x):.1f}" y="{h - bottom + 18}" text-anchor="middle">{x}</text>')
    out.append(f'<text x="{(left + w - right) / 2}" y="{h - bottom + 38}" '
               'text-anchor="middle">layer width w</text>')
    out.append(f'<line x1="{left}" y1="{h - bottom}" x2="{w - right}" y2="{h - bottom}" '
               'stroke="black"/>')
    out.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{h - bottom}" stroke="black"/>')
    for i, (key, label, colour) in enumerate(SERIES):
        series = points.get(key, [])
        if not series:
            continue
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in series)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for x, y in series:
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{colour}"/>')
        ly = top + 14 + 16 * i
        out.append(f'<line x1="{left + 12}" y1="{ly}" x2="{left + 36}" y2="{ly}" '
                   f'stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{left + 42}" y="{ly + 4}">{label}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    points = read_points(sys.argv[1])
    if not points:
        sys.exit(f"{sys.argv[1]}: no bm_width_* results (run with --benchmark_filter=width)")
    with open(sys.argv[2], "w") as f:
        f.write(svg(points))


if __name__ == "__main__":
    main()
