"""Checkpoints: every finished chunk kept in the staging folder, so a run can be resumed.

A run (or a sweep) writes into a hidden staging folder ``.NAME.partial-*`` beside its target.
``checkpoint.json`` there says what is being computed (kind, scenario, seed, replicates, kept
patients, chunk size, metrics and package versions).
Each finished chunk c of a point is kept as Arrow IPC files ``chunks/cNNNNNN.<table>.arrow``
(its replicate rows, kept patients, monthly series, and one file per additive count table),
followed by the marker ``chunks/cNNNNNN.json`` that lists their sizes and CRC-32 sums (and
says "format": "arrow"; chunks kept by earlier versions, without it, are Parquet files
``.parquet``, read back the same way). A chunk
counts as finished only when its marker exists and every file matches it, so a kill -9, a lost
machine or a reboot in the middle of a write costs that chunk, never a wrong table. Which
staging folders are whose, and which may be removed, is `sim.storage.folders`' business.

A resume reads the finished chunks back and computes the others. A run's tables are always
assembled from the checkpoint bytes (fresh chunks too), so a resumed run's tables are
byte-identical to an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

CHECKPOINT = "checkpoint.json"
CHUNKS = "chunks"


# --- what is being computed ----------------------------------------------------------------


def write_checkpoint(staging: Path, identity: dict[str, Any]) -> None:
    """Record what `staging` computes (written before any chunk); who computes it is the
    staging folder's owner record (`sim.storage.folders`)."""
    data = {"identity": identity}
    temporary = staging / f"{CHECKPOINT}.tmp"
    temporary.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    temporary.replace(staging / CHECKPOINT)


