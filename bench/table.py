#!/usr/bin/env python3
"""Prints bench/results.json ({name: {plexus, baseline, ratio, unit}}) as one table with the
goals of issue 8. Standard library only (runs on the GPU machine too).

Usage: table.py [RESULTS=bench/results.json]
"""
import json
import sys

# name: (goal text, met(ratio) -> bool)
GOALS = {
    "clip_train_step": ("ratio >= 1.2", lambda r: r >= 1.2),
    "clip_train_step_1thread": ("ratio >= 1.2", lambda r: r >= 1.2),
    "cpu_mfu_1thread": (">= 0.5", lambda r: r >= 0.5),
    "data_wait_fraction_1thread": ("<= 0.02", lambda r: r <= 0.02),
    "rhai_overhead": ("ratio <= 1.01", lambda r: r <= 1.01),
    "plugin_overhead": ("ratio <= 1.005", lambda r: r <= 1.005),
    "data_wait_fraction": ("<= 0.02", lambda r: r <= 0.02),
    "data_wait_fraction_webdataset_2w": ("<= 0.02", lambda r: r <= 0.02),
    "data_wait_fraction_manifest_2w": ("<= 0.02", lambda r: r <= 0.02),
    "cpu_mfu": (">= 0.5", lambda r: r >= 0.5),
    "retrieval_100k": (">= 10", lambda r: r >= 10),
    "retrieval_100k_peak_rss": ("<= 1 (GiB)", lambda r: r <= 1),
}


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "bench/results.json"
    results = json.load(open(path))
    rows = [("comparison", "plexus", "baseline", "ratio", "goal", "unit")]
    for name, r in results.items():
        goal, met = GOALS.get(name, ("", None))
        ratio = r.get("ratio")
        verdict = "" if met is None or ratio is None else (" met" if met(ratio) else " NOT met")
        fmt = lambda x: "-" if x is None else f"{x:.4g}"
        rows.append((name, fmt(r.get("plexus")), fmt(r.get("baseline")), fmt(ratio), goal + verdict, r.get("unit", "")))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for i, row in enumerate(rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    print(f"({path})")


if __name__ == "__main__":
    main()
