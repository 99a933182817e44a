#!/usr/bin/env python3
"""The table of benches/load.sh: medians per target, the gateway's ratios to its floors.

Reads target/bench/load.csv (one row per wrk run) and load-rss.csv (each proxy's VmHWM over the
whole run) and prints, per list and target, the median req/s, p50, p99 and CPU per request of
the simulator and of the proxy; then gateway/bare, gateway/naive and, when a `compare` target
ran, compare/gateway, each the median of the per-round ratios (the targets of a round ran one
after the other, so the machine's drift between rounds cancels), against the issue's goals;
then the peak RSS. Standard library only.

    python3 benches/load_report.py [LOAD_CSV [RSS_CSV]] [--markdown]
    python3 benches/load_report.py --check-ports DIRECT_XML JSON...   # load.sh's answer check
"""

import argparse
import csv
import json
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from statistics import median

BENCH = Path(__file__).resolve().parent.parent / "target" / "bench"
TARGETS = ["direct", "bare", "naive", "gateway", "compare"]
# (list, numerator, denominator, goal the ratio of req/s must reach, or None)
RATIOS = [
    ("two_ports", "gateway", "bare", 0.85),
    ("two_ports", "gateway", "naive", 1.0),
    ("list_1mb", "gateway", "bare", None),
    ("list_1mb", "gateway", "naive", 2.0),
    ("two_ports", "compare", "gateway", None),
    ("list_1mb", "compare", "gateway", None),
]
RSS_GOAL_KB = 64e6 / 1024  # 64 MB


def check_ports(xml_path, json_paths):
    """Exits non-zero unless every JSON answer holds the ObjectIds of the XML list's ports."""
    ports = {port.findtext("ObjectId") for port in ElementTree.parse(xml_path).getroot()}
    for path in json_paths:
        found = set()

        def walk(value):
            if isinstance(value, dict):
                found.add(value.get("ObjectId"))
                for item in value.values():
                    walk(item)
            elif isinstance(value, list):
                for item in value:
                    walk(item)

        walk(json.loads(Path(path).read_text()))
        if len(ports) != 2 or not ports <= found:
            sys.exit(f"{path}: the ports {sorted(ports)} are not all there")


def summary(rows):
    """{(list, target): medians of the runs}, in the order the lists and targets ran."""
    runs = {}
    for row in rows:
        runs.setdefault((row["list"], row["target"]), []).append(row)
    out = {}
    for (lst, target), these in sorted(runs.items(), key=lambda kv: TARGETS.index(kv[0][1])):
        def mid(name):
            values = [float(r[name]) for r in these if r[name] != ""]
            return median(values) if values else None

        out[(lst, target)] = {
            "connections": these[0]["connections"], "runs": len(these), "rps": mid("rps"),
            "p50": mid("p50_us"), "p99": mid("p99_us"), "sim_cpu": mid("simulator_cpu_us_per_request"),
            "proxy_cpu": mid("proxy_cpu_us_per_request"),
            "faults": sum(int(r["errors"]) + int(r["non2xx"]) for r in these),
        }
    return dict(sorted(out.items(), key=lambda kv: kv[0][0] != "two_ports"))


def ratio(rows, lst, top, bottom):
    """The per-round ratios of req/s, top over bottom, on one list."""
    rps = {(r["round"], r["target"]): float(r["rps"]) for r in rows if r["list"] == lst}
    rounds = sorted({rnd for rnd, _ in rps}, key=int)
    return [rps[(rnd, top)] / rps[(rnd, bottom)] for rnd in rounds
            if (rnd, top) in rps and rps.get((rnd, bottom))]


def us(value):
    if value is None:
        return "-"
    return f"{value / 1000:.1f} ms" if value >= 10000 else f"{value:,.0f} µs"


def table(headers, lines, markdown):
    if markdown:
        print("| " + " | ".join(headers) + " |")
        print("|" + "|".join(["---"] * 2 + ["---:"] * (len(headers) - 2)) + "|")
        for line in lines:
            print("| " + " | ".join(line) + " |")
    else:
        widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(headers)]
        for line in [headers] + lines:
            print("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths))))
    print()


def targets_table(stats, markdown):
    lines = []
    for (lst, target), s in stats.items():
        direct = stats.get((lst, "direct"), {}).get("rps")
        fault = f" ({s['faults']} errors)" if s["faults"] else ""
        lines.append([lst, target, s["connections"], f"{s['rps']:,.0f}{fault}",
                      f"{s['rps'] / direct:.2f}" if direct else "-", us(s["p50"]), us(s["p99"]),
                      us(s["sim_cpu"]), us(s["proxy_cpu"])])
    table(["list", "target", "c", "req/s", "of direct", "p50", "p99", "simulator CPU/req",
           "proxy CPU/req"], lines, markdown)


def ratios_table(rows, markdown):
    lines = []
    for lst, top, bottom, goal in RATIOS:
        each = ratio(rows, lst, top, bottom)
        if not each:
            continue
        value = median(each)
        verdict = "-" if goal is None else f"≥ {goal:g}: {'met' if value >= goal else 'missed'}"
        lines.append([f"{top} / {bottom}", lst, f"{value:.2f}",
                      " ".join(f"{r:.2f}" for r in each), verdict])
    table(["req/s ratio", "list", "median", "per round", "goal"], lines, markdown)


def rss_lines(rss_path):
    if not rss_path.exists():
        return
    for row in csv.DictReader(rss_path.open()):
        kb = int(row["peak_rss_kb"])
        goal = ""
        if row["target"] == "gateway":
            goal = f" (goal < 64 MB: {'met' if kb < RSS_GOAL_KB else 'missed'} over the load run;" \
                   " the 200 MB stream is benches/memory.sh's)"
        print(f"peak RSS (VmHWM) of {row['target']}: {kb / 1024:.1f} MiB{goal}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", nargs="?", type=Path, default=BENCH / "load.csv")
    parser.add_argument("rss", nargs="?", type=Path, default=BENCH / "load-rss.csv")
    parser.add_argument("--markdown", action="store_true", help="Markdown tables")
    parser.add_argument("--check-ports", nargs="+", metavar="FILE")
    args = parser.parse_args()
    if args.check_ports:
        check_ports(args.check_ports[0], args.check_ports[1:])
        return
    rows = list(csv.DictReader(args.csv.open()))
    targets_table(summary(rows), args.markdown)
    ratios_table(rows, args.markdown)
    rss_lines(args.rss)


if __name__ == "__main__":
    main()
