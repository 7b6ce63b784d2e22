"""How long processes live: signals stop a run cleanly, workers never outlive their parent.

- In the main process, SIGTERM, SIGHUP and SIGINT raise `Interrupted` (a BaseException, like
  KeyboardInterrupt), so every ``with``/``finally`` on the way out runs: the worker pool is
  stopped (`stop_workers`) and the staging folder removed (`sim.storage.folders`), or, for a
  run or sweep with finished chunks, kept for ``--resume``; the
  command line then prints one line and exits with status 128 + the signal number.
- A worker ignores SIGINT (Ctrl-C reaches the whole process group; the parent decides), and
  dies with its parent: ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` on Linux, and a thread that
  checks ``os.getppid()`` every second everywhere, so a ``kill -9`` of the parent leaves no
  worker waiting forever on its pipe.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from typing import Any

STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGINT") if hasattr(signal, name)
)
PR_SET_PDEATHSIG = 1  # linux/prctl.h
WATCHDOG_SECONDS = 1.0


class Interrupted(BaseException):  # noqa: N818 (a stop, like KeyboardInterrupt)
    """A stop signal arrived: unwind, clean up, exit with 128 + signal."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.name = signal.Signals(signum).name
        # what became of the unfinished output, for the one line printed; a run that keeps
        # its finished chunks for --resume says so here
        self.outcome = "unfinished output removed"
        super().__init__(f"stopped by {self.name}")

    @property
    def exit_status(self) -> int:
        return 128 + self.signum


_stopping = False
_received: int | None = None  # the stop signal that arrived, until `raise_if_stopped` takes it


def raise_interrupted(signum: int, frame: Any) -> None:
    """Signal handler: the first stop signal raises; more while unwinding are ignored, so
    that a second Ctrl-C cannot cut the clean-up short."""
    global _stopping, _received
    if _stopping:
        return
    _stopping = True
    _received = signum
    raise Interrupted(signum)


def raise_if_stopped() -> None:
    """Raise `Interrupted` again for a stop signal whose exception was lost.

    A handler's exception that lands in code whose exceptions Python only prints ("Exception
    ignored in": an at-fork hook such as logging's as a worker process starts, a finalizer)
    never reaches the command, which would then run on, ignoring further signals. The loops
    that wait for chunks call this between chunks; after a stop that did unwind, nothing
    calls it again."""
    global _received
    if _received is not None:
        signum, _received = _received, None
        raise Interrupted(signum)


def install_stop_handlers() -> None:
    """In the main thread of the main process: stop signals raise `Interrupted`."""
    global _stopping, _received
    _stopping, _received = False, None
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in STOP_SIGNALS:
        signal.signal(signum, raise_interrupted)


def set_parent_death_signal() -> bool:
    """Linux: have the kernel kill this process when its parent dies. False elsewhere."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def watch_parent(parent_pid: int, interval: float = WATCHDOG_SECONDS) -> None:
    """A daemon thread that ends this process once its parent is gone (reparented)."""

    def watch() -> None:
        while True:
            if os.getppid() != parent_pid:
                os._exit(1)
            time.sleep(interval)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def init_worker_process(parent_pid: int) -> None:
    """Worker initializer: leave stop signals to the parent, die with the parent."""
    if hasattr(signal, "SIGINT"):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    for signum in STOP_SIGNALS:
        if signum != signal.SIGINT:
            signal.signal(signum, signal.SIG_DFL)
    set_parent_death_signal()
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)
    watch_parent(parent_pid)


def quiet_pool_manager() -> None:
    """From now on, an exception in a process pool's manager thread is not printed.

    Killing a pool's workers (`stop_workers`) can leave its manager thread failing on the
    pipes they held; `threading.excepthook` would then print that thread's traceback under
    the command's one-line message. The pool is being discarded: nothing is lost. Other
    threads' exceptions are printed as before."""
    previous = threading.excepthook
    if getattr(previous, "quiet_pool_manager", False):
        return

    def hook(args: threading.ExceptHookArgs) -> None:
        if type(args.thread).__name__ == "_ExecutorManagerThread":
            return
        previous(args)

    hook.quiet_pool_manager = True  # type: ignore[attr-defined]
    threading.excepthook = hook


STOP_SECONDS = 5.0  # for workers to end after being told to, before they are killed


def stop_workers(pool: Any, timeout: float | None = None) -> None:
    """Stop a ProcessPoolExecutor now: cancel what is queued, kill the running workers
    (those left after `timeout`, STOP_SECONDS unless given)."""
    quiet_pool_manager()
    processes = list((getattr(pool, "_processes", None) or {}).values())
    # the result pipe's write end, before `shutdown` forgets the queue: `close_result_pipe`
    writer = getattr(getattr(pool, "_result_queue", None), "_writer", None)
    terminate(processes)
    with contextlib.suppress(Exception):
        pool.shutdown(wait=False, cancel_futures=True)
    reap(processes, STOP_SECONDS if timeout is None else timeout)
    close_result_pipe(writer, processes)


def close_result_pipe(writer: Any, processes: list[Any]) -> None:
    """A worker killed while sending its result leaves the pool's manager thread reading the
    rest of that message forever (seen with 100 kB chunk results), and the interpreter joins
    that thread at exit: with every worker gone, closing our own copy of the pipe's write
    end (`writer`, taken before the pool's `shutdown`, which forgets the queue) gives the
    reader end-of-file, so it marks the pool broken and ends."""
    if writer is not None and not any(p.is_alive() for p in processes):
        with contextlib.suppress(Exception):
            writer.close()


def end_processes(processes: list[Any], writer: Any = None) -> None:
    """Terminate those of `processes` still alive, kill any left after STOP_SECONDS, then
    close the result pipe's `writer` (the workers of a pool told to exit, which has
    forgotten them: as `stop_workers`)."""
    terminate(processes)
    reap(processes, STOP_SECONDS)
    close_result_pipe(writer, processes)


def terminate(processes: list[Any]) -> None:
    """SIGTERM to each of `processes` (one already gone is passed over)."""
    for process in processes:
        with contextlib.suppress(Exception):
            process.terminate()


def reap(processes: list[Any], timeout: float) -> None:
    """Wait up to `timeout` seconds in all for `processes` to end; kill those that do not."""
    deadline = time.monotonic() + timeout
    for process in processes:
        with contextlib.suppress(Exception):
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join(timeout)
