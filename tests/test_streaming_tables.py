"""A run's tables computed from its Parquet files a column at a time (memory flat in the
number of replicates) are the tables of the whole files read at once, to the last bit."""

from __future__ import annotations

import io
import json
import zlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sim.engine.chunk import TrialModel, simulate_chunk
from sim.engine.executors import encode_chunk, read_table_bytes
from sim.engine.results import ParquetColumns, summarize, timeline
from sim.engine.run import (
    MONTH_BLOCK,
    drop_idle_months,
    month_statistics,
    monthly_items,
    monthly_quantiles,
    row_percentiles,
    running_totals,
)


def whole_table_quantiles(path, rounded: bool = True) -> dict[str, pd.DataFrame]:
    """The monthly quantiles as computed before streaming: one item's months at once, each
    item's frame rounded by pandas (4 decimals for a ratio, 2 else) unless not `rounded`."""
    out: dict[str, list[pd.DataFrame]] = {}
    for (table, item), cols in monthly_items(pq.read_schema(path).names).items():
        values = pq.read_table(path, columns=cols).to_pandas().to_numpy(dtype=float)
        running = np.cumsum(values, axis=1)
        frame = pd.DataFrame({"item": item, "month": [c.split("/")[2] for c in cols]})
        ratio = "utilization" in item
        for prefix, data in (("", values), ("cumulative_", running)):
            if ratio and prefix:
                for name in ("mean", "q05", "q50", "q95"):
                    frame[f"{prefix}{name}"] = np.nan
                continue
            frame[f"{prefix}mean"] = data.mean(axis=0)
            for q in (5, 50, 95):
                frame[f"{prefix}q{q:02d}"] = np.percentile(data, q, axis=0)
        if rounded:
            frame = frame.round({c: 4 if ratio else 2 for c in frame.columns[2:]})
        out.setdefault(table, []).append(frame)
    return {
        name: drop_idle_months(pd.concat(frames, ignore_index=True)) for name, frames in out.items()
    }


def random_monthly(rng: np.random.Generator, n: int, first: int) -> pa.Table:
    """`n` replicates' rows of a monthly table (ids from `first`): four items over 17 months,
    with heavy tails, exact zeros and idle months at the end."""
    months = [f"2026-{m:02d}" for m in range(1, 13)] + [f"2027-{m:02d}" for m in range(1, 6)]
    assert len(months) > MONTH_BLOCK  # more than one block per item
    columns = {"replicate": np.arange(first, first + n)}
    for table, item, scale in (
        ("supply", "drug mg", 1e4),
        ("supply", "drug vials", 3.0),
        ("resources", "chair utilization", 0.3),
        ("safety", "grade 3+ control", 0.7),
    ):
        for j, month in enumerate(months):
            values = (rng.lognormal(0, 2, n) * scale * (rng.random(n) < 0.6) * (j < 14)).astype(
                np.float32
            )
            columns[f"{table}/{item}/{month}"] = values
    return pa.Table.from_pandas(pd.DataFrame(columns), preserve_index=False)


def test_monthly_quantiles_streamed_equal_the_whole_table(tmp_path, monkeypatch):
    rng = np.random.default_rng(7)
    path = tmp_path / "monthly.parquet"
    writer = None
    for group in range(3):  # several row groups, as the run writes them
        frame = random_monthly(rng, 137, group * 137)
        writer = writer or pq.ParquetWriter(path, frame.schema)
        writer.write_table(frame)
    writer.close()
    for raw in (False, True):  # rounded as written, and the unrounded figures
        if raw:
            monkeypatch.setattr("sim.engine.run.round_monthly", lambda figures, ratio: figures)
        ours, reference = monthly_quantiles(path), whole_table_quantiles(path, rounded=not raw)
        assert ours.keys() == reference.keys()
        for name in ours:
            pd.testing.assert_frame_equal(ours[name], reference[name], check_exact=True)
            assert ours[name].to_csv() == reference[name].to_csv()


