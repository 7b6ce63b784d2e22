"""The Python API: what the command line does, for notebooks and scripts.

    import sim
    scenario = sim.load_scenario("scenarios/nct07271602.yaml",
                                 overrides={"effect.hazard_ratio": 0.7})
    results = sim.simulate(scenario, reps=2000, seed=1, workers=2)
    results.summary                         # DataFrame, as summary.csv
    results.save("results/hr07")            # the folder `python -m sim run` writes
    sim.read_results("results/hr07")        # the same object back

Every function raises `sim.ScenarioError` (a ValueError) with the same one-line message the
command line prints, for bad scenarios, overrides, arguments and tables alike.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from sim.commands.analyze import analyze_patients, patients_from_frame
from sim.commands.run import check_out_folder, run_scenario
from sim.engine.executors import default_workers
from sim.engine.results import read_run
from sim.scenario import Scenario, ScenarioError, parse_scenario, read_scenario_yaml
from sim.scenario import load_scenario as load_scenario_file
from sim.stats.design import design_scenario

__all__ = [
    "Results",
    "ScenarioError",
    "analyze",
    "boundaries",
    "design",
    "forecast",
    "load_scenario",
    "read_results",
    "simulate",
]


def load_scenario(
    path: str | Path | Mapping[str, Any],
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
) -> Scenario:
    """A validated scenario from a YAML file (or an already-parsed mapping), with overrides.

    `overrides` maps dotted paths to values (``{"effect.hazard_ratio": 0.7}``, values as
    Python objects) or is a list of ``PATH=VALUE`` strings as ``--set`` takes them.
    """
    assignments = override_strings(overrides)
    if isinstance(path, Mapping):
        data = json.loads(json.dumps(dict(path), default=str))  # a deep, plain copy
        from sim.scenario import apply_override

        for assignment in assignments:
            apply_override(data, assignment)
        return parse_scenario(data, "<mapping>")
    read_scenario_yaml(path)  # the file's own errors first, named by its path
    return load_scenario_file(path, assignments)


def override_strings(overrides: Mapping[str, Any] | Sequence[str] | None) -> list[str]:
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


class Results:
    """The tables of one Monte Carlo run, read from its folder on first use.

    `summary`, `timeline`, `replicates` and `manifest` are attributes; `table(name)` reads any
    other table of the folder (`supply`, `resources`, `monthly`, `patients`, ...);
    `tables` lists them. A result of `simulate` lives in a temporary folder until `save`.
    """

    def __init__(self, folder: Path, scratch: tempfile.TemporaryDirectory | None = None):
        self.folder = Path(folder)
        self._scratch = scratch  # keeps the temporary folder alive as long as the object

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
        return parse_scenario(self.manifest["scenario"], f"{self.folder}/manifest.json")

    @property
    def tables(self) -> list[str]:
        return sorted(
            p.stem
            for p in self.folder.iterdir()
            if p.suffix in (".csv", ".parquet") and p.is_file()
        )

    def table(self, name: str) -> pd.DataFrame:
        for suffix, reader in ((".csv", pd.read_csv), (".parquet", pd.read_parquet)):
            path = self.folder / f"{name}{suffix}"
            if path.is_file():
                return reader(path)
        raise ScenarioError(f"table {name!r}: not in {self.folder} (it has {self.tables})")

    def save(self, folder: str | Path, force: bool = False) -> Path:
        """Write the run folder `python -m sim run` writes; an existing folder is replaced
        only with `force` (as `--force` on the command line)."""
        folder = Path(folder)
        if folder.resolve() == self.folder.resolve():
            return folder
        check_out_folder(folder, force)
        from sim.engine.folders import OWNER, output_folder

        with output_folder(folder, force) as staging:
            shutil.copytree(
                self.folder, staging, dirs_exist_ok=True, ignore=shutil.ignore_patterns(OWNER)
            )
        return folder


def simulate(
    scenario: Scenario | str | Path,
    reps: int = 2000,
    seed: int = 1,
    workers: int | None = None,
    keep_patients: int = 3,
    progress: bool = True,
    out: str | Path | None = None,
    force: bool = False,
    executor: str | None = None,
    scheduler: str | None = None,
    resume: bool = False,
) -> Results:
    """Monte Carlo run of a scenario: the tables of `python -m sim run`, same seed, same
    numbers. With `out` the folder is written there (as ``--out``); otherwise it is kept in a
    temporary folder until `Results.save`. A progress bar shows in terminals and notebooks.
    `executor`, `scheduler` and `resume` are ``--executor`` (``"local"`` or ``"dask"``),
    ``--scheduler`` (default: dask with a scheduler, else local) and ``--resume`` (needs
    `out`)."""
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    check_count("reps", reps, 1)
    check_count("seed", seed, 0)
    check_count("keep_patients", keep_patients, 0)
    if workers is not None:
        check_count("workers", workers, 1)
    workers = workers or default_workers()
    if executor not in (None, "local", "dask"):
        raise ScenarioError(f"executor = {executor!r}: must be 'local' or 'dask'")
    if scheduler and executor == "local":
        raise ScenarioError(
            f"scheduler = {scheduler!r}: needs executor='dask' (or leave executor out)"
        )
    executor = executor or ("dask" if scheduler else "local")
    if resume and out is None:
        raise ScenarioError("resume = True: needs out, the folder of the interrupted run")
    scratch = None
    if out is None:
        scratch = tempfile.TemporaryDirectory(prefix="sim-results-")
        target = Path(scratch.name) / "run"
    else:
        target = Path(out)
    from tqdm.auto import tqdm

    with tqdm(total=reps, unit="rep", desc="replicates", disable=not progress) as bar:
        run_scenario(
            scenario,
            target,
            reps=reps,
            seed=seed,
            workers=workers,
            keep_patients=keep_patients,
            force=force,
            on_chunk=bar.update,
            executor=executor,
            scheduler=scheduler,
            resume=resume,
        )
    return Results(target, scratch)


def forecast(
    scenario: Scenario | str | Path,
    observed: str | Path,
    as_of: str | Any,
    reps: int = 2000,
    seed: int = 1,
    workers: int | None = None,
    screening: str | Path | None = None,
    prior_months: float | None = None,
    prior_events: float | None = None,
    progress: bool = True,
    out: str | Path | None = None,
    force: bool = False,
) -> Results:
    """The rest of a trial under way from its own data, as `python -m sim forecast`: the
    run's tables plus `fit`, `forecast`, `comparison` and `observed` (and `plan/`)."""
    import datetime as dt

    from sim.commands.forecast import forecast_trial
    from sim.engine.history import DEFAULT_PRIOR_EVENTS

    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    check_count("reps", reps, 1)
    check_count("seed", seed, 0)
    if workers is not None:
        check_count("workers", workers, 1)
    try:
        day = as_of if isinstance(as_of, dt.date) else dt.date.fromisoformat(str(as_of))
    except ValueError:
        raise ScenarioError(f"as_of = {as_of!r}: not a date; write YYYY-MM-DD") from None
    scratch = None
    if out is None:
        scratch = tempfile.TemporaryDirectory(prefix="sim-results-")
        target = Path(scratch.name) / "forecast"
    else:
        target = Path(out)
    from tqdm.auto import tqdm

    with tqdm(total=reps, unit="rep", desc="replicates", disable=not progress) as bar:
        forecast_trial(
            scenario,
            Path(observed),
            day,
            target,
            reps=reps,
            seed=seed,
            workers=workers or default_workers(),
            screening=Path(screening) if screening is not None else None,
            prior_months=prior_months,
            prior_events=DEFAULT_PRIOR_EVENTS if prior_events is None else prior_events,
            force=force,
            on_chunk=bar.update,
        )
    return Results(target, scratch)


