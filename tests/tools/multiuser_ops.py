#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The same sequence of file-system operations, run as several users, on
any directory: tests/integration/daemon_multiuser.sh runs it on an atrestfs
encrypted mount, a plain one and a plain ext4 directory and compares what
it prints (ownership, modes, umask, set-gid inheritance, sticky deletion,
chown/chmod/utimes/truncate permissions, set-id clearing, every node type,
rename cases, SEEK_DATA/SEEK_HOLE right after writes, the root's own
owner and mode). Nothing printed depends on the directory's path, inode
numbers or times.

  multiuser_ops.py run DIR      as root: every step, each as its user
  multiuser_ops.py step S DIR   one step as the calling user (internal)
"""
import ctypes
import errno
import os
import socket
import stat
import subprocess
import sys

A = (40001, 40001, [40001, 40010])  # in the shared group 40010
B = (40002, 40002, [40002])
SHARED_GID = 40010
# The system's interpreter: one under root's home may be out of reach for
# the unprivileged users.
PYTHON = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable

libc = ctypes.CDLL(None, use_errno=True)
RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2


def renameat2(old, new, flags):
    if libc.renameat2(-100, old.encode(), -100, new.encode(), flags):
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def fmt_stat(path):
    try:
        s = os.lstat(path)
    except OSError as e:
        return "stat " + errno.errorcode[e.errno]
    kind = stat.S_IFMT(s.st_mode)
    out = "%s mode=%04o uid=%d gid=%d" % (
        {stat.S_IFREG: "file", stat.S_IFDIR: "dir", stat.S_IFLNK: "link",
         stat.S_IFIFO: "fifo", stat.S_IFSOCK: "sock", stat.S_IFCHR: "chr",
         stat.S_IFBLK: "blk"}[kind],
        stat.S_IMODE(s.st_mode), s.st_uid, s.st_gid)
    if kind != stat.S_IFDIR:
        out += " nlink=%d" % s.st_nlink
    if kind in (stat.S_IFREG, stat.S_IFLNK):
        out += " size=%d" % s.st_size
    if kind in (stat.S_IFCHR, stat.S_IFBLK):
        out += " rdev=%d,%d" % (os.major(s.st_rdev), os.minor(s.st_rdev))
    return out


def op(label, fn):
    """Run fn, print 'label: ok [value]' or 'label: ERRNO'."""
    try:
        r = fn()
        print("%s: ok%s" % (label, "" if r is None else " " + str(r)))
    except OSError as e:
        print("%s: %s" % (label, errno.errorcode.get(e.errno, e.errno)))


def show(label, path):
    print("%s: %s" % (label, fmt_stat(path)))


def mk(label, P, name, fn):
    """op() that makes entry @name, then its stat."""
    op(label, fn)
    show(name, P(name))


def create(path, mode, data=b""):
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode)
    if data:
        os.write(fd, data)
    os.close(fd)


def seeks(fd, size):
    res = []
    offs = [0, 1, 4095, 4096, 4097, 8192, 12288, 12298, 16384, 20480,
            (1 << 20) - 1, 1 << 20, size - 1, size]
    for off in offs:
        for w, n in ((os.SEEK_DATA, "D"), (os.SEEK_HOLE, "H")):
            try:
                res.append("%s%d=%d" % (n, off, os.lseek(fd, off, w)))
            except OSError as e:
                res.append("%s%d=%s" % (n, off, errno.errorcode[e.errno]))
    return " ".join(res)


def sparse_then_seek(path):
    """Writes with holes between them, then seeks at once: no fsync, so
    the data may still be only in the kernel's page cache."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    os.pwrite(fd, b"a" * 4096, 0)
    os.pwrite(fd, b"b" * 100, 3 * 4096 + 10)
    os.pwrite(fd, b"c" * 4096, 1 << 20)
    size = os.fstat(fd).st_size
    r = "size=%d %s" % (size, seeks(fd, size))
    # More, then closed: a read-only handle must see it all as well.
    os.pwrite(fd, b"d" * 5000, 2 << 20)
    os.close(fd)
    fd = os.open(path, os.O_RDONLY)
    size = os.fstat(fd).st_size
    r += " | reopened size=%d %s" % (size, seeks(fd, size))
    os.close(fd)
    return r


