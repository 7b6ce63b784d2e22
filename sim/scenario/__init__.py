"""The scenario: one YAML file -> one validated, frozen description of a trial.

`load_scenario` is the only way in: ``yaml.safe_load`` -> ``--set`` overrides -> pydantic
validation. Model code never sees a raw dict. Every validation failure becomes a
`ScenarioError` whose message names the dotted field path, the value, the rule and a fix.

Units: calendar fields are dates; durations in the YAML say their unit in the key
(``months``, ``days``, ``weeks``); the simulation clock is days from ``trial.start_date``.

The modules, each importing only those above it in this list:

- `base`: the frozen base of every block, the limits, the constrained number types;
- `errors`: the wording of a validation error (`sim.errors.ScenarioError` is the exception);
- `loading`: YAML reading, hardened; `overrides`: ``--set PATH=VALUE``;
- `sites`: a site table (CSV) and a site generator, read into `enrollment.sites`;
- the blocks as the trial runs them: `conduct` (trial, enrollment, randomization,
  assessments, calendar), `outcomes` (PFS, effect, dropout, OS, response, local control,
  safety, and the hazard arithmetic), `clinic` (treatment, radiotherapy, patients),
  `analysis` (the test-spec language, the cut, the looks);
- `checks`: the cross-field rules, the ones that join blocks;
- `model`: the whole `Scenario` and `load_scenario`.
"""

from __future__ import annotations

import yaml as yaml  # re-exported: tests import it from here

from sim.errors import ScenarioError
from sim.scenario.analysis import (
    ENDPOINT_WORDS,
    MAXCOMBO_DEFAULT,
    TEST_SYNTAX,
    Analysis,
    Bayesian,
    Efficacy,
    Futility,
    HsdParameter,
    HsdSpending,
    KimDemetsParameter,
    KimDemetsSpending,
    Look,
    TestSpec,
    parse_test,
    spending_name,
)
from sim.scenario.base import (
    DAYS_PER_MONTH,
    DAYS_PER_YEAR,
    MAX_CYCLES,
    MAX_DAYS,
    MAX_HAZARD_RATIO,
    MAX_SAMPLE_SIZE,
    MAX_STUDY_YEARS,
    Frozen,
)
from sim.scenario.clinic import (
    BySex,
    Chairs,
    Delay,
    DoseReduction,
    Drug,
    Linac,
    Normal,
    Patients,
    Radiotherapy,
    Regimen,
    Treatment,
    Window,
)
from sim.scenario.conduct import (
    Assessments,
    Calendar,
    Closure,
    Criterion,
    DayRange,
    Enrollment,
    Minimization,
    RampPeriod,
    Randomization,
    RatePeriod,
    ScanPeriod,
    Site,
    SiteGenerator,
    Trial,
)
from sim.scenario.loading import (
    MAX_YAML_BYTES,
    MAX_YAML_VALUES,
    load_yaml_file,
    parse_yaml,
    read_scenario_yaml,
)
from sim.scenario.model import Scenario, load_scenario, parse_scenario, scenario_to_dict
from sim.scenario.outcomes import (
    AdverseEvent,
    Dropout,
    Effect,
    HazardPeriod,
    HazardRatioPeriod,
    LocalControl,
    OverallSurvival,
    PerArm,
    Pfs,
    Response,
    Safety,
    SubsequentTherapies,
    SubsequentTherapy,
    Survival,
)
from sim.scenario.overrides import apply_override
from sim.scenario.prior import ControlMedianPrior, HazardRatioPrior, Prior

__all__ = [
    # the one way in
    "ScenarioError",
    "load_scenario",
    "parse_scenario",
    "read_scenario_yaml",
    "load_yaml_file",
    "parse_yaml",
    "apply_override",
    "scenario_to_dict",
    # limits and units
    "DAYS_PER_MONTH",
    "DAYS_PER_YEAR",
    "MAX_CYCLES",
    "MAX_DAYS",
    "MAX_HAZARD_RATIO",
    "MAX_SAMPLE_SIZE",
    "MAX_STUDY_YEARS",
    "MAX_YAML_BYTES",
    "MAX_YAML_VALUES",
    # the models
    "Frozen",
    "Scenario",
    "Trial",
    "Enrollment",
    "RatePeriod",
    "DayRange",
    "Site",
    "SiteGenerator",
    "RampPeriod",
    "Criterion",
    "Minimization",
    "Randomization",
    "Assessments",
    "ScanPeriod",
    "Calendar",
    "Closure",
    "Pfs",
    "Survival",
    "HazardPeriod",
    "Effect",
    "HazardRatioPeriod",
    "Dropout",
    "OverallSurvival",
    "SubsequentTherapies",
    "SubsequentTherapy",
    "PerArm",
    "Response",
    "LocalControl",
    "Safety",
    "AdverseEvent",
    "Prior",
    "HazardRatioPrior",
    "ControlMedianPrior",
    "Treatment",
    "Delay",
    "Window",
    "DoseReduction",
    "Drug",
    "Regimen",
    "Chairs",
    "Radiotherapy",
    "Linac",
    "Patients",
    "Normal",
    "BySex",
    "Analysis",
    "Bayesian",
    "Look",
    "Efficacy",
    "Futility",
    "HsdParameter",
    "HsdSpending",
    "KimDemetsParameter",
    "KimDemetsSpending",
    # the test-spec language
    "TestSpec",
    "parse_test",
    "MAXCOMBO_DEFAULT",
    "TEST_SYNTAX",
    "spending_name",
    # the words of the primary endpoint (analysis.endpoint) in labels and meanings
    "ENDPOINT_WORDS",
]