def quiet_monthly_table(n: int = 150) -> tuple[list[str], pa.Table]:
    """A monthly table whose tables go quiet at different months, with NaN, -0.0 and a
    utilization busy to the end."""
    rng = np.random.default_rng(9)
    months = [f"2026-{m:02d}" for m in range(1, 13)] + [f"2027-{m:02d}" for m in range(1, 9)]
    columns: dict[str, np.ndarray] = {"replicate": np.arange(n)}
    for table, item, scale, last in (
        ("supply", "drug mg", 1e3, 9),  # active, then quiet from month 10
        ("supply", "drug vials", 2.0, 15),
        ("resources", "chair utilization", 0.3, 20),  # busy to the end: not activity
        ("resources", "chair hours used", 4.0, 6),
        ("safety", "grade 3+ control", 1e-4, 11),  # rounds to 0: the table kept whole
        ("safety", "grade 3+ experimental", 0.0, 0),
    ):
        for j, month in enumerate(months):
            values = rng.lognormal(0, 1, n) * scale * (rng.random(n) < 0.5) * (j < last)
            if j >= last:
                values = np.where(rng.random(n) < 0.1, -0.0, values)
                values[rng.random(n) < 0.05] = np.nan
            columns[f"{table}/{item}/{month}"] = values.astype(np.float32)
    return months, pa.table(columns)


def test_quiet_months_left_unread_give_the_whole_tables(tmp_path, monkeypatch):
    # the months after a table's last column with a value other than 0 (by the Parquet
    # statistics) are not read; the tables are those of every month, whether the activity
    # before them shows once rounded (dropped months) or not (a table kept whole: its
    # months read after all), with NaN, -0.0 and a utilization busy to the end
    from sim.engine import run

    months, table = quiet_monthly_table()
    path = tmp_path / "monthly.parquet"
    pq.write_table(table, path, row_group_size=60)  # 3 row groups
    read: list[str] = []
    original = run.month_blocks
    monkeypatch.setattr(
        run, "month_blocks", lambda file, cols: (read.extend(cols), original(file, cols))[1]
    )
    ours, reference = monthly_quantiles(path), whole_table_quantiles(path)
    assert ours.keys() == reference.keys()
    for name in ours:
        assert ours[name].to_csv() == reference[name].to_csv()
    assert not any(c.startswith("supply/") and c.endswith("/2027-04") for c in read)
    assert len(reference["safety"]) == 2 * len(months)  # kept whole, read twice
    assert len([c for c in read if c.startswith("safety/")]) == 2 * 11 + 2 * len(months)


@pytest.mark.parametrize("whole_cells", [0, 10**6], ids=["column-at-a-time", "read-whole"])
def test_summary_and_timeline_from_columns_equal_the_whole_table(
    tmp_path, baseline, monkeypatch, whole_cells
):
    from sim.engine import results

    monkeypatch.setattr(results, "WHOLE_TABLE_CELLS", whole_cells)
    model = TrialModel.from_scenario(baseline)
    replicates = simulate_chunk(model, seed=3, chunk=0, first_rep=0, n_reps=24).replicates
    path = tmp_path / "replicates.parquet"
    table = pa.Table.from_pandas(replicates, preserve_index=False)
    pq.write_table(table, path, row_group_size=10)  # several row groups
    whole = pd.read_parquet(path)
    columns = ParquetColumns(path)
    assert list(columns.columns) == list(whole.columns) and len(columns) == len(whole)
    assert "cut_reason" in columns and "no such column" not in columns
    for name in ("cut_reason", "final_analysis_date", "reject", "events"):
        pd.testing.assert_series_equal(columns[name], whole[name])
    assert summarize(columns, baseline).to_csv(index=False) == summarize(whole, baseline).to_csv(
        index=False
    )
    assert timeline(columns, baseline).to_csv(index=False) == timeline(whole, baseline).to_csv(
        index=False
    )


def parquet_roundtrip(frame: pd.DataFrame) -> pa.Table:
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink)
    return pq.read_table(io.BytesIO(sink.getvalue()))


