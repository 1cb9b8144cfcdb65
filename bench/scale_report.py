#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Tables from bench/scale.sh's TSV (part, target, param, metric, value,
# unit): one per part and metric with a row per target and a column per
# parameter (jobs, directory size, ...); a part with one parameter value
# (open) has a row per metric and a column per target, and the "big" part
# a row per GiB step and a column per target and metric.
import sys


def table(head, rows):
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print()


def main():
    recs = []
    with open(sys.argv[1]) as f:
        next(f)
        for line in f:
            recs.append(line.rstrip("\n").split("\t"))

    def uniq(seq):
        return list(dict.fromkeys(seq))

    for part in uniq(r[0] for r in recs):
        sel = [r for r in recs if r[0] == part]
        if part == "big":
            cols = uniq((r[1], r[3], r[5]) for r in sel)
            steps = uniq(r[2] for r in sel)
            val = {(r[1], r[3], r[2]): r[4] for r in sel}
            print("big: per GiB step")
            table(["step"] + ["%s %s (%s)" % c for c in cols],
                  [[s] + [val.get((c[0], c[1], s), "-") for c in cols]
                   for s in steps])
            continue
        if len(uniq(r[2] for r in sel)) == 1:
            metrics = uniq((r[3], r[5]) for r in sel)
            targets = uniq(r[1] for r in sel)
            val = {(r[1], r[3]): r[4] for r in sel}
            print("%s: %s = %s" % (part, "param", sel[0][2]))
            table(["metric"] + targets,
                  [["%s (%s)" % m] + [val.get((t, m[0]), "-")
                                      for t in targets] for m in metrics])
            continue
        for metric in uniq(r[3] for r in sel):
            ms = [r for r in sel if r[3] == metric]
            params = uniq(r[2] for r in ms)
            targets = uniq(r[1] for r in ms)
            val = {(r[1], r[2]): r[4] for r in ms}
            print("%s: %s (%s)" % (part, metric, ms[0][5]))
            table(["target"] + params,
                  [[t] + [val.get((t, p), "-") for p in params]
                   for t in targets])


if __name__ == "__main__":
    main()
