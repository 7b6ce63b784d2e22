"""The primary endpoint of a chunk (`analysis.endpoint`): what its analysis sees of the
patients, and the other endpoint's data at the same cut.

With PFS primary the cohort is as drawn (events seen at the scans, or deaths). With OS
primary the analysis sees each patient's death (the illness-death model,
`sim.conduct.survival`) the day it happens, if it comes before the withdrawal; a patient
alive is censored at the withdrawal or at the cut, whichever comes first, with no scan in
between: the same data as `sim.conduct.survival.cut_os`. Everything downstream (the data cut
at the event target, the looks, the tests, the analysis at completion) then runs unchanged
on that view, so the event target counts deaths.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from sim.conduct.assessments import ObservedOutcomes, ScanSchedule
from sim.conduct.datacut import CutData, cut_data
from sim.engine.trial import Cohort, TrialModel
from sim.errors import ScenarioError
from sim.scenario import Scenario


def primary_cohort(model: TrialModel, cohort: Cohort) -> Cohort:
    """The cohort as the primary endpoint's analysis sees it (see the module docstring);
    PFS: `cohort` itself. Raises ValueError with OS primary and no illness-death paths."""
    if model.scenario.analysis.endpoint == "pfs":
        return cohort
    paths = cohort.illness_death
    if paths is None:
        raise ValueError(
            "analysis.endpoint = 'os' needs each patient's death: the overall_survival "
            "block (a forecast from an observed table has no survival after progression)"
        )
    withdraw = cohort.observed.withdraw_day
    dies_first = paths.death_day <= withdraw  # a death on the withdrawal day is seen
    observed = ObservedOutcomes(
        event_day=np.where(dies_first, paths.death_day, np.inf),
        withdraw_day=withdraw,
        withdraw_censor_day=np.where(dies_first, np.inf, withdraw),
        is_death=np.ones_like(dies_first),
    )
    return dataclasses.replace(cohort, observed=observed, scans=ScanSchedule(None))


def pfs_at_cut(model: TrialModel, cohort: Cohort, cut: CutData) -> CutData:
    """PFS at the primary analysis's cut: `cut` itself with PFS primary, else the PFS data
    (seen at the scans) on the same cut day, the target and reason of the primary's cut."""
    if model.scenario.analysis.endpoint == "pfs":
        return cut
    time, event, valid = cut_data(cohort.rand_day, cohort.observed, cohort.scans, cut.cut_day)
    return CutData(time, event, valid, cut.cut_day, cut.target_day, cut.cut_reason)


def check_forecast_endpoint(scenario: Scenario) -> None:
    """A forecast continues PFS from the observed table, which has no deaths after
    progression: it needs a PFS primary endpoint (ScenarioError otherwise)."""
    if scenario.analysis.endpoint != "pfs":
        raise ScenarioError(
            f"analysis.endpoint = {scenario.analysis.endpoint!r}: a forecast continues PFS "
            "from the observed table, which holds no survival after progression, so it "
            "cannot forecast an OS primary analysis: forecast with --set analysis.endpoint=pfs "
            "(the PFS events and dates), or simulate the OS design with `run`"
        )
