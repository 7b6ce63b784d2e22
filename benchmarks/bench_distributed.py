"""Executors and sweeps: local pool scaling, Dask against the local pool, pooled sweeps, and
the client's memory on Dask. Prints, on this machine, in one run:

    python benchmarks/bench_distributed.py              # all four figures (about 3-5 min)
    python benchmarks/bench_distributed.py --only sweep # one of: scaling dask sweep memory

- scaling: the baseline, 2 local workers against 1 (goal: speedup >= 1.8x);
- dask: a Dask LocalCluster of 2 workers against the local pool of 2 (goal: time ratio
  <= 1.10 on the baseline, <= 1.25 on the textbook scenario); the cluster's start-up is
  timed apart, it is paid once per command;
- sweep: the 17-point sensitivity sweep (scenarios/sensitivity.yaml), pooled (all (point,
  chunk) tasks in one pool) against one point at a time on the same pool (goal: pooled
  faster); both write every point's tables, neither draws the sweep's plots;
- memory: peak resident memory of the client (`python -m sim run`, in a fresh process) at
  10,000 and 100,000 textbook replicates on Dask (goal: flat, under 400 MiB).

Every timed run goes through `run_points` (what `run` and `sweep` do) into a temporary
folder; timings are the best of --repeat runs.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sim.engine.chunk import TrialModel
from sim.engine.executors import DaskExecutor, LocalExecutor, PointJob, run_points
from sim.engine.run import finish_point
from sim.engine.sweep import expand_points, read_variants
from sim.scenario import load_scenario, read_scenario_yaml

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = {
    "textbook": ROOT / "scenarios/textbook.yaml",
    "baseline": ROOT / "scenarios/nct07271602.yaml",
}
SEED = 1


def time_points(executor, scenarios, reps: int, serial: bool = False) -> float:
    """Seconds to compute and write every point (one pool, or one point after another)."""
    folder = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        jobs = []
        for i, _ in enumerate(scenarios):
            (folder / str(i)).mkdir()
            jobs.append(PointJob(folder / str(i), reps, SEED, 0))

        def finish(index: int, tables) -> None:
            finish_point(
                folder / str(index), scenarios[index], reps, tables.sums, {}, tables.monthly
            )

        started = time.perf_counter()
        if serial:
            for i, job in enumerate(jobs):
                alone = [None] * len(jobs)
                alone[i] = job
                run_points(executor, alone, on_point=finish)
        else:
            run_points(executor, jobs, on_point=finish)
        return time.perf_counter() - started
    finally:
        shutil.rmtree(folder)


def best(repeat: int, function) -> float:
    return min(function() for _ in range(repeat))


def bench_scaling(reps: int, repeat: int) -> None:
    scenario = load_scenario(SCENARIOS["baseline"])
    model = TrialModel.from_scenario(scenario)
    times = {}
    for workers in (1, 2):
        with LocalExecutor([model], workers) as pool:
            times[workers] = best(repeat, lambda p=pool: time_points(p, [scenario], reps))
    print(
        f"scaling   baseline {reps:,} reps: 1 worker {times[1]:6.1f} s, 2 workers "
        f"{times[2]:6.1f} s: speedup {times[1] / times[2]:.2f}x (goal >= 1.8x)",
        flush=True,
    )


def bench_dask(reps: dict[str, int], repeat: int) -> None:
    for name in ("baseline", "textbook"):
        scenario = load_scenario(SCENARIOS[name])
        model = TrialModel.from_scenario(scenario)
        n = reps[name]
        with LocalExecutor([model], 2) as pool:
            local = best(repeat, lambda p=pool, s=scenario, n=n: time_points(p, [s], n))
        started = time.perf_counter()
        with DaskExecutor([model], 2) as cluster:
            start_up = time.perf_counter() - started
            dask = best(repeat, lambda c=cluster, s=scenario, n=n: time_points(c, [s], n))
        goal = 1.10 if name == "baseline" else 1.25
        print(
            f"dask      {name:8s} {n:,} reps: local pool of 2 {local:6.2f} s, "
            f"LocalCluster of 2 {dask:6.2f} s: ratio {dask / local:.2f} (goal <= {goal}); "
            f"cluster start-up {start_up:.1f} s",
            flush=True,
        )


def bench_sweep(reps: int, repeat: int) -> None:
    base = read_scenario_yaml(SCENARIOS["baseline"])
    variants = read_variants(ROOT / "scenarios/sensitivity.yaml")
    points = expand_points(base, {}, variants, str(SCENARIOS["baseline"]))
    scenarios = [p.scenario for p in points]
    models = [TrialModel.from_scenario(s) for s in scenarios]
    with LocalExecutor(models, 2) as pool:
        serial = best(repeat, lambda: time_points(pool, scenarios, reps, serial=True))
        pooled = best(repeat, lambda: time_points(pool, scenarios, reps))
    print(
        f"sweep     {len(points)} points x {reps:,} reps, 2 workers: one point at a time "
        f"{serial:6.1f} s, pooled {pooled:6.1f} s: pooled/serial {pooled / serial:.2f} "
        f"({serial / pooled:.2f}x faster)",
        flush=True,
    )


MEMORY_SCRIPT = """
import resource, sys
from sim.commands.cli import main
code = main(["run", sys.argv[1], "--reps", sys.argv[2], "--out", sys.argv[3], "--quiet",
             "--executor", "dask", "--workers", "2"])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
sys.exit(code)
"""


def bench_memory(reps_list: list[int]) -> None:
    figures = []
    for reps in reps_list:
        folder = Path(tempfile.mkdtemp(prefix="bench-"))
        try:
            started = time.perf_counter()
            done = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    MEMORY_SCRIPT,
                    str(SCENARIOS["textbook"]),
                    str(reps),
                    str(folder / "run"),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            wall = time.perf_counter() - started
            figures.append(
                f"{reps:,} reps {float(done.stdout.split()[-1]):5.0f} MiB "
                f"({wall:.1f} s whole command)"
            )
        finally:
            shutil.rmtree(folder)
    print(
        "memory    textbook on Dask (2 workers), client peak RSS: "
        + ", ".join(figures)
        + " (goal: flat, < 400 MiB)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["scaling", "dask", "sweep", "memory"], default=None)
    parser.add_argument("--repeat", type=int, default=2, help="best of N timings (2)")
    parser.add_argument("--baseline-reps", type=int, default=2000)
    parser.add_argument("--textbook-reps", type=int, default=10_000)
    parser.add_argument("--sweep-reps", type=int, default=500)
    args = parser.parse_args()
    if args.only in (None, "scaling"):
        bench_scaling(args.baseline_reps, args.repeat)
    if args.only in (None, "dask"):
        bench_dask({"baseline": args.baseline_reps, "textbook": args.textbook_reps}, args.repeat)
    if args.only in (None, "sweep"):
        bench_sweep(args.sweep_reps, args.repeat)
    if args.only in (None, "memory"):
        bench_memory([10_000, 100_000])


if __name__ == "__main__":
    main()
