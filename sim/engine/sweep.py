"""Sweeps: one scenario run at every point of a grid (or a list of variants).

Every point runs with the same seed and replicate count, so replicate r of every point draws
the same enrollment, randomization and latent-outcome random numbers (the stream layout of
`sim.engine.chunk`): differences between points are differences of the scenario, not noise (common
random numbers). Every point's scenario is validated before any point runs, so a bad grid
value fails fast and writes nothing. The sweep folder holds one run folder per point (as
`python -m sim run` writes it), ``sweep.csv`` (one row per point: its parameters, then every
summary metric and its MC standard error, ``<metric>``, ``<metric>_mc_se``; a parameter's
column is typed: numbers as numbers, dates as ISO dates, nested values as JSON text, a missing
value blank), ``sweep_long.csv`` (the parameters in long form: ``point, parameter, value``),
``manifest.json`` and ``plots/``. Like a run, it is written whole or not at all. All (point,
chunk) tasks go to one executor as one pool of work, and an interrupted sweep continues with
``--resume``. Points that differ only in their analysis (alpha, the event target, the lag,
the tests) see the same clinic: a chunk of theirs is one task, whose SimPy clinic runs once
per replicate and is counted up to each point's own final analysis
(`sim.engine.chunk.simulate_chunks`), with the tables of one run per point.

`sim.sweep` takes the grid as ``--grid`` strings (`parse_grids`) or as a mapping
(`check_grid`), the variants as a file (`read_variants`) or a list (`check_variants`); the
figures of ``plots/`` are drawn by the caller's `before_publish` (the engine draws none).
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import itertools
import json
import math
import re
import sys
import time
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml
from pydantic import BaseModel

from sim.scenario import (
    Scenario,
    ScenarioError,
    apply_override,
    load_yaml_file,
    parse_scenario,
    parse_yaml,
    scenario_to_dict,
)
from sim.scenario.overrides import value_at
from sim.storage.exact_csv import read_exact_csv

if TYPE_CHECKING:
    from sim.engine.executors import PointTables


@dataclass(frozen=True)
class SweepPoint:
    """One point of a sweep: its folder name, a label for tables and plots, its settings."""

    number: int  # 1-based
    name: str  # folder name, e.g. "01_hazard_ratio-0.5"
    label: str  # e.g. "hazard_ratio=0.5"
    params: dict[str, Any]  # dotted path -> value, as given
    overrides: list[str]  # the same as --set strings
    scenario: Scenario = field(repr=False)
    variant: str = ""


# --- the grid ------------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """`value` with numpy numbers and arrays as Python's (`tolist`), in lists and mappings
    too: a notebook's np.float64(0.7) or np.linspace(...) is YAML like 0.7."""
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if hasattr(value, "tolist") and type(value).__module__ == "numpy":
        return plain(value.tolist())
    return value


def yaml_text(value: Any) -> str:
    """A value as one line of YAML that reads back as the same value (for --set strings);
    numpy numbers as Python's (`plain`); a value YAML cannot write is a ScenarioError."""
    try:
        text = yaml.safe_dump(plain(value), default_flow_style=True, width=10**6)
    except yaml.YAMLError as error:
        raise ScenarioError(
            f"value {value!r} ({type(value).__name__}): not a number, text, list or mapping "
            "that YAML can write; give a plain Python value, e.g. 0.7"
        ) from error
    return text.removesuffix("...\n").strip()


def parse_grid(text: str) -> tuple[str, list[Any]]:
    """``PATH=V1,V2,...`` -> (PATH, [V1, V2, ...]); values are YAML (``[4, 6]`` is one value)."""
    example = "e.g. --grid effect.hazard_ratio=0.5,0.6,0.7"
    if "=" not in text:
        raise ScenarioError(f"--grid {text!r}: must be PATH=V1,V2,... ({example})")
    path, raw = (part.strip() for part in text.split("=", 1))
    check_schema_path(path, "--grid")
    if not raw:
        raise ScenarioError(
            f"--grid {path}= : the list of values is empty: give at least one value ({example})"
        )
    try:
        values = parse_yaml(f"[{raw}]", f"--grid {path}={raw}")
    except ScenarioError as exc:
        problem = str(exc).removeprefix(f"--grid {path}={raw}: ")
        raise ScenarioError(
            f"--grid {path}={raw}: the values are not a comma-separated YAML list ({problem}); "
            f"write them as {path}=0.5,0.6 (lists in brackets: [4, 6],[4])"
        ) from exc
    if any(v is None for v in values):
        raise ScenarioError(
            f"--grid {path}={raw}: a value is empty (two commas in a row or a trailing "
            f"comma); remove it"
        )
    repeated = [yaml_text(v) for v in values]
    if len(set(repeated)) < len(repeated):
        raise ScenarioError(
            f"--grid {path}={raw}: a value is repeated, which would run the same point twice; "
            "list each value once"
        )
    return path, values


