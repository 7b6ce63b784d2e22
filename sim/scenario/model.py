"""The whole scenario: the `Scenario` model, its cross-field rules, and the one way in
(`load_scenario`: YAML -> ``--set`` overrides -> validation)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from pydantic import ValidationError, model_validator

from sim.errors import ScenarioError
from sim.scenario.analysis import Analysis
from sim.scenario.base import DAYS_PER_MONTH, DAYS_PER_YEAR, MAX_STUDY_YEARS, Frozen
from sim.scenario.clinic import Patients, Radiotherapy, Treatment
from sim.scenario.conduct import Assessments, Calendar, Enrollment, Randomization, Trial
from sim.scenario.errors import field_error, format_validation_error
from sim.scenario.loading import read_scenario_yaml
from sim.scenario.outcomes import (
    Dropout,
    Effect,
    LocalControl,
    OverallSurvival,
    Pfs,
    Response,
    Safety,
)
from sim.scenario.overrides import apply_override


class Scenario(Frozen):
    """A whole scenario: the trial, its conduct, its clinic and its analysis, block by block."""

    trial: Trial
    """The trial: identifier, dates, sample size."""
    enrollment: Enrollment
    """Screening and enrollment: sites, arrival rates, screening time and failure."""
    randomization: Randomization = Randomization()
    """Allocation ratio, permuted blocks and strata."""
    pfs: Pfs
    """Progression-free survival: each arm's distribution, deaths, prognostic strata."""
    effect: Effect = Effect()
    """Treatment effect of the experimental arm (none when pfs.experimental is given)."""
    dropout: Dropout = Dropout()
    """Withdrawal and loss to follow-up."""
    assessments: Assessments
    """Tumour assessments: when progression is seen."""
    calendar: Calendar = Calendar()
    """Open clinic days: weekdays, public holidays, closures."""
    treatment: Treatment | None = None
    """Systemic therapy: cycles, delays, drugs, regimens, chairs; empty: no clinic model."""
    radiotherapy: Radiotherapy | None = None
    """Quad Shot radiotherapy and the linac; empty: none."""
    patients: Patients | None = None
    """Patients' covariates (for doses); needed with drugs."""
    analysis: Analysis
    """The data cut and the primary analysis."""
    overall_survival: OverallSurvival | None = None
    """Overall survival (illness-death model); None: OS is not simulated."""
    response: Response | None = None
    """Tumour response at the scans; None: not simulated."""
    local_control: LocalControl | None = None
    """Local control of the irradiated lesion; None: not simulated."""
    safety: Safety | None = None
    """Adverse events that drive the clinic's toxicity; None: the treatment block's own
    toxicity probabilities."""

    @model_validator(mode="after")
    def check_cross_fields(self) -> Scenario:
        target = self.analysis.event_target
        if target is not None and target > self.trial.sample_size:
            raise ValueError(
                f"analysis.event_target {target} is above trial.sample_size "
                f"{self.trial.sample_size}: a patient has at most one PFS event, so lower "
                "the target or raise the sample size"
            )
        for i, look in enumerate(self.analysis.looks):
            if look.events is not None and look.events > self.trial.sample_size:
                raise field_error(
                    ("analysis", "looks", i, "events"),
                    look.events,
                    f"above trial.sample_size {self.trial.sample_size}: a "
                    "patient has at most one PFS event; lower it",
                )
            for name in ("date", "not_before", "not_after"):
                day = getattr(look, name)
                if day is not None and day <= self.trial.start_date:
                    raise field_error(
                        ("analysis", "looks", i, name),
                        str(day),
                        f"not after trial.start_date {self.trial.start_date}: put the look later",
                    )
        fill = self.expected_fill_months()  # inf (tables that end): refused below
        if MAX_STUDY_YEARS * 12 < fill < math.inf:
            raise ValueError(
                f"at the screening rates of enrollment, trial.sample_size "
                f"{self.trial.sample_size} patients would take {fill / 12:,.3g} years to "
                f"randomize (more than {MAX_STUDY_YEARS}), so the run could not finish: check "
                "the rates (per_month is patients screened per month)"
            )
        cut = self.analysis.cut_date
        if cut is not None and (cut - self.trial.start_date).days > MAX_STUDY_YEARS * DAYS_PER_YEAR:
            raise ValueError(
                f"analysis.cut_date {cut} is more than {MAX_STUDY_YEARS} years "
                f"after trial.start_date {self.trial.start_date}: check the year"
            )
        if cut is not None and cut <= self.trial.start_date:
            raise ValueError(
                f"analysis.cut_date {cut} is not after trial.start_date "
                f"{self.trial.start_date}: dates out of order (put the cut later)"
            )
        for i, site in enumerate(self.enrollment.sites):
            if not self.trial.start_date <= site.activation_date < self.trial.completion_date:
                raise ValueError(
                    f"enrollment.sites.{i}.activation_date {site.activation_date} is outside "
                    f"the study ({self.trial.start_date} to {self.trial.completion_date}): "
                    "activate the site between the start and the completion date"
                )
        lasting = [
            site.cap
            for site in self.enrollment.site_list(self.trial.start_date)
            if site.screening_rate[-1].months is None
        ]
        reach = sum(math.inf if cap is None else cap for cap in lasting)
        if reach < self.trial.sample_size:
            raise ValueError(
                f"enrollment: no site screens for as long as it takes (every rate table ends, "
                f"or the open-ended sites' caps add up to {reach:g} < trial.sample_size "
                f"{self.trial.sample_size}), so some trials would never fill and the run "
                "could not finish: make the last rate row of a site open-ended (drop its "
                "months) or raise its cap"
            )
        caps = [site.cap for site in self.enrollment.sites]
        if caps and None not in caps and sum(caps) < self.trial.sample_size:  # type: ignore[arg-type]
            raise ValueError(
                f"enrollment.sites caps add up to {sum(caps)} < trial.sample_size "  # type: ignore[arg-type]
                f"{self.trial.sample_size}: raise a cap or remove one"
            )
        self.check_effect()
        if self.radiotherapy is not None and self.treatment is None:
            raise ValueError("radiotherapy starts with cycle 1, so it needs a treatment block")
        if self.treatment is not None and self.treatment.regimens:
            self.check_regimens(self.treatment)
        self.check_secondary_endpoints()
        return self

    def check_safety(self) -> None:
        """With a safety block, toxicity comes only from its events (one process)."""
        if self.safety is None or self.treatment is None:
            return  # without a treatment block there are no cycles, so no events
        legacy = {
            ("treatment", "delay", "probability"): self.treatment.delay.probability,
            (
                "treatment",
                "dose_reduction",
                "probability",
            ): self.treatment.dose_reduction.probability,
            ("treatment", "discontinuation_per_cycle"): self.treatment.discontinuation_per_cycle,
        }
        if self.radiotherapy is not None:
            legacy[("radiotherapy", "pneumonitis")] = self.radiotherapy.pneumonitis
        for loc, value in legacy.items():
            if value:
                raise field_error(
                    loc,
                    value,
                    "must be 0 with a safety block: its adverse "
                    "events cause the delays, reductions, discontinuations and "
                    "RT stops (give them there)",
                )

    def check_secondary_endpoints(self) -> None:
        """OS, response and local control must be possible under the PFS model."""
        self.check_safety()
        os_block = self.overall_survival
        if os_block is not None and os_block.event_target is not None:
            if os_block.event_target > self.trial.sample_size:
                raise field_error(
                    ("overall_survival", "event_target"),
                    os_block.event_target,
                    f"above trial.sample_size {self.trial.sample_size}: a "
                    "patient dies once; lower the target",
                )
        if self.response is not None:
            if self.assessments.mode != "scheduled":
                raise field_error(
                    ("response",),
                    "...",
                    "a response is seen at a scan: use "
                    "scheduled assessments (or drop the response block)",
                )
            first = self.assessments.schedule[0].every_weeks * 7.0
            for a, arm in enumerate(("control", "experimental")):
                orr = getattr(self.response.objective_response, arm)
                alive = math.exp(-self.pfs_cumulative_hazard(a, first))
                if orr > alive:
                    raise field_error(
                        ("response", "objective_response", arm),
                        orr,
                        f"above the {alive:.3f} of patients progression-free at the first "
                        f"scan (day {first:g}): responders must reach a scan; lower it",
                    )
        if self.local_control is not None:
            lc = self.local_control
            for a, arm in enumerate(("control", "experimental")):
                p = getattr(lc.progression_by_months, arm)
                share = self.local_progression_share(a)
                if share > 1.0:
                    h01 = (1 - self.pfs.death_fraction) * self.pfs_cumulative_hazard(
                        a, lc.months * DAYS_PER_MONTH
                    )
                    raise field_error(
                        ("local_control", "progression_by_months", arm),
                        p,
                        f"needs more progressions than PFS gives (at most "
                        f"{-math.expm1(-h01):.3f} by {lc.months:g} months): lower it",
                    )

    def pfs_cumulative_hazard(self, arm: int, day: float) -> float:
        """PFS cumulative hazard H(day) = -log S(day) of arm 0 (control) or 1 (experimental)
        for a multiplier-1 patient: the (piecewise) hazard ratio, the experimental arm's own
        distribution and the cure fraction as the simulator draws them."""
        if arm == 1 and self.pfs.experimental is not None:
            survival, cure = self.pfs.experimental, self.pfs.experimental.cure_fraction
            total = survival.uncured_cumulative_hazard(day)
        elif arm == 1:
            survival = self.pfs.control
            cure = (
                survival.cure_fraction
                if self.effect.cure_fraction is None
                else self.effect.cure_fraction
            )
            starts, ratios = self.effect.ratio_table()
            bounds = [*starts[1:], math.inf]
            total = sum(
                r
                * (
                    survival.uncured_cumulative_hazard(min(day, b))
                    - survival.uncured_cumulative_hazard(a)
                )
                for a, b, r in zip(starts, bounds, ratios, strict=True)
                if a < day
            )
        else:
            survival, cure = self.pfs.control, self.pfs.control.cure_fraction
            total = survival.uncured_cumulative_hazard(day)
        if cure == 0.0:
            return total
        return -math.log(cure + (1.0 - cure) * math.exp(-total))

    def local_progression_share(self, arm: int) -> float:
        """Share of the arm's progressions that involve the index lesion: the lesion's
        cumulative hazard by `local_control.months`, -log(1 - p), over h01's."""
        lc = self.local_control
        assert lc is not None
        p = getattr(lc.progression_by_months, ("control", "experimental")[arm])
        h01 = (1.0 - self.pfs.death_fraction) * self.pfs_cumulative_hazard(
            arm, lc.months * DAYS_PER_MONTH
        )
        if p == 0.0:
            return 0.0
        return math.inf if h01 == 0.0 or p == 1.0 else -math.log1p(-p) / h01

    def check_effect(self) -> None:
        if self.pfs.experimental is None and self.effect.is_empty:
            raise field_error(
                ("effect", "hazard_ratio"),
                None,
                "the experimental arm needs an effect: give effect.hazard_ratio "
                "(e.g. 0.6), effect.piecewise_hazard_ratio, or pfs.experimental",
            )
        if self.pfs.experimental is not None and not self.effect.is_empty:
            raise field_error(
                ("effect",),
                self.effect.model_dump(exclude_defaults=True),
                "pfs.experimental gives the experimental arm's own PFS: drop "
                "the effect block (or pfs.experimental)",
            )
        if self.pfs.experimental is not None and self.effect.cure_fraction is not None:
            raise field_error(
                ("effect", "cure_fraction"),
                self.effect.cure_fraction,
                "give the cure fraction in pfs.experimental instead",
            )
        if self.analysis.looks and self.effect.hazard_ratio is None:
            raise field_error(
                ("analysis", "looks"),
                "...",
                "the group-sequential design side "
                "needs one effect.hazard_ratio (not a piecewise one or "
                "pfs.experimental): drop the looks or give a hazard ratio",
            )
        for name in self.pfs.stratum_hazard_multiplier:
            if name not in self.randomization.strata:
                raise field_error(
                    ("pfs", "stratum_hazard_multiplier", name),
                    name,
                    f"not a stratum: use the names of randomization.strata {self.strata_names}",
                )

    def expected_fill_months(self) -> float:
        """Months from the start until trial.sample_size patients are expected to be
        randomized (each site's screening rates x the screen-pass probability, caps ignored:
        a lower bound); inf if never."""
        keep = 1.0 - self.enrollment.failure_probability
        pieces = []  # (start, end, randomized per month) in months from the study start
        for site in self.enrollment.site_list(self.trial.start_date):
            t = (site.activation_date - self.trial.start_date).days / DAYS_PER_MONTH
            for row in site.screening_rate:
                end = math.inf if row.months is None else t + row.months
                pieces.append((t, end, row.per_month * keep))
                t = end
        cuts = sorted({p[0] for p in pieces} | {p[1] for p in pieces if math.isfinite(p[1])})
        total, need = 0.0, float(self.trial.sample_size)
        for a, b in zip(cuts, [*cuts[1:], math.inf], strict=True):
            rate = sum(r for start, end, r in pieces if start <= a < end)
            if rate > 0 and total + rate * (b - a) >= need:
                return a + (need - total) / rate
            if math.isfinite(b):
                total += rate * (b - a)
        return math.inf

    def check_regimens(self, treatment: Treatment) -> None:
        strata = list(self.randomization.strata)
        for stratum in strata:
            if stratum not in treatment.regimens:
                raise field_error(
                    ("treatment", "regimens"),
                    dict(treatment.regimens),
                    f"no regimen for stratum {stratum!r}: give one per stratum of "
                    f"randomization.strata {strata}",
                )
        for stratum in treatment.regimens:
            if stratum not in strata:
                raise field_error(
                    ("treatment", "regimens", stratum),
                    stratum,
                    f"not a stratum: use the names of randomization.strata {strata}",
                )
        if self.patients is None:
            raise field_error(
                ("patients",),
                None,
                "doses need body size and creatinine: "
                "add a patients block (see scenarios/nct07271602.yaml)",
            )

    @property
    def strata_names(self) -> list[str]:
        return list(self.randomization.strata)


def parse_scenario(data: Any, source: str = "<scenario>") -> Scenario:
    if not isinstance(data, dict):
        raise ScenarioError(
            f"{source}: the file is not a YAML mapping of blocks (trial:, enrollment:, ...)"
        )
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        details = format_validation_error(exc, data)
        first, *others = details.splitlines()
        if others:  # one line still: the first problem in full, then where the others are
            where = [line.split(" = ")[0].split(": ")[0] for line in others]
            first += (
                f" (and {len(others)} more problem{'s' if len(others) > 1 else ''}, "
                f"at {', '.join(where)})"
            )
        raise ScenarioError(f"{source}: invalid scenario: {first}") from exc


def load_scenario(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Scenario:
    """Read, override (``--set`` strings) and validate a scenario; raise ScenarioError."""
    data = read_scenario_yaml(path)
    for assignment in overrides:
        apply_override(data, assignment)
    return parse_scenario(data, str(path))


def scenario_to_dict(scenario: Scenario) -> dict[str, Any]:
    """The resolved scenario as plain JSON-able data (for manifests)."""
    return scenario.model_dump(mode="json")
