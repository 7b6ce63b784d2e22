"""Where the time of a Run of the page goes, without a browser: stage by stage, against the CLI.

Starts the page's fork server as the page does (`sim.app.jobs.context`: `sim.app.worker`
and the warm-up `sim.app.warm` preloaded; with --cold, `sim.app.worker` only, as before the
warm-up), then forks one run of the page's worker (`sim.app.worker.run_job`: 2,000
replicates of the baseline, seed 1, its first chunk of 500 the preview) and reads its
status.json every 10 ms, printing when each stage began, seconds after the start:

    start        the fork server has forked the run (`Process.start` returned)
    simulating   the run has begun (the closed form, design.csv, is next)
    preview      the first chunk's summary is written (the page's first answer)
    figures      the results folder is complete (the page's full answer)
    done         the figures are drawn

and the CPU seconds of the run (its process and the engine's workers) up to its answer; then
times `python -m sim run` of the same scenario, replicates and seed (wall clock and CPU of
the command; its own line says how long the run itself took, without Python's start and
imports). CPU seconds depend less on what else the machine runs than wall seconds do. The
page adds its polling (every POLL_SECONDS) and drawing the table on top.

    python benchmarks/bench_app_stages.py [--cold] [--reps 2000]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "nct07271602.yaml"


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) of process `pid` and of its children it has waited for
    (the engine's worker processes, once the run has shut its pool down)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def stages_of(
    folder: Path, process: multiprocessing.Process, started: float
) -> tuple[dict[str, float], float]:
    """({stage: seconds after `started`} as status.json went through them, CPU seconds of
    the run up to its answer: when the stage "figures" is first seen)."""
    seen: dict[str, float] = {}
    cpu = float("nan")
    while True:
        try:
            stage = json.loads((folder / "status.json").read_text())["stage"]
        except (OSError, ValueError, KeyError):
            stage = None
        if stage and stage not in seen:
            seen[stage] = time.perf_counter() - started
            if stage == "figures" and process.pid is not None:
                cpu = cpu_seconds(process.pid)
        if stage in ("done", "error") or not process.is_alive() and stage is None:
            return seen, cpu
        time.sleep(0.01)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="no warm-up in the fork server")
    parser.add_argument("--reps", type=int, default=2000, help="replicates (2000)")
    args = parser.parse_args(argv)
    from sim.engine.preview import preview_replicates

    context = multiprocessing.get_context("forkserver")
    preload = ["sim.app.worker"] if args.cold else ["sim.app.worker", "sim.app.warm"]
    context.set_forkserver_preload(preload)
    began = time.perf_counter()
    warm = context.Process(target=os.getpid)
    warm.start()
    warm.join()
    print(f"fork server ready (preload {' + '.join(preload)}): {time.perf_counter() - began:.2f} s")
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "job"
        folder.mkdir()
        shutil.copyfile(BASELINE, folder / "scenario.yaml")
        from sim.app.worker import run_job

        started = time.perf_counter()
        process = context.Process(
            target=run_job, args=(folder, args.reps, 1, preview_replicates(args.reps))
        )
        process.start()
        forked = time.perf_counter() - started
        stages, cpu = stages_of(folder, process, started)
        process.join()
        print(
            "page's run, seconds after Run: "
            + ", ".join(f"{stage} {at:.2f}" for stage, at in {"start": forked, **stages}.items())
            + f"; CPU to the answer {cpu:.2f} s (load average {load:.1f} on {os.cpu_count()} cores)"
        )
        load = os.getloadavg()[0]
        started, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
        command = [sys.executable, "-m", "sim", "run", str(BASELINE), "--reps", str(args.reps)]
        command += ["--seed", "1", "--out", str(Path(scratch) / "cli")]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cli_cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        said = [line for line in done.stderr.splitlines() if "replicates in" in line]
        print(
            f"python -m sim run: {wall:.2f} s, CPU {cli_cpu:.2f} s "
            f"({said[-1].strip() if said else ''}; load average {load:.1f})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
