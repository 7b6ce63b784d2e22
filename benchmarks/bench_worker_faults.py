"""Page faults, CPU and heap of a worker's first and later chunks (issue 32: the baseline's
system CPU is each worker's first chunk faulting its working set in).

    python benchmarks/bench_worker_faults.py [--scenario scenarios/nct07271602.yaml]
                                             [--workers 3] [--chunks 2]

The scenario's model is built and then, as `LocalExecutor`'s pool does, a process is forked
after the imports (glibc told to keep freed memory, `keep_freed_memory`); it simulates chunks
0, 1, ... of 500 replicates (seed 1, 2, ... for the 1st, 2nd, ... process) and prints, per
chunk, its minor page faults, system and user CPU (getrusage around the chunk) and glibc's
heap after it (`mallinfo2`: sbrk'd + mmap'd MiB), then the process's peak RSS. The processes
run one after the other. Fault counts and heap sizes hardly move with the machine's load;
the CPU times do. Linux with glibc only.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim.engine.chunk import CHUNK_SIZE, TrialModel, simulate_chunks  # noqa: E402
from sim.engine.executors import keep_freed_memory  # noqa: E402
from sim.scenario import load_scenario  # noqa: E402


class MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def heap_mib(libc: ctypes.CDLL) -> str:
    """glibc's heap: sbrk'd + mmap'd MiB."""
    info = libc.mallinfo2()
    return f"{info.arena / 2**20:.0f}+{info.hblkhd / 2**20:.0f} MiB"


def worker(model: TrialModel, seed: int, chunks: int, libc: ctypes.CDLL) -> str:
    """One forked worker's line: its chunks' faults, CPU and heap."""
    keep_freed_memory()
    parts = [f"seed {seed}: heap at fork {heap_mib(libc)}"]
    for chunk in range(chunks):
        before = resource.getrusage(resource.RUSAGE_SELF)
        simulate_chunks([model], seed, chunk, chunk * CHUNK_SIZE, CHUNK_SIZE)
        after = resource.getrusage(resource.RUSAGE_SELF)
        parts.append(
            f"chunk {chunk}: {after.ru_minflt - before.ru_minflt:6d} faults, "
            f"sys {after.ru_stime - before.ru_stime:.2f} s, "
            f"user {after.ru_utime - before.ru_utime:.2f} s, heap {heap_mib(libc)}"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return " | ".join(parts) + f" | peak RSS {peak:.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="scenarios/nct07271602.yaml")
    parser.add_argument("--workers", type=int, default=3, help="processes forked in turn")
    parser.add_argument("--chunks", type=int, default=2, help="chunks each process simulates")
    args = parser.parse_args()
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    model = TrialModel.from_scenario(load_scenario(args.scenario))
    for k in range(args.workers):
        pid = os.fork()
        if pid == 0:
            print(worker(model, k + 1, args.chunks, libc), flush=True)
            os._exit(0)
        os.waitpid(pid, 0)


if __name__ == "__main__":
    main()
