"""The patient table of a chunk's first replicates: one row per patient, every date that
happened to them (screening, randomization, PFS event and when it was seen, withdrawal, the
scans up to the data cut), their analysis data at the cut and their secondary endpoints;
with interim looks, the analysis data at each look held before the trial concluded
(``look1_pfs_days_at_cut``, ...), for the ADaM data sets of each cut (`sim.adam`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.conduct.assessments import ObservedOutcomes
from sim.conduct.datacut import CutData, cut_data
from sim.conduct.local_control import local_control_at_cut
from sim.conduct.response import BEST_RESPONSES, best_response_at_cut
from sim.conduct.survival import cut_os
from sim.engine.endpoints import EndpointResult
from sim.engine.trial import ARMS, Cohort, TrialModel

if TYPE_CHECKING:
    from sim.engine.looks import Sequential


def patient_table(
    model: TrialModel, cohort: Cohort, cut: CutData, first_rep: int, n_keep: int
) -> pd.DataFrame:
    """One row per patient of the first `n_keep` replicates (numbered from `first_rep`),
    every date that happened to them."""
    cal = model.calendar
    enrolled, latent, observed = cohort.enrolled, cohort.latent, cohort.observed
    rand = enrolled.rand_day[:n_keep]
    n = rand.shape[1]

    def dates(rel: np.ndarray) -> np.ndarray:
        return cal.to_datetime64((rand + rel[:n_keep]).ravel())

    strata = np.asarray(model.scenario.strata_names)
    return pd.DataFrame(
        {
            "replicate": np.repeat(np.arange(first_rep, first_rep + n_keep), n),
            "patient": np.tile(np.arange(n), n_keep),
            "stratum": strata[enrolled.stratum[:n_keep].ravel()],
            "site": np.asarray([s.name for s in model.sites])[enrolled.site[:n_keep].ravel()],
            "arm": np.asarray(ARMS)[cohort.arm[:n_keep].ravel()],
            "screen_date": cal.to_datetime64(enrolled.screen_day[:n_keep].ravel()),
            "randomization_date": cal.to_datetime64(rand.ravel()),
            "pfs_event_date": dates(latent.pfs_day),
            "pfs_event_is_death": latent.is_death[:n_keep].ravel(),
            "pfs_event_seen_date": dates(observed.event_day),
            "withdrawal_date": dates(observed.withdraw_day),
            "in_analysis": cut.valid[:n_keep].ravel(),
            "pfs_days_at_cut": cut.time[:n_keep].ravel(),
            "pfs_event_at_cut": cut.event[:n_keep].ravel(),
            "data_cut_date": np.repeat(cal.to_datetime64(cut.cut_day[:n_keep]), n),
            "scan_dates": scan_date_lists(model, rand, observed, cut, n_keep),
        }
    )


def scan_date_lists(
    model: TrialModel, rand: np.ndarray, observed: ObservedOutcomes, cut: CutData, n_keep: int
) -> list:
    """Each patient's tumour assessments up to the event seen, withdrawal or the data cut
    (empty under continuous observation: there are no scans). `rand`: the randomization
    days of the first `n_keep` replicates."""
    offsets = model.schedule.days
    if offsets is None:
        return [[] for _ in range(rand.size)]
    last = np.minimum(
        np.minimum(observed.event_day[:n_keep], observed.withdraw_day[:n_keep]),
        cut.cut_day[:n_keep, None] - rand,
    )
    start = np.datetime64(model.calendar.start_date, "D")
    day_map = model.schedule.day_map
    if day_map is None:
        count = np.searchsorted(offsets, last.ravel(), side="right")
        return [
            (start + (r + offsets[:k]).astype("timedelta64[D]")).tolist()
            for r, k in zip(rand.ravel(), count, strict=True)
        ]
    due = rand.ravel()[:, None] + offsets[None, :]  # the scans actually done (visit window)
    inside = due < len(day_map)
    done = np.where(inside, day_map[np.where(inside, due, 0).astype(np.int64)], due)
    count = (done - rand.ravel()[:, None] <= last.ravel()[:, None]).sum(axis=1)
    return [
        (start + d[:k].astype("timedelta64[D]")).tolist() for d, k in zip(done, count, strict=True)
    ]


def add_endpoint_columns(
    model: TrialModel,
    patients: pd.DataFrame,
    rand: np.ndarray,
    endpoints: EndpointResult,
    n_keep: int,
) -> pd.DataFrame:
    """The kept patients' secondary-endpoint columns; `*_day` latent days become dates."""
    extra = {}
    for name, values in endpoints.patient_columns.items():
        values = values[:n_keep]
        if name.endswith("_day"):
            extra[name.removesuffix("_day") + "_date"] = model.calendar.to_datetime64(
                (rand[:n_keep] + values).ravel()
            )
        else:
            extra[name] = values.ravel()
    return patients.assign(**extra) if extra else patients


