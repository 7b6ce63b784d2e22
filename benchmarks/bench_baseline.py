"""Whole-process time of the baseline run beside another checkout's, alternated, pair by pair
(issue 32's goal: the whole command at <= 0.6 of the code before the issue).

    python benchmarks/bench_baseline.py --before /path/to/other/checkout
                                        [--runs 9] [--reps 2000] [--workers N] [--bytecode]

Each round runs `python -m sim run scenarios/nct07271602.yaml --reps R --seed 1 --out TMP
--force --quiet` from the other checkout (`--before`) and then from this one, in fresh
processes, after one untimed warm-up of each. It prints every round's wall and CPU time (user
+ system of the command and its workers) of both sides and their ratios this / before, then
the medians of those ratios. A ratio of one round compares two runs under the same load; the
median over rounds is the figure least moved by a machine's passing load. `--bytecode` as in
bench_whole_process.py.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from bench_whole_process import sim_env, timed

ROOT = Path(__file__).resolve().parents[1]


def run_command(reps: int, out: Path, workers: int | None) -> list[str]:
    """The baseline's run, writing into `out`."""
    cmd = [sys.executable, "-m", "sim", "run", "scenarios/nct07271602.yaml", "--reps", str(reps)]
    cmd += ["--seed", "1", "--out", str(out), "--force", "--quiet"]
    return cmd + (["--workers", str(workers)] if workers else [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="the checkout to compare with")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--reps", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=None, help="sim's --workers")
    parser.add_argument(
        "--bytecode", action="store_true", help="unset PYTHONDONTWRITEBYTECODE for the runs"
    )
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-baseline-"))
    bytecode = scratch / "pycache" if args.bytecode else None
    sides = {"before": args.before.resolve(), "this": ROOT}
    print(
        f"baseline, {args.reps:,} replicates; {args.runs} alternating rounds after a warm-up; "
        f"before: {sides['before']}; {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.2f}"
    )

    def once(side: str) -> tuple[float, float]:
        root = sides[side]
        return timed(
            run_command(args.reps, scratch / side, args.workers), sim_env(root, bytecode), root
        )

    ratios: list[tuple[float, float]] = []
    try:
        for side in sides:  # warm-up
            once(side)
        for k in range(args.runs):
            (b_wall, b_cpu), (m_wall, m_cpu) = once("before"), once("this")
            ratios.append((m_wall / b_wall, m_cpu / b_cpu))
            print(
                f"round {k + 1}: before wall {b_wall:5.2f} s, cpu {b_cpu:5.2f} s | this wall "
                f"{m_wall:5.2f} s, cpu {m_cpu:5.2f} s | ratio wall {ratios[-1][0]:.3f}, "
                f"cpu {ratios[-1][1]:.3f}"
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    wall = statistics.median(r[0] for r in ratios)
    cpu = statistics.median(r[1] for r in ratios)
    print(
        f"median of the rounds' ratios this / before: wall {wall:.3f}, cpu {cpu:.3f} (goal <= 0.6)"
    )


if __name__ == "__main__":
    main()
