"""Output folders and files: written whole or not at all, replacing only what sim wrote.

Every command that writes (run, sweep, design, plot, report, analyze, compare) goes through
`output_folder` or `output_files`, so there is one mechanism:

1. the target is checked: never ``.``, the current folder or one of its parents; an existing
   target is replaced only if sim wrote it (a folder with sim's ``manifest.json``, a file
   recognized by its header) and, for run/sweep/design/analyze, only with ``--force``;
2. an exclusive lock file ``.NAME.lock`` beside the target (``flock``, holding the owner's
   process id) makes a second writer of the same target stop at once with exit status 2;
3. stale staging folders ``.NAME.partial-*`` beside the target, whose owner process is gone
   (recorded in their ``.owner.json``), are removed, except those holding finished chunks of
   an interrupted run or sweep (`resumable_folder`: ``--resume`` continues them; a run that
   completes the target removes them);
4. everything is written into a fresh staging folder ``.NAME.partial-XXXX`` beside the target
   and renamed into place only once complete; on any failure (bad input, full disk, a signal)
   the staging folder is removed, and so are the parent folders this call created.

Files and folders get the user's normal permissions (0666/0777 less the umask), not the
0600/0700 of `tempfile`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import secrets
import shutil
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from sim.errors import ScenarioError

MANIFEST = "manifest.json"
OWNER = ".owner.json"  # inside a staging folder: who is writing it
PARTIAL = "partial"
LEGACY_GRACE_SECONDS = 3600  # a staging folder without owner record is stale after this
# Errors of the file system a user can fix (space, permissions, a read-only mount).
USER_FIXABLE = {
    errno.ENOSPC,
    errno.EDQUOT,
    errno.EROFS,
    errno.EACCES,
    errno.EPERM,
    errno.ENAMETOOLONG,
    errno.ENOTDIR,
    errno.EEXIST,
    errno.EISDIR,
    errno.EFBIG,
}


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def normal_mode(directory: bool) -> int:
    """0777 (folders) or 0666 (files) less the umask: what `mkdir` and `open` would give."""
    return (0o777 if directory else 0o666) & ~current_umask()


# --- what sim wrote ------------------------------------------------------------------------


def read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("tool") == "sim" else None


def folder_kind(manifest: dict[str, Any]) -> str:
    return str(manifest.get("kind", "run"))


def written_by_sim(folder: Path, kinds: Sequence[str] | None = None) -> bool:
    """True for a folder sim wrote: it holds sim's manifest.json (of one of `kinds`: run,
    sweep, design, plots; any if None), or it is the `plots` folder of such a folder holding
    only PNG files (plots of versions before plot manifests)."""
    manifest = read_manifest(folder)
    if manifest is not None:
        return kinds is None or folder_kind(manifest) in kinds
    if (
        (kinds is None or "plots" in kinds)
        and folder.name == "plots"
        and read_manifest(folder.parent) is not None
    ):
        return all(p.suffix == ".png" and p.is_file() for p in folder.iterdir())
    return False


def csv_header_is(columns: Sequence[str], prefix: bool = False) -> Callable[[Path], bool]:
    """A recognizer: the file's first line is this CSV header (or starts with it)."""
    import csv

    def recognize(path: Path) -> bool:
        try:
            with path.open(encoding="utf-8", newline="") as handle:
                header = next(csv.reader(handle), [])
        except (OSError, UnicodeDecodeError, csv.Error):
            return False
        wanted = list(columns)
        return header[: len(wanted)] == wanted if prefix else header == wanted

    return recognize


def text_contains(marker: str, limit: int = 4096) -> Callable[[Path], bool]:
    """A recognizer: the file's first `limit` bytes contain `marker`."""

    def recognize(path: Path) -> bool:
        try:
            with path.open("rb") as handle:
                return marker.encode() in handle.read(limit)
        except OSError:
            return False

    return recognize


# --- the target ----------------------------------------------------------------------------