def parse_grids(texts: list[str]) -> dict[str, list[Any]]:
    grid: dict[str, list[Any]] = {}
    for text in texts:
        path, values = parse_grid(text)
        if path in grid:
            raise ScenarioError(
                f"--grid {path}: given twice; put all its values in one --grid {path}=V1,V2,..."
            )
        grid[path] = values
    return grid


def check_grid(
    grid: Mapping[str, Sequence[Any]] | Sequence[str] | None, flag: str = "grid"
) -> dict[str, list[Any]]:
    """A grid as `sim.sweep` takes it: ``PATH=V1,V2,...`` strings as ``--grid`` takes them
    (`parse_grids`), or a mapping of dotted paths to lists of values, checked alike: every
    path a field of the schema, each a non-empty list of distinct values."""
    if grid is None:
        return {}
    if isinstance(grid, str):
        raise ScenarioError(
            f"{flag} {grid!r}: give a mapping or a list of PATH=V1,V2,... strings, "
            "e.g. {'effect.hazard_ratio': [0.5, 0.6, 0.7]}"
        )
    if not isinstance(grid, Mapping):
        return parse_grids([str(item) for item in grid])
    checked: dict[str, list[Any]] = {}
    for path, values in grid.items():
        check_schema_path(str(path), flag)
        if isinstance(values, str | bytes) or not isinstance(values, Sequence) or not values:
            raise ScenarioError(
                f"{flag} {path}: {values!r} must be a non-empty list of values, "
                "e.g. {'effect.hazard_ratio': [0.5, 0.6, 0.7]}"
            )
        if any(v is None for v in values):
            raise ScenarioError(f"{flag} {path}: a value is None; remove it")
        shown = [yaml_text(v) for v in values]
        if len(set(shown)) < len(shown):
            raise ScenarioError(
                f"{flag} {path}: a value is repeated, which would run the same point twice; "
                "list each value once"
            )
        checked[str(path)] = list(values)
    return checked