def read_checkpoint(staging: Path) -> dict[str, Any] | None:
    """The checkpoint record of a staging folder, or None when it has none (or it is torn)."""
    try:
        data = json.loads((staging / CHECKPOINT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("identity"), dict):
        return None
    return data


def identity_differences(saved: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """What differs between an interrupted job and the one asked for now, one phrase each
    (scenario fields by dotted path), e.g. ``seed: 1 in the interrupted run, 2 now``."""
    out: list[str] = []
    for key in dict.fromkeys([*saved, *now]):
        a, b = saved.get(key), now.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            out += [f"{key}.{d}" for d in identity_differences(a, b)]
        elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            out += [
                f"{key}.{d}" for d in identity_differences(dict(enumerate(a)), dict(enumerate(b)))
            ]
        else:
            out.append(f"{key}: {short(a)} in the interrupted run, {short(b)} now")
    return out


def short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


# --- chunks ---------------------------------------------------------------------------------


def chunk_stem(chunk: int) -> str:
    return f"c{chunk:06d}"


CHUNK_FORMAT = "arrow"  # the chunk files' format and suffix (markers without one: parquet)


def chunk_digest(chunk: int, replicates: range, files: dict[str, bytes]) -> str:
    """sha256 binding a chunk's files to its number and replicate ids, so a chunk's files
    and marker copied over another chunk do not pass for it."""
    digest = hashlib.sha256(f"{chunk}:{replicates.start}:{len(replicates)}".encode())
    for name in sorted(files):
        digest.update(f"\n{name}:{len(files[name])}\n".encode())
        digest.update(files[name])
    return digest.hexdigest()


def save_chunk(folder: Path, chunk: int, replicates: range, files: dict[str, bytes]) -> None:
    """Keep a finished chunk's files (name -> Arrow IPC bytes) of the replicate ids
    `replicates` in `folder`/chunks; the marker listing them (with the chunk's first
    replicate id, its count and `chunk_digest`) is written last, so a chunk half written is
    a chunk not finished."""
    where = folder / CHUNKS
    where.mkdir(exist_ok=True)
    stem = chunk_stem(chunk)
    listed = {}
    for name, data in files.items():
        (where / f"{stem}.{name}.{CHUNK_FORMAT}").write_bytes(data)
        listed[name] = {"bytes": len(data), "crc32": zlib.crc32(data)}
    marker = {
        "chunk": chunk,
        "replicates": len(replicates),
        "first_replicate": replicates.start,
        "sha256": chunk_digest(chunk, replicates, files),
        "format": CHUNK_FORMAT,
        "files": listed,
    }
    temporary = where / f"{stem}.json.tmp"
    temporary.write_text(json.dumps(marker) + "\n", encoding="utf-8")
    temporary.replace(where / f"{stem}.json")


def read_marker(folder: Path, chunk: int) -> dict[str, Any] | None:
    try:
        marker = json.loads((folder / CHUNKS / f"{chunk_stem(chunk)}.json").read_text())
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) and marker.get("chunk") == chunk else None


PARQUET_MAGIC = b"PAR1"


def read_table_bytes(data: bytes) -> pa.Table:
    """A chunk file held in memory as an Arrow table. A Parquet file (a chunk kept by an
    earlier version) is read with `pq.ParquetFile` without threads: the same table as
    `pq.read_table`, without the dataset machinery and thread pool that cost it several ms
    per small chunk file (and compete with the workers for the cores)."""
    if data[:4] == PARQUET_MAGIC:
        import pyarrow.parquet as pq  # (a run's own chunks are Arrow IPC: only then)

        return pq.ParquetFile(pa.BufferReader(data)).read(use_threads=False)
    return pa.ipc.open_stream(data).read_all()


def holds_replicates(files: dict[str, bytes], replicates: range) -> bool:
    """Whether a chunk's replicate rows are those of the ids `replicates`, in order (a chunk
    without a replicates table has nothing to check)."""
    if "replicates" not in files:
        return True
    try:
        ids = read_table_bytes(files["replicates"]).column("replicate").to_numpy()
    except (pa.ArrowException, KeyError, ValueError, OSError):
        return False
    expected = np.arange(replicates.start, replicates.stop)
    return len(ids) == len(expected) and bool((ids == expected).all())


def load_chunk(folder: Path, chunk: int, replicates: range) -> dict[str, bytes] | None:
    """A kept chunk's files (name -> bytes), or None if missing, not intact, or not the
    chunk of the replicate ids `replicates` (a chunk copied over another: its marker's
    replicate ids and digest, and the ids in its replicate rows, are checked)."""
    kept = read_chunk_files(folder, chunk, replicates)
    if kept is None:
        return None
    marker, files = kept
    digest = marker.get("sha256")  # markers of earlier versions have none
    if digest is not None and digest != chunk_digest(chunk, replicates, files):
        return None
    return files if holds_replicates(files, replicates) else None


def load_chunk_tables(
    folder: Path, chunk: int, replicates: range, names: tuple[str, ...]
) -> dict[str, bytes] | None:
    """The files `names` of a kept chunk that it has (a chunk without kept patients has no
    patients file), each checked against its marker's size and CRC-32; None if one is not
    intact or the marker is not that of the replicate ids `replicates`. For reading a
    chunk again that `load_chunk` checked whole (or this process saved) earlier in the
    run, without reading and hashing all its files."""
    kept = read_chunk_files(folder, chunk, replicates, names)
    return None if kept is None else kept[1]


def read_chunk_files(
    folder: Path, chunk: int, replicates: range, names: tuple[str, ...] | None = None
) -> tuple[dict[str, Any], dict[str, bytes]] | None:
    """(marker, files) of a kept chunk: the files `names` that its marker lists (all with
    None), each of the size and CRC-32 the marker gives; None if the marker is missing,
    not that of the replicate ids `replicates`, or a file does not match it."""
    marker = read_marker(folder, chunk)
    if marker is None or marker.get("replicates") != len(replicates):
        return None
    if marker.get("first_replicate", replicates.start) != replicates.start:
        return None
    suffix = marker.get("format", "parquet")
    if suffix not in (CHUNK_FORMAT, "parquet") or not isinstance(marker.get("files"), dict):
        return None
    files = {}
    for name, meta in marker["files"].items():
        if names is not None and name not in names:
            continue
        try:
            data = (folder / CHUNKS / f"{chunk_stem(chunk)}.{name}.{suffix}").read_bytes()
        except OSError:
            return None
        if not isinstance(meta, dict) or len(data) != meta.get("bytes"):
            return None
        if zlib.crc32(data) != meta.get("crc32"):
            return None
        files[name] = data
    return marker, files


def kept_bytes(folder: Path, expected: dict[int, range], names: tuple[str, ...]) -> int:
    """The bytes of the files `names` of the chunks of `expected` (chunk -> its replicate
    ids) kept in `folder`, by their markers (a chunk without a marker counts none)."""
    total = 0
    for chunk in expected:
        listed = (read_marker(folder, chunk) or {}).get("files")
        if isinstance(listed, dict):
            for name in names:
                meta = listed.get(name)
                if isinstance(meta, dict) and isinstance(meta.get("bytes"), int):
                    total += meta["bytes"]
    return total


def finished_chunks(folder: Path, expected: dict[int, range]) -> set[int]:
    """The chunks of `expected` (chunk -> its replicate ids) kept intact in `folder`."""
    return {chunk for chunk, ids in expected.items() if load_chunk(folder, chunk, ids) is not None}


def count_markers(folder: Path) -> int:
    """How many chunk markers `folder` holds (a quick look, without checking the files)."""
    try:
        return sum(1 for p in (folder / CHUNKS).iterdir() if p.suffix == ".json")
    except OSError:
        return 0


# --- what an interrupted job leaves ---------------------------------------------------------


def finished_work(staging: Path) -> int:
    """Chunks kept in a run's staging folder, or in the point folders of a sweep's, plus the
    sweep's finished points: what --resume would not compute again."""
    total = count_markers(staging)
    try:
        folders = [p for p in staging.iterdir() if p.is_dir() and p.name != CHUNKS]
    except OSError:
        return total
    return total + sum(count_markers(p) + (p / "manifest.json").is_file() for p in folders)


def is_resumable(staging: Path) -> bool:
    """Whether a staging folder holds work `--resume` would continue: a checkpoint record
    and at least one finished chunk (never delete it as stale)."""
    return read_checkpoint(staging) is not None and finished_work(staging) > 0
