"""A trial under way, forecast from its own data (`sim.forecast`, ``python -m sim forecast``).

`forecast_trial` fits the scenario's rates to the trial's own data (the forecast model,
`sim.engine.continuation`), runs the rest of the trial from the as-of date with the conduct
and clinic model, and writes a run folder (summary, timeline, supply, resources, replicates)
plus:

- ``fit.csv``: prior, observed and posterior of every rate;
- ``forecast.csv``: each milestone's median and 80% / 90% prediction intervals, beside the
  plan's (the same scenario, seed and replicates without data, in ``plan/``), and on every
  row the event model (blinded or unblinded), the hazards' prior weight in events and the
  data-maturity note (`maturity_note`; empty when the data are mature);
- ``comparison.csv``: the summary metrics of the forecast and the plan side by side;
- ``observed.csv``: the data used, as checked; ``forecast.png`` (drawn by the caller's
  `figure`, as the engine draws none): observed counts to the as-of date, then the forecast
  fan and the completion date.

`observed_at` gives the ``--observed`` table of a simulated trial (replicate K of a run's
patients.parquet) as it stood on a date (``python -m sim export-observed``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.engine.continuation import DEFAULT_PRIOR_MONTHS
from sim.engine.metric_table import plan_metrics
from sim.scenario import Scenario, ScenarioError

if TYPE_CHECKING:
    from sim.engine.chunk import TrialModel
    from sim.engine.continuation import TrialContinuation
    from sim.engine.run import RunOutputs

PI_LEVELS = (0.80, 0.90)
FORECAST_MILESTONES = ("randomized_100pct", "target_events", "data_cut", "final_analysis")


# --- forecast ------------------------------------------------------------------------------


def check_as_of(scenario: Scenario, as_of: dt.date) -> None:
    from sim.conduct.calendar import CALENDAR_YEARS

    start = scenario.trial.start_date
    if as_of < start:
        raise ScenarioError(
            f"--as-of {as_of}: before trial.start_date {start}; give a date on or after the start"
        )
    if (as_of - start).days > CALENDAR_YEARS * 365:
        raise ScenarioError(
            f"--as-of {as_of}: more than {CALENDAR_YEARS} years after the "
            "start: beyond the study calendar"
        )


def build_forecast_model(
    scenario: Scenario,
    observed_path: Path,
    as_of: dt.date,
    screening_path: Path | None = None,
    prior_months: float | None = None,
    prior_events: float | None = None,
    *,
    unblinded: bool = False,
    accrual_model: str | None = None,
    accrual_knots: tuple[float, ...] | None = None,
    hr_threshold: float = 1.0,
) -> TrialModel:
    """The TrialModel of a forecast: the scenario's, with the fitted forecast model (its
    `continuation` field); blinded (one pooled hazard) unless `unblinded`; accrual by
    `accrual_model` (`sim.stats.accrual_models`; knots in months since the start; None:
    `default_accrual_model`)."""
    from sim.conduct.observed import read_observed, read_screening
    from sim.engine.chunk import TrialModel
    from sim.engine.continuation import fit_continuation
    from sim.stats.accrual_models import check_accrual_model

    check_as_of(scenario, as_of)
    model = TrialModel.from_scenario(scenario)
    default_reason = None
    if accrual_model is None:
        accrual_model, default_reason = default_accrual_model(scenario, model, as_of)
    check_accrual_model(accrual_model, accrual_knots)
    if not (isinstance(hr_threshold, int | float) and 0 < hr_threshold < math.inf):
        raise ScenarioError(
            f"--hr-threshold {hr_threshold}: must be a finite hazard ratio > 0 (the posterior "
            "probability of HR below it is reported); e.g. 1 (any benefit) or 0.8"
        )
    for name, value, why in (
        ("--prior-months", prior_months, "cannot forecast a site not yet open; e.g. 3"),
        ("--prior-events", prior_events, "leaves a hazard without events undefined; e.g. 14"),
    ):
        if value is None:
            continue
        if not isinstance(value, int | float) or not value > 0:
            raise ScenarioError(f"{name} {value}: must be > 0 (a prior worth no data {why})")
        if not value < math.inf:
            raise ScenarioError(
                f"{name} {value}: must be a finite number (a prior worth infinite data would "
                f"ignore the trial's own); {why.split('; ')[-1]}"
            )
    observed = read_observed(observed_path, scenario, as_of)
    screening = (
        read_screening(screening_path, scenario, as_of) if screening_path is not None else None
    )
    continuation = fit_continuation(
        scenario,
        model.calendar,
        model.schedule,
        observed,
        prior_months,
        prior_events,
        screening,
        unblinded=unblinded,
        accrual_model=accrual_model,
        accrual_knots=accrual_knots,
        hr_threshold=hr_threshold,
    )
    if default_reason is not None and continuation.accrual.reason == "requested":
        continuation = dataclasses.replace(
            continuation,
            accrual=dataclasses.replace(continuation.accrual, reason=default_reason),
        )
    return dataclasses.replace(model, continuation=continuation)


def default_accrual_model(scenario: Scenario, model: TrialModel, as_of: dt.date) -> tuple[str, str]:
    """(accrual model, why) when none is asked: time_decay, a ramp-up fitted to the trial's
    own randomizations (the model whose prediction intervals kept their coverage over truths
    whose accrual departs from the plan's shape: docs/forecasting.md); the plan while sites
    are still to open after the as-of date (the plan knows them, the trial's data do not)."""
    later = [
        site.name
        for site in model.sites
        if model.calendar.day_of(site.activation_date) > model.calendar.day_of(as_of)
    ]
    if later:
        return "plan", (
            f"the default while sites are still to open ({len(later)} after the as-of date, "
            "which only the plan knows); --accrual-model to choose"
        )
    return "time_decay", (
        "the default: a ramp-up fitted to the trial's own randomizations, "
        "docs/forecasting.md says why; --accrual-model to choose"
    )


# Data are immature below either bound, or when one arm has at most ARM_FEW_EVENTS events.
IMMATURE_EVENTS = 10
IMMATURE_SHARE = 0.15
ARM_FEW_EVENTS = 2


def maturity_note(continuation: TrialContinuation, scenario: Scenario) -> str:
    """One line when the data can tell little about the event rate (fewer than
    IMMATURE_EVENTS PFS events, fewer than IMMATURE_SHARE of the target, or an arm with at
    most ARM_FEW_EVENTS), and, unblinded, about the effect; unblinded with more events, one
    line when an arm has fewer events than its prior is worth (the effect rests as much on
    the prior as on the data); empty otherwise."""
    obs = continuation.observed
    has_event = np.isfinite(obs.event_day)
    events = int(has_event.sum())
    target = scenario.analysis.event_target
    per_arm = None if obs.blinded else [int((has_event & (obs.arm == a)).sum()) for a in (0, 1)]
    few = events < IMMATURE_EVENTS or (target is not None and events < IMMATURE_SHARE * target)
    lopsided = per_arm is not None and min(per_arm) <= ARM_FEW_EVENTS
    if not (few or lopsided):
        if continuation.unblinded and per_arm is not None:
            # enough events for the dates, but an arm with fewer than its prior is worth:
            # the effect still rests as much on the plan as on the data
            k = continuation.prior_events
            arm = int(np.argmin(per_arm))
            if per_arm[arm] < k:
                name = ("control", "experimental")[arm]
                return (
                    f"{per_arm[1]} PFS events so far on the experimental arm, {per_arm[0]} on "
                    f"control: the {name} arm has fewer than its prior is worth (the plan's "
                    f"hazards, {k:g} events on each arm), so the probability of success and "
                    "the posterior hazard ratio rest as much on the prior as on the data."
                )
        return ""
    arms = (
        f" ({per_arm[1]} on the experimental arm, {per_arm[0]} on control)"
        if per_arm is not None
        else " (arms masked)"
    )
    of_target = f" of the {target} targeted" if target is not None else ""
    # unblinded, the probability of success and the posterior HR rest on the same few
    # events, weighed against the plan's hazards as prior (worth prior_events on each arm)
    success = (
        ", and its probability of success and posterior hazard ratio as mostly the prior's "
        f"(the plan's hazards, worth {continuation.prior_events:g} events on each arm)"
        if continuation.unblinded
        else ""
    )
    return (
        f"Only {events} PFS events so far{of_target}{arms}: the forecast leans on the plan; "
        f"treat its dates as the plan's with a wider band{success}."
    )


def prior_statement(continuation: TrialContinuation, scenario: Scenario) -> str:
    """The hazards' prior in words: what it is and what it is worth."""
    k = continuation.prior_events
    target = scenario.analysis.event_target
    share = f" ({k / target:.0%} of the {target}-event target)" if target else ""
    each = "each arm's PFS hazard" if continuation.unblinded else "the pooled PFS hazard"
    return (
        f"prior: the plan's hazards, worth {k:g} events{share} on {each} and on the dropout "
        "hazard (set with --prior-events)"
    )


def site_prior(prior_months: float | None, scenario: Scenario) -> str:
    """The weight of the site rates' prior (the plan model's), as the manifest names it:
    "site_heterogeneity" (the scenario's, when --prior-months is not given) or "N months"."""
    if prior_months is None and scenario.enrollment.site_heterogeneity is not None:
        return "site_heterogeneity"
    return f"{prior_months or DEFAULT_PRIOR_MONTHS:g} months"


def accrual_statement(
    continuation: TrialContinuation, scenario: Scenario, screening: Path | None = None
) -> str:
    """The accrual model in words: which, its fit, and why it was chosen; with the screening
    counts (`screening`, --screening), what they informed."""
    choice = continuation.accrual
    if choice is None or choice.model == "plan":
        weight = site_prior(continuation.prior_months, scenario)
        worth = (
            "the scenario's site_heterogeneity"
            if weight == "site_heterogeneity"
            else f"{weight} of the plan's full speed"
        )
        fit = (
            "the plan's ramp-up and site rates, each site's rate scaled by its posterior "
            f"(Poisson-gamma; prior worth {worth}, set with --prior-months)"
        )
        if screening is not None:
            fit += (
                f"; the screened counts of {screening.name} fit each site's screening rate, "
                "and their failures the pass share of screening"
            )
    else:
        fit = choice.chosen.describe() + ", fitted to the randomization dates"
        if continuation.accrual_prior is not None:
            prior = continuation.accrual_prior.describe()
            fit += f"; prior: {prior}, set with --prior-months"
        if screening is not None:
            fit += (
                f"; the screened counts of {screening.name} only share the screenings among "
                "the sites (the plan model fits the rates and the pass share to them)"
            )
    why = "" if choice is None else f" ({choice.reason})"
    return f"accrual model: {continuation.accrual_model}{why}: {fit}"


def success_statement(continuation: TrialContinuation, scenario: Scenario) -> str:
    """How the forecast's probability of success was obtained, in words."""
    if continuation.unblinded:
        evidence = continuation.evidence
        text = (
            "probability of success (unblinded, the DMC's view): predictive_probability_of_"
            "success is the share of the simulated continuations whose final analysis "
            "succeeds, each with both arms' hazards drawn from their posteriors given the "
            "data (the plan's hazards as prior); p_hr_below_threshold is the share of their "
            f"hazard ratios below {continuation.hr_threshold:g}"
        )
        if evidence is not None:
            text += (
                f"; closed forms from the log-rank z = {evidence.z:.2f} at "
                f"{evidence.events} of {evidence.final_events:g} events (t = "
                f"{evidence.fraction:.2f}): conditional_power_design, conditional_power_trend, "
                f"predictive_power_closed_form and p_hr_below_threshold_closed_form ("
                f"{evidence.prior} prior)"
            )
        return text
    if continuation.factor_curve is not None:
        return (
            "probability of success (blinded): assurance is the share of the simulated "
            "continuations whose final analysis succeeds, each with its hazard ratio drawn "
            "from the design prior (prior.hazard_ratio) and its control hazard from the "
            "pooled event rate given that ratio; the arms' data are not used"
        )
    return (
        "probability of success (blinded): power is the share of the simulated "
        f"continuations whose final analysis succeeds at the design hazard ratio "
        f"{scenario.effect.hazard_ratio:g} (no design prior on it: add prior.hazard_ratio "
        "for the assurance); --unblinded for the predictive probability given the arms"
    )


# The probability of success a forecast answers with: the first of these in its summary,
# with what it counts.
SUCCESS_ANSWERS = {
    "predictive_probability_of_success": "unblinded: the share of continuations that "
    "succeed, each arm's hazard drawn from its posterior",
    "assurance": "blinded: the share of continuations that succeed, the HR drawn from the "
    "design prior",
    "power": "blinded: the share of continuations that succeed at the design HR",
}


@dataclasses.dataclass(frozen=True)
class SuccessAnswer:
    """A forecast's probability of success as the command line and the page show it.

    metric: its name in summary.csv (`SUCCESS_ANSWERS`); words: what it counts; estimate,
    se: as percentages; plan: the plan's figure beside it ("the plan's power: 78.8%"; the
    plan has no data, hence no predictive probability: its power stands beside it), or "";
    more: unblinded, P(HR < c | data) and the posterior HR's median and 90% interval;
    how_sure: "MC SE 2.1%", or for a share of every or no continuation, whose MC SE of 0 is
    not certainty, its 95% interval ("every simulated continuation; 95% CI 98.2% to
    100.0%")."""

    metric: str
    words: str
    estimate: str
    se: str
    plan: str
    more: tuple[str, ...]
    how_sure: str = ""


def success_answer(
    summary: pd.DataFrame, comparison: pd.DataFrame, hr_threshold: float
) -> SuccessAnswer | None:
    """The probability of success of a forecast's summary.csv beside the plan's
    (comparison.csv), None when the summary has none of `SUCCESS_ANSWERS`."""
    from sim.engine.metrics import all_or_none, format_number

    rows = summary.set_index("metric")
    shown = next((m for m in SUCCESS_ANSWERS if m in rows.index), None)
    if shown is None:
        return None
    plan = comparison.set_index("metric")["plan"]
    beside = ""
    for name in (shown, "power"):
        value = plan.get(name, float("nan"))
        if value == value:  # not nan
            beside = f"the plan's {name}: {format_number(value, 'share')}"
            break
    more = []
    if shown == "predictive_probability_of_success":
        if "p_hr_below_threshold" in rows.index:
            p = format_number(rows.loc["p_hr_below_threshold", "estimate"], "share")
            more.append(f"P(HR < {hr_threshold:g} | data): {p}")
        if {"posterior_hr_q05", "posterior_hr_q50", "posterior_hr_q95"} <= set(rows.index):
            q05, q50, q95 = (
                f"{rows.loc[f'posterior_hr_{q}', 'estimate']:.2f}" for q in ("q05", "q50", "q95")
            )
            more.append(f"posterior HR: median {q50} (90% credible interval {q05} to {q95})")
    row = rows.loc[shown]
    se = format_number(row["mc_se"], "share")
    bounds = [row.get(c) for c in ("ci_low", "ci_high")]
    every_or_none = all_or_none(row["estimate"], row["mc_se"], *bounds)
    return SuccessAnswer(
        shown,
        SUCCESS_ANSWERS[shown],
        format_number(row["estimate"], "share"),
        se,
        beside,
        tuple(more),
        every_or_none.replace("trial", "continuation") if every_or_none else f"MC SE {se}",
    )


def event_model(continuation: TrialContinuation) -> str:
    """'blinded' (one pooled hazard, arms split by the scenario's HR) or 'unblinded'."""
    return "unblinded" if continuation.unblinded else "blinded"


def prediction_intervals(dates: pd.Series, start: dt.date) -> dict[str, Any]:
    """Median and 80% / 90% prediction intervals of a date column (NaT: never, later)."""
    values = dates.to_numpy("datetime64[D]")
    days = np.where(
        np.isnat(values),
        np.inf,
        (values - np.datetime64(start, "D")).astype("timedelta64[D]").astype(float),
    )
    out = {}
    probs = {"median": 0.5}
    for level in PI_LEVELS:
        tail = round((1 - level) / 2 * 100)
        probs[f"pi{round(level * 100)}_low"] = tail / 100
        probs[f"pi{round(level * 100)}_high"] = 1 - tail / 100
    for name, p in probs.items():
        q = float(np.quantile(days, p, method="inverted_cdf"))
        out[name] = str(start + dt.timedelta(days=int(q))) if np.isfinite(q) else ""
    for level in PI_LEVELS:
        lo, hi = np.quantile(days, [(1 - level) / 2, (1 + level) / 2], method="inverted_cdf")
        out[f"pi{round(level * 100)}_width_days"] = float(hi - lo) if np.isfinite(hi) else None
    out["share_reached"] = float(np.isfinite(days).mean())
    return out


def forecast_table(forecast: pd.DataFrame, plan: pd.DataFrame, scenario: Scenario) -> pd.DataFrame:
    """forecast.csv: per milestone, the forecast's and the plan's median and intervals."""
    start = scenario.trial.start_date
    completion = np.datetime64(scenario.trial.completion_date, "D")
    rows = []
    for name in FORECAST_MILESTONES:
        column = f"{name}_date"
        f, p = (prediction_intervals(t[column], start) for t in (forecast, plan))
        row = {"milestone": name, **f}
        row.update({f"plan_{k}": v for k, v in p.items()})
        for source, table in (("", forecast), ("plan_", plan)):
            dates = table[column].to_numpy("datetime64[D]")
            row[f"{source}p_by_completion"] = float(
                (~np.isnat(dates) & (dates <= completion)).mean()
            )
        rows.append(row)
    return pd.DataFrame(rows)


def accrual_table(continuation: TrialContinuation) -> pd.DataFrame:
    """accrual.csv: every accrual model fitted to the randomization dates (log-likelihood,
    AIC, BIC) and the one the forecast uses, with why."""
    from sim.stats.accrual_models import fits_table

    if continuation.accrual is None:
        return pd.DataFrame(columns=["accrual_model", "fit", "chosen", "why"])
    return pd.DataFrame(fits_table(continuation.accrual))


def comparison_table(forecast: pd.DataFrame, plan: pd.DataFrame) -> pd.DataFrame:
    """comparison.csv: summary metrics of the forecast and the plan side by side (those the
    metric table puts there, `plan`); the plan's cells are empty for a forecast's own
    metrics (the probability of success given the data)."""
    f, p = forecast.set_index("metric"), plan.set_index("metric")
    names = plan_metrics(list(f.index))
    in_plan = p.reindex(names)
    return pd.DataFrame(
        {
            "metric": names,
            "forecast": f.loc[names, "estimate"].to_numpy(),
            "forecast_mc_se": f.loc[names, "mc_se"].to_numpy(),
            "plan": in_plan["estimate"].to_numpy(),
            "plan_mc_se": in_plan["mc_se"].to_numpy(),
        }
    )


def observed_table(continuation: TrialContinuation, scenario: Scenario) -> pd.DataFrame:
    """The observed patients as checked (observed.csv)."""
    obs, start = continuation.observed, scenario.trial.start_date
    names = [s.name for s in scenario.enrollment.site_list(start)]

    def date(day: np.ndarray) -> list[str]:
        return [str(start + dt.timedelta(days=int(d))) if np.isfinite(d) else "" for d in day]

    rand = obs.rand_day.astype(float)
    return pd.DataFrame(
        {
            "patient_id": obs.patient_id,
            "site": np.asarray(names)[obs.site] if obs.n else [],
            "stratum": np.asarray(scenario.strata_names)[obs.stratum] if obs.n else [],
            "randomized": date(rand),
            "arm": [("control", "experimental")[a] if a >= 0 else "" for a in obs.arm],
            "event_date": date(rand + obs.event_day),
            "event_type": np.where(
                np.isfinite(obs.event_day), np.where(obs.is_death, "death", "progression"), ""
            ),
            "dropout_date": date(rand + obs.dropout_day),
            "last_assessment": date(rand + obs.last_day),
        }
    )


@dataclasses.dataclass(frozen=True)
class ForecastOutputs:
    run: RunOutputs  # of the forecast
    continuation: TrialContinuation  # the forecast model
    forecast: pd.DataFrame  # forecast.csv
    comparison: pd.DataFrame  # comparison.csv


def forecast_trial(
    scenario: Scenario,
    observed: Path,
    as_of: dt.date,
    out: Path,
    *,
    reps: int,
    seed: int,
    workers: int,
    screening: Path | None = None,
    prior_months: float | None = None,
    prior_events: float | None = None,
    unblinded: bool = False,
    accrual_model: str | None = None,
    accrual_knots: tuple[float, ...] | None = None,
    hr_threshold: float = 1.0,
    keep_patients: int = 0,
    force: bool = False,
    scenario_path: str = "",
    overrides: list[str] | None = None,
    on_chunk: Callable[[int], None] | None = None,
    executor: str = "local",
    scheduler: str | None = None,
    resume: bool = False,
    figure: Callable[[TrialModel, np.ndarray, Path], None] | None = None,
) -> ForecastOutputs:
    """Fit, forecast and plan into the folder `out` (see the module docstring).
    `figure(model, final_analysis_dates, path)` draws forecast.png (the engine draws none).
    Blinded (one pooled hazard) unless `unblinded`; `prior_events` None: the default rule
    (`sim.engine.continuation.default_prior_events`)."""
    from sim.engine.run import check_out_folder, run_scenario

    check_out_folder(out, force)
    model = build_forecast_model(
        scenario,
        observed,
        as_of,
        screening,
        prior_months,
        prior_events,
        unblinded=unblinded,
        accrual_model=accrual_model,
        accrual_knots=accrual_knots,
        hr_threshold=hr_threshold,
    )
    continuation = model.continuation
    note = maturity_note(continuation, scenario)
    common = dict(
        reps=reps,
        seed=seed,
        workers=workers,
        scenario_path=scenario_path,
        overrides=list(overrides or []),
        executor=executor,
        scheduler=scheduler,
    )
    tables: dict[str, pd.DataFrame] = {}

    def add_forecast_files(staging: Path) -> None:
        continuation.fit_table().to_csv(staging / "fit.csv", index=False)
        accrual_table(continuation).to_csv(staging / "accrual.csv", index=False)
        observed_table(continuation, scenario).to_csv(staging / "observed.csv", index=False)
        plan = run_scenario(scenario, staging / "plan", keep_patients=0, **common)
        forecast_reps = pd.read_parquet(staging / "replicates.parquet")
        plan_reps = pd.read_parquet(staging / "plan" / "replicates.parquet")
        tables["forecast"] = forecast_table(forecast_reps, plan_reps, scenario).assign(
            event_model=event_model(continuation),
            accrual_model=continuation.accrual_model,
            prior_events=continuation.prior_events,
            maturity_note=note,
        )
        tables["forecast"].to_csv(staging / "forecast.csv", index=False)
        summary = pd.read_csv(staging / "summary.csv")
        tables["comparison"] = comparison_table(summary, plan.summary)
        tables["comparison"].to_csv(staging / "comparison.csv", index=False)
        if figure is not None:
            figure(
                model,
                forecast_reps["final_analysis_date"].to_numpy("datetime64[D]"),
                staging / "forecast.png",
            )
        path = staging / "manifest.json"
        manifest = json.loads(path.read_text(encoding="utf-8"))
        obs = continuation.observed
        # still a run (compare, plot, report read it as one), with its forecast block
        manifest["forecast"] = {
            "as_of": str(as_of),
            "observed": str(observed),
            "screening": str(screening) if screening else None,
            "patients": obs.n,
            "events": int(np.isfinite(obs.event_day).sum()),
            "dropouts": int(np.isfinite(obs.dropout_day).sum()),
            "blinded": not continuation.unblinded,  # the forecast's event model
            "event_model": event_model(continuation),
            "data_blinded": obs.blinded,  # the table has no arms
            "events_by_arm": (
                None
                if obs.blinded
                else {
                    name: int((np.isfinite(obs.event_day) & (obs.arm == a)).sum())
                    for a, name in enumerate(("control", "experimental"))
                }
            ),
            "maturity_note": note,
            "accrual_model": continuation.accrual_model,
            "accrual_model_requested": accrual_model,
            "accrual_knots_months": list(accrual_knots) if accrual_knots else None,
            "accrual": accrual_statement(continuation, scenario, screening),
            "prior": prior_statement(continuation, scenario),
            "hr_threshold": hr_threshold,
            "success": success_statement(continuation, scenario),
            "evidence": (
                None
                if continuation.evidence is None
                else {  # nan (nothing left to predict) as null: strict JSON
                    k: None if isinstance(v, float) and not np.isfinite(v) else v
                    for k, v in dataclasses.asdict(continuation.evidence).items()
                }
            ),
            "prior_months": prior_months,
            "site_prior": site_prior(prior_months, scenario),
            "prior_events": continuation.prior_events,
            "prior_events_given": prior_events,  # None: the default rule
            # the plan's accrual as prior on the time-decay model, in patients (else null)
            "accrual_prior_patients": (
                None if continuation.accrual_prior is None else continuation.accrual_prior.weight
            ),
            "plan": "plan/ (the same scenario, seed and replicates, without data)",
        }
        path.write_text(json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8")

    outputs = run_scenario(
        scenario,
        out,
        keep_patients=keep_patients,
        force=force,
        on_chunk=on_chunk,
        model=model,
        before_publish=add_forecast_files,
        resume=resume,
        **common,
    )
    return ForecastOutputs(outputs, continuation, tables["forecast"], tables["comparison"])


def observed_at(run: Path, replicate: int, as_of: dt.date, blinded: bool) -> pd.DataFrame:
    """The ``--observed`` table of replicate `replicate` of the run folder `run` (its
    patients.parquet) as it stood on `as_of`; with `blinded`, the arm column empty."""
    import pyarrow.parquet as pq

    from sim.conduct.observed import observed_from_patients
    from sim.engine.results import read_run
    from sim.scenario import parse_scenario

    manifest = read_run(run)
    path = run / "patients.parquet"
    if not path.is_file():
        raise ScenarioError(
            f"{run}: no patients.parquet; run it with --keep-patients K "
            "(K > the replicate you want)"
        )
    scenario = parse_scenario(manifest["scenario"], f"{run}/manifest.json")
    check_as_of(scenario, as_of)
    table = pq.read_table(path, filters=[("replicate", "=", replicate)]).to_pandas()
    if table.empty:
        kept = pq.read_table(path, columns=["replicate"]).to_pandas()["replicate"]
        raise ScenarioError(
            f"--replicate {replicate}: not in {path} (it keeps replicates "
            f"{int(kept.min())}..{int(kept.max())}); choose one of those"
        )
    return observed_from_patients(table, as_of, blinded=blinded)
