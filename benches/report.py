#!/usr/bin/env python3
"""Table of the transcoder benchmarks from criterion's files (`cargo bench --bench transcode`).

Reads target/criterion/<input>/<function>/new/{benchmark,estimates}.json and prints, per input,
MB/s (10^6 bytes a second, from the median time of an iteration) of xml_to_json, json_to_xml,
the quick-xml read floors (events borrowed from the body, as xml_to_json reads a whole document;
and through the buffered reader, as a streamed body is read), the serde_json write floor and the
serde_json read floor, the ratio xml_to_json / quick-xml read that the issue targets at >= 0.6 on
the 100,000-port list (and the same against the buffered read), and the ratio json_to_xml /
serde_json read. Throughput is per byte of XML, except json_to_xml's and the
serde_json read floor's, which are per byte of the JSON. Also writes the same numbers to
target/bench/transcode.csv for benches/chart.py. Standard library only.

    python3 benches/report.py              # plain table
    python3 benches/report.py --markdown   # the table in docs/performance.md
"""

import argparse
import csv
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = [
    "xml_to_json",
    "json_to_xml",
    "floor_quick_xml_read",
    "floor_quick_xml_read_buffered",
    "floor_serde_json_write",
    "floor_serde_json_read",
]
INPUT_ORDER = ["port_group", "ports_2", "ports_1000", "ports_100000"]
TARGET_INPUT = "ports_100000"
TARGET_RATIO = 0.6


def load(criterion_dir):
    """{input: {function: (bytes per iteration, median ns per iteration)}}."""
    results = {}
    for bench_file in sorted(criterion_dir.glob("*/*/new/benchmark.json")):
        bench = json.loads(bench_file.read_text())
        estimates = json.loads((bench_file.parent / "estimates.json").read_text())
        throughput = bench.get("throughput") or {}
        size = throughput.get("Bytes") or throughput.get("BytesDecimal")
        function = bench.get("function_id")
        if function not in FUNCTIONS or not size:
            continue
        median_ns = estimates["median"]["point_estimate"]
        results.setdefault(bench["group_id"], {})[function] = (size, median_ns)
    return results


def rows(results):
    order = INPUT_ORDER + sorted(set(results) - set(INPUT_ORDER))
    for name in order:
        if name not in results:
            continue
        by_function = results[name]
        mbps = {f: (s / ns * 1e3 if ns else None) for f, (s, ns) in by_function.items()}
        xml_bytes = by_function.get("xml_to_json", (None,))[0]
        json_bytes = by_function.get("json_to_xml", (None,))[0]
        x2j, floor = mbps.get("xml_to_json"), mbps.get("floor_quick_xml_read")
        ratio = x2j / floor if x2j and floor else None
        buffered = mbps.get("floor_quick_xml_read_buffered")
        j2x, json_floor = mbps.get("json_to_xml"), mbps.get("floor_serde_json_read")
        yield {
            "input": name,
            "xml_bytes": xml_bytes,
            "json_bytes": json_bytes,
            "xml_to_json_mbps": x2j,
            "json_to_xml_mbps": mbps.get("json_to_xml"),
            "quick_xml_read_mbps": floor,
            "quick_xml_read_buffered_mbps": buffered,
            "serde_json_write_mbps": mbps.get("floor_serde_json_write"),
            "serde_json_read_mbps": json_floor,
            "ratio_xml_to_json_vs_quick_xml": ratio,
            "ratio_xml_to_json_vs_quick_xml_buffered": x2j / buffered if x2j and buffered else None,
            "ratio_json_to_xml_vs_serde_json_read": j2x / json_floor if j2x and json_floor else None,
        }


def fmt(value, digits=1):
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def verdict(row):
    ratio = row["ratio_xml_to_json_vs_quick_xml"]
    if row["input"] != TARGET_INPUT or ratio is None:
        return ""
    if ratio >= TARGET_RATIO:
        return f"target >= {TARGET_RATIO}: met"
    return (f"target >= {TARGET_RATIO}: missed, xml_to_json needs to be "
            f"{TARGET_RATIO / ratio:.1f}x as fast")


HEADERS = [
    "input",
    "XML bytes",
    "JSON bytes",
    "xml_to_json MB/s",
    "json_to_xml MB/s",
    "quick-xml read MB/s",
    "quick-xml buffered read MB/s",
    "serde_json write MB/s",
    "serde_json read MB/s",
    "xml_to_json / quick-xml",
    "xml_to_json / quick-xml buffered",
    "json_to_xml / serde_json read",
]


def cells(row):
    return [
        row["input"],
        fmt(row["xml_bytes"]),
        fmt(row["json_bytes"]),
        fmt(row["xml_to_json_mbps"]),
        fmt(row["json_to_xml_mbps"]),
        fmt(row["quick_xml_read_mbps"]),
        fmt(row["quick_xml_read_buffered_mbps"]),
        fmt(row["serde_json_write_mbps"]),
        fmt(row["serde_json_read_mbps"]),
        fmt(row["ratio_xml_to_json_vs_quick_xml"], 2),
        fmt(row["ratio_xml_to_json_vs_quick_xml_buffered"], 2),
        fmt(row["ratio_json_to_xml_vs_serde_json_read"], 2),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--criterion-dir", type=Path, default=ROOT / "target" / "criterion")
    parser.add_argument("--csv", type=Path, default=ROOT / "target" / "bench" / "transcode.csv")
    args = parser.parse_args()

    table = list(rows(load(args.criterion_dir)))
    if not table:
        sys.exit(f"no criterion results under {args.criterion_dir}: run cargo bench --bench transcode")

    args.csv.parent.mkdir(parents=True, exist_ok=True)
    with args.csv.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)

    if args.markdown:
        print("| " + " | ".join(HEADERS) + " |")
        print("|" + "|".join(["---"] + ["---:"] * (len(HEADERS) - 1)) + "|")
        for row in table:
            print("| " + " | ".join(cells(row)) + " |")
    else:
        widths = [max(len(h), *(len(cells(r)[i]) for r in table)) for i, h in enumerate(HEADERS)]
        print("  ".join(h.rjust(w) for h, w in zip(HEADERS, widths)))
        for row in table:
            print("  ".join(c.rjust(w) for c, w in zip(cells(row), widths)))
    for row in table:
        if verdict(row):
            print(f"\n{row['input']}: xml_to_json / quick-xml read = "
                  f"{row['ratio_xml_to_json_vs_quick_xml']:.2f} ({verdict(row)})")
    print(f"\n(wrote {args.csv.relative_to(ROOT) if args.csv.is_relative_to(ROOT) else args.csv})",
          file=sys.stderr)


if __name__ == "__main__":
    main()
