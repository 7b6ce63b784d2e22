"""The blocks of the clinic: systemic treatment (cycles, delays, dose reductions, drugs and
their vials, regimens, infusion chairs), Quad Shot radiotherapy and the linac, and the
patients' covariates the doses are computed from."""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from sim.scenario.base import (
    MAX_DAYS,
    Cycles,
    Days,
    Frozen,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveDays,
    PositiveFloat,
    PositiveInt,
    Probability,
)
from sim.scenario.errors import field_error

MAX_DOSE = 1e6  # per kg, m2, AUC unit or flat mg: far above any drug's, below overflow

# --- treatment and radiotherapy ------------------------------------------------------------


class Delay(Frozen):
    """Cycle delays: each cycle after the first is delayed with `probability`, by `days`."""

    probability: Probability = 0.0
    """Probability that a cycle is delayed (toxicity or logistics) [probability]."""
    days: Days = 0
    """Length of a delay [days]."""


class Window(Frozen):
    """A protocol window around a due day: a visit may be given from `before_days` before to
    `after_days` after it (a "-0/+3 days" window is before_days 0, after_days 3)."""

    before_days: Annotated[int, Field(le=MAX_DAYS)] = 0
    """A visit may be given this many days before its due day [days]."""
    after_days: Annotated[int, Field(le=MAX_DAYS)] = 0
    """A visit may be given this many days after its due day; later is a deviation [days]."""

    @field_validator("before_days", "after_days")
    @classmethod
    def check_not_negative(cls, value: int) -> int:
        if value < 0:
            raise ValueError(
                "a protocol window cannot be shorter than zero days: use 0 or more "
                "(a -0/+3 days window is before_days: 0, after_days: 3)"
            )
        return value


