"""Output folders and files: written whole or not at all, replacing only what sim wrote.

One rule for every write: sim removes or replaces only what its own records say it wrote,
never anything chosen by its name. The records are:

- a folder's ``manifest.json`` (run, sweep, design, plots), whose ``files`` lists every file
  sim wrote into the folder with its sha256 (added by `publish`, see `record_files`);
- ``.sim-files.json`` in a folder where sim wrote loose files (report, compare, analyze,
  export-observed): each file's name and sha256 (`record_loose_files`);
- ``.owner.json`` inside each staging folder sim makes (tool, pid, host, process start,
  target), and ``.NAME.swap.json`` beside a target while an old folder is being replaced;
- the lock record inside ``.NAME.lock`` (`lock_record`).

Every command that writes goes through `output_folder`, `resumable_folder` or `output_files`:

1. the target is checked: never ``.``, the current folder or one of its parents; an existing
   target is replaced only if every file in it is one sim's records list (`inspect_folder`),
   of the kind this command writes (a design never replaces a run), and, for
   run/sweep/design/analyze/export, only with ``--force``. Anything else in it (a user's
   note) makes the command refuse with exit status 2, naming it; a listed file whose hash
   no longer matches (the user edited it) is replaced only with ``--force``;
2. an exclusive lock file ``.NAME.lock`` beside the target (``flock``, holding sim's lock
   record: tool, process id and start, host, token) makes a second writer of the same
   target stop at once with exit status 2; a file at that name without sim's record is
   never changed (the command is refused), see `TargetLock`;
3. staging folders ``.NAME.partial-*`` beside the target are removed only when their owner
   record says sim made them for this target and that process is gone, and they hold no
   finished chunks of an interrupted run or sweep (`resumable_folder`: ``--resume``
   continues those); a folder without an owner record is never touched, whatever its name;
4. everything is written into a fresh staging folder ``.NAME.partial-XXXX`` beside the target
   and renamed into place only once complete; on any failure (bad input, full disk, a signal)
   the staging folder is removed, and so are the parent folders this call created. The old
   folder is moved aside under a name the swap record holds, and only its listed files are
   deleted; anything that appeared in it meanwhile is kept there, and said so.

Files and folders get the user's normal permissions (0666/0777 less the umask), not the
0600/0700 of `tempfile`.
"""

from __future__ import annotations

import contextlib
import errno
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

# The records (sim.storage.records) and the lock (sim.storage.locks) are imported here
# whole, so that every name this module had before they moved out stays importable from it.
from sim.storage.locks import (  # noqa: F401
    NO_HARD_LINKS,
    LockHeld,
    TargetLock,
    current_umask,
    lock_path,
    lock_record,
    normal_mode,
    process_alive,
    process_start,
    read_lock_record,
)
from sim.storage.records import (  # noqa: F401
    LOOSE,
    MANIFEST,
    OWNER,
    FolderContents,
    file_hashes,
    folder_kind,
    inspect_folder,
    listed_files,
    read_loose,
    read_manifest,
    record_files,
    record_loose_files,
    sha256_of,
)

PARTIAL = "partial"
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


def shown(names: Sequence[str], most: int = 5) -> str:
    text = ", ".join(names[:most])
    return text + (f" and {len(names) - most} more" if len(names) > most else "")


# --- the target ----------------------------------------------------------------------------


def check_target_path(out: Path, flag: str = "--out") -> None:
    """Refuse a target that would swallow the user's work: ``.``, the current folder or one
    of its parents, the file system root or the home folder."""
    text = str(out)
    check_name_lengths(out, flag)
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


# Characters sim adds to a target's name for the names it makes beside it: the longest is a
# staging folder's, ".NAME.partial-" and 8 hex digits (the lock's ".NAME.lock-" and 8, the
# swap record's ".NAME.swap.json" and an old folder's ".NAME.old-" and 8 are shorter).
SIBLING_ROOM = len(f".{PARTIAL}-") + 1 + 8


def name_max(folder: Path) -> int:
    """The longest file name (in bytes) the file system of `folder` (or its nearest existing
    parent) allows; 255 where it cannot be asked."""
    for where in (folder, *folder.parents):
        with contextlib.suppress(OSError, ValueError):
            if where.is_dir():
                return os.pathconf(where, "PC_NAME_MAX")
    return 255