def check_count(name: str, value: Any, least: int) -> None:
    from sim.commands.cli import MAX_REPS, MAX_SEED

    most = MAX_SEED if name == "seed" else MAX_REPS
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= most:
        raise ScenarioError(
            f"{name} = {value!r}: must be a whole number from {least:,} to "
            f"{most:,} (e.g. {2000 if name == 'reps' else max(least, 1)})"
        )


def read_results(folder: str | Path) -> Results:
    """The results of a run folder written by `python -m sim run` or `Results.save`."""
    read_run(Path(folder))
    return Results(Path(folder))


def design(scenario: Scenario | str | Path) -> pd.DataFrame:
    """Closed-form design of a scenario: the table `python -m sim design` prints (with
    analysis.looks, the group-sequential rows too)."""
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    table = design_scenario(scenario)
    if scenario.analysis.looks:
        from sim.stats.boundaries import design_rows

        extra = pd.DataFrame(design_rows(scenario), columns=list(table.columns))
        table = pd.concat([table, extra], ignore_index=True)
    return table


def boundaries(scenario: Scenario | str | Path) -> pd.DataFrame:
    """Group-sequential boundaries of a scenario with analysis.looks: boundaries.csv of
    `python -m sim design --out` (one row per look)."""
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if not scenario.analysis.looks:
        raise ScenarioError(
            "analysis.looks is empty: boundaries need a group-sequential "
            "design, e.g. looks: [{events: 35}, {events: 70}]"
        )
    from sim.stats.boundaries import boundaries_table

    return boundaries_table(scenario)


def analyze(
    frame: pd.DataFrame,
    time: str = "time",
    event: str = "event",
    arm: str = "arm",
    strata: str | None = None,
    control: str | None = None,
    replicate: int | None = None,
    conf_level: float = 0.95,
) -> pd.DataFrame:
    """The final analysis of a patient table: the rows `python -m sim analyze` prints."""
    if not isinstance(frame, pd.DataFrame):
        raise ScenarioError(
            f"frame: a {type(frame).__name__}, not a pandas DataFrame "
            "(read the table with pd.read_csv or pd.read_parquet first)"
        )
    if not 0 < conf_level < 1:
        raise ScenarioError(f"conf_level = {conf_level}: must be in (0, 1), e.g. 0.95")
    data = patients_from_frame(frame, time, event, arm, strata, control, replicate)
    return analyze_patients(data, conf_level)