@pytest.mark.parametrize("which", ["baseline", "textbook"])
def test_chunk_files_read_back_as_chunk_parquet_files_did(which, request, tmp_path):
    # Chunks travel and are kept as Arrow IPC (chunk_bytes); the tables read back are those
    # of the Parquet chunk files of earlier versions (schema, pandas metadata, values), so
    # the run's tables stay byte-identical; a chunk kept as Parquet is still read.
    from sim.engine.executors import encode_chunk, read_table_bytes
    from sim.storage import checkpoints

    result = simulate_chunk(
        TrialModel.from_scenario(request.getfixturevalue(which)),
        seed=3,
        chunk=0,
        first_rep=0,
        n_reps=12,
        keep_patients=4,
    )
    frames = {
        "replicates": result.replicates,
        "patients": result.patients,
        "monthly": result.monthly,
        **{f"sums-{k}": v for k, v in result.sums.items()},
    }
    files = encode_chunk(0, 0, result).files  # point 0, chunk 0
    assert files.keys() == {k for k, v in frames.items() if v is not None}
    for name, data in files.items():
        assert read_table_bytes(data).equals(parquet_roundtrip(frames[name]), check_metadata=True)
    checkpoints.save_chunk(tmp_path, 0, range(12), files)
    assert checkpoints.load_chunk(tmp_path, 0, range(12)) == files
    old = {}
    for name in files:  # as an earlier version kept it: Parquet files, no "format"
        sink = io.BytesIO()
        pq.write_table(pa.Table.from_pandas(frames[name], preserve_index=False), sink)
        old[name] = sink.getvalue()
        (tmp_path / "chunks" / f"c000001.{name}.parquet").write_bytes(old[name])
    marker = json.loads((tmp_path / "chunks" / "c000000.json").read_text())
    for key in ("format", "first_replicate", "sha256"):  # an earlier version's marker
        del marker[key]
    marker.update(
        chunk=1, files={k: {"bytes": len(v), "crc32": zlib.crc32(v)} for k, v in old.items()}
    )
    (tmp_path / "chunks" / "c000001.json").write_text(json.dumps(marker))
    # its rows are replicates 0-11 (chunk 0's frames): those are the ids it is checked against
    assert checkpoints.load_chunk(tmp_path, 1, range(12)) == old
    for name, data in old.items():
        assert read_table_bytes(data).equals(read_table_bytes(files[name]), check_metadata=True)


def test_month_statistics_are_each_columns_own():
    # a month's mean, as one 1-D sum of its column (pairwise), and its quantiles, computed
    # for a block of months at once: the figures of each column alone, to the last bit
    rng = np.random.default_rng(3)
    for n in (1, 7, 8, 9, 129, 1000, 2003):
        columns = [
            (rng.lognormal(0, 2, n) * (rng.random(n) < 0.6)).astype(np.float32).astype(float)
            for _ in range(MONTH_BLOCK)
        ]
        stats = month_statistics(np.stack(columns))
        for i, column in enumerate(columns):
            assert stats["mean"][i] == column.mean()
            for q in (5, 50, 95):
                assert stats[f"q{q:02d}"][i] == np.percentile(column, q)


def test_row_percentiles_are_numpys_to_the_last_bit():
    # sorted rows and numpy's interpolation: np.percentile's figures, bit for bit, with ties,
    # exact zeros, NaN (the row's answer), +-inf, huge values, one value, any percents
    rng = np.random.default_rng(11)
    specials = [0.0, 1.5, 2.0, np.inf, -np.inf, np.nan, 1e308, -1e308]
    for trial in range(600):
        n = int(rng.choice([1, 2, 3, 5, 10, 19, 20, 21, 137, 2000, 2001]))
        shape = (int(rng.integers(1, 6)), n)
        data = [
            rng.random(shape),
            rng.integers(0, 4, shape).astype(float),
            (rng.lognormal(0, 2, shape) * (rng.random(shape) < 0.6))
            .astype(np.float32)
            .astype(float),
            np.where(rng.random(shape) < 0.05, np.nan, rng.normal(size=shape)),
            rng.choice(specials, size=shape),
            rng.choice([0.0, -0.0, 1.0], size=shape),
        ][trial % 6]  # -0.0: numpy's own
        percents = [(5, 50, 95), (0, 100), (0, 25, 50, 75, 100), tuple(rng.uniform(0, 100, 3))][
            trial % 4
        ]
        # float32s (the monthly tables' values) also sorted as float32 (`narrow`)
        narrow = data.astype(np.float32) if trial % 6 == 2 else None
        with np.errstate(invalid="ignore", over="ignore"):
            ours, numpys = (
                row_percentiles(data.copy(), percents),
                np.percentile(data, percents, axis=1),
            )
            theirs = ours if narrow is None else row_percentiles(data.copy(), percents, narrow)
        assert ours.shape == numpys.shape
        assert np.array_equal(ours.view(np.int64), numpys.view(np.int64))
        assert np.array_equal(theirs.view(np.int64), numpys.view(np.int64))


