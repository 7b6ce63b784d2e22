"""Monte Carlo runs: `simulate` (``python -m sim run``) and `sweep` (``python -m sim sweep``),
with the checks of the options they share."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from sim.api.loading import (
    Overrides,
    ScenarioLike,
    as_path,
    load_scenario_data,
    override_strings,
    resolve_scenario,
)
from sim.api.results import Progress, Results, reporting
from sim.scenario import Scenario, ScenarioError, scenario_to_dict

if TYPE_CHECKING:
    from sim.engine.run import RunOutputs


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
        return as_path(out, "out", "the path of a new folder"), None
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

    scenario, scenario_path, assignments = resolve_scenario(scenario, overrides)
    workers = check_run_options(reps, seed, workers, keep_patients)
    check_count("adam", adam, 0)
    keep_patients = max(keep_patients, adam)
    if out is not None:
        check_out_folder(as_path(out, "out", "the path of a new folder"), force)
    executor = check_executor(executor, scheduler)
    if resume and out is None:
        raise ScenarioError("resume = True: needs out, the folder of the interrupted run")
    target, scratch = output_target(out, "run")
    with reporting(progress, reps) as report:
        before: list[str] = []

        def warn_design() -> None:  # once the workers are computing
            from sim.stats.design import design_warnings

            before.extend(design_warnings(scenario))
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
            on_start=warn_design,
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
        check_out_folder(as_path(out, "out", "the path of a new folder"), force, "sweep")
    executor = check_executor(executor, scheduler)
    if resume and out is None:
        raise ScenarioError("resume = True: needs out, the folder of the interrupted sweep")
    target, scratch = output_target(out, "sweep")

    def add_figures(staging: Path) -> None:
        from sim.outputs.plots import sweep_figures, write_figures

        write_figures(sweep_figures(staging), staging / "plots")

    def prepare_figures() -> None:
        # matplotlib and seaborn (about 0.55 s) imported while the workers compute, not
        # once the last point is in
        from sim.outputs.plots import theme

        theme()

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
            on_start=prepare_figures,
        )
    return Results(target, scratch, computed={"sweep": table}, scenario=base)
