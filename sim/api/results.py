"""What a Monte Carlo call returns and reports: `Results` (the tables of a run folder, read on
first use) and `Progress` (what a long call reports while it runs)."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd

from sim.scenario import Scenario, ScenarioError, parse_scenario
from sim.storage.exact_csv import read_exact_csv

if TYPE_CHECKING:
    from matplotlib.axes import Axes


class Progress(Protocol):
    """What a long call reports while it runs: the command line's progress bars are ones."""

    def start(self, total: int, done: int) -> None:
        """Before the first chunk: `total` replicates in all, `done` of them finished
        before (a resumed run or sweep)."""

    def update(self, n: int) -> None:
        """`n` more replicates are done."""

    def write(self, text: str) -> None:
        """A note or a warning, one line (the command line prints it on stderr)."""


class NotebookProgress:
    """The API's own progress: a tqdm bar (a widget in notebooks) unless `show` is False;
    notes and warnings on stderr."""

    def __init__(self, total: int, show: bool) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, unit="rep", desc="replicates", disable=not show)

    def start(self, total: int, done: int) -> None:
        self.bar.total = total
        self.bar.n = self.bar.last_print_n = self.bar.initial = done
        self.bar.refresh()

    def update(self, n: int) -> None:
        self.bar.update(n)

    def write(self, text: str) -> None:
        self.bar.write(text, file=sys.stderr)


@contextmanager
def reporting(progress: bool | Progress, total: int) -> Iterator[Progress]:
    """The caller's `progress` object, or the API's own bar (closed on the way out)."""
    if not isinstance(progress, bool):
        if not callable(getattr(progress, "update", None)):
            raise ScenarioError(
                f"progress = {progress!r}: give True, False or an object with update(n) "
                "(a tqdm bar, say)"
            )
        yield progress
        return
    own = NotebookProgress(total, progress)
    try:
        yield own
    finally:
        own.bar.close()