def add_look_columns(
    model: TrialModel,
    patients: pd.DataFrame,
    cohort: Cohort,
    looks: Sequential,
    endpoints: EndpointResult,
    n_keep: int,
) -> pd.DataFrame:
    """The kept patients' analysis data at each interim look held before the trial
    concluded, as ``look{k}_`` + the cut's columns (`cut_columns`) and
    ``look{k}_data_cut_date``, and ``stop_look`` (the look that concluded the trial, the
    number of looks when it ran to the final analysis): the look that stopped a trial is
    its concluding cut, already in the table's own columns. A look not held (or after the
    stop) has no cut date and nobody in its analysis. The cut rules are those of the look's own test
    (`sim.engine.looks.run_looks`), so its z is reproduced."""
    n = cohort.rand_day.shape[1]
    concluded = np.nanmax(looks.cut_days, axis=1)
    extra = {"stop_look": np.repeat(looks.decisions.stop_look[:n_keep] + 1, n)}
    for k in range(looks.cut_days.shape[1] - 1):  # the final look is the table's own cut
        day = looks.cut_days[:, k]
        held = np.isfinite(day) & (day < concluded)
        columns = cut_columns(model, cohort, np.where(held, day, -np.inf), endpoints, n_keep)
        columns["data_cut_date"] = np.repeat(
            model.calendar.to_datetime64(np.where(held, day, np.nan)[:n_keep]), n
        )
        extra.update({f"look{k + 1}_{name}": values for name, values in columns.items()})
    return patients.assign(**extra)


def cut_columns(
    model: TrialModel,
    cohort: Cohort,
    cut_day: np.ndarray,
    endpoints: EndpointResult,
    n_keep: int,
) -> dict[str, np.ndarray]:
    """The first `n_keep` replicates' patients' endpoints at the chunk's cut days `cut_day`
    (R,), named as the table's columns at its own cut: in_analysis, pfs_days_at_cut,
    pfs_event_at_cut, and as the scenario has them os_days_at_cut / os_event_at_cut,
    local_control_days_at_cut / local_progression_at_cut, best_response / response_date.
    Each comes from the conduct layer's rule that the analyses use (`cut_data`, `cut_os`,
    `local_control_at_cut`, `best_response_at_cut`)."""
    rand, observed = cohort.rand_day, cohort.observed
    time, event, valid = cut_data(rand, observed, cohort.scans, cut_day)
    out = {"in_analysis": valid, "pfs_days_at_cut": time, "pfs_event_at_cut": event}
    if cohort.illness_death is not None:
        os_cut = cut_os(rand, cohort.illness_death, observed.withdraw_day, cut_day)
        out["os_days_at_cut"] = os_cut.time
        out["os_event_at_cut"] = os_cut.event
    involved = endpoints.patient_columns.get("lesion_involved")
    if involved is not None:
        lc_time, lc_event = local_control_at_cut(involved, time, event, observed.is_death)
        out["local_control_days_at_cut"] = lc_time
        out["local_progression_at_cut"] = lc_event
    if endpoints.response is not None:
        horizon = cut_day[:, None] - rand
        code, day = best_response_at_cut(endpoints.response, observed, horizon, valid)
        out["best_response"] = np.asarray(BEST_RESPONSES)[code]
        out["response_date"] = model.calendar.to_datetime64(rand[:n_keep] + day[:n_keep])
    return {
        name: (values if name == "response_date" else values[:n_keep]).ravel()
        for name, values in out.items()
    }
