"""The patient table of a chunk's first replicates: one row per patient, every date that
happened to them (screening, randomization, PFS event and when it was seen, withdrawal, the
scans up to the data cut), their analysis data at the cut and their secondary endpoints.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.conduct.assessments import ObservedOutcomes
from sim.conduct.datacut import CutData
from sim.engine.endpoints import EndpointResult
from sim.engine.trial import ARMS, Cohort, TrialModel


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
