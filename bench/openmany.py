#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Many files open at once, for bench/scale.sh: `openmany.py PID DIR N`
# lstat()s DIR/f0000000.. (made by meta.py create) so the daemon PID
# caches N inodes, then (the inode cache dropped) opens all N read-write
# and keeps them open, then closes them. One process may hold only
# RLIMIT_NOFILE descriptors (and without CAP_SYS_RESOURCE cannot raise its
# hard limit), so the opens are spread over child processes, each holding
# its slice open until all are done. Reads the daemon's VmRSS, VmLck and
# mapping count before and after each step and prints TSV lines
# "metric<TAB>value<TAB>unit". The first lstat or open that fails stops
# that step; the count reached and the error are printed. The kernel's
# inode cache is dropped between the steps.
import errno
import os
import resource
import sys
import time


def status_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError("no %s for PID %d" % (field, pid))


def rss_kib(pid):
    return status_kib(pid, "VmRSS")


def maps(pid):
    with open("/proc/%d/maps" % pid) as f:
        return sum(1 for _ in f)


def forget_inodes():
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("2\n")


def out(metric, value, unit):
    print("%s\t%s\t%s" % (metric, value, unit), flush=True)


def opener(names, report_w, hold_r):
    """Child: open @names, report "count errno", hold them until EOF."""
    fds, err = [], "none"
    for p in names:
        try:
            fds.append(os.open(p, os.O_RDWR))
        except OSError as e:
            err = errno.errorcode.get(e.errno, str(e.errno))
            break
    os.write(report_w, ("%d %s\n" % (len(fds), err)).encode())
    os.read(hold_r, 1)  # EOF when the parent is done
    os._exit(0)


def main():
    pid, d, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    per_child = max(1, hard - 64)
    names = [os.path.join(d, "f%07d" % i) for i in range(n)]

    rss0, maps0 = rss_kib(pid), maps(pid)
    statted, err = 0, "none"
    t0 = time.monotonic()
    for p in names:
        try:
            os.lstat(p)
        except OSError as e:
            err = errno.errorcode.get(e.errno, str(e.errno))
            break
        statted += 1
    dt = time.monotonic() - t0
    rss1, maps1 = rss_kib(pid), maps(pid)
    out("statted", statted, "files")
    out("stat_error", err, "errno")
    if statted:
        out("stat_us_per_op", "%.1f" % (dt * 1e6 / statted), "us")
        out("rss_per_cached_inode",
            "%.0f" % ((rss1 - rss0) * 1024 / statted), "B")
        out("maps_per_cached_inode", "%.2f" % ((maps1 - maps0) / statted),
            "maps")
    # The open step starts from an empty inode cache (the kernel forgets
    # them), so that it does not depend on how many inodes the kernel kept
    # or the stat step could cache; the daemon's heap keeps what it freed,
    # so the RSS per open file below counts its inode again only where the
    # heap grows.
    forget_inodes()
    time.sleep(1)
    rss1, maps1 = rss_kib(pid), maps(pid)

    hold_r, hold_w = os.pipe()
    children, opened, err = [], 0, "none"
    t0 = time.monotonic()
    for i in range(0, n, per_child):
        report_r, report_w = os.pipe()
        child = os.fork()
        if child == 0:
            os.close(hold_w)
            os.close(report_r)
            opener(names[i:i + per_child], report_w, hold_r)
        os.close(report_w)
        children.append(child)
        with os.fdopen(report_r) as f:
            count, cerr = f.readline().split()
        opened += int(count)
        if cerr != "none":
            err = cerr
            break
    dt = time.monotonic() - t0
    rss2, maps2 = rss_kib(pid), maps(pid)
    out("opened", opened, "files")
    out("open_error", err, "errno")
    out("opener_processes", len(children), "processes")
    if opened:
        out("open_us_per_op", "%.1f" % (dt * 1e6 / opened), "us")
        out("rss_per_open_file", "%.0f" % ((rss2 - rss1) * 1024 / opened),
            "B")
        out("maps_per_open_file", "%.2f" % ((maps2 - maps1) / opened), "maps")
    out("daemon_maps_open", maps2, "maps")
    out("daemon_rss_open", rss2, "KiB")
    # locked memory: where the per-file keys stop being mlock()ed
    out("daemon_vmlck_open", status_kib(pid, "VmLck"), "KiB")
    out("daemon_fds_open", len(os.listdir("/proc/%d/fd" % pid)), "fds")
    os.close(hold_w)
    for child in children:
        os.waitpid(child, 0)
    # the daemon sees RELEASE asynchronously
    time.sleep(1)
    out("daemon_maps_closed", maps(pid), "maps")
    out("daemon_rss_closed", rss_kib(pid), "KiB")


if __name__ == "__main__":
    main()
