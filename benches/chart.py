#!/usr/bin/env python3
"""Draws docs/bench.svg from the benchmark results: throughput and peak RSS against body size.

Left: MB of XML a second against body size, from benches/load.sh (the median requests/s of
its rounds times body size, direct and through the gateway), benches/memory.sh (one body
streamed through the gateway) and, if present, benches/report.py's in-process xml_to_json.
Right: the gateway's peak RSS from benches/memory.sh, with the 64 MB target. Hand-written SVG,
standard library only, so it needs nothing installed.

    python3 benches/chart.py [NOTE]   # reads target/bench/{load,memory,transcode}.csv

NOTE, if given, is printed under the charts (e.g. "baseline, buffering transcoder").
"""

import csv
import math
import os
import statistics
import sys
import time
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "target" / "bench"
OUT = ROOT / "docs" / "bench.svg"

W, H = 960, 480
PANEL_W, PANEL_H = 380, 280
LEFT = [(80, 60), (560, 60)]  # top-left corner of each plot area
COLORS = {"direct": "#1f77b4", "gateway": "#d62728", "stream": "#2ca02c", "inproc": "#9467bd"}


def read(name):
    path = BENCH / name
    return list(csv.DictReader(path.open())) if path.exists() else []


def log_scale(lo, hi, size, flip=False):
    a, b = math.log10(lo), math.log10(hi)

    def f(v):
        t = (math.log10(v) - a) / (b - a)
        return size * (1 - t) if flip else size * t

    return f


def lin_scale(lo, hi, size):
    return lambda v: size * (1 - (v - lo) / (hi - lo))


def size_label(n):
    for unit, div in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= div:
            return f"{n / div:g} {unit}"
    return f"{n:g} B"