def check_name_lengths(out: Path, flag: str) -> None:
    """Refuse a path with a name longer than the file system allows, or a target name too
    long for the names sim makes beside it (its staging folder, lock and swap record)."""
    path = out.expanduser()
    most = name_max(path.parent)
    for part in path.parts:
        if len(os.fsencode(part)) > most:
            raise ScenarioError(
                f"{flag} {out}: the name {part[:20]}... is {len(os.fsencode(part))} bytes "
                f"long; this file system allows at most {most}: choose a shorter name, "
                "e.g. --out results/run1"
            )
    name = len(os.fsencode(path.name))
    if name + SIBLING_ROOM > most:
        raise ScenarioError(
            f"{flag} {out}: the name is {name} bytes long; sim writes beside it under the "
            f"name with up to {SIBLING_ROOM} more bytes (its staging folder), and this file "
            f"system allows at most {most}: choose a name of at most {most - SIBLING_ROOM} "
            "bytes, e.g. --out results/run1"
        )


def check_replaceable(
    out: Path,
    force: bool,
    flag: str = "--out",
    needs_force: bool = True,
    kinds: Sequence[str] | None = None,
) -> None:
    """Raise ScenarioError unless the folder `out` is absent, or sim's records say it wrote
    everything in it, it is of one of `kinds` (run, sweep, design, plots; any if None), and
    it may be replaced: with `force`, or without when `needs_force` is False (plot, whose
    help says so). A file in it sim's records do not list is never replaced (refused); a
    listed file edited since is replaced only with `force`."""
    if not out.exists() and not out.is_symlink():
        return
    if out.is_symlink() or not out.is_dir():
        raise ScenarioError(
            f"{flag} {out}: exists and is not a folder sim wrote (choose another path)"
        )
    manifest = read_manifest(out)
    if manifest is None or (kinds is not None and folder_kind(manifest) not in kinds):
        sign = (
            "it has no manifest.json of sim"
            if manifest is None
            else f"it is a {folder_kind(manifest)} folder, not {' or '.join(kinds or [])}; "
            "sim never replaces one kind of results with another"
        )
        raise ScenarioError(
            f"{flag} {out}: the folder exists and is not one this command wrote ({sign}); "
            "sim replaces only its own results, never other files: choose another folder "
            "(or move this one away yourself)"
        )
    listed = listed_files(manifest)
    if listed is None:
        raise ScenarioError(
            f"{flag} {out}: the folder was written by an earlier version of sim, whose "
            "manifest.json does not list its files, so sim cannot tell its files from yours "
            "and replaces nothing in it: choose another folder (or remove this one yourself)"
        )
    contents = inspect_folder(out, listed)
    if contents.foreign:
        raise ScenarioError(
            f"{flag} {out}: the folder holds files sim did not write "
            f"({shown(contents.foreign)}); sim replaces only its own results, never other "
            "files, even with --force: move those out of the folder, or choose another folder"
        )
    if contents.edited and not force:
        raise ScenarioError(
            f"{flag} {out}: files sim wrote there were changed since "
            f"({shown(contents.edited)}); add --force to replace them (only the files sim "
            "wrote are replaced), or choose another folder"
        )
    if needs_force and not force:
        raise ScenarioError(
            f"{flag} {out}: the folder exists; existing results are never overwritten "
            "(choose another folder, or add --force to replace it)"
        )


def check_replaceable_file(
    path: Path, force: bool, flag: str = "--out", needs_force: bool = True
) -> None:
    """Raise ScenarioError unless the file `path` is absent, or its folder's
    ``.sim-files.json`` says sim wrote it and it may be replaced: with `force`, or without
    when `needs_force` is False (report, compare); a file edited since sim wrote it is
    replaced only with `force`."""
    if not path.exists() and not path.is_symlink():
        return
    if path.is_symlink() or not path.is_file():
        raise ScenarioError(
            f"{flag} {path}: exists and is not a file sim wrote (choose another path)"
        )
    recorded = read_loose(path.parent).get(path.name)
    if recorded is None:
        raise ScenarioError(
            f"{flag} {path}: the file exists and is not one this command wrote (no record of "
            f"it in {path.parent / LOOSE}); sim replaces only its own results, never other "
            "files: choose another file (or move this one away yourself)"
        )
    if sha256_of(path) != recorded and not force:
        raise ScenarioError(
            f"{flag} {path}: the file sim wrote was changed since; add --force to replace "
            "it, or choose another file"
        )
    if needs_force and not force:
        raise ScenarioError(
            f"{flag} {path}: the file exists; existing results are never overwritten "
            "(choose another file, or add --force to replace it)"
        )


