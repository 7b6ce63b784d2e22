"""The lock of a target (`TargetLock`, ``.NAME.lock`` beside it) and what tells a process of
sim apart (its id, start time and host), by which sim knows a lock or a staging folder is
its own and whether its owner is gone. The rules that use them are those of
`sim.storage.folders`."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import secrets
import socket
import stat
from pathlib import Path
from typing import Any

from sim.errors import ScenarioError


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def normal_mode(directory: bool) -> int:
    """0777 (folders) or 0666 (files) less the umask: what `mkdir` and `open` would give."""
    return (0o777 if directory else 0o666) & ~current_umask()


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


def lock_path(out: Path) -> Path:
    return out.parent / f".{out.name}.lock"


def lock_record() -> dict[str, Any]:
    """What sim writes into a lock file it makes: the record by which it knows the file is
    its own (a file at a lock's name without it is someone else's, never changed)."""
    pid = os.getpid()
    return {
        "tool": "sim",
        "kind": "lock",
        "pid": pid,
        "start": process_start(pid),
        "host": socket.gethostname(),
        "token": secrets.token_hex(4),
    }


def read_lock_record(data: bytes) -> dict[str, Any] | None:
    """The lock record in a lock file's bytes, or None if sim did not write them. A file
    holding only a process id and a newline is the record earlier versions of sim wrote."""
    text = data.decode("utf-8", "replace")
    if text.endswith("\n") and text[:-1].isdigit():
        return {"tool": "sim", "kind": "lock", "pid": int(text[:-1])}
    try:
        record = json.loads(text)
    except ValueError:
        return None
    if not isinstance(record, dict) or (record.get("tool"), record.get("kind")) != ("sim", "lock"):
        return None
    return record if isinstance(record.get("pid"), int) else None


# What link() says on a file system without hard links.
NO_HARD_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS}


class LockHeld(ScenarioError):
    """Another live process holds the lock of a target."""


class TargetLock:
    """An exclusive `flock` on ``.NAME.lock`` beside `out`, a file holding sim's lock record
    (`lock_record`: tool, process id and start, host, a random token).

    sim makes its lock file whole before anyone can see it: written and locked under a
    private name (``.NAME.lock-TOKEN``, created exclusively), then hard-linked to the lock's
    name, which fails if that name is taken. So a file at the lock's name is sim's only if it
    holds sim's record. The kernel drops the lock when its holder dies (even by kill -9): a
    lock file of sim nobody holds is replaced by the next writer. A file at that name without
    sim's record (the user's) is never truncated or removed: the command is refused. Raises
    ScenarioError naming the holder's process id if another process holds the lock."""

    def __init__(self, out: Path, flag: str = "--out") -> None:
        self.out, self.flag, self.path = out, flag, lock_path(out)
        self.fd: int | None = None

    def in_the_way(self, what: str) -> ScenarioError:
        return ScenarioError(
            f"{self.flag} {self.out}: {self.path} is in the way ({what}); sim keeps the "
            "lock of this target under that name and never changes a file it did not write: "
            "move or rename that file, or choose another name for the target"
        )

    def __enter__(self) -> TargetLock:
        record = lock_record()
        private = self.path.with_name(f"{self.path.name}-{record['token']}")
        fd = os.open(private, os.O_RDWR | os.O_CREAT | os.O_EXCL, normal_mode(False))
        try:
            os.write(fd, (json.dumps(record) + "\n").encode())
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # nobody else knows the file yet
            while True:
                try:
                    fd = self.place(private, fd, record)
                    break
                except FileExistsError:
                    if self.replace_dead_lock(private):
                        break
        except BaseException:
            os.close(fd)
            raise
        finally:
            with contextlib.suppress(FileNotFoundError):
                private.unlink()  # a second name of our lock file (or already moved)
        self.fd = fd
        return self

    def place(self, private: Path, fd: int, record: dict[str, Any]) -> int:
        """Give our locked lock file `private` (open as `fd`) the lock's name, failing with
        FileExistsError if the name is taken; return the descriptor that holds the lock.
        A hard link does it at once, whole; a file system without hard links (some network
        and FAT ones) gets the name created exclusively, locked, then the record written."""
        try:
            os.link(private, self.path)
            return fd
        except FileExistsError:
            raise
        except OSError as exc:
            if exc.errno not in NO_HARD_LINKS:
                raise
        mine = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, normal_mode(False))
        try:
            fcntl.flock(mine, fcntl.LOCK_EX | fcntl.LOCK_NB)  # before the record is readable
            os.write(mine, (json.dumps(record) + "\n").encode())
        except BaseException:
            os.close(mine)
            with contextlib.suppress(OSError):
                self.path.unlink()
            raise
        os.close(fd)
        return mine

    def replace_dead_lock(self, private: Path) -> bool:
        """The lock's name is taken: put our lock file `private` there if what is there is a
        lock of sim nobody holds (True); False to look again (it changed meanwhile). Raises
        ScenarioError if a live process holds it, or if it is not sim's."""
        try:
            there = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:
            return False  # its holder has just removed it
        except OSError as exc:
            raise self.in_the_way("a link or a file sim cannot open") from exc
        try:
            info = os.fstat(there)
            if not stat.S_ISREG(info.st_mode):
                raise self.in_the_way("a folder, pipe or device, not a lock file of sim")
            record = read_lock_record(os.pread(there, 4096, 0))
            if record is None:
                raise self.in_the_way("a file that holds no lock record of sim")
            try:
                fcntl.flock(there, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise LockHeld(
                    f"{self.flag} {self.out}: another sim process (pid {record['pid']}) is "
                    "writing it right now; wait for it to finish (or stop it), or choose "
                    "another folder"
                ) from None
            try:
                same = os.path.samestat(info, os.stat(self.path, follow_symlinks=False))
            except FileNotFoundError:
                return False
            if not same:
                return False
            # sim's lock whose holder died; while we hold its flock nobody else replaces it
            os.replace(private, self.path)
            return True
        finally:
            os.close(there)

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                if os.path.samestat(os.fstat(self.fd), os.stat(self.path, follow_symlinks=False)):
                    self.path.unlink()  # still our file (we hold its flock): ours to remove
            os.close(self.fd)  # releases the flock
            self.fd = None
