"""Whole-process time of `python -m sim run` beside rpact's for the same textbook design
(issue 15's goal: ratio sim / rpact <= 1.0; issue 32's: <= 0.6), in fresh processes,
alternating the two.

    python benchmarks/bench_whole_process.py [--runs 7] [--reps 10000] [--workers N]
                                             [--bytecode] [--before /path/to/other/checkout]

Each round runs `python -m sim run scenarios/textbook.yaml --reps R --seed 1 --out TMP
--force` and then `Rscript benchmarks/rpact/textbook.R` (getSimulationSurvival, 10,000
iterations), after one untimed warm-up of each; it prints the best and the median wall time
of each side, the CPU time (user + system of the process and its workers), and the ratios
sim / rpact of the bests and of the medians. Alternating keeps a machine's passing load
from favouring one side; the best of N is the figure least disturbed by it. `--before DIR`
adds, in the same rounds, the same command run from another checkout of this repository
(e.g. /work/main before a change): a before/after comparison under the same load.

Python caches compiled bytecode (`__pycache__`) unless PYTHONDONTWRITEBYTECODE is set, as
some sandboxes do; then every run compiles the ~9,000 lines of sim it imports afresh
(~0.15 s). `--bytecode` unsets it for the sim runs, as an installed package runs, caching
into a temporary folder (PYTHONPYCACHEPREFIX); the header says which was used.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RPACT = ROOT / "benchmarks" / "rpact" / "textbook.R"


def sim_env(root: Path, bytecode: Path | None) -> dict[str, str]:
    """The environment of a `python -m sim` of the checkout at `root`; with `bytecode`, a
    folder where Python caches compiled modules (PYTHONPYCACHEPREFIX: the checkouts stay
    untouched)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    if bytecode is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(bytecode)
    return env


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU seconds (user + system of the child and its children) of `cmd`, run in
    `cwd` (`python -m` imports sim from there first)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        cmd, check=True, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def describe(label: str, runs: list[tuple[float, float]]) -> tuple[float, float]:
    walls = [w for w, _ in runs]
    cpus = [c for _, c in runs]
    best, median = min(walls), statistics.median(walls)
    print(f"{label:44s}{best:8.2f}{median:9.2f}{min(cpus):9.2f}{statistics.median(cpus):9.2f}")
    return best, median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--reps", type=int, default=10_000)
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="sim's --workers (default: sim's own, one per core)",
    )
    parser.add_argument(
        "--bytecode", action="store_true", help="unset PYTHONDONTWRITEBYTECODE for the sim runs"
    )
    parser.add_argument(
        "--before",
        type=Path,
        default=None,
        help="another checkout whose `python -m sim run` is timed too",
    )
    args = parser.parse_args()
    if shutil.which("Rscript") is None:
        sys.exit("Rscript not found (apt-get install r-base-core r-cran-rpact): no comparison")
    scratch = Path(tempfile.mkdtemp(prefix="bench-whole-"))
    out = scratch / "run"
    bytecode = scratch / "pycache" if args.bytecode else None
    env = sim_env(ROOT, bytecode)
    sim = [
        sys.executable,
        "-m",
        "sim",
        "run",
        "scenarios/textbook.yaml",
        "--reps",
        str(args.reps),
        "--seed",
        "1",
        "--out",
        str(out),
        "--force",
    ]
    if args.workers:
        sim += ["--workers", str(args.workers)]
    rpact = ["Rscript", str(RPACT)]
    cached = "PYTHONDONTWRITEBYTECODE" not in env
    print(
        f"textbook, {args.reps:,} replicates; {args.runs} alternating rounds after a warm-up; "
        f"bytecode cache {'on' if cached else 'off (PYTHONDONTWRITEBYTECODE set)'}; "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}"
    )
    sides = {"python -m sim run (whole process)": (sim, env, ROOT)}
    if args.before:
        before = args.before.resolve()
        sides[f"  the same from {before}"] = (sim, sim_env(before, bytecode), before)
    sides["Rscript rpact getSimulationSurvival"] = (rpact, env, ROOT)
    runs: dict[str, list[tuple[float, float]]] = {label: [] for label in sides}
    try:
        for cmd, side_env, cwd in sides.values():  # warm-up
            timed(cmd, side_env, cwd)
        for _ in range(args.runs):
            for label, (cmd, side_env, cwd) in sides.items():
                runs[label].append(timed(cmd, side_env, cwd))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"{'':44s}{'wall s':>17s}{'cpu s':>18s}")
    print(f"{'':44s}{'best':>8s}{'median':>9s}{'best':>9s}{'median':>9s}")
    figures = {label: describe(label, found) for label, found in runs.items()}
    r_best, r_median = figures["Rscript rpact getSimulationSurvival"]
    for label, (best, median) in figures.items():
        if not label.startswith("Rscript"):
            print(
                f"ratio {label.strip()} / rpact: best {best / r_best:.2f}, "
                f"median {median / r_median:.2f} (goals: issue 15 <= 1.0, issue 32 <= 0.6)"
            )


if __name__ == "__main__":
    main()