def test_running_totals_add_month_by_month():
    rng = np.random.default_rng(4)
    months = rng.random((2 * MONTH_BLOCK, 50)) * 1e3
    running, carried = None, None
    for start in (0, MONTH_BLOCK):
        block = running_totals(months[start : start + MONTH_BLOCK], carried)
        carried = block[-1]
        for i, values in enumerate(months[start : start + MONTH_BLOCK]):
            running = values if running is None else running + values
            assert np.array_equal(block[i], running)


def test_any_chunk_frame_converts_to_the_arrow_table_from_pandas_gives(textbook):
    # columns of other kinds (dates with NaT, text, text with None, categories, none at all)
    # beside the numbers: after the first frame of a layout its schema is kept and the
    # columns converted alone; the same table, schema and metadata, IPC bytes as
    # from_pandas, for frames of each layout (and a layout whose text turns all None)
    from sim.engine.executors import arrow_table, chunk_bytes

    rng = np.random.default_rng(5)

    def frame(n: int, text_none: float) -> pd.DataFrame:
        days = rng.integers(0, 900, n).astype("timedelta64[D]")
        dates = (np.datetime64("2026-01-30") + days).astype("datetime64[s]")
        return pd.DataFrame(
            {
                "replicate": np.arange(n),
                "date": np.where(rng.random(n) < 0.2, np.datetime64("NaT"), dates),
                "months": np.where(rng.random(n) < 0.1, np.nan, rng.random(n) * 40),
                "reason": np.where(
                    rng.random(n) < text_none, None, rng.choice(["events", "date"], n)
                ).astype(object),
                "arm": pd.Categorical(rng.choice(["control", "experimental"], n)),
                "grade": pd.Categorical(rng.integers(1, 4, n), categories=[1, 2, 3], ordered=True),
                "reject": rng.random(n) < 0.5,
                "events": rng.integers(0, 90, n),
            }
        )

    model = TrialModel.from_scenario(textbook)
    chunk = simulate_chunk(model, 3, 0, 0, 40, keep_patients=2)
    frames = [
        *(frame(n, 0.3) for n in (25, 0, 1, 25)),
        frame(25, 1.0),
        frame(25, 0.0),
        chunk.replicates,
        chunk.replicates.iloc[:7],
        chunk.patients,
        *chunk.sums.values(),
    ]
    for data in frames + frames:
        ours, reference = arrow_table(data), pa.Table.from_pandas(data, preserve_index=False)
        assert ours.equals(reference)
        assert ours.schema.equals(reference.schema, check_metadata=True)
        assert chunk_bytes(ours) == chunk_bytes(reference)


def test_numeric_frames_convert_to_the_arrow_table_from_pandas_gives():
    # a chunk's monthly table goes to Arrow a dtype's block at a time: the same table,
    # schema and pandas metadata as pa.Table.from_pandas (NaN as null), byte for byte
    from sim.engine.executors import arrow_table, chunk_bytes

    rng = np.random.default_rng(2)
    n = 37
    numbers = pd.DataFrame(
        {
            "replicate": np.arange(n),
            **{
                f"supply/drug mg/2026-{m:02d}": rng.random(n).astype(np.float32)
                for m in range(1, 13)
            },
        }
    )
    numbers.insert(3, "flag", rng.random(n) < 0.5)
    numbers.insert(5, "small", rng.integers(0, 9, n).astype(np.int32))
    numbers["with nan"] = np.where(rng.random(n) < 0.3, np.nan, rng.random(n))
    mixed = numbers.assign(label=["a"] * n)  # not numbers only: from_pandas itself
    for frame in (numbers, numbers.iloc[:0], mixed, numbers.iloc[:5]):
        for _ in range(2):  # the second time with its schema kept
            ours, reference = arrow_table(frame), pa.Table.from_pandas(frame, preserve_index=False)
            assert ours.equals(reference) and ours.schema.equals(
                reference.schema, check_metadata=True
            )
            assert chunk_bytes(ours) == chunk_bytes(reference)
    assert arrow_table(numbers).column("with nan").null_count == numbers["with nan"].isna().sum()


