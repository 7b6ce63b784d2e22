"""The whole scenario: the `Scenario` model (its cross-field rules are `checks`), and the one
way in (`load_scenario`: YAML -> ``--set`` overrides -> validation)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ConfigDict, ValidationError, model_validator

from sim.errors import ScenarioError
from sim.scenario.analysis import Analysis, check_bayesian_prior
from sim.scenario.base import Frozen
from sim.scenario.checks import check_scenario
from sim.scenario.clinic import Patients, Radiotherapy, Treatment
from sim.scenario.conduct import (
    Assessments,
    Calendar,
    Enrollment,
    Randomization,
    Trial,
    expected_fill_months,
)
from sim.scenario.errors import format_validation_error
from sim.scenario.loading import not_a_scenario, read_scenario_yaml
from sim.scenario.outcomes import (
    Dropout,
    Effect,
    LocalControl,
    OverallSurvival,
    Pfs,
    Response,
    Safety,
    local_progression_share,
    pfs_cumulative_hazard,
)
from sim.scenario.overrides import apply_override
from sim.scenario.prior import Prior, check_prior_fits


class Scenario(Frozen):
    """A whole scenario: the trial, its conduct, its clinic and its analysis, block by block.
    Top-level keys starting with ``x-`` are extensions, ignored (they hold YAML anchors)."""

    model_config = ConfigDict(
        json_schema_extra={
            "patternProperties": {
                "^x-": {"description": "An extension, ignored: a place for YAML anchors."}
            }
        }
    )

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
    prior: Prior | None = None
    """Design prior on the hazard ratio and the control median: each replicate draws its own
    truth from it, and assurance is reported; None: the effect as stated."""

    @model_validator(mode="before")
    @classmethod
    def drop_extensions(cls, data: Any) -> Any:
        """Top-level keys starting with ``x-`` are extensions, ignored (as Compose files allow):
        they hold YAML anchors (``x-site: &site {...}``) the blocks refer to. A generated
        site's first activation defaults to the study start."""
        if not isinstance(data, dict):
            return data
        data = {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith("x-"))}
        enrollment, trial = data.get("enrollment"), data.get("trial")
        generator = enrollment.get("site_generator") if isinstance(enrollment, dict) else None
        if (
            isinstance(generator, dict)
            and generator.get("first_activation") is None
            and isinstance(trial, dict)
            and trial.get("start_date") is not None
        ):
            generator = {**generator, "first_activation": trial["start_date"]}
            data["enrollment"] = {**enrollment, "site_generator": generator}
        return data

    @model_validator(mode="after")
    def check_cross_fields(self) -> Scenario:
        check_scenario(self)
        check_prior_fits(self)
        check_bayesian_prior(self)
        return self

    def pfs_cumulative_hazard(self, arm: int, day: float) -> float:
        """PFS cumulative hazard H(day) = -log S(day) of arm 0 (control) or 1 (experimental)
        for a multiplier-1 patient (`sim.scenario.outcomes.pfs_cumulative_hazard`)."""
        return pfs_cumulative_hazard(self.pfs, self.effect, arm, day)

    def local_progression_share(self, arm: int) -> float:
        """Share of the arm's progressions that involve the index lesion
        (`sim.scenario.outcomes.local_progression_share`)."""
        assert self.local_control is not None
        return local_progression_share(self.local_control, self.pfs, self.effect, arm)

    def expected_fill_months(self) -> float:
        """Months from the start until trial.sample_size patients are expected to be
        randomized (`sim.scenario.conduct.expected_fill_months`)."""
        return expected_fill_months(self.trial, self.enrollment)

    @property
    def strata_names(self) -> list[str]:
        return list(self.randomization.strata)


def parse_scenario(data: Any, source: str = "<scenario>") -> Scenario:
    if not isinstance(data, dict):
        raise ScenarioError(not_a_scenario(data, source))
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
    """The resolved scenario as plain JSON-able data (for manifests); without a prior, no
    `prior` key (nor analysis.bayesian, futility.scale and threshold without them), so that
    a scenario without one resolves as it did before the field existed."""
    data = scenario.model_dump(mode="json")
    if data.get("prior") is None:
        data.pop("prior", None)
    analysis = data["analysis"]
    if analysis.get("bayesian") is None:
        analysis.pop("bayesian", None)
    futility = analysis.get("futility")
    for name in ("scale", "threshold"):
        if futility is not None and futility.get(name) is None:
            futility.pop(name, None)
    drop_later_defaults(data)
    return data


# Fields added after runs were first written, left out at their defaults so that a scenario
# not using them resolves (manifests, `validate`) as it did before they existed.
LATER_DEFAULTS: dict[str, dict[str, Any]] = {
    "randomization": {"method": "permuted_blocks", "minimization": None, "covariates": {}},
    "analysis": {"triggers": None, "rerandomization_draws": None},
    "overall_survival": {"subsequent_therapy": None},
}


def drop_later_defaults(data: dict[str, Any]) -> None:
    """Remove the `LATER_DEFAULTS` fields at their defaults from resolved scenario data (the
    looks' `triggers` too), in place."""
    for block, defaults in LATER_DEFAULTS.items():
        fields = data.get(block)
        if not isinstance(fields, dict):
            continue
        for name, default in defaults.items():
            if name in fields and fields[name] == default:
                del fields[name]
    for look in (data.get("analysis") or {}).get("looks") or ():
        if look.get("triggers") is None:
            look.pop("triggers", None)
