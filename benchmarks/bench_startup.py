"""Start-up of the command line: wall and CPU time of `python -m sim --help` and
`python -m sim validate` (the baseline), median of repeated runs in fresh interpreters, beside
`python -c pass` (the interpreter's own start-up) and, when Rscript is present, R's start-up
with rpact loaded (the issue's comparison). Goal (issue 15): both commands under 0.5 s.

    python benchmarks/bench_startup.py [--runs 9]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "nct07271602.yaml"


def timed(cmd: list[str], runs: int) -> tuple[float, float]:
    """Median wall and CPU seconds (user + system of the child) of `cmd`."""
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(
            cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    runs = parser.parse_args().runs
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -m sim --help": [sys.executable, "-m", "sim", "--help"],
        "python -m sim validate baseline": [sys.executable, "-m", "sim", "validate", str(BASELINE)],
    }
    if shutil.which("Rscript"):
        commands["Rscript -e 'library(rpact)'"] = [
            "Rscript",
            "-e",
            "suppressMessages(library(rpact))",
        ]
    print(f"{'command':40s}{'wall s':>9s}{'cpu s':>9s}   (median of {runs})")
    for label, cmd in commands.items():
        wall, cpu = timed(cmd, runs)
        print(f"{label:40s}{wall:9.3f}{cpu:9.3f}")


if __name__ == "__main__":
    main()