def test_tables_are_written_from_the_checkpoints_once_every_chunk_is_in(
    textbook, tmp_path, monkeypatch
):
    # A Parquet writer holds every column chunk's metadata until it closes, so the run's
    # tables are written after the last chunk (when a run's workers have stopped), from the
    # chunks' checkpoint files: while chunks arrive, the folder holds no Parquet file, even
    # with a row group per chunk (which a writer open during the run would have written).
    import sim.engine.executors as executors
    from sim.engine.executors import run_to_parquet
    from sim.storage import checkpoints

    monkeypatch.setattr(executors, "row_group_rows", lambda n_reps: 500)

    seen: list[list[str]] = []
    run_to_parquet(
        TrialModel.from_scenario(textbook),
        1200,  # chunks of 500, 500 and 200 replicates
        seed=5,
        workers=1,
        folder=tmp_path,
        keep_patients=3,
        on_chunk=lambda n: seen.append(sorted(p.name for p in tmp_path.glob("*.parquet"))),
    )
    assert seen == [[], [], []]
    for name in ("replicates", "patients"):
        kept = [
            checkpoints.load_chunk(tmp_path, c, range(c * 500, min(c * 500 + 500, 1200)))
            for c in range(3)
        ]
        parts = [read_table_bytes(files[name]) for files in kept if name in files]
        written = pq.ParquetFile(tmp_path / f"{name}.parquet")
        if name == "replicates":
            assert written.metadata.num_row_groups == 3
        assert written.read().equals(pa.concat_tables(parts), check_metadata=True)


def test_a_checkpoint_changed_before_the_tables_are_written_stops_the_run(textbook, tmp_path):
    from sim.engine.executors import PointJob, write_tables
    from sim.scenario import ScenarioError
    from sim.storage import checkpoints

    result = simulate_chunk(
        TrialModel.from_scenario(textbook), seed=3, chunk=0, first_rep=0, n_reps=12
    )
    files = encode_chunk(0, 0, result).files
    checkpoints.save_chunk(tmp_path, 0, range(12), files)
    assert checkpoints.load_chunk_tables(tmp_path, 0, range(12), ("replicates",)) == {
        "replicates": files["replicates"]
    }
    path = tmp_path / "chunks" / "c000000.replicates.arrow"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1  # one bit changed, as a failing disk might
    path.write_bytes(bytes(data))
    assert checkpoints.load_chunk_tables(tmp_path, 0, range(12), ("replicates",)) is None
    with pytest.raises(ScenarioError, match="checkpoint of chunk 0 changed during the run"):
        write_tables(PointJob(tmp_path, 12, 3, 0))