def check_target_path(out: Path, flag: str = "--out") -> None:
    """Refuse a target that would swallow the user's work: ``.``, the current folder or one
    of its parents, the file system root or the home folder."""
    text = str(out)
    resolved = out.expanduser().resolve()
    cwd = Path.cwd().resolve()
    if (
        text in ("", ".", "..")
        or resolved == cwd
        or resolved in cwd.parents
        or resolved == Path.home().resolve()
        or resolved == Path(resolved.anchor)
    ):
        raise ScenarioError(
            f"{flag} {text}: is the current folder, one of its parents, the home folder or "
            "the root; results go into a folder of their own that may be replaced whole: "
            "give a new folder name, e.g. --out results/run1"
        )


def check_replaceable(
    out: Path,
    force: bool,
    flag: str = "--out",
    recognize: Callable[[Path], bool] | None = None,
    needs_force: bool = True,
    kinds: Sequence[str] | None = None,
) -> None:
    """Raise ScenarioError unless `out` is absent, or sim wrote it and may replace it.

    `recognize` tells a file sim wrote (folders are recognized by their manifest);
    `needs_force` False: sim's own earlier output is replaced without --force (plot,
    report, compare, whose help says so); `kinds`: the folder kinds that may be replaced
    (`plot` replaces only plots, never a run)."""
    if not out.exists() and not out.is_symlink():
        return
    is_folder = recognize is None
    if (
        out.is_symlink()
        or (is_folder and not out.is_dir())
        or (not is_folder and not out.is_file())
    ):
        kind = "a folder" if is_folder else "a file"
        raise ScenarioError(
            f"{flag} {out}: exists and is not {kind} sim wrote (choose another path)"
        )
    ours = written_by_sim(out, kinds) if is_folder else recognize(out)
    what = "folder" if is_folder else "file"
    if not ours:
        manifest = read_manifest(out) if is_folder else None
        sign = (
            "it has no manifest.json of sim"
            if manifest is None and is_folder
            else f"it is a {folder_kind(manifest)} folder, not {' or '.join(kinds or [])}"
            if manifest is not None
            else "its contents are not what this command writes"
        )
        raise ScenarioError(
            f"{flag} {out}: the {what} exists and is not one this command wrote ({sign}); "
            f"sim replaces only its own results, never other files: choose another {what} "
            f"(or move this one away yourself)"
        )
    if needs_force and not force:
        raise ScenarioError(
            f"{flag} {out}: the {what} exists; existing results are never overwritten "
            f"(choose another {what}, or add --force to replace it)"
        )


# --- the lock ------------------------------------------------------------------------------


def lock_path(out: Path) -> Path:
    return out.parent / f".{out.name}.lock"


class TargetLock:
    """An exclusive `flock` on ``.NAME.lock`` beside `out`, holding our process id.

    The kernel drops the lock when its holder dies (even by kill -9), so a lock file left
    behind never blocks a later run. Raises ScenarioError naming the holder's process id if
    another process holds it."""

    def __init__(self, out: Path, flag: str = "--out") -> None:
        self.out, self.flag, self.path = out, flag, lock_path(out)
        self.fd: int | None = None

    def __enter__(self) -> TargetLock:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, normal_mode(False))
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
                os.close(fd)
                raise ScenarioError(
                    f"{self.flag} {self.out}: another sim process (pid {holder}) is writing "
                    "it right now; wait for it to finish (or stop it), or choose another "
                    "folder"
                ) from None
            # the holder before us may have unlinked the file after we opened it: retry
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()
            os.close(self.fd)  # releases the flock
            self.fd = None


# --- staging -------------------------------------------------------------------------------


