"""The looks of a group-sequential design, for a chunk of replicates: each interim look's
data cut at its trigger, the primary test there, the monitoring decision, and the data set
of the look that ended each trial (vectorized over the chunk).

A trial stopped early randomizes nobody after the analysis date of the stop; the looks it
never reached are blank (nan) in its per-look columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.conduct.datacut import CUT_INTERIM, CutData, cut_data, look_cut_days_and_rules
from sim.engine.look_rules import look_probabilities
from sim.engine.trial import Cohort, TrialModel
from sim.scenario import DAYS_PER_MONTH
from sim.stats import analysis

if TYPE_CHECKING:
    from sim.stats.monitoring import Decisions


@dataclass(frozen=True)
class Sequential:
    """The looks of a chunk: the data set of the analysis that ended each trial, and the
    per-look columns of the replicates table."""

    cut: CutData
    columns: dict[str, np.ndarray]
    decisions: Decisions
    final_analysis_day: np.ndarray  # (R,) the final look's analysis day, held or not
    enrolled_until: np.ndarray  # (R,) last day a patient may be randomized (inf: all)
    cut_days: np.ndarray  # (R, K) each look's cut day (nan: not held, or after the stop)
    trigger_codes: np.ndarray  # (R, K - 1) the TRIGGERS code of the rule that set each cut


def primary_z(
    model: TrialModel, cohort: Cohort, time: np.ndarray, event: np.ndarray, valid: np.ndarray
) -> np.ndarray:
    """The primary test's z of each replicate's data set (z < 0: benefit)."""
    a = model.scenario.analysis
    stratum = cohort.stratum if a.stratified else None
    risk = analysis.risk_sets(time, event, cohort.arm, stratum, valid=valid)
    return analysis.logrank_from_risk_sets(risk).z


def run_looks(model: TrialModel, cohort: Cohort, final_cut: CutData) -> Sequential:
    """Each look: cut at its trigger, the primary test, the decision; the trial's data set
    at the look that ended it. Enrollment ends at the analysis date of an early stop."""
    from sim.stats.monitoring import monitor

    rand, observed, scans = cohort.rand_day, cohort.observed, cohort.scans
    days, held, codes = look_cut_days_and_rules(
        model.triggers, rand, observed, final_cut.cut_day, cohort.stratum
    )
    n_reps, k_max = days.shape
    z = np.full((n_reps, k_max), np.nan)
    events = np.zeros((n_reps, k_max), dtype=np.int64)
    for k in range(k_max):
        day = (
            final_cut.cut_day
            if k == k_max - 1
            else np.where(held[:, k], days[:, k], final_cut.cut_day)
        )
        if k == k_max - 1:
            time, event, valid = final_cut.time, final_cut.event, final_cut.valid
        else:
            time, event, valid = cut_data(rand, observed, scans, day)
        z[:, k] = np.where(held[:, k], -primary_z(model, cohort, time, event, valid), np.nan)
        events[:, k] = np.where(held[:, k], event.sum(axis=1), 0)
    decisions = monitor(model.plan, z, events, held)
    stop = decisions.stop_look
    early = stop < k_max - 1
    stop_day = days[np.arange(n_reps), stop]
    stop_analysis = model.analysis_day(stop_day)
    if early.any():
        time, event, valid = cut_data(rand, observed, scans, stop_day)
        cut = CutData(
            time,
            event,
            valid,
            stop_day,
            np.where(early, np.nan, final_cut.target_day),
            np.where(early, CUT_INTERIM, final_cut.cut_reason),
        )
    else:
        cut = final_cut
    in_trial = held & (np.arange(k_max)[None, :] <= stop[:, None])
    columns: dict[str, np.ndarray] = {}
    for k in range(k_max):
        analysis_day = np.where(in_trial[:, k], model.analysis_day(days[:, k]), np.nan)
        columns[f"look{k + 1}_date"] = model.calendar.to_datetime64(analysis_day)
        columns[f"look{k + 1}_months"] = analysis_day / DAYS_PER_MONTH
        columns[f"look{k + 1}_events"] = np.where(in_trial[:, k], events[:, k], np.nan)
        columns[f"look{k + 1}_z_benefit"] = np.where(in_trial[:, k], z[:, k], np.nan)
        columns[f"look{k + 1}_efficacy_bound"] = decisions.efficacy_z[:, k]
        columns[f"look{k + 1}_futility_bound"] = decisions.futility_z[:, k]
        columns[f"look{k + 1}_decision"] = decisions.decision[:, k]
    columns.update(look_probabilities(model.plan, z, events, in_trial))
    columns.update(
        stop_look=stop + 1,
        stop_reason=decisions.stop_reason,
        early_stop=early,
        reject_ignoring_futility=decisions.reject_ignoring_futility,
        stop_look_ignoring_futility=decisions.stop_look_ignoring_futility + 1,
        n_randomized=np.where(early[:, None], rand <= stop_analysis[:, None], True).sum(axis=1),
    )
    columns["not_randomized_at_stop"] = rand.shape[1] - columns["n_randomized"]
    final_day = model.analysis_day(final_cut.cut_day)
    return Sequential(
        cut,
        columns,
        decisions,
        final_day,
        np.where(early, stop_analysis, np.inf),
        np.where(in_trial, days, np.nan),
        codes,
    )