def test_row_groups_change_neither_the_tables_read_back_nor_the_monthly_figures(tmp_path):
    # Runs of more than about 14,500 replicates write larger row groups (`row_group_rows`):
    # the table read back (pyarrow, pandas) and the monthly figures are those of the
    # smaller row groups; runs of up to 14,500 replicates keep ROW_GROUP_ROWS.
    from sim.engine.chunk import CHUNK_SIZE
    from sim.engine.executors import ROW_GROUP_ROWS, ParquetAppender, row_group_rows

    rng = np.random.default_rng(11)
    chunks = [random_monthly(rng, 50, 50 * c) for c in range(6)]
    tables = {}
    for rows, groups in ((100, 3), (300, 1)):
        folder = tmp_path / f"rows{rows}"
        folder.mkdir()
        writer = ParquetAppender(folder, rows)
        for chunk in chunks:
            writer.append("monthly", chunk)
        writer.close()
        assert pq.ParquetFile(folder / "monthly.parquet").metadata.num_row_groups == groups
        tables[rows] = (
            pq.read_table(folder / "monthly.parquet"),
            monthly_quantiles(folder / "monthly.parquet"),
        )
    (small, small_figures), (large, large_figures) = tables[100], tables[300]
    assert large.equals(small, check_metadata=True)
    pd.testing.assert_frame_equal(large.to_pandas(), small.to_pandas(), check_exact=True)
    assert large_figures.keys() == small_figures.keys()
    for name, figures in large_figures.items():
        assert figures.to_csv() == small_figures[name].to_csv()
    counts = [500, 2000, 14_500, 15_000, 100_000, 1_000_000]
    rows = [row_group_rows(n) for n in counts]
    assert rows[:3] == [ROW_GROUP_ROWS] * 3
    assert rows == sorted(rows) and all(r % CHUNK_SIZE == 0 for r in rows)
    assert rows[4] == 5500  # sqrt(275 * 100,000) = 5,244, rounded up to whole chunks


