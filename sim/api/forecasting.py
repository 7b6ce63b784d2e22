"""A trial under way: `forecast` from its observed data (the project's table, a DataFrame or
CDISC ADaM data sets) and `export_observed`, the observed table of a simulated trial."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from sim.api.loading import Overrides, ScenarioLike, as_path, resolve_scenario
from sim.api.results import Progress, Results, reporting
from sim.api.running import check_executor, check_run_options, output_target, run_results
from sim.scenario import ScenarioError

if TYPE_CHECKING:
    import numpy as np

    from sim.engine.chunk import TrialModel


def as_date(as_of: object) -> dt.date:
    """`as_of` as a date: a date, a datetime or pandas Timestamp (its day), or YYYY-MM-DD
    text; anything else is a ScenarioError naming it."""
    if isinstance(as_of, dt.datetime):  # a pandas Timestamp is one too
        return as_of.date()
    if isinstance(as_of, dt.date):
        return as_of
    try:
        return dt.date.fromisoformat(str(as_of))
    except ValueError:
        raise ScenarioError(f"as_of = {as_of!r}: not a date; write YYYY-MM-DD") from None


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
    planned hazards' weight in events; None: 20% of the event target on the pooled hazard,
    unblinded half of it on each arm's (manifest ``forecast.prior``, docs/forecasting.md).
    `prior_months` is the plan's accrual weight in months of its full speed: with "plan",
    each site's planned rate; with "time_decay", the plan's ramp-up and full speed as prior
    on the fitted curve (None: worth 6 patients; manifest ``accrual_prior_patients``).
    `accrual_model` is the remaining patients' accrual: "plan" (the plan's ramp-up, site rates
    scaled by their posterior), "plan_shape", "poisson", "time_decay", "piecewise" (knots
    `accrual_knots`, months since the start date) fitted to the randomization dates, or
    "auto" (smallest AIC); None: time_decay, or the plan while sites are still to open; the
    table ``accrual`` lists every fit and the manifest's ``forecast.accrual`` says which was
    used and why. Unblinded, the
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
        day = as_date(as_of)
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

    day = as_date(as_of)
    return observed_at(as_path(run, "run", "the path of a run folder"), replicate, day, blinded)


def observed_paths(observed: object) -> Path | list[Path]:
    """`forecast`'s `observed` (a table's path, or ADaM's ADSL and ADTTE paths) as paths;
    ScenarioError naming it if it is not one (None, a number)."""
    what = "the path of the --observed table (or a list of ADSL and ADTTE paths)"
    if isinstance(observed, Sequence) and not isinstance(observed, str | bytes):
        return [as_path(item, "observed", what) for item in observed]
    return as_path(observed, "observed", what)


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
