#!/usr/bin/env python3
"""Finds the functions and read-only data that berth-runc's paths touch.

Used by scripts/order-runtime-symbols.sh; see there for why. One call profiles
one build of the binary:

    symbol_order.py BINARY RUNC_LINK WORKDIR ITERATION OUT

BINARY must sit on a file system whose block device has read-ahead 0, so a
page fault reads exactly one page into the page cache: after dropping the
file's cache and running the scenarios, the file's resident pages (mincore)
are exactly the pages the processes touched. (On a cached file the count
would be useless: the kernel maps 64 KiB around every fault.) Every symbol
overlapping a touched page is a candidate. A candidate set is a superset of
what runs, so sets from several layouts are intersected (WORKDIR keeps them);
each iteration shuffles the order so that different neighbours share pages.
"""

import ctypes
import json
import os
import random
import subprocess
import sys

PAGE = 4096


def resident_pages(path):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int,
                          ctypes.c_int, ctypes.c_int, ctypes.c_long]
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        addr = libc.mmap(None, size, 1, 1, fd, 0)  # PROT_READ, MAP_SHARED
        count = (size + PAGE - 1) // PAGE
        vec = (ctypes.c_ubyte * count)()
        if libc.mincore(ctypes.c_void_p(addr), size, vec) != 0:
            raise OSError(ctypes.get_errno(), f"mincore {path}")
        libc.munmap(ctypes.c_void_p(addr), size)
        return {i for i in range(count) if vec[i] & 1}
    finally:
        os.close(fd)


def drop_cache(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def load_segments(binary):
    """(file offset, vaddr, file size) of each PT_LOAD."""
    out = subprocess.run(["readelf", "-lW", binary], check=True,
                         capture_output=True, text=True).stdout
    segs = []
    for line in out.splitlines():
        f = line.split()
        if f and f[0] == "LOAD":
            segs.append((int(f[1], 16), int(f[2], 16), int(f[4], 16)))
    return segs


def touched_ranges(binary, pages):
    ranges = []
    for seg_off, seg_vaddr, seg_size in load_segments(binary):
        for page in pages:
            lo, hi = max(page * PAGE, seg_off), min((page + 1) * PAGE, seg_off + seg_size)
            if lo < hi:
                ranges.append((seg_vaddr + lo - seg_off, seg_vaddr + hi - seg_off))
    return sorted(ranges)


def candidates(binary, pages):
    """Code and read-only data symbols overlapping a touched page, in address order."""
    ranges = touched_ranges(binary, pages)
    out = subprocess.run(["nm", "--defined-only", "-n", "-S", binary], check=True,
                         capture_output=True, text=True).stdout
    found, i = [], 0
    for line in out.splitlines():
        f = line.split()
        if len(f) != 4 or f[2] not in "tTwWrR":
            continue
        start = int(f[0], 16)
        end = start + max(int(f[1], 16), 1)
        while i < len(ranges) and ranges[i][1] <= start:
            i += 1
        if i < len(ranges) and ranges[i][0] < end:
            found.append(f[3])
    return found


def scenarios(runc, work):
    """What containerd and `berth-runc run` do, as argv lists."""
    root = f"{work}/state"
    once = [[runc, "--root", root, "run", "--bundle", f"{work}/bundle", "order-run"]]
    life = [
        [runc, "--root", root, "create", "--bundle", f"{work}/bundle-sleep", "--pid-file", f"{work}/pid", "order-life"],
        [runc, "--root", root, "start", "order-life"],
        [runc, "--root", root, "state", "order-life"],
        [runc, "--root", root, "exec", "--process", f"{work}/process.json", "order-life"],
        [runc, "--root", root, "ps", "--format", "json", "order-life"],
        [runc, "--root", root, "pause", "order-life"],
        [runc, "--root", root, "resume", "order-life"],
        [runc, "--root", root, "kill", "order-life", "KILL"],
        [runc, "--root", root, "delete", "--force", "order-life"],
    ]
    return [("run", once), ("lifecycle", life)]


def profile(binary, runc, work):
    """Candidate symbols per scenario, `run` first."""
    result = []
    for name, steps in scenarios(runc, work):
        drop_cache(binary)
        for argv in steps:
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        pages = resident_pages(binary)
        print(f"  {name}: {len(pages)} pages touched", file=sys.stderr)
        result.append(candidates(binary, pages))
    return result


def main():
    binary, runc, work, iteration, out = sys.argv[1:6]
    iteration = int(iteration)
    groups = profile(binary, runc, work)
    # Intersect with this session's earlier layouts (never with an old order
    # file: its build may have had other functions).
    state_file = f"{work}/candidates.json"
    if iteration > 1 and os.path.exists(state_file):
        earlier = json.load(open(state_file))
        groups = [[s for s in g if s in set(e)] for g, e in zip(groups, earlier)]
    json.dump(groups, open(state_file, "w"))
    rng = random.Random(iteration)
    order, seen = [], set()
    for group in groups:
        fresh = [s for s in group if s not in seen]
        rng.shuffle(fresh)
        order.extend(fresh)
        seen.update(fresh)
    with open(out, "w") as f:
        f.write("\n".join(order) + "\n")
    print(f"  {len(order)} symbols ordered", file=sys.stderr)


if __name__ == "__main__":
    main()
