#!/usr/bin/env python3
"""Cost of appending to a file that only grows, with and without letting go of flushed pages.

Usage: python3 scripts/pagecache.py keep|drop [ROUNDS] [DIR]

Appends 64 KB blocks to a new file in DIR (default: the current directory), a round of
200 MB at a time, while a second thread flushes the file every TICK seconds (environment,
default 0.25, like the audit checkpointer) and, with `drop`, lets go of the flushed whole
pages (posix_fadvise DONTNEED), as `warden_audit`'s payload file does. Prints the median
and 99th percentile of one append per round. On a VM whose host reclaims guest memory,
`keep` pays a host fault per new page once the guest runs into memory it has not touched
lately; `drop` reuses the freed pages.
"""
import os
import statistics
import sys
import threading
import time

mode = sys.argv[1] if len(sys.argv) > 1 else "drop"
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 10
where = sys.argv[3] if len(sys.argv) > 3 else "."
assert mode in ("keep", "drop"), "mode: keep or drop"
tick = float(os.environ.get("TICK", "0.25"))
path = os.path.join(where, f"pagecache-{mode}-{os.getpid()}.bin")
fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL)
block = os.urandom(64 * 1024)
stop = threading.Event()


def flusher():
    released = 0
    while not stop.wait(tick):
        size = os.fstat(fd).st_size
        os.fdatasync(fd)
        end = size // 4096 * 4096
        if mode == "drop" and end > released:
            os.posix_fadvise(fd, released, end - released, os.POSIX_FADV_DONTNEED)
            released = end


thread = threading.Thread(target=flusher)
thread.start()
try:
    offset = 0
    for r in range(rounds):
        times = []
        for _ in range(200 * 1024 * 1024 // len(block)):
            start = time.perf_counter_ns()
            os.pwrite(fd, block, offset)
            times.append(time.perf_counter_ns() - start)
            offset += len(block)
            time.sleep(0.0002)  # paced, as calls are
        times.sort()
        print(f"{mode} round {r + 1}: median {statistics.median(times) / 1000:.1f} µs, "
              f"p99 {times[len(times) * 99 // 100] / 1000:.1f} µs", flush=True)
finally:
    stop.set()
    thread.join()
    os.close(fd)
    os.unlink(path)