class DoseReduction(Frozen):
    """Before each cycle after the first, with `probability`, the patient's reducible drugs
    drop one level; `levels` are the fractions of the full dose at levels -1, -2, ..."""

    probability: Probability = 0.0
    """Probability, before each cycle after the first, that the reducible drugs drop one dose level
    [probability]."""
    levels: tuple[Annotated[float, Field(gt=0.0, lt=1.0)], ...] = (0.8, 0.6)
    """Fractions of the full dose at levels -1, -2, ... (decreasing) [share]."""

    @field_validator("levels")
    @classmethod
    def check_decreasing(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not value or any(b >= a for a, b in zip(value, value[1:], strict=False)):
            raise ValueError("dose levels must be a non-empty, decreasing list, e.g. [0.8, 0.6]")
        return value


class Drug(Frozen):
    """One drug: its dose (`per`: mg/kg of body weight, mg/m2 of BSA, a Calvert AUC in
    mg/mL x min, or flat mg), its single-use vial sizes and its infusion time."""

    dose: Annotated[float, Field(gt=0.0, le=MAX_DOSE)]
    """Dose per unit of `per`: mg/kg, mg/m2, the Calvert target AUC (mg/mL x min) or flat mg."""
    per: Literal["kg", "m2", "auc", "flat"]
    """What the dose is per: `kg` of body weight, `m2` of body surface area, `auc` (Calvert
    carboplatin), or `flat`."""
    vial_mg: tuple[float, ...]
    """Single-use vial sizes on the label [mg]."""
    infusion_minutes: NonNegativeInt = 0
    """Infusion time of the drug, holding a chair [minutes]."""
    reducible: bool = True
    """Whether the drug follows the patient's dose level (immunotherapy: false)."""

    @field_validator("vial_mg")
    @classmethod
    def check_vials(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not value or any(v <= 0 for v in value):
            raise ValueError(
                "every vial size must be > 0 mg (a vial of 0 mg never covers a dose): "
                "give the sizes on the label, e.g. [100, 450]"
            )
        if len(set(value)) != len(value):
            raise ValueError("vial sizes repeat: list each size once, e.g. [100, 450]")
        return value


class Regimen(Frozen):
    """The drugs of one stratum's cycles: induction cycles, then maintenance."""

    induction: tuple[str, ...]
    """Drugs of each induction cycle (names of `treatment.drugs`)."""
    maintenance: tuple[str, ...] = ()
    """Drugs of each maintenance cycle after induction (names of `treatment.drugs`)."""

    @field_validator("induction")
    @classmethod
    def check_some_drug(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError(
                "the list is empty: give the drugs of an induction cycle, e.g. [QL1706, "
                "carboplatin] (names of treatment.drugs)"
            )
        return value


class Chairs(Frozen):
    """Infusion chairs, each open `hours_per_day` on open clinic days. A visit holds a chair
    for its drugs' infusion times plus `extra_minutes_per_visit` (premedication,
    observation); the clinic's other patients take a Poisson number of chair-hours each day,
    with mean `background_utilization` of the day's chair-hours."""

    chairs: int
    """Infusion chairs in the day unit [chairs]."""
    hours_per_day: PositiveFloat = 8.0
    """Hours each chair is open on an open clinic day [hours]."""
    extra_minutes_per_visit: NonNegativeInt = 0
    """Chair time of a visit beyond its infusions (premedication, observation) [minutes]."""
    background_utilization: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    """Mean share of the day's chair-hours taken by the clinic's other patients (Poisson) [share].
    """

    @field_validator("chairs")
    @classmethod
    def check_some(cls, value: int) -> int:
        if value <= 0:
            raise ValueError(
                "every patient on treatment needs a chair: give at least 1 "
                "(or drop treatment.chairs for unlimited chairs)"
            )
        return value


class Treatment(Frozen):
    """Systemic therapy: induction cycles, then maintenance, every `cycle_days`."""

    cycle1_within_days: Days = 3
    """Cycle 1 is given within this many days of randomization [days]."""
    cycle_days: PositiveDays = 21
    """Cycle length: the next cycle is due this many days after the last [days]."""
    induction_cycles: Cycles = 4
    """Cycles of induction (chemotherapy with immunotherapy) before maintenance [cycles]."""
    max_cycles: Cycles = 35
    """Most cycles a patient may receive, induction included [cycles]."""
    delay: Delay = Delay()
    """Cycle delays."""
    discontinuation_per_cycle: Probability = 0.0
    """Probability, at each cycle, of stopping treatment for toxicity [probability]."""
    window: Window | None = None
    """Protocol window around each cycle's due day; empty: a closed day only shifts a cycle, never a
    deviation."""
    dose_reduction: DoseReduction = DoseReduction()
    """Dose reductions of the reducible drugs."""
    drugs: dict[str, Drug] = Field(default_factory=dict)
    """The drugs by name, with dose, vials and infusion time."""
    vial_choice: Literal["least_waste", "fewest_vials"] = "least_waste"
    """How a dose is made up from single-use vials of several sizes: `least_waste` (the least mg
    dispensed, then the fewest vials) or `fewest_vials` (the fewest vials, then the least mg)."""
    regimens: dict[str, Regimen] = Field(default_factory=dict)
    """The regimen of each stratum (one per stratum of `randomization.strata`)."""
    chairs: Chairs | None = None
    """Infusion chairs; empty: unlimited."""

    @model_validator(mode="after")
    def check_cycles(self) -> Treatment:
        if self.max_cycles < self.induction_cycles:
            raise ValueError(
                f"max_cycles {self.max_cycles} < induction_cycles {self.induction_cycles}: "
                "max_cycles counts every cycle, so make it >= induction_cycles"
            )
        if self.window is not None and self.window.before_days >= self.cycle_days:
            raise field_error(
                ("window", "before_days"),
                self.window.before_days,
                f"a cycle may not come forward a whole cycle ({self.cycle_days} days): "
                f"use before_days < cycle_days",
            )
        for name in self.drugs:
            if "/" in name:
                raise field_error(
                    ("drugs", name),
                    name,
                    "drug names may not contain '/': rename it (e.g. 'nab-paclitaxel')",
                )
        if bool(self.drugs) != bool(self.regimens):
            missing = "regimens" if self.drugs else "drugs"
            raise field_error(
                (missing,),
                {},
                f"drugs and regimens come together: give "
                f"treatment.{missing} too (see scenarios/nct07271602.yaml)",
            )
        for stratum, regimen in self.regimens.items():
            for phase in ("induction", "maintenance"):
                for i, drug in enumerate(getattr(regimen, phase)):
                    if drug not in self.drugs:
                        raise field_error(
                            ("regimens", stratum, phase, i),
                            drug,
                            f"unknown drug: use one of treatment.drugs {sorted(self.drugs)}",
                        )
        if self.chairs is not None:
            if not self.regimens:
                raise field_error(
                    ("chairs",),
                    {},
                    "a chair is held for the regimen's "
                    "infusion times: give treatment.drugs and treatment.regimens",
                )
            longest = max(
                self.visit_minutes(r, p)
                for r in self.regimens.values()
                for p in ("induction", "maintenance")
            )
            if longest > self.chairs.hours_per_day * 60:
                raise field_error(
                    ("chairs", "hours_per_day"),
                    self.chairs.hours_per_day,
                    f"the longest visit takes {longest} min, more than a chair's day: "
                    f"open chairs at least {math.ceil(longest / 60)} h",
                )
        return self

    def visit_minutes(self, regimen: Regimen, phase: str) -> int:
        """Chair minutes of a visit: its drugs' infusion times plus the chairs' extra time."""
        extra = self.chairs.extra_minutes_per_visit if self.chairs is not None else 0
        return extra + sum(self.drugs[d].infusion_minutes for d in getattr(regimen, phase))


class Linac(Frozen):
    """Linear accelerators: each has `slots_per_session` treatment slots in every session of
    an open day, one session per fraction time (a morning and an afternoon one for Quad
    Shot); the clinic's other patients take a Poisson number of slots each session, with
    mean `background_utilization` of them."""

    machines: int
    """Linear accelerators available to the trial [machines]."""
    slots_per_session: PositiveInt
    """Treatment slots per machine in each session (morning, afternoon) of an open day [slots]."""
    background_utilization: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    """Mean share of the slots taken by the clinic's other patients (Poisson) [share]."""

    @field_validator("machines")
    @classmethod
    def check_some(cls, value: int) -> int:
        if value <= 0:
            raise ValueError(
                "the Quad Shot patients need a linac: give at least 1 machine "
                "(or drop radiotherapy.linac for unlimited slots)"
            )
        return value


class Radiotherapy(Frozen):
    """Quad Shot: courses of `days_per_course` consecutive working days, `fraction_times` each."""

    arm: Literal["control", "experimental"] = "experimental"
    """Arm that receives the radiotherapy."""
    courses: Cycles = 3
    """Courses of Quad Shot [courses]."""
    course_interval_days: PositiveDays = 21
    """Interval between the starts of consecutive courses [days]."""
    days_per_course: PositiveDays = 2
    """Consecutive open days of one course [days]."""
    fraction_times: tuple[dt.time, ...] = (dt.time(8, 30), dt.time(15, 0))
    """Clock time of each fraction on a treatment day (HH:MM), in order [time]."""
    dose_per_fraction_gy: PositiveFloat = 3.7
    """Dose of one fraction [Gy]."""
    min_gap_hours: NonNegativeFloat = 6.0
    """Least time between two fractions of a day [hours]."""
    complete_all_courses: Probability = 1.0
    """Probability that a patient who starts RT completes every course (otherwise stops after a
    course) [probability]."""
    pneumonitis: Probability = 0.0
    """Probability, per irradiated patient, of pneumonitis, which stops RT after a course
    [probability]."""
    start_within_days: Days | None = None
    """A course starts within this many days after its cycle; later is a deviation; empty: no window
    [days]."""
    linac: Linac | None = None
    """Linac capacity; empty: unlimited treatment slots."""

    @model_validator(mode="after")
    def check_fraction_gap(self) -> Radiotherapy:
        times = [t.hour + t.minute / 60 for t in self.fraction_times]
        if not times:
            raise ValueError("fraction_times is empty: give e.g. ['08:30', '15:00']")
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        if any(g < self.min_gap_hours for g in gaps):
            raise ValueError(
                f"fraction_times {[t.strftime('%H:%M') for t in self.fraction_times]} are less "
                f"than min_gap_hours {self.min_gap_hours:g} h apart (or not in order): "
                "space them further apart, e.g. ['08:30', '15:00']"
            )
        return self


# --- patients ------------------------------------------------------------------------------


class Normal(Frozen):
    """A normal distribution truncated to [min, max] (None: no bound)."""

    mean: float
    """Mean of the normal distribution (in the unit of the quantity)."""
    sd: NonNegativeFloat
    """Standard deviation (in the unit of the quantity)."""
    min: float | None = None
    """Lower truncation bound; empty: none."""
    max: float | None = None
    """Upper truncation bound; empty: none."""

    @model_validator(mode="after")
    def check_bounds(self) -> Normal:
        if self.min is not None and self.max is not None and self.max <= self.min:
            raise ValueError(f"max {self.max} <= min {self.min}: put max above min")
        return self


class BySex(Frozen):
    """A distribution for men and one for women."""

    male: Normal
    """Distribution in men."""
    female: Normal
    """Distribution in women."""


class Patients(Frozen):
    """Covariates of randomized patients, for doses: age, sex, height, weight, serum
    creatinine; BSA (Mosteller or DuBois) and creatinine clearance (Cockcroft-Gault) follow.
    A patient has one creatinine clearance, from the measured creatinine: creatinine is drawn
    given clearance >= `min_crcl_ml_min` (an eligibility criterion) and the patient table
    shows that value. Carboplatin's Calvert GFR is a dosing rule on top: creatinine floored
    at `creatinine_floor_mg_dl`, clearance capped at `gfr_cap_ml_min`."""

    age: Normal
    """Age at randomization [years]."""
    male: Probability
    """Share of men [share]."""
    height_cm: BySex
    """Height by sex [cm]."""
    weight_kg: BySex
    """Body weight by sex [kg]."""
    creatinine_mg_dl: BySex
    """Serum creatinine by sex [mg/dL]."""
    bsa_formula: Literal["mosteller", "dubois"] = "mosteller"
    """Body surface area formula: `mosteller` or `dubois`."""
    creatinine_floor_mg_dl: NonNegativeFloat = 0.7
    """Creatinine below this is raised to it for the Calvert GFR (a common carboplatin dosing
    rule; eligibility uses the measured creatinine) [mg/dL]."""
    gfr_cap_ml_min: PositiveFloat = 125.0
    """Calvert formula: GFR capped at this value (FDA: AUC 5 gives at most 750 mg) [mL/min]."""
    min_crcl_ml_min: NonNegativeFloat = 0.0
    """Eligibility: creatinine clearance at least this (Cockcroft-Gault, measured creatinine,
    no floor) [mL/min]."""

    @model_validator(mode="after")
    def check_positive_bounds(self) -> Patients:
        for name in ("height_cm", "weight_kg", "creatinine_mg_dl"):
            for sex in ("male", "female"):
                dist = getattr(getattr(self, name), sex)
                if dist.min is None or dist.min <= 0:
                    raise field_error(
                        (name, sex, "min"),
                        dist.min,
                        "must be > 0 (a body measure is positive), e.g. min: 0.3",
                    )
        return self
