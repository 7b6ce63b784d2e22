"""Monte Carlo speed and memory: replicates per second and peak memory, side by side with rpact.

    python benchmarks/bench_montecarlo.py                 # 10,000 reps of textbook + baseline
    python benchmarks/bench_montecarlo.py --reps 100000 --only baseline   # memory flatness

Each run goes through `run_to_parquet` (what `python -m sim run` does), writing to a
temporary folder. Peak memory is the largest resident set of this process and of its worker
processes (ru_maxrss of RUSAGE_SELF and RUSAGE_CHILDREN). When Rscript with rpact is on the
machine, rpact's getSimulationSurvival for the same textbook design is timed too.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from sim.engine.chunk import TrialModel
from sim.engine.executors import run_to_parquet
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = {"textbook": ROOT / "scenarios/textbook.yaml",
             "baseline": ROOT / "scenarios/nct07271602.yaml"}


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


def time_rpact() -> str:
    script = ROOT / "benchmarks/rpact/textbook.R"
    if shutil.which("Rscript") is None:
        return "rpact: Rscript not installed (apt-get install r-base-core r-cran-rpact)"
    done = subprocess.run(["Rscript", str(script)], capture_output=True, text=True)
    return "rpact: " + (done.stdout.strip() or done.stderr.strip()).replace("\n", "\n  ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", choices=list(SCENARIOS), default=None)
    parser.add_argument("--no-rpact", action="store_true")
    args = parser.parse_args()
    names = [args.only] if args.only else list(SCENARIOS)
    for name in names:
        wall = time_run(name, args.reps, args.workers, args.seed)
        own, children = peak_mib()
        print(f"{name:9s} {args.reps:>7,d} reps  {args.workers} workers  {wall:7.2f} s  "
              f"{args.reps / wall:9,.0f} reps/s  peak RSS main {own:6.0f} MiB, "
              f"largest worker {children:6.0f} MiB")
    if not args.no_rpact and "textbook" in names:
        print(time_rpact())


if __name__ == "__main__":
    main()