def unwrap_type(annotation: Any) -> Any:
    """Strip Annotated[...] and `X | None` down to the type that says what may follow."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = args[0]
        else:
            return annotation


def check_schema_path(path: str, flag: str) -> None:
    """Raise ScenarioError unless the dotted `path` names a field of the scenario schema.

    Table rows are numbers (``enrollment.screening_rate.3.per_month``); dict keys (the
    strata) are free. Whether a row exists is checked later, against the scenario file.
    """
    node: Any = Scenario
    keys = path.split(".")
    for i, key in enumerate(keys):
        node = unwrap_type(node)
        where = ".".join(keys[: i + 1])
        if isinstance(node, type) and issubclass(node, BaseModel):
            fields = list(node.model_fields)
            if key not in fields:
                close = difflib.get_close_matches(key, fields, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                parent = ".".join(keys[:i]) or "the scenario"
                raise ScenarioError(
                    f"{flag} {path}: {where!r} is not a field of the scenario schema; "
                    f"{hint}fields of {parent}: {', '.join(fields)}"
                )
            node = node.model_fields[key].annotation
        elif typing.get_origin(node) is tuple:
            if not key.isdigit():
                raise ScenarioError(
                    f"{flag} {path}: {'.'.join(keys[:i])} is a table, so {key!r} must be a "
                    f"row number (e.g. {'.'.join(keys[:i])}.0)"
                )
            node = typing.get_args(node)[0]
        elif typing.get_origin(node) is dict:
            node = typing.get_args(node)[1]
        else:
            raise ScenarioError(
                f"{flag} {path}: {'.'.join(keys[:i])} is a value, not a block, so it has no "
                f"field {key!r}; stop the path at {'.'.join(keys[:i])}"
            )


# --- variants ------------------------------------------------------------------------------


VARIANTS_EXAMPLE = (
    "e.g.\n- name: slow accrual\n  set: {enrollment.sites.0.screening_rate.3.per_month: 6}"
)


def read_variants(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """A sweep YAML: a list of ``{name: ..., set: {path: value}}`` -> [(name, settings)]."""
    return check_variants(load_yaml_file(path, f"--variants {path}"), f"--variants {path}")


def check_variants(data: Any, label: str) -> list[tuple[str, dict[str, Any]]]:
    """Variants (a list of ``{name: ..., set: {path: value}}``, as parsed from YAML) checked:
    distinct names, settings whose paths are fields of the schema; `label` names the source
    in messages (``--variants FILE``)."""
    example = VARIANTS_EXAMPLE
    if not isinstance(data, list) or not data:
        raise ScenarioError(f"{label}: must be a non-empty YAML list of variants, {example}")
    variants, names = [], set()
    for i, item in enumerate(data):
        where = f"{label}: item {i}"
        if not isinstance(item, dict) or set(item) - {"name", "set"} or "name" not in item:
            raise ScenarioError(
                f"{where} = {item!r}: each item needs exactly `name` and `set`, {example}"
            )
        name, settings = str(item["name"]), item.get("set") or {}
        if not isinstance(settings, dict):
            raise ScenarioError(
                f"{where} ({name}): set = {settings!r} must be a mapping of "
                "dotted paths to values, e.g. {effect.hazard_ratio: 0.79}"
            )
        if name in names:
            raise ScenarioError(f"{where}: name {name!r} is used twice; give each a new name")
        names.add(name)
        for key in settings:
            check_schema_path(str(key), f"{label} ({name}):")
        variants.append((name, {str(k): v for k, v in settings.items()}))
    return variants


# --- the points ----------------------------------------------------------------------------


def slugify(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:60]


def short_path(path: str) -> str:
    """The path without its block (``effect.hazard_ratio`` -> ``hazard_ratio``)."""
    return path.split(".", 1)[-1]


def label_params(params: dict[str, Any]) -> str:
    return ", ".join(f"{short_path(path)}={yaml_text(v)}" for path, v in params.items())


def check_sweep_size(
    grid: dict[str, list[Any]],
    variants: list[tuple[str, dict[str, Any]]],
    reps: int,
    allow_large: bool,
) -> int:
    """The number of points of a sweep, counted before any is built; raise ScenarioError
    when it has more than MAX_SWEEP_POINTS points or more than MAX_REPS replicates in all,
    unless `allow_large` (``--allow-large``) confirms it."""
    from sim.engine.limits import MAX_REPS, MAX_SWEEP_POINTS

    n_points = max(1, len(variants)) * math.prod(len(values) for values in grid.values())
    total = n_points * reps
    if allow_large or (n_points <= MAX_SWEEP_POINTS and total <= MAX_REPS):
        return n_points
    raise ScenarioError(
        f"sweep of {n_points:,} points x {reps:,} replicates = {total:,} replicates: a sweep "
        f"of more than {MAX_SWEEP_POINTS:,} points or {MAX_REPS:,} replicates in all runs "
        "for hours and may fill the memory; give fewer values per --grid (or fewer "
        "variants, or fewer --reps), or add --allow-large to run it anyway"
    )


def expand_points(
    base: dict[str, Any],
    grid: dict[str, list[Any]],
    variants: list[tuple[str, dict[str, Any]]],
    source: str,
) -> list[SweepPoint]:
    """Every (variant x grid) point, validated; raises ScenarioError naming the bad point."""
    if not grid and not variants:
        raise ScenarioError(
            "nothing to sweep: give --grid PATH=V1,V2,... (e.g. effect.hazard_ratio=0.5,0.6) "
            "or --variants FILE"
        )
    combos = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    points = []
    for variant, settings in variants or [("", {})]:
        for combo in combos:
            clash = set(settings) & set(combo)
            if clash:
                raise ScenarioError(
                    f"--grid {sorted(clash)[0]}: variant {variant!r} also sets it; sweep it "
                    "either in the grid or in the variants, not both"
                )
            params = {**settings, **combo}
            number = len(points) + 1
            label = ", ".join(x for x in (variant, label_params(combo)) if x) or "base"
            overrides = [f"{path}={yaml_text(v)}" for path, v in params.items()]
            data = copy.deepcopy(base)
            try:
                for assignment in overrides:
                    apply_override(data, assignment)
                scenario = parse_scenario(data, source)
            except ScenarioError as exc:
                reason = str(exc).removeprefix("--set ")  # the override was ours, not --set
                raise ScenarioError(
                    f"sweep point {number} ({label}) is not a valid scenario, so nothing was "
                    f"run: {reason}"
                ) from exc
            name = f"{number:02d}_{slugify(variant or label_params(combo) or 'base')}"
            points.append(SweepPoint(number, name, label, params, overrides, scenario, variant))
    return points


# --- running -------------------------------------------------------------------------------


def tabulate_sweep(
    points: list[SweepPoint], summaries: list[pd.DataFrame], base: Scenario
) -> pd.DataFrame:
    """sweep.csv: one row per point; parameters (the base value where a point leaves a path
    alone), then each metric and its MC standard error side by side."""
    resolved = scenario_to_dict(base)
    paths = list(dict.fromkeys(p for point in points for p in point.params))
    rows = []
    for point, summary in zip(points, summaries, strict=True):
        row: dict[str, Any] = {"point": point.number, "name": point.name, "label": point.label}
        if any(p.variant for p in points):
            row["variant"] = point.variant
        for path in paths:
            row[path] = cell_value(point.params.get(path, value_at(resolved, path)))
        for rec in summary.itertuples(index=False):
            row[rec.metric] = rec.estimate
            row[f"{rec.metric}_mc_se"] = rec.mc_se
        rows.append(row)
    return pd.DataFrame(rows)


def cell_value(value: Any) -> Any:
    """A parameter's value as a sweep.csv cell: numbers, text and booleans as they are (a
    typed column), a date as its ISO text, a nested value (a mapping or a list) as JSON text
    (``{"2": 0.5}``, which `json.loads` reads back), a missing value as a blank cell."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, default=json_default, separators=(", ", ": "))
    return value


