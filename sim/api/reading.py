"""Finished runs: `read_results`, `compare` (``python -m sim compare``), `plot` and `report`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from sim.api.loading import as_path
from sim.api.results import Results
from sim.scenario import ScenarioError

if TYPE_CHECKING:
    from sim.engine.compare import Run
    from sim.outputs.plots import Panel


RunLike = Results | str | Path


def folder_of(run: RunLike) -> Path:
    """The folder of a Results (kept alive by the caller) or of a path."""
    if isinstance(run, Results):
        return run.folder
    if isinstance(run, str | Path):
        return Path(run)
    raise ScenarioError(
        f"run: a {type(run).__name__}; give a Results (sim.simulate, sim.read_results) or "
        "the path of a run folder"
    )


@dataclass(frozen=True)
class Comparison:
    """The tables of `compare` (those ``python -m sim compare --out FILE.csv`` writes).

    Attributes
    ----------
    runs : list of sim.engine.compare.Run
        The runs compared, the reference first (label, folder, manifest, tables).
    metrics : pandas.DataFrame
        One row per metric and later run: ``reference_estimate``, ``estimate``,
        ``difference``, its Monte Carlo ``se`` and ``se_kind`` (paired, paired bootstrap or
        independent), ``z`` and ``flag`` (|difference| > 3 SE): FILE.csv.
    timeline : pandas.DataFrame
        The median date of each milestone per run and the shift in days: FILE.timeline.csv.
    fields : pandas.DataFrame
        The scenario fields (dotted paths) and run settings that differ: FILE.fields.csv.
    written : tuple of Path
        The files written (with `out`), else empty.
    """

    runs: list[Run]
    metrics: pd.DataFrame
    timeline: pd.DataFrame
    fields: pd.DataFrame
    written: tuple[Path, ...] = ()

    @property
    def paired(self) -> bool:
        """Whether every later run shares the reference's seed, replicate count and chunk
        size, so that its differences have paired SEs (common random numbers)."""
        from sim.engine.compare import is_paired

        return all(is_paired(self.runs[0], run) for run in self.runs[1:])

    @property
    def flagged(self) -> pd.DataFrame:
        """The rows of `metrics` whose difference is beyond noise (``flag``)."""
        return self.metrics[self.metrics["flag"]]

    @property
    def described(self) -> pd.DataFrame:
        """Each metric of `metrics` in words, indexed by its name: its ``unit`` and
        ``meaning`` as summary.csv has them (the metric table's, for the runs' primary
        endpoint: `compare` refuses runs of different ones)."""
        from sim.engine.metric_table import describe_metrics

        analysis = self.runs[0].manifest.get("scenario", {}).get("analysis", {})
        names = list(dict.fromkeys(self.metrics["metric"]))
        units, meanings = describe_metrics(names, analysis.get("endpoint", "pfs"))
        index = pd.Index(names, name="metric")
        return pd.DataFrame({"unit": units, "meaning": meanings}, index=index)


def compare(
    runs: Sequence[RunLike], *, out: str | Path | None = None, force: bool = False
) -> Comparison:
    """Compare runs with the first, metric by metric, as ``python -m sim compare``.

    The standard error of a difference is paired when both runs share their seed and
    replicate count (common random numbers), else independent; a difference is flagged
    beyond 3 SE (see `sim.engine.compare`).

    Parameters
    ----------
    runs : sequence of Results or path
        Two or more runs; the first is the reference.
    out : str or Path, optional
        Also write FILE.csv, FILE.timeline.csv and FILE.fields.csv (as ``--out``).
    force : bool, default False
        Replace those files even if they were changed since compare wrote them.

    Returns
    -------
    Comparison

    Raises
    ------
    ScenarioError
        Fewer than two runs, a folder that is not a run, runs of different metric
        versions, or an `out` that is not a .csv file sim may write.
    """
    from sim.engine.compare import (
        check_out_file,
        compare_summaries,
        compare_timelines,
        differing_fields,
        load_runs,
        write_comparison,
    )

    if isinstance(runs, str | Path | Results):
        raise ScenarioError("runs: give a list of two or more runs, e.g. [run_a, run_b]")
    if out is not None:
        check_out_file(as_path(out, "out", "the path of a CSV file"))
    loaded = load_runs([folder_of(run) for run in runs])
    metrics, timeline = compare_summaries(loaded), compare_timelines(loaded)
    fields = differing_fields(loaded)
    if out is None:
        return Comparison(loaded, metrics, timeline, fields)
    written = write_comparison(
        as_path(out, "out", "the path of a CSV file"), metrics, timeline, fields, force=force
    )
    return Comparison(loaded, metrics, timeline, fields, tuple(written))


def plot(results: RunLike, *, out: str | Path | None = None, force: bool = False) -> list[Panel]:
    """The figures of a run or sweep, as ``python -m sim plot`` draws them.

    Parameters
    ----------
    results : Results or path
        A run or sweep (a Results, or its folder).
    out : str or Path, optional
        Also write each figure as ``<name>.png`` there (as ``--out``; a plots folder sim
        wrote is replaced, any other folder is refused).
    force : bool, default False
        Replace the figures of `out` even if they were changed since sim wrote them.

    Returns
    -------
    list of sim.outputs.plots.Panel
        Each with its ``name``, matplotlib ``figure`` and ``caption``; a panel shows as
        its figure in Jupyter. For one figure on axes of your own, use
        `Results.plot_enrollment` and the other ``plot_*`` methods.
    """
    from sim.engine.results import read_run
    from sim.outputs.plots.command import folder_figures, save_figures

    folder = folder_of(results)
    read_run(folder, sweep_ok=True)
    if out is None:
        return folder_figures(folder)
    return save_figures(
        lambda: folder_figures(folder), as_path(out, "out", "the path of a folder"), force
    )[0]


def report(
    results: RunLike,
    *,
    out: str | Path | None = None,
    force: bool = False,
    pdf: bool = False,
) -> Path:
    """The self-contained HTML report of a run or sweep, as ``python -m sim report``.

    Parameters
    ----------
    results : Results or path
        A run or sweep (a Results, or its folder).
    out : str or Path, optional
        The HTML file (default: ``report.html`` in the folder; a report sim wrote is
        replaced, any other file is refused).
    force : bool, default False
        Replace a report sim wrote even if it was changed since.
    pdf : bool, default False
        Also print it to a PDF beside the HTML (same name, ``.pdf``) through headless
        Chromium; raises ScenarioError if Chromium is not installed.

    Returns
    -------
    pathlib.Path
        The HTML file written.
    """
    from sim.outputs.report import find_chromium, write_report

    folder = folder_of(results)
    if pdf and find_chromium() is None:
        raise ScenarioError(
            "pdf = True: headless Chromium is not installed (looked for chromium, "
            "chromium-browser, google-chrome); install it, or print the HTML from a browser"
        )
    return write_report(
        folder,
        as_path(out, "out", "the path of an HTML file") if out is not None else None,
        force=force,
        pdf=pdf,
    )[0]


def read_results(folder: str | Path) -> Results:
    """The results of a run folder written by `python -m sim run` or `Results.save`."""
    from sim.engine.results import read_run

    folder = as_path(folder, "folder", "the path of a run folder")
    read_run(folder)
    return Results(folder)
