"""The Python API: what the command line does, for notebooks and scripts.

    import sim
    scenario = sim.load_scenario("scenarios/nct07271602.yaml",
                                 overrides={"effect.hazard_ratio": 0.7})
    results = sim.simulate(scenario, reps=2000, seed=1, workers=2)
    results.summary                         # DataFrame, as summary.csv
    results.save("results/hr07")            # the folder `python -m sim run` writes
    sim.read_results("results/hr07")        # the same object back

Every function raises `sim.ScenarioError` (a ValueError) with the same one-line message the
command line prints, for bad scenarios, overrides, arguments and tables alike. Options past the
first two arguments are keyword-only. The functions call the engine (`sim.engine.run`,
`sweep`, `forecast`) and the statistics (`sim.stats`); the command line (`sim.commands`) is a
layer above this one, which parses arguments, calls these functions and prints.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd
import yaml

from sim.scenario import Scenario, ScenarioError, parse_scenario, scenario_to_dict
from sim.scenario.overrides import value_at
from sim.storage.exact_csv import read_exact_csv

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.axes import Axes

    from sim.engine.chunk import TrialModel
    from sim.engine.compare import Run
    from sim.engine.run import RunOutputs
    from sim.outputs.plots import Panel

__all__ = [
    "Comparison",
    "Progress",
    "Results",
    "ScenarioError",
    "analyze",
    "boundaries",
    "compare",
    "design",
    "export_observed",
    "forecast",
    "load_scenario",
    "plot",
    "read_results",
    "report",
    "simulate",
    "sweep",
    "value_at",
]

ScenarioLike = Scenario | str | Path | Mapping[str, Any]
Overrides = Mapping[str, Any] | Sequence[str] | None


def load_scenario(path: str | Path | Mapping[str, Any], overrides: Overrides = None) -> Scenario:
    """A validated scenario from a YAML file (or an already-parsed mapping), with overrides.

    `overrides` maps dotted paths to values (``{"effect.hazard_ratio": 0.7}``, values as
    Python objects) or is a list of ``PATH=VALUE`` strings as ``--set`` takes them.
    """
    return load_scenario_data(path, override_strings(overrides))[0]


def load_scenario_data(
    path: str | Path | Mapping[str, Any], assignments: list[str]
) -> tuple[Scenario, dict[str, Any], str]:
    """(the scenario, its data as read with the overrides applied, its source name)."""
    import copy

    from sim.scenario import apply_override, read_scenario_yaml

    if isinstance(path, Mapping):
        data = json.loads(json.dumps(dict(path), default=str))  # a deep, plain copy
        source = "<mapping>"
    else:
        path = as_path(path, "scenario", "a YAML file's path, a mapping or a sim.Scenario")
        data, source = read_scenario_yaml(path), str(path)
    for assignment in assignments:
        apply_override(data, assignment)
    return parse_scenario(copy.deepcopy(data), source), data, source


def as_path(value: object, name: str, what: str) -> Path:
    """`value` as a Path; ScenarioError naming `name` and what it takes if it is not one
    (None, a number: not Python's TypeError from deep inside)."""
    import os

    if isinstance(value, str | os.PathLike):
        return Path(value)
    raise ScenarioError(f"{name} = {value!r} (of type {type(value).__name__}): give {what}")


def observed_paths(observed: object) -> Path | list[Path]:
    """`forecast`'s `observed` (a table's path, or ADaM's ADSL and ADTTE paths) as paths;
    ScenarioError naming it if it is not one (None, a number)."""
    what = "the path of the --observed table (or a list of ADSL and ADTTE paths)"
    if isinstance(observed, Sequence) and not isinstance(observed, str | bytes):
        return [as_path(item, "observed", what) for item in observed]
    return as_path(observed, "observed", what)


def override_strings(overrides: Overrides) -> list[str]:
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        return [
            f"{key}={yaml.safe_dump(value, default_flow_style=True).strip()}".removesuffix("\n...")
            for key, value in overrides.items()
        ]
    if isinstance(overrides, str):
        raise ScenarioError(
            f"overrides {overrides!r}: give a mapping or a list of "
            "PATH=VALUE strings, e.g. {'effect.hazard_ratio': 0.7}"
        )
    return [str(item) for item in overrides]


def resolve_scenario(
    scenario: ScenarioLike, overrides: Overrides
) -> tuple[Scenario, str, list[str]]:
    """(the scenario, the path the manifest records, the overrides it records): a path or a
    mapping is loaded with `overrides`; a Scenario is taken as it is (then no overrides)."""
    assignments = override_strings(overrides)
    if isinstance(scenario, Scenario):
        if assignments:
            raise ScenarioError(
                f"overrides {assignments}: a loaded Scenario takes none; give the scenario's "
                "path instead, or apply them with sim.load_scenario(path, overrides=...)"
            )
        return scenario, "", []
    loaded, _, source = load_scenario_data(scenario, assignments)
    return loaded, "" if isinstance(scenario, Mapping) else source, assignments


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


def check_count(name: str, value: Any, least: int) -> None:
    from sim.engine.limits import MAX_REPS, MAX_SEED

    most = MAX_SEED if name == "seed" else MAX_REPS
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= most:
        raise ScenarioError(
            f"{name} = {value!r}: must be a whole number from {least:,} to "
            f"{most:,} (e.g. {2000 if name == 'reps' else max(least, 1)})"
        )


def check_run_options(
    reps: int, seed: int, workers: int | None, keep_patients: int | None = None
) -> int:
    """The counts of a Monte Carlo call checked; the number of workers to use."""
    from sim.engine.executors import default_workers

    check_count("reps", reps, 1)
    check_count("seed", seed, 0)
    if keep_patients is not None:
        check_count("keep_patients", keep_patients, 0)
    if workers is not None:
        check_count("workers", workers, 1)
    return workers or default_workers()


def check_executor(executor: str | None, scheduler: str | None) -> str:
    """`executor`, defaulting to dask with a scheduler and to local otherwise."""
    if executor not in (None, "local", "dask"):
        raise ScenarioError(f"executor = {executor!r}: must be 'local' or 'dask'")
    if scheduler and executor == "local":
        raise ScenarioError(
            f"scheduler = {scheduler!r}: needs executor='dask' (or leave executor out)"
        )
    return executor or ("dask" if scheduler else "local")


def output_target(
    out: str | Path | None, name: str
) -> tuple[Path, tempfile.TemporaryDirectory | None]:
    """The folder to write: `out`, or `name` in a fresh temporary folder (kept by Results)."""
    if out is not None:
        return Path(out), None
    scratch = tempfile.TemporaryDirectory(prefix="sim-results-")
    return Path(scratch.name) / name, scratch


def simulate(
    scenario: ScenarioLike,
    *,
    reps: int = 2000,
    seed: int = 1,
    workers: int | None = None,
    keep_patients: int = 3,
    overrides: Overrides = None,
    progress: bool | Progress = True,
    out: str | Path | None = None,
    force: bool = False,
    executor: str | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    adam: int = 0,
) -> Results:
    """Monte Carlo run of a scenario: the tables of `python -m sim run`, same seed, same
    numbers. `scenario` is a Scenario, or a YAML path (or mapping) loaded with `overrides`
    (recorded in the manifest, as ``--set``). With `out` the folder is written there (as
    ``--out``); otherwise it is kept in a temporary folder until `Results.save`. `progress`:
    a bar in terminals and notebooks (False: none), or a `Progress` of the caller's; the
    design's doubts are written to it before the run, the summary's after.
    `executor`, `scheduler` and `resume` are ``--executor`` (``"local"`` or ``"dask"``),
    ``--scheduler`` (default: dask with a scheduler, else local) and ``--resume`` (needs
    `out`). `adam` K > 0 (``--adam K``) also writes the CDISC ADaM data sets (ADSL, ADTTE,
    ADRS, ADAE as XPT v5 and Parquet, and define.csv) of the first K replicates, one folder
    per replicate and cut: each interim look held and the final analysis (``rep000_look1``,
    ``rep000_final``, ...; docs/adam.md), and keeps their patients (`keep_patients` is
    raised to K)."""
    from sim.engine.run import check_out_folder, run_scenario
    from sim.stats.design import design_warnings

    scenario, scenario_path, assignments = resolve_scenario(scenario, overrides)
    workers = check_run_options(reps, seed, workers, keep_patients)
    check_count("adam", adam, 0)
    keep_patients = max(keep_patients, adam)
    if out is not None:
        check_out_folder(Path(out), force)
    executor = check_executor(executor, scheduler)
    if resume and out is None:
        raise ScenarioError("resume = True: needs out, the folder of the interrupted run")
    target, scratch = output_target(out, "run")
    with reporting(progress, reps) as report:
        before = design_warnings(scenario)
        for text in before:
            report.write(f"warning: {text}")
        outputs = run_scenario(
            scenario,
            target,
            reps=reps,
            seed=seed,
            workers=workers,
            keep_patients=keep_patients,
            force=force,
            scenario_path=scenario_path,
            overrides=assignments,
            on_chunk=report.update,
            executor=executor,
            scheduler=scheduler,
            resume=resume,
            note=report.write,
            on_resume=lambda done: report.start(reps, done),
            before_publish=adam_writer(scenario, adam) if adam else None,
        )
        for text in outputs.warnings:
            if text not in before:
                report.write(f"warning: {text}")
    return run_results(outputs, scratch, scenario)


def adam_writer(scenario: Scenario, count: int) -> Any:
    """The `before_publish` step of a run with ``--adam K``: the ADaM folders of the first K
    replicates written into the run's staging folder, and listed in its manifest (``adam``;
    ``files`` lists them with every other file, so that only sim's records decide what a
    later --force replaces)."""
    from sim.adam import write_replicates

    def write(staging: Path) -> None:
        folders = write_replicates(
            staging / "patients.parquet",
            staging,
            count,
            start_date=scenario.trial.start_date,
            study_id=scenario.trial.id,
        )
        path = staging / "manifest.json"
        record = json.loads(path.read_text(encoding="utf-8"))
        record["adam"] = {
            "replicates": count,
            "cut": "each interim look held, then the final analysis (or the look that stopped)",
            "folders": [f.name for f in folders],
            "datasets": sorted(p.name for f in folders[:1] for p in f.iterdir()),
        }
        path.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")

    return write


def run_results(
    outputs: RunOutputs,
    scratch: tempfile.TemporaryDirectory | None,
    scenario: Scenario,
    extra: Mapping[str, pd.DataFrame] | None = None,
) -> Results:
    """The Results of a run just made, holding the tables and scenario it computed."""
    computed = {"summary": outputs.summary, "timeline": outputs.timeline, **(extra or {})}
    return Results(outputs.folder, scratch, computed=computed, scenario=scenario)


def sweep(
    scenario: str | Path | Mapping[str, Any] | Scenario,
    grid: Mapping[str, Sequence[Any]] | Sequence[str] | None = None,
    *,
    variants: str | Path | Sequence[Mapping[str, Any]] | None = None,
    reps: int = 2000,
    seed: int = 1,
    workers: int | None = None,
    keep_patients: int = 3,
    overrides: Overrides = None,
    progress: bool | Progress = True,
    out: str | Path | None = None,
    force: bool = False,
    executor: str | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    allow_large: bool = False,
) -> Results:
    """A scenario run at every point of a grid and/or a list of variants, each point with
    the same seed (common random numbers): the folder of `python -m sim sweep`.

    `grid` maps dotted paths to lists of values (``{"effect.hazard_ratio": [0.5, 0.6]}``;
    every combination is a point) or is a list of ``PATH=V1,V2`` strings as ``--grid`` takes
    them; `variants` is a YAML file or a list of ``{"name": ..., "set": {PATH: VALUE}}``. The
    result's `table("sweep")` is sweep.csv (one row per point); the other options are those
    of `simulate`. A sweep of more than 1,000 points, or 10 million replicates in all, is
    refused unless `allow_large` (``--allow-large``)."""
    from sim.engine.run import check_out_folder
    from sim.engine.sweep import (
        check_grid,
        check_sweep_size,
        check_variants,
        expand_points,
        read_variants,
        run_sweep,
    )
    from sim.stats.design import design_warnings

    assignments = override_strings(overrides)
    if isinstance(scenario, Scenario):
        if assignments:
            resolve_scenario(scenario, assignments)  # raises: a Scenario takes no overrides
        base_data, source, scenario_path = scenario_to_dict(scenario), "<scenario>", ""
        base = scenario
    else:
        base, base_data, source = load_scenario_data(scenario, assignments)
        scenario_path = "" if isinstance(scenario, Mapping) else source
    axes = check_grid(grid)
    if variants is None:
        listed: list[tuple[str, dict[str, Any]]] = []
    elif isinstance(variants, str | Path):
        listed = read_variants(Path(variants))
    else:
        listed = check_variants(list(variants), "variants")
    workers = check_run_options(reps, seed, workers, keep_patients)
    check_sweep_size(axes, listed, reps, allow_large)
    points = expand_points(base_data, axes, listed, source)
    if out is not None:
        check_out_folder(Path(out), force, "sweep")
    executor = check_executor(executor, scheduler)
    if resume and out is None:
        raise ScenarioError("resume = True: needs out, the folder of the interrupted sweep")
    target, scratch = output_target(out, "sweep")

    def add_figures(staging: Path) -> None:
        from sim.outputs.plots import sweep_figures, write_figures

        write_figures(sweep_figures(staging), staging / "plots")

    with reporting(progress, len(points) * reps) as report:
        for point in points:
            for text in design_warnings(point.scenario):
                report.write(f"warning: point {point.number} ({point.label}): {text}")
        table = run_sweep(
            points,
            base,
            target,
            reps=reps,
            seed=seed,
            workers=workers,
            grid=axes,
            variants=listed,
            keep_patients=keep_patients,
            force=force,
            scenario_path=scenario_path,
            overrides=assignments,
            on_chunk=report.update,
            executor=executor,
            scheduler=scheduler,
            resume=resume,
            note=report.write,
            on_resume=lambda done: report.start(len(points) * reps, done),
            before_publish=add_figures,
        )
    return Results(target, scratch, computed={"sweep": table}, scenario=base)


def forecast(
    scenario: ScenarioLike,
    observed: str | Path | Sequence[str | Path] | pd.DataFrame,
    *,
    as_of: str | dt.date | None = None,
    reps: int = 2000,
    seed: int = 1,
    workers: int | None = None,
    screening: str | Path | None = None,
    prior_months: float | None = None,
    prior_events: float | None = None,
    unblinded: bool = False,
    accrual_model: str | None = None,
    accrual_knots: Sequence[float] | None = None,
    hr_threshold: float = 1.0,
    keep_patients: int = 0,
    overrides: Overrides = None,
    progress: bool | Progress = True,
    out: str | Path | None = None,
    force: bool = False,
    executor: str | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    adam: Mapping[str, Any] | None = None,
) -> Results:
    """The rest of a trial under way from its own data (`observed`, the ``--observed``
    table, current to `as_of`), as `python -m sim forecast`: the run's tables plus `fit`,
    `forecast`, `comparison` and `observed` (and `plan/`). Options as in `simulate`.
    `observed` is a CSV or Parquet path, or a pandas DataFrame with the same columns (dates
    as ``YYYY-MM-DD`` text, `datetime.date` or Timestamps; empty where nothing happened),
    checked by the same rules; the manifest then names the temporary file it was written to
    (``.../observed-DataFrame.csv``) and the folder's observed.csv holds it as checked.

    The event forecast is blinded (one pooled PFS hazard; the arms split by the scenario's
    HR) unless `unblinded` (per-arm hazards; the table must have arms). `prior_events` is the
    planned hazards' weight in events; None: 10% of the event target (manifest
    ``forecast.prior``, docs/forecasting.md). `accrual_model` is the remaining patients'
    accrual: "plan" (the plan's ramp-up, site rates scaled by their posterior), "plan_shape",
    "poisson", "time_decay", "piecewise" (knots `accrual_knots`, months since the start date)
    fitted to the randomization dates, or "auto" (smallest AIC); None: time_decay, or the
    plan while sites are still to open; the table ``accrual`` lists every fit and the
    manifest's ``forecast.accrual`` says which was used and why. Unblinded, the
    summary has the probability of success given the data (predictive_probability_of_success,
    conditional power, P(HR < `hr_threshold`)); blinded with a design prior, the assurance
    (``forecast.success`` says how each was obtained).

    `observed` may also be CDISC ADaM data sets (ADSL + ADTTE: their folder or files,
    recognised by content; docs/adam.md): `adam` holds their options as a dict of
    `adam_map`, `paramcd` (the PFS parameter), `arm`, `strata`, `arm_values`,
    `site_values`, `stratum_values` (treatment, SITEID and stratum values -> the
    scenario's names); `as_of` defaults to ADSL's data cut DCUTDT and must equal it."""
    from sim.engine.forecast import forecast_trial
    from sim.engine.primary import check_forecast_endpoint

    scenario, scenario_path, assignments = resolve_scenario(scenario, overrides)
    check_forecast_endpoint(scenario)
    workers = check_run_options(reps, seed, workers, keep_patients)
    with observed_file(observed) as observed_path:
        observed = observed_source(observed_path, adam)
        if as_of is None:
            as_of = getattr(observed, "cut", None)
            if as_of is None:
                raise ScenarioError(
                    "as_of (--as-of): missing; give the date the observed data are current to "
                    "(YYYY-MM-DD; only ADaM data, whose ADSL has DCUTDT, have a default)"
                )
        try:
            day = as_of if isinstance(as_of, dt.date) else dt.date.fromisoformat(str(as_of))
        except ValueError:
            raise ScenarioError(f"as_of = {as_of!r}: not a date; write YYYY-MM-DD") from None
        executor = check_executor(executor, scheduler)
        if resume and out is None:
            raise ScenarioError("resume = True: needs out, the folder of the interrupted forecast")
        target, scratch = output_target(out, "forecast")

        def draw(model: TrialModel, dates: np.ndarray, path: Path) -> None:
            from sim.outputs.forecast import save_forecast_figure

            save_forecast_figure(model, seed, reps, dates, path)

        with reporting(progress, reps) as report:
            report.start(reps, 0)
            outputs = forecast_trial(
                scenario,
                observed,
                day,
                target,
                reps=reps,
                seed=seed,
                workers=workers,
                screening=Path(screening) if screening is not None else None,
                prior_months=prior_months,
                prior_events=prior_events,
                unblinded=unblinded,
                accrual_model=accrual_model,
                accrual_knots=None if accrual_knots is None else tuple(accrual_knots),
                hr_threshold=hr_threshold,
                keep_patients=keep_patients,
                force=force,
                scenario_path=scenario_path,
                overrides=assignments,
                on_chunk=report.update,
                executor=executor,
                scheduler=scheduler,
                resume=resume,
                figure=draw,
            )
    tables = {"forecast": outputs.forecast, "comparison": outputs.comparison}
    return run_results(outputs.run, scratch, scenario, tables)


OBSERVED_FRAME = "observed-DataFrame.csv"  # an observed table given as a frame, written


@contextmanager
def observed_file(
    observed: str | Path | Sequence[str | Path] | pd.DataFrame,
) -> Iterator[str | Path | Sequence[str | Path]]:
    """The observed data as `observed_source` takes them: `observed` itself (a path, or
    ADaM files), or a DataFrame written to a temporary CSV named `OBSERVED_FRAME` (read back
    as text, so a frame is checked by the same rules, row by row, as the file
    `python -m sim forecast --observed` reads)."""
    if not isinstance(observed, pd.DataFrame):
        if isinstance(observed, Mapping) or not isinstance(observed, str | Path | Sequence):
            as_path(
                observed,
                "observed",
                "a CSV or Parquet path, ADaM files, or a pandas DataFrame (one row per "
                "patient, the --observed columns)",
            )
        yield observed
        return
    with tempfile.TemporaryDirectory(prefix="sim-observed-") as folder:
        path = Path(folder) / OBSERVED_FRAME
        frame = observed.copy()
        for column in frame.columns:  # dates as YYYY-MM-DD, whatever their type
            if pd.api.types.is_datetime64_any_dtype(frame[column]):
                frame[column] = frame[column].dt.strftime("%Y-%m-%d").fillna("")
        frame.to_csv(path, index=False)
        yield path


def response_analysis(
    data: Any, conf_level: float, described: str, tests: str | None
) -> pd.DataFrame:
    """`analyze` of an ADRS parameter: `sim.stats.final_analysis.analyze_response`, with its
    printed form."""
    from sim.stats.final_analysis import analyze_response, printed_analysis

    if tests:
        raise ScenarioError(
            f"tests = {tests!r}: time-to-event tests; a response parameter gets the response "
            "rates, their difference and the CMH test (leave tests out)"
        )
    table = analyze_response(data, conf_level)
    header = (
        f"{len(data.arm)} patients, {int(data.responder.sum())} responders (CR or PR); control"
        f" = {data.arm_labels[0]!r}, experimental = {data.arm_labels[1]!r}"
        + (f"; strata {list(data.strata_labels)}" if data.stratum is not None else "")
    )
    footer = f"intervals at the {conf_level:g} level; CMH z > 0: the experimental arm responds more"
    body = printed_analysis(table, "")
    table.attrs["printed"] = "\n".join([described, header, body, footer])
    return table


ADAM_KEYS = (
    "adam_map",
    "paramcd",
    "arm",
    "strata",
    "arm_values",
    "site_values",
    "stratum_values",
    "unit",
)


def observed_source(
    observed: str | Path | Sequence[str | Path], adam: Mapping[str, Any] | None
) -> Any:
    """The forecast's observed data: the path of the project's table, or ADaM data sets as
    a `sim.adam.inputs.AdamObserved` (read and checked now, before anything is written)."""
    from sim.adam.inputs import AdamObserved, is_adam

    if adam is not None and not isinstance(adam, Mapping):
        raise ScenarioError(f"adam = {adam!r}: must be a dict, e.g. {{'paramcd': 'PFS'}}")
    adam = dict(adam or {})
    unknown = sorted(set(adam) - set(ADAM_KEYS))
    if unknown:
        raise ScenarioError(
            f"adam: unknown option(s) {', '.join(unknown)}; the options are {', '.join(ADAM_KEYS)}"
        )
    source = observed_paths(observed)
    if not is_adam(source, adam.get("adam_map")):
        if adam:
            raise ScenarioError(
                f"adam {sorted(adam)}: {observed} is not ADaM data (no USUBJID); these "
                "options are for ADSL + ADTTE"
            )
        if isinstance(source, list):
            raise ScenarioError(
                f"observed = {observed!r}: a list of paths is for ADaM data sets (ADSL and "
                "ADTTE, with USUBJID); give the one --observed table's path"
            )
        return source
    options = adam_options(
        adam.get("adam_map"),
        adam.get("paramcd", "PFS"),
        adam.get("arm"),
        adam.get("strata", "auto"),
        adam.get("arm_values"),
        adam.get("unit"),
        adam.get("site_values"),
        adam.get("stratum_values"),
    )
    return AdamObserved(source, options)


def export_observed(
    run: str | Path, *, as_of: str | dt.date, replicate: int = 0, blinded: bool = False
) -> pd.DataFrame:
    """The ``--observed`` table of a simulated trial (replicate `replicate` of the run
    folder's patients.parquet) as it stood on `as_of`: `python -m sim export-observed`."""
    from sim.engine.forecast import observed_at

    try:
        day = as_of if isinstance(as_of, dt.date) else dt.date.fromisoformat(str(as_of))
    except ValueError:
        raise ScenarioError(f"as_of = {as_of!r}: not a date; write YYYY-MM-DD") from None
    return observed_at(as_path(run, "run", "the path of a run folder"), replicate, day, blinded)


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
    def flagged(self) -> pd.DataFrame:
        """The rows of `metrics` whose difference is beyond noise (``flag``)."""
        return self.metrics[self.metrics["flag"]]


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
        check_out_file(Path(out))
    loaded = load_runs([folder_of(run) for run in runs])
    metrics, timeline = compare_summaries(loaded), compare_timelines(loaded)
    fields = differing_fields(loaded)
    if out is None:
        return Comparison(loaded, metrics, timeline, fields)
    written = write_comparison(Path(out), metrics, timeline, fields, force=force)
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
    return save_figures(lambda: folder_figures(folder), Path(out), force)[0]


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
    return write_report(folder, Path(out) if out is not None else None, force=force, pdf=pdf)[0]


def read_results(folder: str | Path) -> Results:
    """The results of a run folder written by `python -m sim run` or `Results.save`."""
    from sim.engine.results import read_run

    folder = as_path(folder, "folder", "the path of a run folder")
    read_run(folder)
    return Results(folder)


def design(scenario: ScenarioLike) -> pd.DataFrame:
    """Closed-form design of a scenario: the table `python -m sim design` prints (with
    analysis.looks, the group-sequential rows too; with a prior, its assurance rows)."""
    from sim.stats.design import design_scenario

    scenario = resolve_scenario(scenario, None)[0]
    table = design_scenario(scenario)
    if scenario.analysis.looks:
        from sim.stats.boundaries import design_rows

        extra = pd.DataFrame(design_rows(scenario), columns=list(table.columns))
        table = pd.concat([table, extra], ignore_index=True)
    if scenario.analysis.triggers is not None:  # when each analysis trigger is expected
        from sim.stats.trigger_design import trigger_design_rows

        extra = pd.DataFrame(trigger_design_rows(scenario), columns=list(table.columns))
        table = pd.concat([table, extra], ignore_index=True)
    if scenario.prior is not None:  # assurance and its parts under the design prior
        from sim.stats.assurance import prior_design_rows

        extra = pd.DataFrame(prior_design_rows(scenario), columns=list(table.columns))
        table = pd.concat([table, extra], ignore_index=True)
    return table


def boundaries(scenario: ScenarioLike) -> pd.DataFrame:
    """Group-sequential boundaries of a scenario with analysis.looks: boundaries.csv of
    `python -m sim design --out` (one row per look)."""
    scenario = resolve_scenario(scenario, None)[0]
    if not scenario.analysis.looks:
        raise ScenarioError(
            "analysis.looks is empty: boundaries need a group-sequential "
            "design, e.g. looks: [{events: 35}, {events: 70}]"
        )
    from sim.stats.boundaries import boundaries_table

    return boundaries_table(scenario)


AnalysisSource = pd.DataFrame | str | Path | Sequence[str | Path]


def adam_options(
    adam_map: Mapping[str, str] | None,
    paramcd: str,
    arm: str | None,
    strata: str | None,
    arm_values: Mapping[str, str] | None = None,
    time_unit: str | None = None,
    site_values: Mapping[str, str] | None = None,
    stratum_values: Mapping[str, str] | None = None,
) -> Any:
    """The `sim.adam.inputs.AdamOptions` of the ADaM keywords of `analyze` and `forecast`."""
    from sim.adam.inputs import AUTO, AdamOptions

    for name, value in (
        ("adam_map", adam_map),
        ("arm_values", arm_values),
        ("site_values", site_values),
        ("stratum_values", stratum_values),
    ):
        if value is not None and not isinstance(value, Mapping):
            raise ScenarioError(
                f"{name} = {value!r}: must be a dict, e.g. "
                + ("{'TRT01P': 'ARM'}" if name == "adam_map" else "{'Chemo': 'control'}")
            )
    if not isinstance(paramcd, str) or not paramcd.strip():
        raise ScenarioError(f"paramcd = {paramcd!r}: name the ADTTE parameter, e.g. 'PFS' or 'OS'")
    return AdamOptions(
        mapping=dict(adam_map or {}),
        paramcd=paramcd.strip(),
        arm=(arm or "TRT01P").upper(),
        strata=AUTO if strata == AUTO else (strata.upper() if strata else None),
        arm_values=dict(arm_values) if arm_values is not None else None,
        site_values=dict(site_values) if site_values is not None else None,
        stratum_values=dict(stratum_values) if stratum_values is not None else None,
        unit=time_unit,
    )


def analysis_input(
    data: AnalysisSource,
    *,
    time: str | None = None,
    event: str | None = None,
    arm: str | None = None,
    strata: str | None = "auto",
    control: str | None = None,
    replicate: int | None = None,
    time_unit: str | None = None,
    paramcd: str = "PFS",
    adam_map: Mapping[str, str] | None = None,
    arm_values: Mapping[str, str] | None = None,
) -> tuple[Any, str, str]:
    """(the checked `PatientData`, the time unit of its times, a line saying what was read)
    of `analyze`'s input: a patient table (a DataFrame, or a CSV or Parquet file) or ADaM
    data sets (their folder or files; see `analyze`)."""
    from sim.adam.inputs import AUTO, adam_analysis_table, is_adam
    from sim.stats.final_analysis import TIME_UNITS, patients_from_frame, responses_from_frame

    if time_unit is not None and time_unit not in TIME_UNITS:
        raise ScenarioError(f"time_unit = {time_unit!r}: must be one of {sorted(TIME_UNITS)}")
    if isinstance(data, pd.DataFrame):
        frame, source, adam = data, "the table", False
    elif isinstance(data, str | Path) or (
        isinstance(data, Sequence) and all(isinstance(d, str | Path) for d in data)
    ):
        adam = is_adam(data, adam_map)
        frame, source = None, str(data)
    else:
        raise ScenarioError(
            f"data: a {type(data).__name__}, not a pandas DataFrame, a file or a folder "
            "(read the table with pd.read_csv or pd.read_parquet, or give the path of a "
            "table or of ADaM data sets)"
        )
    if adam:
        given = [n for n, v in (("time", time), ("event", event), ("replicate", replicate)) if v]
        if given:
            raise ScenarioError(
                f"{', '.join(given)}: not for ADaM data (the time is AVAL, the event CNSR = 0, "
                "the parameter PARAMCD); name variables called otherwise with adam_map "
                "(--adam-map), the parameter with paramcd (--paramcd)"
            )
        options = adam_options(adam_map, paramcd, arm, strata, arm_values, time_unit)
        table, stratum, described = adam_analysis_table(data, options)
        control = control or ("control" if arm_values else None)
        if "responder" in table.columns:  # an ADRS parameter (BOR)
            responses = responses_from_frame(table, "arm", stratum, control, described)
            return responses, "days", described
        patients = patients_from_frame(
            table, "time", "event", "arm", stratum, control, source=described
        )
        return patients, "days", described  # AVAL in days (the reader converts AVALU)
    if adam_map or arm_values or paramcd != "PFS":
        raise ScenarioError(
            f"{source}: not ADaM data (no USUBJID): adam_map, arm_values and paramcd are for "
            "ADSL + ADTTE; for a patient table name its columns with time, event, arm"
        )
    if frame is None:
        from sim.stats.final_analysis import read_patient_table

        frame = read_patient_table(Path(source))
    unit = time_unit or "days"
    if strata == AUTO:
        strata = "stratum" if "stratum" in frame.columns else None
    patients = patients_from_frame(
        frame,
        time or "time",
        event or "event",
        arm or "arm",
        strata,
        control,
        replicate,
        source=source,
    )
    return patients, unit, f"{source}: times read in {unit}"


def analyze(
    data: AnalysisSource,
    *,
    time: str | None = None,
    event: str | None = None,
    arm: str | None = None,
    strata: str | None = "auto",
    control: str | None = None,
    replicate: int | None = None,
    conf_level: float = 0.95,
    conf_type: str = "log",
    time_unit: str | None = None,
    tests: str | None = None,
    paramcd: str = "PFS",
    adam_map: Mapping[str, str] | None = None,
    arm_values: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """The final analysis, as `python -m sim analyze` does it: a tidy table with columns
    test, stratified, arm, estimate, se, z, p_one_sided, p_two_sided, ci_low, ci_high, n,
    events, unit (`sim.stats.final_analysis.analyze_patients`; with `tests`, e.g.
    ``"logrank,fh:0:1,maxcombo"``, one row per test and stratification instead); its
    ``attrs["printed"]`` is the form the command prints for people.

    `data`: a patient table (a DataFrame, or a CSV or Parquet file: columns `time`, `event`,
    `arm`, default time, event, arm; `strata` "auto" takes `stratum` when present, None
    none), or ADaM data sets (ADSL + ADTTE: their folder, e.g. a ``rep000_final`` folder
    of ``run --adam``, or their files), recognised by content: the time is AVAL, the event
    CNSR = 0, the parameter `paramcd`, the arm `arm` (default TRT01P), the strata `strata`
    ("auto": STRATA1R when present); `adam_map` names variables called otherwise
    (standard -> yours, e.g. ``{"TRT01P": "ARM"}``), `arm_values` maps treatments to
    control and experimental. Times are read in `time_unit` (days or months; default days,
    or AVALU for ADaM) and medians reported in months; times that look like the other unit
    give a `TimeUnitWarning` naming both."""
    import warnings

    from sim.stats.analysis import CONF_TYPES
    from sim.stats.final_analysis import (
        TIME_UNITS,
        ResponseData,
        TimeUnitWarning,
        analyze_patients,
        analyze_tests,
        parse_tests,
        printed_analysis,
        time_unit_doubt,
    )

    if not 0 < conf_level < 1:
        raise ScenarioError(f"conf_level = {conf_level}: must be in (0, 1), e.g. 0.95")
    if conf_type not in CONF_TYPES:
        raise ScenarioError(f"conf_type = {conf_type!r}: must be one of {list(CONF_TYPES)}")
    specs = parse_tests(tests) if tests else None
    patients, unit, described = analysis_input(
        data,
        time=time,
        event=event,
        arm=arm,
        strata=strata,
        control=control,
        replicate=replicate,
        time_unit=time_unit,
        paramcd=paramcd,
        adam_map=adam_map,
        arm_values=arm_values,
    )
    if isinstance(patients, ResponseData):
        return response_analysis(patients, conf_level, described, tests)
    column = "AVAL" if described.startswith("ADaM") else (time or "time")
    doubt = time_unit_doubt(patients.time, unit, column)
    if doubt is not None:
        warnings.warn(doubt, TimeUnitWarning, stacklevel=2)
    if specs is not None:
        table = analyze_tests(patients, specs, unit)
    else:
        table = analyze_patients(patients, conf_level, conf_type, TIME_UNITS[unit])
    header = (
        f"{len(patients.time)} patients, {int(patients.event.sum())} events; control = "
        f"{patients.arm_labels[0]!r}, experimental = {patients.arm_labels[1]!r}"
        + (f"; strata {list(patients.strata_labels)}" if patients.stratum is not None else "")
        + f"; times read in {unit}, shown in months"
    )
    footer = (
        f"log-rank estimate: O - E, observed minus expected events of the experimental arm; "
        f"KM: {conf_type} band, {conf_level:g} level; NA: not reached"
    )
    body = printed_analysis(table, None if specs is not None else conf_type)
    lines = ([described] if described.startswith("ADaM") else []) + [header, body]
    table.attrs["printed"] = "\n".join([*lines, footer])
    return table
