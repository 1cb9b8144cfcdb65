#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Redis client for the power-loss test: records what Redis acknowledged.

  redisack.py set PORT LOG --keys N --seed S
      SET N keys one at a time on 127.0.0.1:PORT; every acknowledgement
      goes to LOG (JSON lines) with the time it arrived (CLOCK_MONOTONIC
      ns, the clock of the simulator's trace); the first line is the time
      the first command was sent.
  redisack.py check PORT LOG --cut-ns T
      every key acknowledged before T must be there with its value; prints
      how many were required and found; exit 1 with the first missing
      ones otherwise.
"""
import argparse
import json
import random
import socket
import string
import sys
import time


class Resp:
    """Just enough RESP2 for SET, MGET and DBSIZE."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.f = self.s.makefile("rb")

    def send(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode() if isinstance(a, str) else a
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(out)

    def reply(self):
        line = self.f.readline()
        if not line:
            raise ConnectionError("connection closed")
        t, rest = line[:1], line[1:-2]
        if t in (b"+", b":"):
            return rest.decode()
        if t == b"-":
            raise RuntimeError(rest.decode())
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self.f.read(n + 2)[:-2].decode()
        if t == b"*":
            return [self.reply() for _ in range(int(rest))]
        raise RuntimeError("bad reply %r" % line)

    def call(self, *args):
        self.send(*args)
        return self.reply()


def cmd_set(a):
    rng = random.Random(a.seed)
    r = Resp(a.port)
    with open(a.log, "w") as log:
        log.write(json.dumps({"start": time.monotonic_ns()}) + "\n")
        for i in range(a.keys):
            k = "key:%d" % i
            # Values of all sizes, so that appends cross block boundaries.
            n = rng.choice((rng.randint(1, 40), rng.randint(40, 700), rng.randint(700, 5000)))
            v = "".join(rng.choices(string.ascii_letters, k=n))
            if r.call("SET", k, v) != "OK":
                print("SET %s not acknowledged" % k)
                return 1
            log.write(json.dumps({"k": k, "v": v, "t": time.monotonic_ns()}) + "\n")
    return 0


def cmd_check(a):
    acked = [json.loads(line) for line in open(a.log)][1:]
    need = [d for d in acked if d["t"] < a.cut_ns]
    r = Resp(a.port)
    missing = []
    for i in range(0, len(need), 200):
        batch = need[i:i + 200]
        got = r.call("MGET", *[d["k"] for d in batch])
        missing += [d["k"] for d, g in zip(batch, got) if g != d["v"]]
    dbsize = int(r.call("DBSIZE"))
    print("acknowledged before the cut: %d, present and intact: %d, keys in Redis: %d"
          % (len(need), len(need) - len(missing), dbsize))
    if missing:
        print("missing or wrong: %s" % " ".join(missing[:10]))
        return 1
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("set")
    s.add_argument("port", type=int)
    s.add_argument("log")
    s.add_argument("--keys", type=int, default=1000)
    s.add_argument("--seed", type=int, required=True)
    c = sub.add_parser("check")
    c.add_argument("port", type=int)
    c.add_argument("log")
    c.add_argument("--cut-ns", type=int, required=True)
    a = ap.parse_args()
    return cmd_set(a) if a.cmd == "set" else cmd_check(a)


if __name__ == "__main__":
    sys.exit(main())
