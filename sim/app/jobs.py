"""A browser session's runs: its own temporary folder, one child process per run, cancel.

Runs are forked from a fork server that has imported `sim.app.worker` (the API, pandas,
matplotlib) and run a tiny simulation (`sim.app.warm`: the engine, SimPy, scipy, pyarrow)
once, so a run starts without paying for imports; each run lives in a folder of its
session's workspace, and the workspace is removed when the session ends.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import shutil
import signal
import tempfile
import threading
from dataclasses import dataclass, field
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

PROGRESS = re.compile(r"(\d+)/(\d+)")
_CONTEXT: BaseContext | None = None


def context() -> BaseContext:
    """The fork server (started once per server process, `sim.app.worker` preloaded); plain
    fork where there is no fork server (never reached on Linux)."""
    global _CONTEXT
    if _CONTEXT is None:
        methods = multiprocessing.get_all_start_methods()
        _CONTEXT = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        if "forkserver" in methods:
            _CONTEXT.set_forkserver_preload(["sim.app.worker", "sim.app.warm"])
    return _CONTEXT


def warm_up() -> None:
    """Start the fork server now (it imports the API and warms the engine up), not on the
    first press of Run; and read the scenario schema the form needs."""
    from sim.app.fields import scenario_schema

    scenario_schema()
    process = context().Process(target=os.getpid)
    process.start()
    process.join()


_WARMING: list[threading.Thread] = []


def start_fork_server() -> None:
    """`warm_up` in a background thread, once per server process."""
    if not _WARMING:
        _WARMING.append(threading.Thread(target=warm_up, daemon=True))
        _WARMING[0].start()


@dataclass
class Job:
    """One run: its folder, its process, what it was asked."""

    folder: Path
    reps: int
    seed: int
    label: str
    preview_reps: int = 0  # replicates of the preview on the way (its first chunk; 0: none)
    kind: str = "run"  # or "forecast" (then the uploaded files are in observed/)
    as_of: str = ""  # the forecast's as-of date, YYYY-MM-DD
    unblinded: bool = False  # the forecast's event model: a hazard per arm (the DMC's view)
    options: dict[str, Any] = field(default_factory=dict)  # sim.forecast's other options
    started: float = 0.0  # time.monotonic() at the start, for the page's progress line
    process: BaseProcess | None = None
    cancelled: bool = False

    def start(self) -> None:
        from sim.app.worker import run_forecast_job, run_job

        if self.kind == "forecast":
            target = run_forecast_job
            args = (self.folder, self.reps, self.seed, self.as_of, self.unblinded, self.options)
        else:
            target, args = run_job, (self.folder, self.reps, self.seed, self.preview_reps)
        self.process = context().Process(target=target, args=args, daemon=False)
        self.process.start()

    def status(self) -> dict[str, Any]:
        """{"stage": ..., "message": ...}; an exit without a status is an error too."""
        try:
            status = json.loads((self.folder / "status.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            status = {"stage": "starting", "message": ""}
        if self.cancelled:
            return {"stage": "cancelled", "message": ""}
        alive = self.process is not None and self.process.is_alive()
        if status["stage"] not in ("done", "error") and self.process is not None and not alive:
            code = self.process.exitcode
            return {"stage": "error", "message": f"the run stopped (exit code {code})"}
        return status

    def done_reps(self) -> int:
        """Replicates finished so far, read from the API's progress bar."""
        try:
            text = (self.folder / "progress.txt").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return 0
        found = PROGRESS.findall(text[-400:])
        return int(found[-1][0]) if found else 0

    def cancel(self) -> None:
        """Stop the run and the engine's workers (the run's own process group)."""
        self.cancelled = True
        process = self.process
        if process is not None and process.is_alive() and process.pid is not None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                process.kill()
            process.join(timeout=5)


SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def write_observed(
    folder: Path, files: list[tuple[str, Path]], kind: str = "observed"
) -> list[Path]:
    """Copy the uploaded observed files (their names as uploaded, and where the server put
    them) into `folder/observed/` (or `folder/<kind>/`: "screening", the screening counts),
    each under its own name made safe for a path (no folder part, no characters but
    letters, digits, '.', '_' and '-'; a repeated name gets a number in front). The forecast
    job hands them to `sim.forecast` (worker.observed_argument; the screening counts by
    their path, `Job.options`)."""
    target = folder / kind
    target.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for number, (name, source) in enumerate(files, start=1):
        safe = SAFE_NAME.sub("_", Path(name).name).lstrip(".") or f"{kind}-{number}"
        if (target / safe).exists():
            safe = f"{number}-{safe}"
        written.append(target / safe)
        shutil.copyfile(source, written[-1])
    return written


@dataclass
class Workspace:
    """A session's temporary folder and its runs, removed with `close`."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="sim-app-")))
    jobs: list[Job] = field(default_factory=list)

    def new_job(
        self, scenario_yaml: str, reps: int, seed: int, label: str, preview_reps: int = 0
    ) -> Job:
        folder = self.root / f"run-{len(self.jobs) + 1:03d}"
        folder.mkdir()
        (folder / "scenario.yaml").write_text(scenario_yaml, encoding="utf-8")
        job = Job(folder, reps, seed, label, preview_reps)
        self.jobs.append(job)
        return job

    def close(self) -> None:
        for job in self.jobs:
            job.cancel()
        shutil.rmtree(self.root, ignore_errors=True)
