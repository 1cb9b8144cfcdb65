#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Summarises bench/run.sh's raw TSV (round, test, target, value, unit,
# direction): the median per test and target, and the three ratio columns
# of issue #12 as medians of per-round ratios. A ratio is value(A) /
# value(B) of the metric itself, so its meaning follows the metric's
# direction: "higher" (throughput, higher is better for A) or "lower"
# (time or CPU, lower is better for A). Writes the summary as TSV to
# argv[2] and the table to stdout.
import statistics
import sys

TARGETS = ["ext4-dir", "pt_wb", "gocryptfs", "atrestfs", "atr_plain"]
RATIOS = [("atrestfs", "gocryptfs"), ("atr_plain", "pt_wb"),
          ("atrestfs", "atr_plain")]


def fmt(v):
    if v is None:
        return "-"
    if v >= 100:
        return "%.0f" % v
    if v >= 1:
        return "%.2f" % v
    return "%.3f" % v


def main():
    raw, out = sys.argv[1], sys.argv[2]
    vals = {}      # (test, target) -> {round: value}
    meta = {}      # test -> (unit, direction)
    order = []
    with open(raw) as f:
        next(f)
        for line in f:
            rnd, test, target, value, unit, direction = \
                line.rstrip("\n").split("\t")
            if test not in meta:
                meta[test] = (unit, direction)
                order.append(test)
            if value == "NA":
                continue
            vals.setdefault((test, target), {})[int(rnd)] = float(value)

    def med(test, target):
        d = vals.get((test, target))
        return statistics.median(d.values()) if d else None

    def ratio(test, a, b):
        da, db = vals.get((test, a), {}), vals.get((test, b), {})
        rs = [da[r] / db[r] for r in da if r in db and db[r] > 0]
        return statistics.median(rs) if rs else None

    head = ["test", "unit", "better"] + TARGETS + \
        ["%s/%s" % p for p in RATIOS]
    rows = []
    for test in order:
        unit, direction = meta[test]
        rows.append([test, unit, direction] +
                    [fmt(med(test, t)) for t in TARGETS] +
                    [fmt(ratio(test, a, b)) for a, b in RATIOS])
    with open(out, "w") as f:
        for r in [head] + rows:
            f.write("\t".join(r) + "\n")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