# ---- the steps, in order; each runs as the user named in STEPS ----

def step_root_setup(d):
    op("root chmod 1777 root", lambda: os.chmod(d, 0o1777))
    show("root", d)
    os.mkdir(os.path.join(d, "shared"), 0o777)
    os.chown(os.path.join(d, "shared"), A[0], SHARED_GID)
    os.chmod(os.path.join(d, "shared"), 0o2777)
    show("shared", os.path.join(d, "shared"))


def step_a1(d):
    P = lambda n: os.path.join(d, n)
    os.umask(0)
    mk("A create 0620 umask 0", P, "a_f0620", lambda: create(P("a_f0620"), 0o620))
    mk("A mkdir 0777 umask 0", P, "a_d0777", lambda: os.mkdir(P("a_d0777"), 0o777))
    os.umask(0o022)
    mk("A create 0666 umask 022", P, "a_f0666", lambda: create(P("a_f0666"), 0o666))
    # Written through the descriptor of the create itself, which a mode
    # without write permission does not restrict (the daemon keeps the
    # backing file's create descriptor as the handle).
    mk("A create 0400 and write", P, "a_f0400",
       lambda: create(P("a_f0400"), 0o400, b"made read-only"))
    op("A create 0400 read back", lambda: open(P("a_f0400"), "rb").read().decode())
    mk("A mkdir 0777 umask 022", P, "a_d", lambda: os.mkdir(P("a_d"), 0o777))
    mk("A symlink", P, "a_l", lambda: os.symlink("a_f0620", P("a_l")))
    op("A readlink", lambda: os.readlink(P("a_l")))
    mk("A mkfifo 0640", P, "a_p", lambda: os.mkfifo(P("a_p"), 0o640))

    def bind():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(P("a_s"))
        s.listen(1)
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(P("a_s"))
        c.close()
        s.close()
    op("A bind+connect socket", bind)
    show("a_s", P("a_s"))
    mk("A link", P, "a_h", lambda: os.link(P("a_f0620"), P("a_h")))
    op("A mknod chr (no CAP_MKNOD)",
       lambda: os.mknod(P("a_c"), stat.S_IFCHR | 0o600, os.makedev(1, 3)))
    op("A mknod fifo via mknod",
       lambda: os.mknod(P("a_p2"), stat.S_IFIFO | 0o600))
    show("a_p2", P("a_p2"))
    op("A mknod regular via mknod",
       lambda: os.mknod(P("a_r2"), stat.S_IFREG | 0o600))
    show("a_r2", P("a_r2"))
    # set-gid directory owned by A, group 40010 (A is a member)
    op("A create 02755 in setgid dir",
       lambda: create(P("shared/a_f"), 0o2755))
    show("shared/a_f", P("shared/a_f"))
    mk("A mkdir in setgid dir", P, "shared/a_d", lambda: os.mkdir(P("shared/a_d"), 0o777))
    mk("A mkdir in setgid subdir", P, "shared/a_d/x", lambda: os.mkdir(P("shared/a_d/x"), 0o750))
    # chown/chgrp/chmod of its own file
    op("A chgrp own to member group", lambda: os.chown(P("a_f0666"), -1, SHARED_GID))
    op("A chgrp own to foreign group", lambda: os.chown(P("a_f0666"), -1, B[1]))
    op("A chown own to B", lambda: os.chown(P("a_f0666"), B[0], -1))
    op("A chown own to self", lambda: os.chown(P("a_f0666"), A[0], -1))
    mk("A chmod 02755 own (member group)", P, "a_f0666", lambda: os.chmod(P("a_f0666"), 0o2755))
    op("A create 06777 then chmod", lambda: (create(P("a_suid"), 0o6777),
                                            os.chmod(P("a_suid"), 0o6777))[1])
    show("a_suid", P("a_suid"))
    op("A create sticky victim", lambda: create(P("a_victim"), 0o666))
    op("A create ro 0644", lambda: create(P("a_ro"), 0o644, b"ro"))
    op("A create rw 0666", lambda: (create(P("a_rw"), 0o644, b"rw"),
                                   os.chmod(P("a_rw"), 0o666))[1])
    op("A utime own explicit", lambda: os.utime(P("a_ro"), (100, 200)))
    op("A utime own read back", lambda: int(os.stat(P("a_ro")).st_mtime))
    op("A append own file", lambda: (open(P("a_ro"), "ab").write(b"+"),
                                    os.stat(P("a_ro")).st_size)[1])
    op("A sparse writes then seek", lambda: sparse_then_seek(P("a_sparse")))
    # renames
    os.mkdir(P("a_src"))
    create(P("a_src/inner"), 0o600, b"inner")
    os.mkdir(P("a_dst_empty"))
    op("A rename dir onto empty dir", lambda: os.rename(P("a_src"), P("a_dst_empty")))
    op("A renamed dir lists", lambda: sorted(os.listdir(P("a_dst_empty"))))
    op("A renamed dir reads", lambda: open(P("a_dst_empty/inner"), "rb").read().decode())
    op("A old name gone", lambda: os.lstat(P("a_src")) and None)
    os.mkdir(P("a_src2"))
    op("A rename dir onto non-empty dir", lambda: os.rename(P("a_src2"), P("a_dst_empty")))
    op("A rename file onto dir", lambda: os.rename(P("a_ro"), P("a_src2")))
    op("A rename dir onto file", lambda: os.rename(P("a_src2"), P("a_ro")))
    op("A rename dir into itself", lambda: os.rename(P("a_src2"), P("a_src2/sub")))
    op("A mkdir in moved dir", lambda: os.mkdir(P("a_dst_empty/new")))
    op("A rename empty dir onto empty dir", lambda: (os.mkdir(P("a_e1")),
                                                     os.mkdir(P("a_e2")),
                                                     os.rename(P("a_e1"), P("a_e2")))[2])
    op("A create in replaced dir", lambda: create(P("a_e2/f"), 0o600))
    op("A NOREPLACE onto existing",
       lambda: renameat2(P("a_f0620"), P("a_f0666"), RENAME_NOREPLACE))
    op("A NOREPLACE onto free",
       lambda: renameat2(P("a_r2"), P("a_r3"), RENAME_NOREPLACE))
    op("A EXCHANGE file and dir",
       lambda: renameat2(P("a_r3"), P("a_src2"), RENAME_EXCHANGE))
    show("a_r3", P("a_r3"))
    show("a_src2", P("a_src2"))
    op("A EXCHANGE with missing",
       lambda: renameat2(P("a_r3"), P("nothing"), RENAME_EXCHANGE))
    op("A EXCHANGE two dirs", lambda: renameat2(P("a_d0777"), P("a_dst_empty"),
                                                RENAME_EXCHANGE))
    op("A exchanged dir lists", lambda: sorted(os.listdir(P("a_d0777"))))