def process_start(pid: int) -> str | None:
    """The start time of process `pid` (clock ticks since boot, Linux), so that a reused
    process id is not mistaken for the owner; None where /proc is not there."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def process_alive(pid: int, start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    now = process_start(pid)
    return start is None or now is None or now == start


def owner_record() -> dict[str, Any]:
    pid = os.getpid()
    return {
        "pid": pid,
        "start": process_start(pid),
        "host": socket.gethostname(),
        "created": time.time(),
    }


def staging_prefix(out: Path) -> str:
    return f".{out.name}.{PARTIAL}-"


def make_staging(out: Path) -> Path:
    """A new, empty staging folder beside `out` with an owner record and normal permissions."""
    while True:
        staging = out.parent / f"{staging_prefix(out)}{secrets.token_hex(4)}"
        try:
            staging.mkdir(mode=0o777)  # the umask applies, as for any mkdir
            break
        except FileExistsError:
            continue
    (staging / OWNER).write_text(json.dumps(owner_record()) + "\n", encoding="utf-8")
    return staging


def own_staging(out: Path) -> list[Path]:
    """The staging folders of `out` this process is writing."""
    found = []
    for staging in out.parent.glob(f"{staging_prefix(out)}*"):
        try:
            owner = json.loads((staging / OWNER).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(owner, dict) and owner.get("pid") == os.getpid():
            found.append(staging)
    return found


def folder_bytes(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*"):
        with contextlib.suppress(OSError):
            if path.is_file() and path.name != OWNER:
                total += path.stat().st_size
    return total


def claim_staging(staging: Path) -> None:
    """Make this process the owner of an orphaned staging folder (a resumed run)."""
    (staging / OWNER).write_text(json.dumps(owner_record()) + "\n", encoding="utf-8")


def release_staging(staging: Path) -> None:
    """Let go of a staging folder kept after an interruption: from now on it is stale for
    this process too (so an in-process `--resume` finds it)."""
    (staging / OWNER).write_text(
        json.dumps({**owner_record(), "released": True}) + "\n", encoding="utf-8"
    )


def is_stale(staging: Path) -> bool:
    """True if the process that made this staging folder is gone (or, without an owner
    record, if the folder is older than LEGACY_GRACE_SECONDS)."""
    try:
        owner = json.loads((staging / OWNER).read_text(encoding="utf-8"))
        pid, start, host = int(owner["pid"]), owner.get("start"), owner.get("host")
    except (OSError, ValueError, KeyError, TypeError):
        try:
            return time.time() - staging.stat().st_mtime > LEGACY_GRACE_SECONDS
        except OSError:
            return False
    if host not in (None, socket.gethostname()):
        return False  # another machine's process (a shared file system): not ours to judge
    if owner.get("released"):
        return True  # its owner let go of it (an interrupted run kept for --resume)
    return not process_alive(pid, start)


def orphan_partials(out: Path) -> list[Path]:
    """Staging folders of `out` left by processes that are gone (a kill, a crash)."""
    try:
        found = [p for p in out.parent.glob(f"{staging_prefix(out)}*") if p.is_dir()]
    except OSError:
        return []
    return [p for p in found if is_stale(p)]


def stale_partials(out: Path) -> list[Path]:
    """Orphaned staging folders of `out` that hold nothing `--resume` could continue."""
    from sim.storage.checkpoints import is_resumable

    return [p for p in orphan_partials(out) if not is_resumable(p)]


def resumable_partials(out: Path) -> list[Path]:
    """Orphaned staging folders of `out` holding finished chunks (an interrupted run or
    sweep `--resume` can continue), newest first."""
    from sim.storage.checkpoints import is_resumable

    found = [p for p in orphan_partials(out) if is_resumable(p)]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def remove_stale_partials(out: Path) -> list[Path]:
    """Remove the stale staging folders of `out` (call with the target's lock held); if a
    kill came between the two renames of `publish`, put the old results back first."""
    removed = []
    for staging in stale_partials(out):
        shutil.rmtree(staging, ignore_errors=True)
        removed.append(staging)
    trash = sorted(out.parent.glob(f".{out.name}.old-*"))
    if trash and not out.exists():
        trash[-1].rename(out)  # the previous results, moved aside but never replaced
        trash = trash[:-1]
    for old in trash:
        remove_path(old)
    return removed


def remove_path(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def publish(staging: Path, out: Path) -> None:
    """Move a finished staging folder into place; an old folder is removed only after."""
    with contextlib.suppress(FileNotFoundError):
        (staging / OWNER).unlink()
    if out.exists():
        trash = out.with_name(f".{out.name}.old-{time.time_ns()}")
        out.rename(trash)
        staging.rename(out)
        remove_path(trash)
    else:
        staging.rename(out)


def make_parents(folder: Path) -> list[Path]:
    """mkdir -p `folder`; return the folders it created (deepest last)."""
    created = []
    for parent in reversed([folder, *folder.parents]):
        if not parent.exists():
            parent.mkdir()
            created.append(parent)
    return created


def remove_created(created: list[Path]) -> None:
    for folder in reversed(created):
        with contextlib.suppress(OSError):
            folder.rmdir()  # only if still empty


def write_error(exc: OSError, out: Path, flag: str) -> ScenarioError:
    reason = exc.strerror or str(exc)
    where = f" ({exc.filename})" if exc.filename else ""
    fix = {
        errno.ENOSPC: "free some space or write elsewhere",
        errno.EDQUOT: "free some space or write elsewhere",
        errno.EROFS: "write to a writable folder",
        errno.EACCES: "write to a folder you may write to",
        errno.EPERM: "write to a folder you may write to",
    }.get(exc.errno or 0, "choose another path")
    return ScenarioError(
        f"{flag} {out}: cannot write: {reason}{where}; nothing was left "
        f"behind ({fix}, e.g. --out results/run1 in your own folder)"
    )


@contextlib.contextmanager
def guarded_target(out: Path, flag: str) -> Iterator[list[Path]]:
    """The parent folders of `out` created, the lock held; OSErrors a user can fix become
    one ScenarioError; created parents removed again on failure."""
    created: list[Path] = []
    try:
        created = make_parents(out.parent)
        with TargetLock(out, flag):
            yield created
    except OSError as exc:
        remove_created(created)
        if exc.errno in USER_FIXABLE:
            raise write_error(exc, out, flag) from exc
        raise
    except BaseException:
        remove_created(created)
        raise


@contextlib.contextmanager
def output_folder(
    out: Path,
    force: bool,
    flag: str = "--out",
    needs_force: bool = True,
    kinds: Sequence[str] | None = None,
) -> Iterator[Path]:
    """Yield a staging folder for `out`; publish it whole when the block ends, remove it if
    the block fails. See the module docstring for the checks made first."""
    out = Path(out)
    check_target_path(out, flag)
    with guarded_target(out, flag):
        check_replaceable(out, force, flag, needs_force=needs_force, kinds=kinds)
        remove_stale_partials(out)
        staging = make_staging(out)
        try:
            yield staging
            publish(staging, out)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise


@contextlib.contextmanager
def resumable_folder(
    out: Path,
    force: bool,
    choose: Callable[[list[Path]], Path | None],
    keep: Callable[[Path, BaseException], bool],
    flag: str = "--out",
) -> Iterator[Path]:
    """`output_folder` for a job that keeps checkpoints (run, sweep; `sim.storage.checkpoints`).

    The staging folder is the interrupted one `choose` picks among `resumable_partials`
    (claimed by this process), or a new one when it picks None. If the block fails, the
    staging folder is kept when `keep(staging, exc)` says it holds finished work (released,
    for `--resume`), and removed otherwise. Once the job is published, the other interrupted
    jobs of `out` are superseded and removed."""
    out = Path(out)
    check_target_path(out, flag)
    with guarded_target(out, flag):
        check_replaceable(out, force, flag)
        remove_stale_partials(out)
        staging = choose(resumable_partials(out))
        if staging is None:
            staging = make_staging(out)
        else:
            claim_staging(staging)
        try:
            yield staging
            publish(staging, out)
        except BaseException as exc:
            if keep(staging, exc):
                release_staging(staging)
            else:
                shutil.rmtree(staging, ignore_errors=True)
            raise
        for superseded in resumable_partials(out):
            remove_path(superseded)


@contextlib.contextmanager
def output_files(
    paths: Sequence[Path],
    force: bool,
    recognize: Sequence[Callable[[Path], bool]],
    flag: str = "--out",
    needs_force: bool = True,
) -> Iterator[Path]:
    """Like `output_folder` for files beside each other: yield a staging folder; its files
    named as `paths` replace those when the block ends (each file atomically)."""
    paths = [Path(p) for p in paths]
    first = paths[0]
    for path in paths:
        check_target_path(path, flag)
    with guarded_target(first, flag):
        for path, check in zip(paths, recognize, strict=True):
            check_replaceable(path, force, flag, recognize=check, needs_force=needs_force)
        remove_stale_partials(first)
        staging = make_staging(first)
        try:
            yield staging
            for path in paths:
                if (staging / path.name).exists():
                    os.replace(staging / path.name, path)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
