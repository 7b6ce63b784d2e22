"""What sim wrote: the records by which it tells its own files from the user's (a folder's
manifest.json listing every file with its sha256, ``.sim-files.json`` for loose files) and the
sorting of a folder's entries by them (`inspect_folder`). The rules that use them, and the
owner records of staging folders, are in `sim.storage.folders`."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sim.storage.locks import LockHeld, TargetLock

MANIFEST = "manifest.json"
OWNER = ".owner.json"  # inside a staging folder: who is writing it
LOOSE = ".sim-files.json"  # in a folder where sim wrote loose files: their names and hashes


def read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("tool") == "sim" else None


def folder_kind(manifest: dict[str, Any]) -> str:
    return str(manifest.get("kind", "run"))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_hashes(folder: Path) -> dict[str, str]:
    """Every file under `folder` (relative POSIX path -> sha256), but its own manifest.json
    and owner record: what `record_files` lists."""
    found = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if relative in (MANIFEST, OWNER) or not path.is_file() or path.is_symlink():
            continue
        found[relative] = sha256_of(path)
    return found


def record_files(folder: Path) -> None:
    """Add ``files`` (every file sim wrote into `folder`, with its sha256) to the folder's
    manifest: the record by which a later command may replace it (see the module docstring).
    A folder without sim's manifest is left as it is."""
    manifest = read_manifest(folder)
    if manifest is None:
        return
    manifest["files"] = file_hashes(folder)
    (folder / MANIFEST).write_text(
        json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8"
    )


def read_loose(folder: Path) -> dict[str, str]:
    """The loose files sim wrote in `folder` (name -> sha256), from its ``.sim-files.json``."""
    try:
        data = json.loads((folder / LOOSE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("tool") != "sim":
        return {}
    files = data.get("files")
    return {str(k): str(v) for k, v in files.items()} if isinstance(files, dict) else {}


def record_loose_files(paths: Sequence[Path]) -> None:
    """Add `paths` (just written, beside each other) with their sha256 to their folder's
    ``.sim-files.json``, under that record's own lock (other writers share the folder)."""
    folder = paths[0].parent
    record = folder / LOOSE
    deadline = time.monotonic() + 30
    while True:
        try:
            lock = TargetLock(record)
            lock.__enter__()
            break
        except LockHeld:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    try:
        files = read_loose(folder)
        files.update({p.name: sha256_of(p) for p in paths})
        temporary = folder / f"{LOOSE}.tmp-{os.getpid()}"
        temporary.write_text(
            json.dumps({"tool": "sim", "kind": "files", "files": files}, indent=2) + "\n",
            encoding="utf-8",
        )
        temporary.replace(record)
    finally:
        lock.__exit__()


class FolderContents:
    """What is in a folder, by sim's records: `own` (listed, hash as recorded, or a record),
    `edited` (listed, hash changed since) and `foreign` (not in any record: the user's),
    as paths relative to the folder (a foreign folder ends in /)."""

    def __init__(self) -> None:
        self.own: list[str] = []
        self.edited: list[str] = []
        self.foreign: list[str] = []


def inspect_folder(
    folder: Path, listed: dict[str, str], prefix: str = "", contents: FolderContents | None = None
) -> FolderContents:
    """Sort every entry under `folder` into own, edited and foreign (see `FolderContents`).
    `listed`: the files of the manifest that covers `folder` (relative to its top, whose
    `prefix` this is); a subfolder with a manifest of its own (plots) is judged by that,
    loose files by ``.sim-files.json``."""
    contents = contents or FolderContents()
    loose = read_loose(folder)
    for entry in sorted(folder.iterdir()):
        relative = prefix + entry.name
        if not prefix and entry.name == MANIFEST and entry.is_file() and not entry.is_symlink():
            contents.own.append(relative)  # the record itself
        elif entry.is_symlink() or not (entry.is_file() or entry.is_dir()):
            contents.foreign.append(relative)
        elif entry.is_dir():
            nested = read_manifest(entry)
            files = nested.get("files") if nested is not None else None
            if any(key.startswith(relative + "/") for key in listed) and not isinstance(
                files, dict
            ):
                inspect_folder(entry, listed, relative + "/", contents)
            elif isinstance(files, dict):
                part = inspect_folder(entry, {k: str(v) for k, v in files.items()})
                contents.own += [relative + "/" + p for p in part.own]
                contents.edited += [relative + "/" + p for p in part.edited]
                contents.foreign += [relative + "/" + p for p in part.foreign]
            else:
                contents.foreign.append(relative + "/")
        elif relative in listed:
            same = sha256_of(entry) == listed[relative]
            (contents.own if same else contents.edited).append(relative)
        elif entry.name == LOOSE and loose:
            contents.own.append(relative)
        elif entry.name in loose:
            (contents.own if sha256_of(entry) == loose[entry.name] else contents.edited).append(
                relative
            )
        else:
            contents.foreign.append(relative)
    return contents


def listed_files(manifest: dict[str, Any]) -> dict[str, str] | None:
    files = manifest.get("files")
    if not isinstance(files, dict):
        return None
    return {str(k): str(v) for k, v in files.items()}