def step_b1(d):
    P = lambda n: os.path.join(d, n)
    os.umask(0o022)
    op("B unlink A's file in sticky root", lambda: os.unlink(P("a_victim")))
    op("B rename A's file in sticky root", lambda: os.rename(P("a_victim"), P("b_x")))
    mk("B create own", P, "b_f", lambda: create(P("b_f"), 0o644))
    op("B unlink own in sticky root", lambda: os.unlink(P("b_f")))
    op("B create 02755 in setgid dir (not a member)",
       lambda: create(P("shared/b_f"), 0o2755))
    show("shared/b_f", P("shared/b_f"))
    mk("B mkdir in setgid dir", P, "shared/b_d", lambda: os.mkdir(P("shared/b_d"), 0o755))
    op("B chmod A's file", lambda: os.chmod(P("a_rw"), 0o777))
    op("B chown A's file", lambda: os.chown(P("a_rw"), B[0], -1))
    op("B chgrp A's file", lambda: os.chown(P("a_rw"), -1, B[1]))
    op("B utime now, writable", lambda: os.utime(P("a_rw"), None))
    op("B utime explicit, not owner", lambda: os.utime(P("a_rw"), (1, 1)))
    op("B utime now, not writable", lambda: os.utime(P("a_ro"), None))
    op("B truncate not writable", lambda: os.truncate(P("a_ro"), 0))
    op("B truncate writable", lambda: os.truncate(P("a_rw"), 1))
    op("B open not writable", lambda: os.close(os.open(P("a_ro"), os.O_WRONLY)))
    op("B read not readable", lambda: os.close(os.open(P("a_f0620"), os.O_RDONLY)))
    op("B write to set-id file", lambda: (open(P("a_suid"), "ab").write(b"x"), None)[1])
    show("a_suid after B's write", P("a_suid"))
    op("B mkdir in A's 0755 dir", lambda: os.mkdir(P("a_d/b")))
    mk("B create 02755 own group", P, "b_g", lambda: create(P("b_g"), 0o2755))
    mk("B chmod 02755 own with A's group", P, "shared/b_f", lambda: os.chmod(P("shared/b_f"), 0o2755))
    op("B mknod chr", lambda: os.mknod(P("b_c"), stat.S_IFCHR | 0o600, os.makedev(1, 3)))
    op("B unlink in shared (setgid, world-writable)", lambda: os.unlink(P("shared/a_f")))
    op("B chmod root", lambda: os.chmod(d, 0o777))
    op("B chown root", lambda: os.chown(d, B[0], -1))


