"""Whole-process time of the README's sensitivity sweep (issue 15's goal: under 3 minutes
on 2 cores at 2,000 replicates per point), optionally beside another checkout, alternated.

    python benchmarks/bench_sweep.py [--runs 3] [--reps 2000] [--workers N]
                                     [--before /path/to/other/checkout]

Each round runs `python -m sim sweep scenarios/nct07271602.yaml --variants
scenarios/sensitivity.yaml --reps R --seed 1 --out TMP --quiet` from this checkout and, with
`--before DIR`, the same command from DIR (e.g. a checkout of main before a change), in
fresh processes, alternating the two so that a machine's passing load favours neither. It
prints the best and median wall time and CPU time (user + system of the command and its
workers) of each side, the ratio before / this of the bests and of the medians, and the
goal's verdict on this checkout's best.

This virtual machine's speed varies by up to 2.5x from one day to the next (the same
checkout's sweep took 118 s one morning and 257 s the evening before), so the script also
times a yardstick before every round: one bare SimPy timeout with its process resume
(`bench_clinic.bare_timeout_us`, best of 5), and prints the sweep's best wall time in
millions of such timeouts: a rough scale for another day (the yardstick itself moved from
0.81 to 1.38 us within one run). The ratio between checkouts timed in the same rounds is the
figure to compare versions by.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from bench_clinic import bare_timeout_us
from bench_whole_process import describe, sim_env, timed

ROOT = Path(__file__).resolve().parents[1]
GOAL_SECONDS = 180.0


def sweep_command(reps: int, out: Path, workers: int | None) -> list[str]:
    """The README's sensitivity sweep, writing into `out`."""
    cmd = [
        sys.executable,
        "-m",
        "sim",
        "sweep",
        "scenarios/nct07271602.yaml",
        "--variants",
        "scenarios/sensitivity.yaml",
        "--reps",
        str(reps),
        "--seed",
        "1",
        "--out",
        str(out),
        "--quiet",
    ]
    return cmd + (["--workers", str(workers)] if workers else [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--reps", type=int, default=2000)
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="sim's --workers (default: sim's own, one per core)",
    )
    parser.add_argument(
        "--before",
        type=Path,
        default=None,
        help="another checkout whose sweep is timed in the same rounds",
    )
    args = parser.parse_args()
    sides = {"this checkout": ROOT}
    if args.before:
        sides[f"before: {args.before.resolve().name}"] = args.before.resolve()
    scratch = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    runs: dict[str, list[tuple[float, float]]] = {label: [] for label in sides}
    yardsticks: list[float] = []
    print(
        f"sensitivity sweep, 17 points x {args.reps:,} replicates; {args.runs} alternating "
        f"rounds; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}"
    )
    try:
        for round_no in range(args.runs):
            yardsticks.append(bare_timeout_us())
            for side, (label, root) in enumerate(sides.items()):
                out = scratch / f"{round_no}-{side}"
                runs[label].append(
                    timed(sweep_command(args.reps, out, args.workers), sim_env(root, None), root)
                )
                shutil.rmtree(out, ignore_errors=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"{'':44s}{'wall s':>17s}{'cpu s':>18s}")
    print(f"{'':44s}{'best':>8s}{'median':>9s}{'best':>9s}{'median':>9s}")
    figures = {label: describe(label, found) for label, found in runs.items()}
    yardstick = min(yardsticks)
    print(
        f"yardstick: a bare SimPy timeout {yardstick:.2f} us (best of the rounds; worst "
        f"{max(yardsticks):.2f})"
    )
    ours, our_median = figures["this checkout"]
    print(f"this checkout's best wall: {ours / yardstick:.1f} M bare timeouts")
    for label, (best, median) in figures.items():
        if label != "this checkout":
            print(f"ratio {label} / this: best {best / ours:.2f}, median {median / our_median:.2f}")
    verdict = "met" if ours < GOAL_SECONDS else "not met"
    print(f"goal: under {GOAL_SECONDS:.0f} s wall on this machine today: {ours:.1f} s, {verdict}")


if __name__ == "__main__":
    main()