class Svg:
    def __init__(self):
        self.parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
            f'viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">',
            f'<rect width="{W}" height="{H}" fill="white"/>',
        ]

    def add(self, s):
        self.parts.append(s)

    def text(self, x, y, s, anchor="start", size=12, weight="normal", rotate=None):
        transform = f' transform="rotate({rotate} {x} {y})"' if rotate else ""
        self.add(f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
                 f'font-weight="{weight}"{transform}>{escape(s)}</text>')

    def line(self, x1, y1, x2, y2, color="#ccc", width=1, dash=None):
        d = f' stroke-dasharray="{dash}"' if dash else ""
        self.add(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
                 f'stroke="{color}" stroke-width="{width}"{d}/>')

    def series(self, points, color, hollow=False):
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            self.add(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for x, y in points:
            fill = "white" if hollow else color
            self.add(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{fill}" stroke="{color}" stroke-width="2"/>')

    def done(self):
        return "\n".join(self.parts + ["</svg>"]) + "\n"


def frame(svg, corner, title, xlabel, ylabel, xs, xticks, ys, yticks):
    ox, oy = corner
    svg.text(ox + PANEL_W / 2, oy - 20, title, "middle", 14, "bold")
    svg.add(f'<rect x="{ox}" y="{oy}" width="{PANEL_W}" height="{PANEL_H}" fill="none" stroke="#333"/>')
    for v in xticks:
        x = ox + xs(v)
        svg.line(x, oy, x, oy + PANEL_H)
        svg.text(x, oy + PANEL_H + 16, size_label(v), "middle")
    for v, label in yticks:
        y = oy + ys(v)
        svg.line(ox, y, ox + PANEL_W, y)
        svg.text(ox - 6, y + 4, label, "end")
    svg.text(ox + PANEL_W / 2, oy + PANEL_H + 36, xlabel, "middle")
    svg.text(ox - 52, oy + PANEL_H / 2, ylabel, "middle", rotate=-90)


def legend(svg, corner, entries):
    ox, oy = corner
    for i, (label, color, hollow) in enumerate(entries):
        y = oy + 14 + i * 16
        svg.add(f'<circle cx="{ox + 10}" cy="{y - 4}" r="4" fill="{"white" if hollow else color}" '
                f'stroke="{color}" stroke-width="2"/>')
        svg.text(ox + 20, y, label, size=11)


def main():
    # load.sh's direct and gateway runs, one point per list: the median over its rounds.
    runs = {}
    for r in read("load.csv"):
        if r["target"] in ("direct", "gateway"):
            runs.setdefault((r["target"], int(r["xml_bytes"])), []).append(float(r["rps"]))
    load = [{"target": t, "xml_bytes": b, "rps": statistics.median(v)} for (t, b), v in runs.items()]
    # The chart shows the uncompressed runs; docs/performance.md tables the compressed ones.
    memory = [r for r in read("memory.csv") if r.get("encoding", "identity") == "identity"]
    transcode = read("transcode.csv")
    if not load and not memory:
        sys.exit("no results in target/bench: run benches/load.sh and benches/memory.sh first")

    svg = Svg()
    xticks = [1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9]
    xs = log_scale(1e3, 1e9, PANEL_W)

    # Left: throughput.
    series = {}
    for r in load:
        series.setdefault(r["target"], []).append((r["xml_bytes"], r["rps"] * r["xml_bytes"] / 1e6))
    series["stream"] = [(int(r["xml_bytes"]), float(r["xml_mb_per_s"]))
                        for r in memory if r["http_status"] == "200"]
    series["inproc"] = [(int(r["xml_bytes"]), float(r["xml_to_json_mbps"]))
                        for r in transcode if r["xml_to_json_mbps"] not in ("", "None")]
    values = [v for pts in series.values() for _, v in pts if v > 0]
    lo = 10 ** math.floor(math.log10(min(values))) if values else 0.1
    hi = 10 ** math.ceil(math.log10(max(values))) if values else 1e3
    ys = log_scale(lo, hi, PANEL_H, flip=True)
    decades = range(round(math.log10(lo)), round(math.log10(hi)) + 1)
    frame(svg, LEFT[0], "Throughput against body size", "body size (XML)", "MB of XML / s",
          xs, xticks, ys, [(10 ** d, f"{10 ** d:g}") for d in decades])
    labels = {
        "direct": "load.sh: simulator direct, req/s × size (median of rounds)",
        "gateway": "load.sh: through the gateway, req/s × size (median of rounds)",
        "stream": "memory.sh: one body through the gateway",
        "inproc": "cargo bench: xml_to_json in-process",
    }
    ox, oy = LEFT[0]
    entries = []
    for name, pts in series.items():
        if not pts:
            continue
        pts.sort()
        svg.series([(ox + xs(x), oy + ys(v)) for x, v in pts if v > 0], COLORS[name])
        entries.append((labels[name], COLORS[name], False))
    legend(svg, (ox - 40, oy + PANEL_H + 44), entries)

    # Right: peak RSS.
    ox, oy = LEFT[1]
    peaks = [(int(r["xml_bytes"]), int(r["gateway_peak_rss_kb"]) / 1024, r["http_status"])
             for r in memory]
    top = max([64] + [p for _, p, _ in peaks]) * 1.15
    step = 10 ** math.floor(math.log10(top / 2))
    step *= 5 if top / step > 20 else 2 if top / step > 8 else 1
    ys = lin_scale(0, top, PANEL_H)
    rss_xs = log_scale(1e7, 1e9, PANEL_W)
    frame(svg, LEFT[1], "Gateway peak RSS against body size", "body size (XML)", "peak RSS (MiB)",
          rss_xs, [1e7, 2e7, 5e7, 1e8, 2e8, 5e8, 1e9], ys, [(v, f"{v:g}") for v in [i * step for i in range(int(top // step) + 1)]])
    svg.line(ox, oy + ys(64), ox + PANEL_W, oy + ys(64), "#ff7f0e", 2, "6 4")
    svg.text(ox + PANEL_W - 6, oy + ys(64) - 6, "target: 64 MB", "end", size=11)
    ok = [(ox + rss_xs(x), oy + ys(p)) for x, p, s in peaks if s == "200"]
    svg.series(sorted(ok), COLORS["gateway"])
    for x, p, s in peaks:
        if s != "200":
            svg.series([(ox + rss_xs(x), oy + ys(p))], COLORS["gateway"], hollow=True)
            svg.text(ox + rss_xs(x) + 7, oy + ys(p) + 4, f"HTTP {s}", size=11)
    entries = [("memory.sh: gateway VmHWM, restarted per size", COLORS["gateway"], False)]
    if any(s != "200" for _, _, s in peaks):
        entries.append(("request failed (status shown)", COLORS["gateway"], True))
    legend(svg, (ox - 40, oy + PANEL_H + 44), entries)

    stamp = time.strftime("%Y-%m-%d", time.localtime(max(
        (BENCH / n).stat().st_mtime for n in ("load.csv", "memory.csv", "transcode.csv")
        if (BENCH / n).exists())))
    note = " ".join(sys.argv[1:])
    svg.text(W / 2, H - 10, f"measured {stamp} on {os.cpu_count()} cores" + (f"; {note}" if note else ""),
             "middle", size=11)

    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(svg.done())
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