def test_the_monthly_table_kept_as_written_gives_the_files_figures(tmp_path, monkeypatch):
    # a point's monthly table, kept in memory as written (several row groups), gives the
    # figures of its file read back, its statistics those of the file; too large, it is not
    # kept and the file is read
    import sim.engine.executors as executors

    _, table = quiet_monthly_table()
    writer = executors.ParquetAppender(tmp_path, 60, keep="monthly")
    for start in range(0, table.num_rows, 30):  # chunks of 30 replicates
        writer.append("monthly", table.slice(start, 30))
    writer.close()
    path = tmp_path / "monthly.parquet"
    kept = writer.kept_table()
    assert kept is not None and pq.ParquetFile(path).metadata.num_row_groups == 3
    assert kept.metadata.equals(pq.read_metadata(path))
    back = pq.read_table(path)  # the same columns and values (NaN is not equal to itself)
    assert kept.table.schema.equals(back.schema)
    pd.testing.assert_frame_equal(kept.table.to_pandas(), back.to_pandas(), check_exact=True)
    ours, reference = monthly_quantiles(path, kept), monthly_quantiles(path)
    assert ours.keys() == reference.keys()
    for name in ours:
        assert ours[name].to_csv() == reference[name].to_csv()
    monkeypatch.setattr(executors, "KEPT_BYTES", table.nbytes // 2)
    writer = executors.ParquetAppender(tmp_path / "again", 60, keep="monthly")
    (tmp_path / "again").mkdir()
    for start in range(0, table.num_rows, 30):
        writer.append("monthly", table.slice(start, 30))
    writer.close()
    assert writer.kept_table() is None


def saved_point(folder, n_chunks: int = 3):
    """A point's folder with `n_chunks` kept chunks (a replicates and a monthly table each,
    `random_monthly`), as a run leaves it once its last chunk is in."""
    from sim.engine.chunk import CHUNK_SIZE
    from sim.engine.executors import PointJob, ipc_bytes
    from sim.storage import checkpoints

    rng = np.random.default_rng(11)
    size = CHUNK_SIZE
    for chunk in range(n_chunks):
        ids = range(chunk * size, (chunk + 1) * size)
        replicates = pa.table({"replicate": np.arange(ids.start, ids.stop)})
        files = {
            "replicates": ipc_bytes(replicates),
            "monthly": ipc_bytes(random_monthly(rng, size, ids.start)),
        }
        checkpoints.save_chunk(folder, chunk, ids, files)
    return PointJob(folder, n_chunks * size, 1, 0)


def gated_monthly_writer(monkeypatch, fail: Exception | None = None):
    """`write_tables` with its monthly (BESIDE) call held until `gate` is set; what it saw
    is noted in `seen`; with `fail`, that call raises it instead of writing."""
    import threading

    import sim.engine.executors as executors

    real = executors.write_tables
    gate, seen = threading.Event(), {}

    def write_tables(job, names=executors.TABLES, stop=None):
        if names != executors.BESIDE:
            return real(job, names, stop)
        seen["thread"] = threading.current_thread().name
        assert gate.wait(30)
        seen["stopped"] = stop is not None and stop.is_set()
        if fail is not None:
            raise fail
        return real(job, names, stop)

    monkeypatch.setattr(executors, "write_tables", write_tables)
    return gate, seen


def monthly_threads() -> list:
    import threading

    return [t for t in threading.enumerate() if t.name.startswith("sim-monthly")]


def test_the_monthly_table_is_written_beside_the_rest_of_the_point(tmp_path, monkeypatch):
    # the point's other tables are written, and its figures worked out, while the monthly
    # table is written on a thread of its own; `monthly()` waits for it: the table as
    # written, kept, as the file reads back
    from sim.engine.executors import tables_written

    job = saved_point(tmp_path)
    gate, seen = gated_monthly_writer(monkeypatch)
    with tables_written(job, {}) as tables:
        assert (tmp_path / "replicates.parquet").exists()
        assert not (tmp_path / "monthly.parquet").exists()  # still held
        gate.set()
        kept = tables.monthly()
        assert kept is not None
        assert kept.table.equals(pq.read_table(tmp_path / "monthly.parquet"))
        assert kept.metadata.equals(pq.read_metadata(tmp_path / "monthly.parquet"))
    assert seen == {"thread": seen["thread"], "stopped": False}
    assert seen["thread"].startswith("sim-monthly") and not monthly_threads()
    ours = monthly_quantiles(tmp_path / "monthly.parquet", kept)
    again = monthly_quantiles(tmp_path / "monthly.parquet")
    assert {k: v.to_csv() for k, v in ours.items()} == {k: v.to_csv() for k, v in again.items()}


def test_a_point_that_fails_stops_its_monthly_writer_before_it_returns(tmp_path, monkeypatch):
    # an error (or a signal) while the point's figures are worked out: the monthly writer is
    # told to stop before its next chunk and has ended when the error reaches the caller,
    # so nothing writes into the folder a failed run then removes; the caller sees its own
    # error, not the writer's
    import threading

    from sim.engine.executors import tables_written

    job = saved_point(tmp_path)
    gate, seen = gated_monthly_writer(monkeypatch)
    threading.Timer(0.2, gate.set).start()  # the writer goes on once the body has failed
    with pytest.raises(KeyboardInterrupt), tables_written(job, {}):
        raise KeyboardInterrupt
    assert seen["stopped"] is True and not monthly_threads()
    assert not (tmp_path / "monthly.parquet").exists()


def test_the_monthly_writers_error_reaches_the_caller(tmp_path, monkeypatch):
    # a full disk while the monthly table is written: raised where it is asked for, and on
    # leaving the point even if it is not asked for (a caller that only wants the sums)
    from sim.engine.executors import tables_written

    job = saved_point(tmp_path)
    gate, _ = gated_monthly_writer(monkeypatch, OSError(28, "No space left on device"))
    gate.set()
    with pytest.raises(OSError, match="No space left"), tables_written(job, {}) as tables:
        tables.monthly()
    with pytest.raises(OSError, match="No space left"), tables_written(job, {}):
        pass
    assert not monthly_threads()


def test_a_monthly_table_too_large_to_keep_is_written_before_the_rest(tmp_path, monkeypatch):
    # over KEPT_BYTES (by its chunks' files), the monthly table is written first, in this
    # thread: its writer's memory is not held beside the summary's; the same files
    import sim.engine.executors as executors
    from sim.engine.executors import tables_written
    from sim.storage import checkpoints

    job = saved_point(tmp_path)
    size = checkpoints.kept_bytes(tmp_path, job.replicate_ids(), ("monthly",))
    assert size == sum(
        checkpoints.read_marker(tmp_path, c)["files"]["monthly"]["bytes"] for c in range(3)
    )
    monkeypatch.setattr(executors, "KEPT_BYTES", size // 2)
    gate, seen = gated_monthly_writer(monkeypatch)
    with tables_written(job, {}) as tables:
        assert seen == {} and (tmp_path / "monthly.parquet").exists()
        assert tables.monthly() is None  # not kept: its figures read from the file
    assert not monthly_threads()
