"""Monte Carlo speed and memory: replicates per second and peak memory, side by side with rpact.

    python benchmarks/bench_montecarlo.py                 # 10,000 reps of textbook + baseline
    python benchmarks/bench_montecarlo.py --reps 100000 --only baseline   # memory flatness
    python benchmarks/bench_montecarlo.py --memory --reps 2000,10000,100000 --only baseline

Each run goes through `run_to_parquet` (what `python -m sim run` does), writing to a
temporary folder. Peak memory is the largest resident set of this process and of its worker
processes (ru_maxrss of RUSAGE_SELF and RUSAGE_CHILDREN). When Rscript with rpact is on the
machine, rpact's getSimulationSurvival for the same textbook design is timed too.

With --memory, each replicate count is a whole `python -m sim run` process (summary, timeline
and the monthly tables included), whose process tree (the run and its workers) is sampled
every 0.2 s (psutil): the peak of the SUM of their proportional set sizes (PSS: pages shared
by the forked workers counted once in all; RSS where PSS is not available), the main process
and the largest worker at that moment; then the growth of that peak per 10,000 replicates
(least squares over the counts given). Needs psutil (pip install -e ".[bench]").
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from sim.engine.chunk import TrialModel
from sim.engine.executors import run_to_parquet
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = {
    "textbook": ROOT / "scenarios/textbook.yaml",
    "baseline": ROOT / "scenarios/nct07271602.yaml",
}


def peak_mib() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def time_run(name: str, reps: int, workers: int, seed: int) -> float:
    model = TrialModel.from_scenario(load_scenario(SCENARIOS[name]))
    folder = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        started = time.perf_counter()
        run_to_parquet(model, reps, seed, workers, folder)
        return time.perf_counter() - started
    finally:
        shutil.rmtree(folder)


MIB = 2**20
SAMPLE_SECONDS = 0.2


def tree_memory(root) -> tuple[int, int, int]:
    """(sum over the process tree, main process, largest other process) in bytes: PSS where
    the system reports it, else RSS."""
    import psutil

    main, others = 0, []
    for proc in [root, *root.children(recursive=True)]:
        try:
            info = proc.memory_full_info()
        except (psutil.Error, OSError):
            continue
        size = getattr(info, "pss", info.rss)
        if proc.pid == root.pid:
            main = size
        else:
            others.append(size)
    return main + sum(others), main, max(others, default=0)


def memory_run(
    name: str, reps: int, workers: int, seed: int, trace: Path | None = None
) -> dict[str, float]:
    """One whole `python -m sim run` of scenario `name`, its process tree sampled until it
    ends: wall seconds and the peak of the summed memory (MiB), with its parts then. With
    `trace`, every sample is appended to that CSV (reps, seconds, total, main, worker MiB)."""
    import psutil

    folder = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    command = [
        sys.executable,
        "-m",
        "sim",
        "run",
        str(SCENARIOS[name]),
        "--reps",
        str(reps),
        "--seed",
        str(seed),
        "--workers",
        str(workers),
        "--out",
        str(folder / "run"),
        "--quiet",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    peak = {"total": 0, "main": 0, "worker": 0}
    try:
        started = time.perf_counter()
        child = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        root = psutil.Process(child.pid)

        def sample() -> None:
            log = trace.open("a", encoding="utf-8") if trace else None
            while child.poll() is None:
                total, main, worker = tree_memory(root)
                if total > peak["total"]:
                    peak.update(total=total, main=main, worker=worker)
                if log:
                    log.write(
                        f"{reps},{time.perf_counter() - started:.1f},{total / MIB:.0f},"
                        f"{main / MIB:.0f},{worker / MIB:.0f}\n"
                    )
                    log.flush()
                time.sleep(SAMPLE_SECONDS)
            if log:
                log.close()

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, errors = child.communicate()
        sampler.join()
        wall = time.perf_counter() - started
        if child.returncode:
            raise SystemExit(f"{' '.join(command)} failed:\n{errors}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {"wall": wall, **{k: v / MIB for k, v in peak.items()}}


def growth_per_10k(reps: list[int], peaks: list[float]) -> float:
    """Least-squares slope of the peak total memory over the replicate count, per 10,000."""
    import numpy as np

    return float(np.polyfit(np.asarray(reps, float), np.asarray(peaks, float), 1)[0] * 1e4)


def memory_report(
    names: list[str], counts: list[int], workers: int, seed: int, trace: Path | None = None
) -> None:
    for name in names:
        peaks = []
        for reps in counts:
            got = memory_run(name, reps, workers, seed, trace)
            peaks.append(got["total"])
            print(
                f"{name:9s} {reps:>7,d} reps  {workers} workers  {got['wall']:7.1f} s  "
                f"peak total memory {got['total']:6.0f} MiB (main {got['main']:4.0f}, "
                f"largest worker {got['worker']:4.0f})",
                flush=True,
            )
        if len(counts) > 1:
            print(
                f"{name:9s} growth of the peak total: "
                f"{growth_per_10k(counts, peaks):+.1f} MiB per 10,000 replicates "
                f"({counts[0]:,} to {counts[-1]:,} replicates)"
            )


def time_rpact() -> str:
    script = ROOT / "benchmarks/rpact/textbook.R"
    if shutil.which("Rscript") is None:
        return "rpact: Rscript not installed (apt-get install r-base-core r-cran-rpact)"
    done = subprocess.run(["Rscript", str(script)], capture_output=True, text=True)
    return "rpact: " + (done.stdout.strip() or done.stderr.strip()).replace("\n", "\n  ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--reps",
        default="10000",
        help="replicates (with --memory, a comma-separated list of counts)",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", choices=list(SCENARIOS), default=None)
    parser.add_argument("--no-rpact", action="store_true")
    parser.add_argument(
        "--memory",
        action="store_true",
        help="peak total memory of whole runs (all processes) and its growth",
    )
    parser.add_argument(
        "--trace",
        type=Path,
        default=None,
        help="with --memory: append every memory sample to this CSV",
    )
    args = parser.parse_args()
    names = [args.only] if args.only else list(SCENARIOS)
    counts = [int(x) for x in args.reps.replace("_", "").split(",")]
    if args.memory:
        memory_report(names, counts, args.workers, args.seed, args.trace)
        return
    args.reps = counts[0]
    for name in names:
        wall = time_run(name, args.reps, args.workers, args.seed)
        own, children = peak_mib()
        print(
            f"{name:9s} {args.reps:>7,d} reps  {args.workers} workers  {wall:7.2f} s  "
            f"{args.reps / wall:9,.0f} reps/s  peak RSS main {own:6.0f} MiB, "
            f"largest worker {children:6.0f} MiB"
        )
    if not args.no_rpact and "textbook" in names:
        print(time_rpact())


if __name__ == "__main__":
    main()
