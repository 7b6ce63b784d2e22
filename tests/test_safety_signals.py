"""Signals and kills: a stopped run leaves no worker process and no partial folder (but the
finished chunks of one, for --resume).

Each test starts a real `python -m sim run` in a subprocess (textbook scenario, 2 workers,
more replicates than it will ever finish), waits until its workers run and its staging
folder exists, signals it, and polls (with generous timeouts: the machine may be loaded)
until the workers are gone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim.storage import lifetime
from sim.storage.checkpoints import is_resumable
from sim.storage.lifetime import set_parent_death_signal
from tests.helpers import ROOT, TEXTBOOK

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")

RUNNING: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def kill_leftover_runs():
    """Whatever a test asserts, no run it started outlives it."""
    yield
    while RUNNING:
        proc = RUNNING.pop()
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=TIMEOUT)


TIMEOUT = 120.0  # seconds to wait for start-up or shutdown on a loaded machine (a ceiling)


def process_state(pid: int) -> str | None:
    """The state letter of a process (R, S, Z, ...), None if it does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def alive(pid: int) -> bool:
    return process_state(pid) not in (None, "Z", "X")


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def wait_for(condition, what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


def partials(folder: Path) -> list[Path]:
    return sorted(folder.glob(".out.partial-*"))


def start_run(
    tmp_path: Path, reps: int = 1_000_000, command: tuple[str, ...] = ("run",)
) -> tuple[subprocess.Popen, list[int]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sim",
            *command,
            str(TEXTBOOK),
            "--reps",
            str(reps),
            "--workers",
            "2",
            "--out",
            str(tmp_path / "out"),
            "--quiet",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=set_parent_death_signal,  # if pytest dies, the run (and its workers) too
    )
    RUNNING.append(proc)
    try:
        wait_for(
            lambda: len(children_of(proc.pid)) >= 2 and partials(tmp_path) and proc.poll() is None,
            "the run's workers and staging folder",
        )
    except AssertionError:
        proc.kill()
        raise
    return proc, children_of(proc.pid)


def run_in_process(tmp_path: Path, *extra: str) -> int:
    from sim.commands.cli import main

    return main(
        [
            "run",
            str(TEXTBOOK),
            "--reps",
            "20",
            "--workers",
            "1",
            "--out",
            str(tmp_path / "out"),
            "--quiet",
            *extra,
        ]
    )


@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=["SIGTERM", "SIGINT", "SIGHUP"]
)
def test_stop_signal_stops_workers_removes_staging_exits_128_plus_signal(tmp_path, signum, capsys):
    # SIGHUP stops a sweep (the same mechanism), the others a run
    sweep = ("sweep", "--grid", "effect.hazard_ratio=0.5,0.6")
    proc, workers = start_run(tmp_path, command=sweep if signum == signal.SIGHUP else ("run",))
    if signum == signal.SIGTERM:  # meanwhile, a second run into the same folder is refused
        assert run_in_process(tmp_path, "--force") == 2
        err = capsys.readouterr().err
        assert f"pid {proc.pid}" in err and err.strip().count("\n") == 0, err
        assert len(partials(tmp_path)) == 1  # the first run's, untouched
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 128 + signum
    lines = err.strip().splitlines()
    assert len(lines) == 1 and signal.Signals(signum).name in lines[0], err
    assert "Traceback" not in err
    wait_for(lambda: not any(alive(pid) for pid in workers), "the workers to exit")
    # a staging folder is kept only if chunks were finished, for --resume (tests of that in
    # test_distributed.py); signalled this early, usually none was
    kept = partials(tmp_path)
    assert not kept or ("--resume" in lines[0] and is_resumable(kept[0])), err
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".out.lock"))


def test_kill_9_of_the_parent_ends_its_workers_and_the_next_run_cleans_up(tmp_path):
    proc, workers = start_run(tmp_path)
    proc.kill()
    proc.communicate(timeout=TIMEOUT)
    # the workers notice (PR_SET_PDEATHSIG, or the getppid watchdog) within seconds
    wait_for(
        lambda: not any(alive(pid) for pid in workers), "the orphaned workers to exit", timeout=15.0
    )
    assert partials(tmp_path)  # a kill -9 cannot clean up; the next run does
    assert run_in_process(tmp_path) == 0
    assert not partials(tmp_path)
    assert (tmp_path / "out" / "manifest.json").is_file()


def test_a_stopped_pools_manager_thread_prints_no_traceback(monkeypatch, capsys):
    # Killing a pool's workers on a stop signal can make its manager thread fail on their
    # pipes (seen once in 20 suites: 'Exception in thread Thread-1' under the one-line
    # message); once stop_workers ran, that thread's failures are not printed, others' are.
    import threading

    from sim.storage.lifetime import quiet_pool_manager

    monkeypatch.setattr(threading, "excepthook", threading.__excepthook__)
    quiet_pool_manager()

    def fail() -> None:
        raise OSError("the pipe of a killed worker")

    class _ExecutorManagerThread(threading.Thread):  # the name concurrent.futures uses
        pass

    for thread in (_ExecutorManagerThread(target=fail), threading.Thread(target=fail)):
        thread.start()
        thread.join()
    err = capsys.readouterr().err
    assert err.count("Traceback") == 1 and "_ExecutorManagerThread" not in err


def test_a_stop_whose_exception_was_lost_is_raised_between_chunks() -> None:
    """A stop signal's exception raised where Python only prints it ("Exception ignored in":
    logging's at-fork hook as a worker starts) was lost, and the sweep ran on, deaf to
    further signals (found by the SIGHUP case above under load): the chunk loop raises it."""
    previous = {signum: signal.getsignal(signum) for signum in lifetime.STOP_SIGNALS}
    lifetime.install_stop_handlers()
    try:
        with pytest.raises(lifetime.Interrupted):
            lifetime.raise_interrupted(signal.SIGHUP, None)
        # as if that exception had been swallowed: the next check between chunks raises it
        with pytest.raises(lifetime.Interrupted) as stop:
            lifetime.raise_if_stopped()
        assert stop.value.exit_status == 128 + signal.SIGHUP
        lifetime.raise_if_stopped()  # once only
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
