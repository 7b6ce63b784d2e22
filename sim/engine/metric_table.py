"""Every reported metric, one row each: the one table summary.csv, `compare`, the forecast's
comparison.csv, the report and the sweep's key metrics read.

A row (`sim.engine.metrics.Metric`) says the metric's name as summary.csv has it, how it is
computed from the replicates table (statistic over replicates, columns read, and `derive` when
the values are not a column as it is), its unit, group and meaning, whether `compare` pairs
it, and its rank among the key metrics (`key`) and in the forecast's comparison (`plan`).
Families (per arm, look, drug, adverse-event kind, test, ...) are one row with placeholders
(`sim.engine.metrics.PLACEHOLDERS`). summary.csv lists the sections in order, each section's
rows as `sim.engine.metrics.MetricTable` says. Adding a metric is its column's computation
plus one row here (docs/adding-a-metric.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from sim.engine.design_metrics import RANDOMIZATION, SEQUENTIAL, TESTS, TRIGGER_ROWS
from sim.engine.endpoint_metrics import ENDPOINTS
from sim.engine.metrics import (
    MONTHS_SINCE_START,
    PRIMARY_COUNT,
    Context,
    Metric,
    MetricTable,
    Section,
    by_completion,
    equal_to,
    happened,
    row,
)

MSS = MONTHS_SINCE_START


def among_effective(read: Sequence[Any], context: Context, keys: Mapping[str, str]) -> np.ndarray:
    """Columns (reject, truly_effective): the rejections of the replicates whose drawn
    hazard ratio shows a benefit, only those (nan if there are none)."""
    effective = read[1].to_numpy(dtype=bool)
    if not effective.any():
        return np.array([np.nan])
    return read[0].to_numpy(dtype=bool)[effective]


def success_without_benefit(
    read: Sequence[Any], context: Context, keys: Mapping[str, str]
) -> np.ndarray:
    """Columns (reject, truly_effective): rejected although the drawn hazard ratio shows no
    benefit (every replicate counts: a joint share)."""
    return read[0].to_numpy(dtype=bool) & ~read[1].to_numpy(dtype=bool)


# A forecast from unblinded data (the DMC's view; sim.engine.continuation.forecast_columns):
# the chance of success from the simulated rest of the trial, the posterior of the HR its
# continuations drew, and the closed forms from the data as they stand (the same value in
# every replicate, read as their median over replicates: exact, MC SE 0). A blinded
# forecast with a design prior on the HR has the assurance rows above instead.
CLOSED_FORM = (
    "closed form from the observed table at the as-of date: its unstratified log-rank z and "
    "information fraction t = PFS events seen / final planned events (B-value, Lan and Wittes "
    "1988), the final analysis's efficacy bound (of the looks planned after t); "
)
FORECAST_ROWS = (
    row(
        "predictive_probability_of_success",
        "share",
        "reject",
        "share",
        "power",
        "unblinded forecast: share of the simulated continuations of the trial (the data so "
        "far, then the conduct model: accrual, scans, dropout, the cut and the analysis as "
        "planned) whose primary test rejects H0 at the analysis that concludes them; each "
        "continuation draws both arms' hazards from their posteriors given the data, with "
        "the plan's hazards as prior worth --prior-events events each (so its hazard ratio "
        "is drawn from the posterior of the effect)",
        requires=("posterior_hr",),
        plan=1,
    ),
    row(
        "p_hr_below_threshold",
        "share",
        "posterior_hr_below_threshold",
        "share",
        "power",
        "unblinded forecast: posterior probability that the hazard ratio is below the "
        "forecast's hr_threshold (manifest forecast.hr_threshold, 1 unless set: any "
        "benefit), the share of the continuations' hazard ratios (drawn from the arms' "
        "posteriors given the data) below it",
        plan=1,
    ),
    *(
        row(
            f"posterior_hr_{stat}",
            stat,
            "posterior_hr",
            "ratio",
            "power",
            f"unblinded forecast: {{over}} of the hazard ratios the continuations drew from "
            f"the posterior given the data ({label})",
        )
        for stat, label in (
            ("q05", "lower end of a 90% credible interval"),
            ("q50", "posterior median"),
            ("q95", "upper end of a 90% credible interval"),
        )
    ),
    row(
        "conditional_power_design",
        "q50",
        "conditional_power_design",
        "share",
        "power",
        "unblinded forecast: probability that the final analysis rejects H0 given the data "
        "so far if the hazard ratio is the design's (effect.hazard_ratio) from now on; "
        + CLOSED_FORM
        + "the same in every replicate",
        plan=1,
    ),
    row(
        "conditional_power_trend",
        "q50",
        "conditional_power_trend",
        "share",
        "power",
        "unblinded forecast: probability that the final analysis rejects H0 given the data "
        "so far if the hazard ratio is the one the data estimate (the current trend) from "
        "now on; " + CLOSED_FORM + "the same in every replicate",
        plan=1,
    ),
    row(
        "predictive_power_closed_form",
        "q50",
        "predictive_power_closed_form",
        "share",
        "power",
        "unblinded forecast: the conditional power averaged over the posterior of the effect "
        "given the log-rank z (normal approximation) and the scenario's design prior on the "
        "hazard ratio, else a flat prior (Spiegelhalter, Freedman and Blackburn 1986); "
        + CLOSED_FORM
        + "the same in every replicate; predictive_probability_of_success simulates the same "
        "question through the conduct model",
        plan=1,
    ),
    row(
        "p_hr_below_threshold_closed_form",
        "q50",
        "p_hr_below_threshold_closed_form",
        "share",
        "power",
        "unblinded forecast: P(HR < hr_threshold | data) from the log-rank z in the normal "
        "approximation with the scenario's design prior on the hazard ratio, else a flat "
        "prior; " + CLOSED_FORM + "the same in every replicate",
        plan=1,
    ),
)


def seen_by_cut(read: Sequence[Any], context: Context, keys: Mapping[str, str]) -> np.ndarray:
    """Columns (target_events_months, cut_reason): the months the event target was seen,
    only where the data cut came from it (nan elsewhere), as timeline.csv counts it."""
    months = read[0].to_numpy(dtype=float)
    return np.where(read[1].to_numpy() == "events", months, np.nan)


# The figures that carry the risk, first: will the event target be seen by the registered
# completion date, how many events by then, the power if the analysis happens at that date,
# and which cut triggered the analysis actually done.
HEADLINE = Section(
    "headline",
    "table",
    (
        row(
            "p_target_by_completion",
            "share",
            "target_events_date",
            "share",
            "timeline",
            "share of replicates in which the event target ({events}, the {primary}) is "
            "seen on or before the registered completion date (the risk the calendar "
            "carries); a trial stopped "
            "early at an interim look is concluded without it and counts as not seeing it "
            "here: for a design with looks read p_concluded_by_completion and "
            "p_stopped_or_target_by_completion",
            derive=by_completion,
            key=1,
            heading="Event target reached by the completion date",
        ),
        row(
            "p_concluded_by_completion",
            "share",
            "concluded_date",
            "share",
            "timeline",
            "share of replicates in which the trial is concluded - stopped early at an "
            "interim look (efficacy or futility) or its final analysis held (data cut + lag), "
            "whatever cut triggered it - on or before the registered completion date; "
            "without interim looks the same as p_analysis_by_completion; 1 by construction "
            "when the calendar cut is that date",
            derive=by_completion,
            paired=True,
            looks_key=1,
            heading="Trial concluded by the completion date",
        ),
        row(
            "events_at_completion_mean",
            "mean",
            "events_at_completion",
            PRIMARY_COUNT,
            "timeline",
            "{events} seen by the registered completion date ({primary}), all patients "
            "randomized by then, mean over replicates",
            paired=True,
            key=2,
            heading="Primary endpoint's events seen by the completion date (mean)",
        ),
        row(
            "power_at_completion",
            "share",
            "reject_at_completion",
            "share",
            "power",
            "share of replicates whose primary test of the {primary} rejects H0 at the "
            "nominal analysis.alpha if the data were cut at the registered completion date, "
            "with the events seen by then (every replicate; no group-sequential bound, no "
            "futility stop)",
            key=4,
            looks_key=4,
            heading="Power if the analysis happened at the completion date",
        ),
        row(
            "p_cut_by_events",
            "share",
            "cut_reason",
            "share",
            "timeline",
            "share of replicates whose data cut came from reaching the event target "
            "({events}, the {primary})",
            derive=equal_to("events"),
        ),
        row(
            "p_cut_by_date",
            "share",
            "cut_reason",
            "share",
            "timeline",
            "share of replicates whose data cut came from the calendar "
            "cut_date, before the event target",
            derive=equal_to("date"),
            key=5,
            looks_key=5,
            heading="Analysis cut at the calendar date, before the event target",
        ),
        row(
            "p_cut_all_followed",
            "share",
            "cut_reason",
            "share",
            "timeline",
            "share of replicates cut when follow-up ended without reaching the event target "
            "({events}; dropout)",
            derive=equal_to("all_followed"),
        ),
    ),
)

# The primary analysis as the scenario triggers it, the milestones, the KM medians and
# screening.
PRIMARY = Section(
    "primary",
    "table",
    (
        row(
            "power",
            "share",
            "reject",
            "share",
            "power",
            "share of replicates whose primary test of the {primary} (analysis.test, "
            "stratified as analysis.stratified) rejects H0 at the analysis actually done, "
            "at whichever cut triggered it (type I error if HR = 1). With interim looks: "
            "the decision the design makes - its log-rank z crosses the efficacy bound of a "
            "look (bounds spent at each look's observed events; with binding futility, "
            "computed given the futility bounds) before any stop for futility; a futility "
            "stop counts as a failure (not rejecting)",
            paired=True,
            key=3,
            looks_key=3,
            plan=1,
            heading="Power at the analysis",
        ),
        row(
            "power_stratified",
            "share",
            "reject_stratified",
            "share",
            "power",
            "share of replicates whose stratified log-rank test of the {primary} rejects H0 "
            "at the nominal analysis.alpha of a single test, on the data of the analysis "
            "that concluded the trial (type I error if HR = 1). With interim looks no "
            "group-sequential bound is used: a trial stopped early is tested on its stopping "
            "look's data at the nominal alpha (a futility stop counts by that test, which "
            "almost never rejects), a trial that reached the final analysis on the final "
            "data at the nominal alpha (below the final efficacy bound): a check of the "
            "test, not the design's decision (power)",
            paired=True,
        ),
        row(
            "power_unstratified",
            "share",
            "reject_unstratified",
            "share",
            "power",
            "share of replicates whose unstratified log-rank test of the {primary} rejects "
            "H0 at the nominal analysis.alpha of a single test, on the data of the analysis "
            "that concluded the trial (type I error if HR = 1); with interim looks no "
            "group-sequential bound is used (see power_stratified)",
            paired=True,
        ),
        row(
            "events_at_analysis_mean",
            "mean",
            "events",
            PRIMARY_COUNT,
            "timeline",
            "{events} in the analysis that concluded the trial (the final analysis, or the "
            "interim look that stopped it), mean over replicates",
            paired=True,
            key=8,
            looks_key=8,
            plan=4,
            heading="Primary endpoint's events at the analysis (mean)",
        ),
        row(
            "lpi_months_median",
            "median_finite",
            "lpi_months",
            MSS,
            "timeline",
            "last patient randomized, median over the replicates that randomize every "
            "patient (a trial stopped early randomizes nobody after the stop); the date of "
            "timeline.csv's randomized_100pct",
            paired=True,
            key=6,
            looks_key=6,
            plan=5,
            heading="All patients randomized (months from the start, median)",
        ),
        row(
            "target_events_months_median",
            "median_finite",
            ("target_events_months", "cut_reason"),
            MSS,
            "timeline",
            "event target ({events}) seen, median over the replicates whose data cut came "
            "from it (seen by the cut; a calendar cut before it, or a trial stopped early at "
            "a look, sees none): the same replicates and the same day as timeline.csv's "
            "target_events median (target_events_months_mean counts those seeing it after a "
            "calendar cut too)",
            derive=seen_by_cut,
            paired=True,
            plan=6,
            heading="Event target reached (months from the start, median)",
        ),
        row(
            "analysis_months_median",
            "median",
            "analysis_months",
            MSS,
            "timeline",
            "the analysis that concluded the trial (data cut + lag): the final analysis, or "
            "the interim look that stopped it; median over replicates (timeline.csv's "
            "concluded)",
            paired=True,
            key=7,
            looks_key=7,
            plan=7,
            heading="Analysis that concluded the trial (months from the start, median)",
        ),
        row(
            "lpi_months_mean",
            "mean",
            "lpi_months",
            MSS,
            "timeline",
            "last patient randomized, mean over the replicates that randomize every patient",
            paired=True,
        ),
        row(
            "target_events_months_mean",
            "mean",
            "target_events_months",
            MSS,
            "timeline",
            "event target ({events}) seen, mean over the replicates that see it at all, after "
            "a calendar data cut too (as if follow-up went on, as the closed-form "
            "Lachin-Foulkes time assumes; a trial stopped early at a look sees none)",
            paired=True,
        ),
        row(
            "p_analysis_by_completion",
            "share",
            "final_analysis_date",
            "share",
            "timeline",
            "share of replicates whose final analysis (cut + lag) - with interim looks, or "
            "the look that stopped the trial: the same as p_concluded_by_completion (the "
            "final look's own: p_look<k>_by_completion for look k) - is on or before the "
            "completion date; 1 by construction when the calendar cut is that date",
            derive=by_completion,
            paired=True,
            plan=2,
        ),
        row(
            "p_target_reached",
            "share",
            "cut_reason",
            "share",
            "timeline",
            "share of replicates whose data cut came from reaching the "
            "event target ({events}; = p_cut_by_events)",
            derive=equal_to("events"),
            paired=True,
            plan=3,
        ),
        row(
            "hazard_ratio_median",
            "median",
            "hazard_ratio",
            "ratio",
            "efficacy",
            "Cox hazard ratio of the {primary}, experimental vs control, at the analysis, "
            "median over replicates (with interim looks: at the analysis that concluded the "
            "trial; an estimate at an efficacy stop is biased towards benefit)",
            paired=True,
            heading="Hazard ratio estimated at the analysis (median)",
        ),
        row(
            "median_pfs_control_months_mean",
            "mean",
            "median_pfs_control_months",
            "months",
            "efficacy",
            "Kaplan-Meier median PFS at the analysis, control arm: mean of the "
            "per-replicate medians where it was reached (median_pfs_control_reached: how "
            "often; medians are read at scan times, so they sit on the scan grid); q05-q95: "
            "spread of the medians over replicates",
            paired=True,
        ),
        row(
            "median_pfs_experimental_months_mean",
            "mean",
            "median_pfs_experimental_months",
            "months",
            "efficacy",
            "Kaplan-Meier median PFS at the analysis, experimental arm: mean of the "
            "per-replicate medians where it was reached (median_pfs_experimental_reached: "
            "how often; read at scan times); q05-q95: their spread",
            paired=True,
        ),
        *(
            row(
                f"median_pfs_{arm}_reached",
                "share",
                f"median_pfs_{arm}_months",
                "share",
                "efficacy",
                f"share of replicates whose Kaplan-Meier median PFS of the {arm} arm is "
                "reached at the analysis (the others have no median to average)",
                derive=happened,
            )
            for arm in ("control", "experimental")
        ),
        *(  # OS primary (analysis.endpoint: os): the primary's own medians
            row(
                f"median_os_{arm}_months_mean",
                "mean",
                f"median_os_{arm}_months",
                "months",
                "efficacy",
                f"Kaplan-Meier median OS at the analysis (the primary endpoint), {arm} arm: "
                f"mean of the per-replicate medians where it was reached (median_os_{arm}_"
                "reached: how often); q05-q95: their spread",
                paired=True,
            )
            for arm in ("control", "experimental")
        ),
        *(
            row(
                f"median_os_{arm}_reached",
                "share",
                f"median_os_{arm}_months",
                "share",
                "efficacy",
                f"share of replicates whose Kaplan-Meier median OS of the {arm} arm is reached "
                "at the analysis (the primary endpoint; the others have no median to average)",
                derive=happened,
            )
            for arm in ("control", "experimental")
        ),
        row(
            "n_screened_mean",
            "mean",
            "n_screened",
            "patients",
            "conduct",
            "patients screened, mean over replicates",
            paired=True,
            plan=8,
        ),
        row(
            "n_screen_failed_mean",
            "mean",
            "n_screen_failed",
            "patients",
            "conduct",
            "screen failures, mean over replicates",
            paired=True,
        ),
        row(
            "screening_wait_days_mean",
            "mean",
            "screening_wait_days_mean",
            "days",
            "conduct",
            "days a screened patient waited for a screening slot: per replicate the mean "
            "over its patients, then the mean over replicates",
        ),
        row(
            "withdrawals_mean",
            "mean",
            "withdrawals",
            "patients",
            "conduct",
            "withdrawals before the data cut, mean over replicates",
            paired=True,
            plan=9,
        ),
        # the design prior (scenario prior.hazard_ratio): each replicate's true HR drawn
        # from it (columns true_hr, truly_effective: true_hr < prior.no_benefit_hr)
        row(
            "assurance",
            "share",
            "reject",
            "share",
            "power",
            "share of replicates whose primary test of the {primary} rejects H0 (as power), "
            "each replicate with its own true hazard ratio drawn from the design prior: the "
            "chance of success averaged over what we believe (with a prior, the power row "
            "counts the same replicates: it is then not the power at one hazard ratio; in a "
            "blinded forecast: each continuation's hazard ratio drawn from the design prior, "
            "its control hazard from the pooled event rate given that ratio)",
            requires=("true_hr",),
            plan=1,
        ),
        row(
            "p_success_given_effective",
            "share",
            ("reject", "truly_effective"),
            "share",
            "power",
            "among the replicates whose drawn hazard ratio is below prior.no_benefit_hr (the "
            "treatment works), the share whose primary test of the {primary} rejects H0 (a "
            "conditional share: "
            "its standard error counts those replicates only)",
            derive=among_effective,
        ),
        row(
            "p_false_success",
            "share",
            ("reject", "truly_effective"),
            "share",
            "power",
            "share of all replicates whose primary test of the {primary} rejects H0 although "
            "their drawn "
            "hazard ratio is at or above prior.no_benefit_hr (the treatment does not work): "
            "a joint share, P(success and no benefit), not conditional on no benefit",
            derive=success_without_benefit,
        ),
        row(
            "assurance_closed_form",
            "mean",
            "assurance_closed_form",
            "probability",
            "power",
            "the design's power averaged over the prior on the hazard ratio, in closed form at "
            "the final planned events (design.csv's assurance: O'Hagan's formula for one look, "
            "quadrature for looks or a mixture; no conduct, scans or calendar): what the "
            "simulated assurance is compared with; the same in every replicate",
        ),
        row(
            "power_at_prior_mean",
            "mean",
            "power_at_prior_mean",
            "probability",
            "power",
            "the design's closed-form power at the prior's central hazard ratio, exp(prior "
            "mean of log HR), at the final planned events (design.csv's power_at_prior_mean): "
            "the power a design at one effect would quote beside the assurance; the same in "
            "every replicate",
        ),
        *FORECAST_ROWS,
    ),
)


def per_arm_count(quantity: str, unit: str, meaning: str) -> Metric:
    """A count of the clinic per arm, up to the final analysis: its mean over replicates."""
    return row(
        f"{quantity}_{{arm}}_mean",
        "mean",
        f"{quantity}_{{arm}}",
        unit,
        "clinic",
        f"{meaning}, {{arm}} arm, mean over replicates",
        paired=True,
    )


CLINIC_PLAN = 10  # the clinic's trial-wide figures follow the nine of comparison.csv

# The clinic's per-arm counts and trial-wide figures (sim.clinic.tally), with the conduct's
# late scans, up to the final analysis.
CLINIC = Section(
    "clinic",
    "columns",
    (
        row(
            "scans_out_of_window_{arm}_mean",
            "mean",
            "scans_out_of_window_{arm}",
            "scans",
            "conduct",
            "tumour assessments done later than the visit window allows (the clinic closed "
            "all the window through), up to the event seen, withdrawal or the data cut: "
            "deviations (not in protocol_deviations), {arm} arm, mean over replicates",
            paired=True,
        ),
        per_arm_count("cycles_given", "cycles", "treatment cycles given"),
        per_arm_count(
            "cycles_delayed", "cycles", "cycles delayed by toxicity (per protocol, not a deviation)"
        ),
        per_arm_count(
            "cycles_out_of_window",
            "cycles",
            "cycles given after the protocol window (closure or no chair): deviations",
        ),
        per_arm_count(
            "infusion_wait_days", "days", "days cycles waited for a chair, summed over cycles"
        ),
        per_arm_count(
            "dose_reductions",
            "dose levels",
            "dose levels reduced (each patient's lowest level reached, summed over patients)",
        ),
        per_arm_count(
            "toxicity_discontinuations", "patients", "patients stopping treatment for toxicity"
        ),
        per_arm_count(
            "rt_patients_started", "patients", "patients starting Quad Shot radiotherapy"
        ),
        per_arm_count("rt_courses_completed", "courses", "Quad Shot courses completed"),
        per_arm_count("rt_fractions_given", "fractions", "radiotherapy fractions given"),
        per_arm_count("rt_dose_gy", "Gy", "radiotherapy dose given, summed over patients"),
        per_arm_count(
            "rt_bed10_gy",
            "Gy",
            "biologically effective dose (alpha/beta 10 Gy), summed over patients",
        ),
        per_arm_count(
            "rt_courses_out_of_window",
            "courses",
            "Quad Shot courses started outside their window (closure, linac or interval): "
            "deviations",
        ),
        per_arm_count(
            "rt_wait_days", "days", "days Quad Shot courses waited for the linac, summed"
        ),
        per_arm_count("rt_pneumonitis", "patients", "patients with radiation pneumonitis"),
        per_arm_count("rt_stopped_early", "patients", "patients stopping radiotherapy early"),
        per_arm_count(
            "protocol_deviations",
            "deviations",
            "protocol deviations (cycles and RT courses out of window)",
        ),
        row(
            "clinic_chair_utilization_mean",
            "mean",
            "clinic_chair_utilization",
            "share",
            "clinic",
            "infusion-chair minutes used (trial + background) / chair minutes available, "
            "open days up to the analysis, mean over replicates",
            paired=True,
            plan=CLINIC_PLAN,
        ),
        row(
            "clinic_linac_utilization_mean",
            "mean",
            "clinic_linac_utilization",
            "share",
            "clinic",
            "linac slots used (trial + background) / slots available, open days up to "
            "the analysis, mean over replicates",
            paired=True,
            plan=CLINIC_PLAN,
        ),
        row(
            "clinic_{resource}_utilization_peak_month_mean",
            "mean",
            "clinic_{resource}_utilization_peak_month",
            "share",
            "clinic",
            "{resource} utilization in the busiest calendar month up to the analysis "
            "(per replicate: max over months of used / available), mean over replicates",
            paired=True,
            plan=CLINIC_PLAN,
        ),
        row(
            "clinic_{drug}_mg_mean",
            "mean",
            "clinic_{drug}_mg",
            "mg",
            "supply",
            "{drug} dispensed up to the final analysis, mg, mean over replicates",
            paired=True,
            plan=CLINIC_PLAN,
        ),
        row(
            "clinic_{drug}_vials_mean",
            "mean",
            "clinic_{drug}_vials",
            "vials",
            "supply",
            "{drug} vials opened up to the final analysis (single use), mean over replicates",
            paired=True,
            plan=CLINIC_PLAN,
        ),
        row(
            "clinic_{drug}_mg_to_end_mean",
            "mean",
            "clinic_{drug}_mg_to_end",
            "mg",
            "supply",
            "{drug} dispensed to the end of treatment (until every patient's treatment is "
            "over: it goes on after the final analysis), mg, mean over replicates",
            paired=True,
            plan=CLINIC_PLAN,
        ),
        row(
            "clinic_{drug}_vials_to_end_mean",
            "mean",
            "clinic_{drug}_vials_to_end",
            "vials",
            "supply",
            "{drug} vials opened to the end of treatment (single use; treatment goes on after "
            "the final analysis), mean over replicates",
            paired=True,
            plan=CLINIC_PLAN,
        ),
    ),
)


SECTIONS = (HEADLINE, PRIMARY, TRIGGER_ROWS, RANDOMIZATION, CLINIC, ENDPOINTS, SEQUENTIAL, TESTS)
TABLE = MetricTable(SECTIONS)
METRICS = TABLE.metrics
KEY_METRICS = TABLE.key_metrics
key_metrics_of = TABLE.key_metrics_of
with_looks = TABLE.with_looks
run_metrics = TABLE.run_metrics
find_metric = TABLE.find
describe_metric = TABLE.describe
metric_heading = TABLE.heading
describe_metrics = TABLE.describe_all
plan_metrics = TABLE.plan_metrics