class Results:
    """The tables of one Monte Carlo run (or sweep), read from its folder on first use.

    `summary`, `timeline`, `replicates` and `manifest` are attributes; `table(name)` reads any
    other table of the folder (`supply`, `resources`, `monthly`, `patients`, a sweep's
    `sweep`, a forecast's `forecast`, ...); `tables` lists them; `warnings` are the doubts the
    run recorded. A result of `simulate` lives in a temporary folder until `save`.
    """

    def __init__(
        self,
        folder: Path,
        scratch: tempfile.TemporaryDirectory | None = None,
        *,
        computed: Mapping[str, pd.DataFrame] | None = None,
        scenario: Scenario | None = None,
    ) -> None:
        self.folder = Path(folder)
        self._scratch = scratch  # keeps the temporary folder alive as long as the object
        # tables the call that made the folder still holds: returned as computed, not re-read
        self._computed = dict(computed or {})
        self._scenario = scenario

    def __repr__(self) -> str:
        m = self.manifest
        return (
            f"<Results {m.get('scenario', {}).get('trial', {}).get('id', '?')}: "
            f"{m.get('replicates')} replicates, seed {m.get('seed')}, {self.folder}>"
        )

    def _repr_html_(self) -> str | None:
        """What a notebook shows of a result: the repr's line, then the answers the report
        opens with (a sweep: its key metrics per point); `sim.report(results)` writes the
        whole report. None (the plain repr) if the folder cannot give them."""
        import html

        from sim.outputs import report

        try:
            if self.manifest.get("kind") == "sweep":
                key = report.sweep_key_table(self.table("sweep"), self.manifest)
                body = [report.table_html(key, "sweep_key", "fit")]
            else:
                body = report.answers_html(self.folder, self.manifest, self.summary, self.timeline)
        except (OSError, KeyError, ValueError):  # a folder moved or cut short: the repr
            return None
        return f"<p><code>{html.escape(repr(self))}</code></p>" + "\n".join(body)

    @cached_property
    def manifest(self) -> dict[str, Any]:
        return json.loads((self.folder / "manifest.json").read_text(encoding="utf-8"))

    @cached_property
    def summary(self) -> pd.DataFrame:
        return self.table("summary")

    @cached_property
    def timeline(self) -> pd.DataFrame:
        return self.table("timeline")

    @cached_property
    def replicates(self) -> pd.DataFrame:
        return self.table("replicates")

    @property
    def scenario(self) -> Scenario:
        if self._scenario is not None:
            return self._scenario
        return parse_scenario(self.manifest["scenario"], f"{self.folder}/manifest.json")

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(self.manifest.get("warnings", ()))

    @property
    def wall_seconds(self) -> float:
        return float(self.manifest.get("wall_seconds", float("nan")))

    @property
    def tables(self) -> list[str]:
        return sorted(
            p.stem
            for p in self.folder.iterdir()
            if p.suffix in (".csv", ".parquet") and p.is_file()
        )

    def table(self, name: str) -> pd.DataFrame:
        if name in self._computed:
            return self._computed[name]
        path = self.folder / f"{name}.csv"
        if path.is_file():  # every float as written (to_csv writes the shortest repr)
            return read_exact_csv(path)
        path = self.folder / f"{name}.parquet"
        if path.is_file():
            return pd.read_parquet(path)
        raise ScenarioError(f"table {name!r}: not in {self.folder} (it has {self.tables})")

    def plot_enrollment(self, ax: Axes | None = None) -> Axes:
        """Patients randomized by calendar date: median and the middle 50% and 90% of
        replicates, with the sample size.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Where to draw; a new figure's axes if None.

        Returns
        -------
        matplotlib.axes.Axes
            The axes drawn on (as lifelines' ``plot`` methods return them).
        """
        return self._draw("enrollment", ax)

    def plot_events(self, ax: Axes | None = None) -> Axes:
        """PFS events seen by calendar date: median and the middle 50% and 90% of
        replicates, with the event target and the registered completion date.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Where to draw; a new figure's axes if None.

        Returns
        -------
        matplotlib.axes.Axes
        """
        return self._draw("events", ax)

    def plot_analysis_dates(self, ax: Axes | None = None) -> Axes:
        """Share of replicates whose final analysis is done by each date (empirical
        distribution function), with the registered completion date.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Where to draw; a new figure's axes if None.

        Returns
        -------
        matplotlib.axes.Axes
        """
        return self._draw("analysis_dates", ax)

    def plot_km(self, ax: Axes | None = None, *, replicate: int | None = None) -> Axes:
        """Kaplan-Meier PFS by arm of one simulated final analysis, at its data cut.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Where to draw; a new figure's axes if None.
        replicate : int, optional
            A replicate kept in patients.parquet (``keep_patients``); default the first.

        Returns
        -------
        matplotlib.axes.Axes

        Raises
        ------
        ScenarioError
            If the run kept no patients or not that replicate.
        """
        return self._draw("km", ax, replicate=replicate)

    def plot_utilization(self, ax: Axes | None = None) -> Axes:
        """Infusion chair and linac utilization by calendar month (resources.csv): median
        and the middle 90% of replicates.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Where to draw; a new figure's axes if None.

        Returns
        -------
        matplotlib.axes.Axes
        """
        return self._draw("utilization", ax)

    def plot_supply(self, ax: Axes | None = None) -> Axes:
        """Drug dispensed, cumulative by month, per drug (supply.csv): median and the
        middle 90% of replicates.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Where to draw; a new figure's axes if None.

        Returns
        -------
        matplotlib.axes.Axes
        """
        return self._draw("supply", ax)

    def _draw(self, name: str, ax: Axes | None, **options: Any) -> Axes:
        if self.manifest.get("kind") == "sweep":
            raise ScenarioError(
                f"plot_{name}: {self.folder} is a sweep; plot one of its points, e.g. "
                f"sim.read_results('{self.folder}/<point folder>'), or draw the sweep's "
                "figures with sim.plot"
            )
        from sim.outputs.plots.run import draw_run

        return draw_run(self.folder, name, ax, **options)

    def save(self, folder: str | Path, *, force: bool = False) -> Path:
        """Write the run folder `python -m sim run` writes; an existing folder is replaced
        only with `force` (as `--force` on the command line)."""
        from sim.engine.run import check_out_folder
        from sim.storage.folders import OWNER, output_folder

        folder = Path(folder)
        if folder.resolve() == self.folder.resolve():
            return folder
        kind = str(self.manifest.get("kind", "run"))
        check_out_folder(folder, force, kind)
        with output_folder(folder, force, kinds=[kind]) as staging:
            shutil.copytree(
                self.folder, staging, dirs_exist_ok=True, ignore=shutil.ignore_patterns(OWNER)
            )
        return folder