def json_default(value: Any) -> Any:
    """Dates inside a nested value, as ISO text."""
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def long_params(table: pd.DataFrame, points: list[SweepPoint]) -> pd.DataFrame:
    """sweep_long.csv: the settings of sweep.csv in long form, one row per point and swept
    parameter (`point, parameter, value`; the value as sweep.csv's cell, as text)."""
    paths = list(dict.fromkeys(p for point in points for p in point.params))
    rows = [
        {"point": point, "parameter": path, "value": value}
        for point, *values in table[["point", *paths]].itertuples(index=False)
        for path, value in zip(paths, values, strict=True)
    ]
    return pd.DataFrame(rows, columns=["point", "parameter", "value"])


def sweep_manifest(
    points: list[SweepPoint],
    base: Scenario,
    *,
    grid: dict[str, list[Any]],
    variants: list[tuple[str, dict[str, Any]]],
    scenario_path: str,
    overrides: list[str],
    seed: int,
    reps: int,
    workers: int,
    wall_seconds: float,
) -> dict[str, Any]:
    from sim.engine.versions import METRICS_VERSION, package_versions

    return {
        "tool": "sim",
        "kind": "sweep",
        "metrics_version": METRICS_VERSION,
        "command": sys.argv,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "scenario_path": scenario_path,
        "overrides": overrides,
        "grid": grid,
        "variants": [{"name": n, "set": s} for n, s in variants],
        "seed": seed,
        "replicates": reps,
        "common_random_numbers": "every point uses the same seed and replicates",
        "workers": workers,
        "wall_seconds": round(wall_seconds, 3),
        "points": [
            {
                "point": p.number,
                "name": p.name,
                "label": p.label,
                "variant": p.variant,
                "params": p.params,
                "overrides": p.overrides,
            }
            for p in points
        ],
        "versions": package_versions(),
        "scenario": scenario_to_dict(base),
    }


def sweep_identity(
    points: list[SweepPoint], base: Scenario, seed: int, reps: int, keep_patients: int
) -> dict[str, Any]:
    """What a resumed sweep must share with the interrupted one."""
    from sim.engine.executors import chunk_layout
    from sim.engine.versions import METRICS_VERSION, package_versions

    return {
        "kind": "sweep",
        "scenario": scenario_to_dict(base),
        "points": {p.name: p.overrides for p in points},
        "seed": seed,
        "replicates": reps,
        "keep_patients": keep_patients,
        **chunk_layout(),
        "metrics_version": METRICS_VERSION,
        "versions": package_versions(),
    }