# --- staging -------------------------------------------------------------------------------


def owner_record(out: Path) -> dict[str, Any]:
    """Who makes a staging folder (or a swap) for the target `out`: the record by which sim
    knows the folder is its own."""
    pid = os.getpid()
    return {
        "tool": "sim",
        "target": out.name,
        "pid": pid,
        "start": process_start(pid),
        "host": socket.gethostname(),
        "created": time.time(),
    }


def read_owner(record: Path, out: Path) -> dict[str, Any] | None:
    """An owner record sim wrote for the target `out`, or None (no record, not sim's, or
    another target's: then the folder holding it is not sim's to remove)."""
    try:
        owner = json.loads(record.read_text(encoding="utf-8"))
        int(owner["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if owner.get("tool") != "sim" or owner.get("target") != out.name:
        return None
    return owner


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
    (staging / OWNER).write_text(json.dumps(owner_record(out)) + "\n", encoding="utf-8")
    return staging


def own_staging(out: Path) -> list[Path]:
    """The staging folders of `out` this process is writing."""
    found = []
    for staging in out.parent.glob(f"{staging_prefix(out)}*"):
        owner = read_owner(staging / OWNER, out)
        if owner is not None and owner.get("pid") == os.getpid():
            found.append(staging)
    return found


def folder_bytes(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*"):
        with contextlib.suppress(OSError):
            if path.is_file() and path.name != OWNER:
                total += path.stat().st_size
    return total


def claim_staging(staging: Path, out: Path) -> None:
    """Make this process the owner of an orphaned staging folder (a resumed run)."""
    (staging / OWNER).write_text(json.dumps(owner_record(out)) + "\n", encoding="utf-8")


def release_staging(staging: Path, out: Path) -> None:
    """Let go of a staging folder kept after an interruption: from now on it is stale for
    this process too (so an in-process `--resume` finds it)."""
    (staging / OWNER).write_text(
        json.dumps({**owner_record(out), "released": True}) + "\n", encoding="utf-8"
    )


def is_stale(staging: Path, out: Path) -> bool:
    """True if sim's owner record says it made `staging` for `out` and that process is gone.
    A folder without such a record is never stale: sim did not make it (or cannot tell)."""
    owner = read_owner(staging / OWNER, out)
    if owner is None:
        return False
    if owner.get("host") not in (None, socket.gethostname()):
        return False  # another machine's process (a shared file system): not ours to judge
    if owner.get("released"):
        return True  # its owner let go of it (an interrupted run kept for --resume)
    return not process_alive(int(owner["pid"]), owner.get("start"))


def orphan_partials(out: Path) -> list[Path]:
    """Staging folders sim made for `out` in processes that are gone (a kill, a crash)."""
    try:
        found = [
            p
            for p in out.parent.glob(f"{staging_prefix(out)}*")
            if p.is_dir() and not p.is_symlink()
        ]
    except OSError:
        return []
    return [p for p in found if is_stale(p, out)]


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


def swap_record(out: Path) -> Path:
    return out.parent / f".{out.name}.swap.json"


def remove_stale_partials(out: Path) -> list[Path]:
    """Remove the stale staging folders of `out` (call with the target's lock held); finish
    a replacement that a kill cut short, by its swap record: put the old results back if
    the new ones never got into place, else remove the old results' own files."""
    removed = []
    for staging in stale_partials(out):
        shutil.rmtree(staging, ignore_errors=True)
        removed.append(staging)
    record = swap_record(out)
    swap = read_owner(record, out)
    if swap is None:
        return removed  # no record of ours (or none at all): nothing beside `out` is touched
    old = out.parent / str(swap.get("old", ""))
    if old.parent == out.parent and old.name.startswith(f".{out.name}.old-") and old.is_dir():
        if not out.exists():
            old.rename(out)  # the previous results, moved aside but never replaced
        else:
            discard_old(old, out, force=bool(swap.get("force")))
    with contextlib.suppress(OSError):
        record.unlink()
    return removed


def remove_path(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def discard_old(old: Path, out: Path, force: bool) -> None:
    """Delete the files sim's records list in `old` (the results `out` replaced): those
    unchanged, and with `force` those edited too; anything else stays in `old`, said so."""
    manifest = read_manifest(old)
    listed = listed_files(manifest) if manifest is not None else None
    if listed is None:
        return
    contents = inspect_folder(old, listed)
    doomed = contents.own + (contents.edited if force else [])
    for relative in sorted(doomed, key=lambda r: r == MANIFEST):  # the record last
        with contextlib.suppress(OSError):
            (old / relative).unlink()
    for folder in sorted((p for p in old.rglob("*") if p.is_dir()), reverse=True):
        with contextlib.suppress(OSError):
            folder.rmdir()  # only if empty
    with contextlib.suppress(OSError):
        old.rmdir()
    if old.exists():
        import sys

        print(
            f"note: {out} held files sim did not write (added while it ran); they are "
            f"kept in {old}",
            file=sys.stderr,
        )


def publish(staging: Path, out: Path, force: bool = False) -> None:
    """Record the files of a finished staging folder in its manifest and move it into place;
    an old folder at `out` is moved aside (under a swap record, so a kill in between is
    undone by the next writer) and only its listed files are deleted after."""
    with contextlib.suppress(FileNotFoundError):
        (staging / OWNER).unlink()
    record_files(staging)
    if out.exists():
        old = out.with_name(f".{out.name}.old-{secrets.token_hex(4)}")
        record = swap_record(out)
        swap = {**owner_record(out), "old": old.name, "force": force}
        record.write_text(json.dumps(swap) + "\n", encoding="utf-8")
        out.rename(old)
        staging.rename(out)
        discard_old(old, out, force)
        with contextlib.suppress(OSError):
            record.unlink()
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
    lock = TargetLock(out, flag)
    try:
        created = make_parents(out.parent)
        lock.__enter__()
    except OSError as exc:
        remove_created(created)
        # a path that cannot hold files at all (under /proc, say) is the user's to fix here
        if exc.errno in USER_FIXABLE or exc.errno == errno.ENOENT:
            raise write_error(exc, out, flag) from exc
        raise
    except BaseException:
        remove_created(created)
        raise
    try:
        with contextlib.ExitStack() as stack:
            stack.push(lock.__exit__)
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
    the block fails. See the module docstring for the checks made first; `kinds`: the kinds
    of folder this command may replace (the kind it writes)."""
    out = Path(out)
    check_target_path(out, flag)
    with guarded_target(out, flag):
        remove_stale_partials(out)  # first: it may put back results a kill moved aside
        check_replaceable(out, force, flag, needs_force=needs_force, kinds=kinds)
        staging = make_staging(out)
        try:
            yield staging
            publish(staging, out, force)
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
    kinds: Sequence[str] | None = None,
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
        remove_stale_partials(out)  # first: it may put back results a kill moved aside
        check_replaceable(out, force, flag, kinds=kinds)
        staging = choose(resumable_partials(out))
        if staging is None:
            staging = make_staging(out)
        else:
            claim_staging(staging, out)
        try:
            yield staging
            publish(staging, out, force)
        except BaseException as exc:
            if keep(staging, exc):
                release_staging(staging, out)
            else:
                shutil.rmtree(staging, ignore_errors=True)
            raise
        for superseded in resumable_partials(out):
            remove_path(superseded)


@contextlib.contextmanager
def output_files(
    paths: Sequence[Path],
    force: bool,
    flag: str = "--out",
    needs_force: bool = True,
) -> Iterator[Path]:
    """Like `output_folder` for files beside each other: yield a staging folder; its files
    named as `paths` replace those when the block ends (each file atomically), and are
    recorded with their sha256 in the folder's ``.sim-files.json``. An existing file is
    replaced only if that record lists it (see `check_replaceable_file`)."""
    paths = [Path(p) for p in paths]
    first = paths[0]
    for path in paths:
        check_target_path(path, flag)
    with guarded_target(first, flag):
        remove_stale_partials(first)
        for path in paths:
            check_replaceable_file(path, force, flag, needs_force=needs_force)
        staging = make_staging(first)
        try:
            yield staging
            written = []
            for path in paths:
                if (staging / path.name).exists():
                    os.replace(staging / path.name, path)
                    written.append(path)
            if written:
                record_loose_files(written)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
