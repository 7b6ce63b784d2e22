"""What every summary metric means and in which unit: the one registry of metric definitions.

`describe_metric(name)` gives the `unit` and `meaning` columns of summary.csv (and of the
report and the sweep table). A name is looked up, in this order:

1. `METRICS`: whole summary-metric names, e.g. ``"power"`` or ``"p_target_by_completion"``;
2. `RULES`: regular expressions for families of names, tried in order; the meaning is a
   ``str.format`` template over the pattern's named groups, e.g. ``power_<test>`` or
   ``clinic_<drug>_mg``;
3. a summary of a per-replicate quantity: ``<quantity>_mean`` (mean over replicates) or
   ``<quantity>_median`` (median over replicates), where the quantity is itself found in
   `QUANTITIES` (per-replicate columns of replicates.parquet), optionally with an arm suffix
   ``_control`` / ``_experimental``, or by steps 1-2.

To add metrics, add one line where it fits, e.g. in the module that computes them::

    from sim.engine.metrics import QUANTITIES, RULES, METRICS, rule
    QUANTITIES["ae_grade3"] = ("patients", "patients with a grade >= 3 adverse event")
    RULES.append(rule(r"interim_(?P<k>\\d+)_stop", "share",
                      "share of replicates stopping at interim look {k}"))
    METRICS["os_events_at_analysis_mean"] = ("events", "OS events in the final analysis, mean")

Units are words a planner reads (``share``, ``months``, ``mg``, ``vials``); ``share`` is a
proportion of replicates (0 to 1). ``months since start`` is counted from `trial.start_date`,
a month being 30.4375 days. `describe_metric` never raises: an unknown name gets an empty unit
and the meaning ``"(not described: add it to sim/engine/metrics.py)"``;
tests/test_metrics.py fails on such a name, so a new metric cannot ship without its words.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

UNDESCRIBED = "(not described: add it to sim/engine/metrics.py)"
ARM_WORDS = {"control": "control arm", "experimental": "experimental arm"}


@dataclass(frozen=True)
class Rule:
    pattern: re.Pattern[str]
    unit: str
    meaning: str  # str.format template over the pattern's named groups


def rule(pattern: str, unit: str, meaning: str) -> Rule:
    """A family of metric names (full match of `pattern`) sharing a unit and a meaning."""
    return Rule(re.compile(pattern), unit, meaning)


MONTHS_SINCE_START = "months since start"

# Whole summary-metric names -> (unit, meaning).
METRICS: dict[str, tuple[str, str]] = {
    "power": (
        "share",
        "share of replicates whose primary test rejects H0 at the analysis "
        "actually done, at whichever cut triggered it (type I error if HR = 1)",
    ),
    "p_target_by_completion": (
        "share",
        "share of replicates in which the event target is seen on or before the "
        "registered completion date (the risk the calendar carries)",
    ),
    "events_at_completion_mean": (
        "events",
        "PFS events seen by the registered completion date, all patients randomized "
        "by then, mean over replicates",
    ),
    "p_cut_by_events": (
        "share",
        "share of replicates whose data cut came from reaching the event target",
    ),
    "p_cut_by_date": (
        "share",
        "share of replicates whose data cut came from the calendar "
        "cut_date, before the event target",
    ),
    "p_cut_all_followed": (
        "share",
        "share of replicates cut when follow-up ended without reaching the event target (dropout)",
    ),
    "power_at_completion": (
        "share",
        "power of the primary test if the data were cut at the registered completion "
        "date, with the events seen by then (every replicate)",
    ),
    "p_analysis_by_completion": (
        "share",
        "share of replicates whose final analysis (cut + lag) is on or before the "
        "completion date; 1 by construction when the calendar cut is that date",
    ),
    "p_target_reached": (
        "share",
        "share of replicates whose data cut came from reaching the "
        "event target (= p_cut_by_events)",
    ),
    "median_pfs_control_months_mean": (
        "months",
        "Kaplan-Meier median PFS at the analysis, control arm: mean of the "
        "per-replicate medians (medians are read at scan times, so they sit on the "
        "scan grid); q05-q95: spread of the medians over replicates",
    ),
    "median_pfs_experimental_months_mean": (
        "months",
        "Kaplan-Meier median PFS at the analysis, experimental arm: mean of the "
        "per-replicate medians (read at scan times); q05-q95: their spread",
    ),
    "os_maturity_mean": (
        "share",
        "deaths by the OS maturity date (or completion) / patients "
        "randomized by then, mean over replicates",
    ),
    "os_analysis_months_median": (
        MONTHS_SINCE_START,
        "OS analysis (its own cut), median over replicates",
    ),
    "local_control_progressions_mean": (
        "patients",
        "local progressions of the irradiated (index) lesion at the PFS cut, mean over replicates",
    ),
    "screening_wait_days_mean": (
        "days",
        "days a screened patient waited for a screening slot: per replicate the mean "
        "over its patients, then the mean over replicates",
    ),
    "clinic_chair_utilization_mean": (
        "share",
        "infusion-chair minutes used (trial + background) / chair minutes available, "
        "open days up to the analysis, mean over replicates",
    ),
    "clinic_linac_utilization_mean": (
        "share",
        "linac slots used (trial + background) / slots available, open days up to "
        "the analysis, mean over replicates",
    ),
}

# Families of names; tried in order, first full match wins.
RULES: list[Rule] = [
    # secondary endpoints (sim.engine.endpoints): a test's `<prefix>reject` -> `<prefix>power`
    rule(
        r"(?P<what>os|os_at_pfs_cut|local_control_logrank)_power",
        "share",
        "share of replicates whose {what} log-rank test rejects H0 (as the primary analysis: "
        "sides, alpha, strata)",
    ),
    rule(
        r"(?P<what>orr|dcr)_power",
        "share",
        "share of replicates whose {what} CMH test across strata rejects H0",
    ),
    rule(
        r"local_control_(?P<m>[\d.]+)m_power",
        "share",
        "share of replicates whose z test of the {m}-month local-control difference (Greenwood "
        "variances) rejects H0",
    ),
    rule(
        r"(?P<what>os|os_at_pfs_cut|local_control_logrank)_hazard_ratio_median",
        "ratio",
        "{what}: Cox hazard ratio, experimental vs control, median over replicates",
    ),
    rule(
        r"(?P<what>os|os_at_pfs_cut)_median_(?P<arm>control|experimental)_months_median",
        "months",
        "{what}: Kaplan-Meier median overall survival, {arm} arm, median over replicates",
    ),
    # safety (sim.clinic.safety): treated = patients given at least one cycle
    rule(
        r"ae_patients_(?P<kind>.+)_(?P<grade>any|grade3plus)_(?P<arm>control|experimental)"
        r"_(?P<stat>mean|median|q05|q50|q95)",
        "patients",
        "patients with a {kind} adverse event ({grade} grade; 'all': any kind) by the "
        "analysis, {arm} arm, {stat} over replicates",
    ),
    rule(
        r"ae_incidence_(?P<kind>.+)_(?P<grade>any|grade3plus)_(?P<arm>control|experimental)"
        r"_(?P<stat>mean|median)",
        "share",
        "incidence of {kind} adverse events ({grade} grade; 'all': any kind): patients with "
        "one / treated patients, {arm} arm, {stat} over replicates",
    ),
    rule(
        r"ae_events_(?P<arm>control|experimental)_(?P<stat>mean|median|q05|q50|q95)",
        "events",
        "adverse events (all kinds and grades) by the analysis, {arm} arm, {stat} over replicates",
    ),
    rule(
        r"ae_treated_(?P<arm>control|experimental)_(?P<stat>mean|median)",
        "patients",
        "treated patients (at least one cycle) by the analysis, {arm} arm, {stat} over replicates",
    ),
    rule(
        r"ae_at_least_(?P<k>\d+)_(?P<kind>.+)",
        "share",
        "share of replicates with at least {k} patients with a {kind} adverse event by the "
        "analysis (both arms)",
    ),
    rule(
        r"power_(?P<test>.+)",
        "share",
        "share of replicates rejecting H0 with the {test} test (type I error if HR = 1)",
    ),
    # the tests of analysis.test / supportive_tests (sim.stats.weighted): their estimates
    rule(
        r"estimate_(?P<test>logrank|fh_.+|mb_.+)_median",
        "events",
        "{test}: weighted observed minus expected PFS events of the experimental arm "
        "(< 0 favours it), median over replicates",
    ),
    rule(
        r"estimate_(?P<test>maxcombo.*)_median",
        "z",
        "{test}: smallest z of its Fleming-Harrington tests, median over replicates",
    ),
    rule(
        r"estimate_rmst_(?P<tau>[\dp]+)_median",
        "months",
        "restricted mean PFS to {tau} months, experimental - control, median over replicates",
    ),
    rule(
        r"estimate_milestone_(?P<t>[\dp]+)_median",
        "share",
        "Kaplan-Meier PFS at {t} months, experimental - control, median over replicates",
    ),
    rule(
        r"estimate_(?P<test>ahr.*)_median",
        "ratio",
        "{test}: Kalbfleisch-Prentice average hazard ratio, experimental vs control, median "
        "over replicates",
    ),
    rule(
        r"clinic_(?P<res>chair|linac)_utilization_peak_month_(?P<stat>mean|median)",
        "share",
        "{res} utilization in the busiest calendar month up to the analysis "
        "(per replicate: max over months of used / available), {stat} over "
        "replicates",
    ),
    rule(
        r"clinic_(?P<drug>.+)_mg_to_end_(?P<stat>mean|median)",
        "mg",
        "{drug} dispensed to the end of treatment (until every patient's treatment is "
        "over: it goes on after the final analysis), mg, {stat} over replicates",
    ),
    rule(
        r"clinic_(?P<drug>.+)_vials_to_end_(?P<stat>mean|median)",
        "vials",
        "{drug} vials opened to the end of treatment (single use; treatment goes on after "
        "the final analysis), {stat} over replicates",
    ),
    rule(
        r"clinic_(?P<drug>.+)_mg_(?P<stat>mean|median)",
        "mg",
        "{drug} dispensed up to the final analysis, mg, {stat} over replicates",
    ),
    rule(
        r"clinic_(?P<drug>.+)_vials_(?P<stat>mean|median)",
        "vials",
        "{drug} vials opened up to the final analysis (single use), {stat} over replicates",
    ),
]

# Per-replicate quantities (columns of replicates.parquet) -> (unit, meaning).
# group-sequential designs (analysis.looks; sim.engine.results.sequential_rows)
METRICS.update(
    {
        "power_ignoring_futility": (
            "share",
            "share of replicates rejecting H0 at some look by the efficacy bounds alone "
            "(futility stops ignored: what a non-binding rule 'would have continued' to)",
        ),
        "early_stop": (
            "share",
            "share of replicates stopped at an interim look (efficacy or futility)",
        ),
        "futility_stop": ("share", "share of replicates stopped at an interim look for futility"),
        "expected_events": (
            "events",
            "PFS events at the analysis that ended the trial (interim "
            "stop or final), mean over replicates",
        ),
        "expected_analysis_months": (
            MONTHS_SINCE_START,
            "months from the start to the analysis that ended the trial "
            "(interim stop or final), mean over replicates",
        ),
    }
)
RULES += [
    rule(
        r"reject_look(?P<k>\d+)", "share", "share of replicates stopping for efficacy at look {k}"
    ),
    rule(
        r"reject_look(?P<k>\d+)_ignoring_futility",
        "share",
        "share of replicates whose efficacy bounds alone (futility stops ignored) are first "
        "crossed at look {k}",
    ),
    rule(
        r"futility_look(?P<k>\d+)", "share", "share of replicates stopping for futility at look {k}"
    ),
    rule(
        r"reached_look(?P<k>\d+)",
        "share",
        "share of replicates that held look {k} (not stopped before it)",
    ),
    rule(
        r"look(?P<k>\d+)_months_(?P<stat>mean|median)",
        MONTHS_SINCE_START,
        "months from the start to look {k}'s analysis, {stat} over the replicates that held it",
    ),
    rule(
        r"look(?P<k>\d+)_events_(?P<stat>mean|median)",
        "events",
        "PFS events seen at look {k}'s data cut, {stat} over the replicates that held it",
    ),
]

QUANTITIES: dict[str, tuple[str, str]] = {
    "events_at_analysis": ("events", "PFS events in the final analysis"),
    "events": ("events", "PFS events in the final analysis"),
    "lpi_months": (MONTHS_SINCE_START, "last patient randomized"),
    "target_events_months": (
        MONTHS_SINCE_START,
        "event target seen (replicates that reach it at all)",
    ),
    "analysis_months": (MONTHS_SINCE_START, "final analysis (data cut + lag)"),
    "hazard_ratio": ("ratio", "Cox hazard ratio, experimental vs control, at the analysis"),
    "median_pfs_control_months": (
        "months",
        "Kaplan-Meier median PFS, control arm, read at scan times",
    ),
    "median_pfs_experimental_months": (
        "months",
        "Kaplan-Meier median PFS, experimental arm, read at scan times",
    ),
    "n_screened": ("patients", "patients screened"),
    "n_screen_failed": ("patients", "screen failures"),
    # secondary endpoints (sim.engine.endpoints)
    "os_deaths_at_pfs_cut": ("deaths", "deaths (overall survival events) at the PFS data cut"),
    "os_deaths": ("deaths", "deaths at the OS analysis's own cut"),
    "os_deaths_by_maturity": ("deaths", "deaths by the OS maturity date (or completion)"),
    "orr": ("share", "objective response rate (CR or PR) among patients in the analysis"),
    "orr_difference": ("share", "ORR difference, experimental - control"),
    "orr_difference_ci_low": (
        "share",
        "lower end of Newcombe's 95% interval of the ORR difference",
    ),
    "orr_difference_ci_high": (
        "share",
        "upper end of Newcombe's 95% interval of the ORR difference",
    ),
    "dcr": ("share", "disease control rate (CR, PR or SD) among patients in the analysis"),
    "dcr_difference": ("share", "DCR difference, experimental - control"),
    "dcr_difference_ci_low": (
        "share",
        "lower end of Newcombe's 95% interval of the DCR difference",
    ),
    "dcr_difference_ci_high": (
        "share",
        "upper end of Newcombe's 95% interval of the DCR difference",
    ),
    "screening_wait_days": (
        "days",
        "days a screened patient waited for a screening slot, mean over the trial's patients",
    ),
    "withdrawals": ("patients", "withdrawals before the data cut"),
    "events_at_completion": ("events", "PFS events seen by the completion date"),
    "scans_out_of_window": (
        "scans",
        "tumour assessments done later than the visit window "
        "allows (the clinic closed all the window through), up "
        "to the event seen, withdrawal or the data cut: "
        "deviations (not in protocol_deviations)",
    ),
    # clinic, per arm (suffix _control / _experimental), up to the final analysis
    "cycles_given": ("cycles", "treatment cycles given"),
    "cycles_delayed": ("cycles", "cycles delayed by toxicity (per protocol, not a deviation)"),
    "cycles_out_of_window": (
        "cycles",
        "cycles given after the protocol window (closure or no chair): deviations",
    ),
    "infusion_wait_days": ("days", "days cycles waited for a chair, summed over cycles"),
    "dose_reductions": (
        "dose levels",
        "dose levels reduced (each patient's lowest level reached, summed over patients)",
    ),
    "toxicity_discontinuations": ("patients", "patients stopping treatment for toxicity"),
    "rt_patients_started": ("patients", "patients starting Quad Shot radiotherapy"),
    "rt_courses_completed": ("courses", "Quad Shot courses completed"),
    "rt_fractions_given": ("fractions", "radiotherapy fractions given"),
    "rt_dose_gy": ("Gy", "radiotherapy dose given, summed over patients"),
    "rt_bed10_gy": ("Gy", "biologically effective dose (alpha/beta 10 Gy), summed over patients"),
    "rt_courses_out_of_window": (
        "courses",
        "Quad Shot courses started outside their window (closure, linac or interval): deviations",
    ),
    "rt_wait_days": ("days", "days Quad Shot courses waited for the linac, summed"),
    "rt_pneumonitis": ("patients", "patients with radiation pneumonitis"),
    "rt_stopped_early": ("patients", "patients stopping radiotherapy early"),
    "protocol_deviations": (
        "deviations",
        "protocol deviations (cycles and RT courses out of window)",
    ),
}

STATISTICS = {
    "mean": "mean over replicates",
    "median": "median over replicates",
    "q05": "5% quantile over replicates",
    "q50": "median over replicates",
    "q95": "95% quantile over replicates",
}
LANDMARK = re.compile(r"local_control_(?P<m>[\d.]+)m_(?P<what>control|experimental|difference)")


def describe_metric(name: str) -> tuple[str, str]:
    """(unit, meaning) of a summary metric; ("", UNDESCRIBED) if the registry lacks it."""
    if name in METRICS:
        return METRICS[name]
    for r in RULES:
        match = r.pattern.fullmatch(name)
        if match:
            return r.unit, r.meaning.format(**match.groupdict())
    stem, _, stat = name.rpartition("_")
    if stat in STATISTICS and stem:
        found = describe_quantity(stem)
        if found is not None:
            return found[0], f"{found[1]}, {STATISTICS[stat]}"
    return "", UNDESCRIBED


def describe_quantity(name: str) -> tuple[str, str] | None:
    """(unit, meaning) of a per-replicate quantity, arm suffix included; None if unknown."""
    if name in QUANTITIES:
        return QUANTITIES[name]
    landmark = LANDMARK.fullmatch(name)
    if landmark:
        m, what = landmark["m"], landmark["what"]
        return "share", (
            f"Kaplan-Meier local control of the index lesion at {m} months, "
            + ("experimental - control" if what == "difference" else f"{what} arm")
        )
    stem, _, arm = name.rpartition("_")
    if arm in ARM_WORDS and stem in QUANTITIES:
        unit, meaning = QUANTITIES[stem]
        return unit, f"{meaning}, {ARM_WORDS[arm]}"
    return None


def format_number(value: object, unit: str = "") -> str:
    """A number as a planner reads it: shares as percentages (``78.2%``), other values to 4
    significant digits with thousands separators and no exponent (``365,900``), the unit
    appended when given (``365,900 mg``); blank for a missing value."""
    if value is None or isinstance(value, str):
        return "" if value is None else value
    v = float(value)
    if not math.isfinite(v):
        return "" if math.isnan(v) else ("never" if v > 0 else "-inf")
    if unit == "share":
        return f"{v * 100:.2g}%" if 0 < abs(v) < 0.01 else f"{v:.1%}"
    if v == 0:
        text = "0"
    elif abs(v) >= 1000:
        digits = 3 - int(math.floor(math.log10(abs(v))))
        text = f"{round(v, digits):,.0f}"
    elif abs(v) < 1e-3:
        text = f"{v:.2g}" if abs(v) >= 1e-12 else "0"
    else:
        text = f"{v:.4g}"
    show_unit = unit and unit not in ("ratio", MONTHS_SINCE_START)
    return f"{text} {unit}" if show_unit else text


def describe_metrics(names) -> tuple[list[str], list[str]]:
    """Units and meanings of a sequence of metric names (the two summary.csv columns)."""
    pairs = [describe_metric(n) for n in names]
    return [u for u, _ in pairs], [m for _, m in pairs]