def run_sweep(
    points: list[SweepPoint],
    base: Scenario,
    out: Path,
    *,
    reps: int,
    seed: int,
    workers: int,
    grid: dict[str, list[Any]],
    variants: list[tuple[str, dict[str, Any]]],
    keep_patients: int = 3,
    force: bool = False,
    scenario_path: str = "",
    overrides: list[str] | None = None,
    on_chunk: Callable[[int], None] | None = None,
    executor: str = "local",
    scheduler: str | None = None,
    resume: bool = False,
    note: Callable[[str], None] | None = None,
    on_resume: Callable[[int], None] | None = None,
    before_publish: Callable[[Path], None] | None = None,
    on_start: Callable[[], None] | None = None,
) -> pd.DataFrame:
    """Run every point into `out` (staged, published whole); return the sweep table.

    All (point, chunk) tasks go to one executor as one pool of work, so every worker stays
    busy until the last point ends; a point's tables are written as soon as its last chunk
    is in (its manifest.json last: a point folder with one is finished). With `resume`,
    finished points and kept chunks of the interrupted sweep of `out` are not recomputed.
    `before_publish(staging)` adds files (the figures) to the sweep before it is moved into
    place; `on_start()` is called once the chunks are asked for (on a local pool, while its
    workers compute: what `before_publish` needs can be imported then).
    """
    from sim.engine.chunk import TrialModel
    from sim.engine.executors import PointJob, clinic_keys, draws_keys, run_points
    from sim.engine.results import manifest, write_json
    from sim.engine.run import (
        check_out_folder,
        checkpointed_pool,
        count_done,
        finish_point,
        print_note,
    )
    from sim.storage.checkpoints import CHECKPOINT

    note = note or print_note
    check_out_folder(out, force, "sweep")
    identity = sweep_identity(points, base, seed, reps, keep_patients)
    models = [TrialModel.from_scenario(point.scenario) for point in points]
    with checkpointed_pool(
        out,
        force,
        identity=identity,
        resume=resume,
        note=note,
        executor=executor,
        models=models,
        workers=workers,
        scheduler=scheduler,
    ) as (pool, staging):
        started = time.perf_counter()
        jobs: list[PointJob | None] = []
        for point in points:
            folder = staging / point.name
            finished = (folder / "manifest.json").is_file()
            folder.mkdir(exist_ok=True)
            jobs.append(None if finished else PointJob(folder, reps, seed, keep_patients))
        done = sum(reps if job is None else count_done(job) for job in jobs)
        if on_resume:
            on_resume(done)
        if done:
            note(f"resuming {staging}: {done:,} of {len(points) * reps:,} replicates already done")

        def finish(index: int, tables: PointTables) -> None:
            point = points[index]
            record = manifest(
                point.scenario,
                scenario_path,
                [*(overrides or []), *point.overrides],
                seed,
                reps,
                workers,
                keep_patients,
                time.perf_counter() - started,
            )
            record.update(executor=executor, scheduler=scheduler, sweep_point=point.number)
            finish_point(staging / point.name, point.scenario, reps, tables, record)

        run_points(
            pool,
            jobs,
            on_chunk,
            on_point=finish,
            clinics=clinic_keys(models),
            draws=draws_keys(models),
            on_start=on_start,
        )
        # read back, so a resumed sweep (whose early points were written before) and an
        # uninterrupted one tabulate the same numbers
        summaries = [read_exact_csv(staging / point.name / "summary.csv") for point in points]
        table = tabulate_sweep(points, summaries, base)
        table.to_csv(staging / "sweep.csv", index=False)
        long_params(table, points).to_csv(staging / "sweep_long.csv", index=False)
        record = sweep_manifest(
            points,
            base,
            grid=grid,
            variants=variants,
            scenario_path=scenario_path,
            overrides=list(overrides or []),
            seed=seed,
            reps=reps,
            workers=workers,
            wall_seconds=time.perf_counter() - started,
        )
        record.update(executor=executor, scheduler=scheduler, resumed_replicates=done)
        write_json(staging / "manifest.json", record)
        if before_publish is not None:
            before_publish(staging)
        (staging / CHECKPOINT).unlink()
    return table
