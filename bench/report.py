#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Summarises bench/run.sh's raw TSV (round, test, target, value, unit,
# direction): the median per test and target, and the three ratio columns
# of issue #12 as medians of per-round ratios. A ratio is value(A) /
# value(B) of the metric itself, so its meaning follows the metric's
# direction: "higher" (throughput, higher is better for A) or "lower"
# (time or CPU, lower is better for A). Writes the summary as TSV to
# argv[2] and the table to stdout, then each of issue #12's targets with
# the ratio this run measured and whether it is met.
import statistics
import sys

TARGETS = ["ext4-dir", "pt_wb", "gocryptfs", "atrestfs", "atr_plain"]
RATIOS = [("atrestfs", "gocryptfs"), ("atr_plain", "pt_wb"),
          ("atrestfs", "atr_plain")]
# Issue #12's targets for atrestfs/gocryptfs: test -> (">=" or "<=", bound).
GOCRYPTFS_TARGETS = {
    "seq_write": (">=", 2.0), "seq_read_cold": (">=", 1.5),
    "rand_write": (">=", 3.0), "rand_write_fdatasync": (">=", 1.2),
    "rand_read_cold": (">=", 1.5), "create": (">=", 1.3),
    "unlink": (">=", 1.3), "redis_set_aof": (">=", 1.4),
    "redis_save": ("<=", 0.7), "cpu_s_per_gib": ("<=", 0.5),
}
# atr_plain/pt_wb and atrestfs/atr_plain: at least 0.9 of B's performance
# on every line, i.e. a ratio >= 0.9 where higher is better and <= 1/0.9
# where lower is better.
PARITY = 0.9


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

    print()
    print("| test | " + " | ".join("%s/%s (target)" % p for p in RATIOS) +
          " |")
    print("|---|" + "---|" * len(RATIOS))
    for test in order:
        unit, direction = meta[test]
        if direction == "info":
            continue
        cells = []
        for i, (a, b) in enumerate(RATIOS):
            if i == 0 and test not in GOCRYPTFS_TARGETS:
                cells.append("-")
                continue
            op, bound = (GOCRYPTFS_TARGETS[test] if i == 0 else
                         (">=", PARITY) if direction == "higher" else
                         ("<=", 1 / PARITY))
            r = ratio(test, a, b)
            if r is None:
                cells.append("-")
                continue
            met = r >= bound if op == ">=" else r <= bound
            cells.append("%s (%s %.2f) %s" % (fmt(r), op, bound,
                                              "met" if met else "**MISSED**"))
        print("| %s | %s |" % (test, " | ".join(cells)))

if __name__ == "__main__":
    main()