def step_root2(d):
    P = lambda n: os.path.join(d, n)
    mk("root mknod chr 1,3", P, "r_c", lambda: os.mknod(P("r_c"), stat.S_IFCHR | 0o640, os.makedev(1, 3)))
    mk("root mknod blk 7,0", P, "r_b", lambda: os.mknod(P("r_b"), stat.S_IFBLK | 0o600, os.makedev(7, 0)))
    op("root chmod 06755 A's file", lambda: os.chmod(P("a_src2"), 0o6755))
    mk("root chown it (clears set-id)", P, "a_src2", lambda: os.chown(P("a_src2"), B[0], B[1]))
    op("root unlink in sticky root", lambda: os.unlink(P("a_victim")))
    op("root chown mount root", lambda: os.chown(d, A[0], SHARED_GID))
    op("root chmod mount root 02770", lambda: os.chmod(d, 0o2770))
    show("root", d)


def step_a2(d):
    P = lambda n: os.path.join(d, n)
    os.umask(0o027)
    mk("A create in set-gid root", P, "a_in_root", lambda: create(P("a_in_root"), 0o666))
    mk("A mkdir in set-gid root", P, "a_dir_in_root", lambda: os.mkdir(P("a_dir_in_root"), 0o777))
    mk("A symlink in set-gid root", P, "a_l2", lambda: os.symlink("x", P("a_l2")))
    before = os.stat(d).st_mtime_ns
    op("A chmod own root 02750", lambda: os.chmod(d, 0o2750))
    op("A chmod left the root's mtime", lambda: os.stat(d).st_mtime_ns == before)
    op("A chown own root to B", lambda: os.chown(d, B[0], -1))
    op("A chgrp own root to own group", lambda: os.chown(d, -1, A[1]))
    op("A chgrp own root back", lambda: os.chown(d, -1, SHARED_GID))
    show("root", d)


def step_b2(d):
    op("B list root 02750 (other)", lambda: sorted(os.listdir(d)))
    op("B stat in root", lambda: os.stat(os.path.join(d, "a_in_root")) and None)


def step_final(d):
    for top, dirs, files in os.walk(d):
        dirs.sort()
        for n in sorted(dirs + files):
            p = os.path.join(top, n)
            print("tree %s: %s" % (os.path.relpath(p, d), fmt_stat(p)))
    show("root", d)


STEPS = [("root-setup", None, step_root_setup), ("A1", A, step_a1),
         ("B1", B, step_b1), ("root2", None, step_root2), ("A2", A, step_a2),
         ("B2", B, step_b2), ("final", None, step_final)]


def run(d):
    for name, user, fn in STEPS:
        print("== " + name, flush=True)
        if user is None:
            fn(d)
            sys.stdout.flush()
            continue
        uid, gid, groups = user
        subprocess.run(["setpriv", "--reuid=%d" % uid, "--regid=%d" % gid,
                        "--groups=" + ",".join(map(str, groups)),
                        "--inh-caps=-all", "--bounding-set=-all",
                        PYTHON, os.path.abspath(__file__), "step",
                        name, d], check=True)


def main():
    if sys.argv[1] == "run":
        run(sys.argv[2])
    else:
        dict((n, fn) for n, _, fn in STEPS)[sys.argv[2]](sys.argv[3])


if __name__ == "__main__":
    main()
