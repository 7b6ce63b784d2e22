"""The rows of the metric table (`sim.engine.metric_table`) for the other objectives: overall
survival, response, local control and safety (`sim.engine.endpoints` computes their columns).
"""

from __future__ import annotations

from sim.engine.metrics import (
    MONTHS_SINCE_START,
    Metric,
    Section,
    happened,
    row,
    with_quantiles,
)

MSS = MONTHS_SINCE_START


OS_DEATHS = (  # (column, meaning) of the death counts of sim.engine.endpoints
    ("os_deaths_at_pfs_cut", "deaths (overall survival events) at the PFS data cut"),
    ("os_deaths", "deaths at the OS analysis's own cut"),
    ("os_deaths_by_maturity", "deaths by the OS maturity date (or completion)"),
)
RESPONSES = (  # (prefix, what is counted, its abbreviation) of sim.engine.endpoints
    ("orr", "objective response rate (CR or PR) among patients in the analysis", "ORR"),
    ("dcr", "disease control rate (CR, PR or SD) among patients in the analysis", "DCR"),
)
OS_LOGRANK = (
    "share of replicates whose {os_cut} log-rank test rejects H0 (as the primary analysis: "
    "sides, alpha, strata)"
)


def response_rows(prefix: str, rate: str, short: str) -> tuple[Metric, ...]:
    """ORR or DCR: per arm, the difference with Newcombe's interval, the CMH test."""
    difference = [
        row(
            f"{prefix}_difference{part}_mean",
            "mean",
            f"{prefix}_difference{part}",
            "share",
            "response",
            f"{words}, mean over replicates",
            paired=True,
        )
        for part, words in (
            ("", f"{short} difference, experimental - control"),
            ("_ci_low", f"lower end of Newcombe's 95% interval of the {short} difference"),
            ("_ci_high", f"upper end of Newcombe's 95% interval of the {short} difference"),
        )
    ]
    return (
        row(
            f"{prefix}_{{arm}}_mean",
            "mean",
            f"{prefix}_{{arm}}",
            "share",
            "response",
            f"{rate}, {{arm}} arm, mean over replicates",
            paired=True,
        ),
        *difference,
        row(
            f"{prefix}_power",
            "share",
            f"{prefix}_reject",
            "share",
            "response",
            f"share of replicates whose {prefix} CMH test across strata rejects H0 (as the "
            "primary analysis: sides, alpha; not the 95% level of the difference's interval)",
        ),
    )


ENDPOINTS = Section(
    "endpoints",
    "columns",
    (
        # overall survival (sim.engine.endpoints)
        *(
            metric
            for column, words in OS_DEATHS
            for metric in (
                *with_quantiles(column, column, "deaths", "overall_survival", f"{words}, {{over}}"),
                *with_quantiles(
                    f"{column}_{{arm}}",
                    f"{column}_{{arm}}",
                    "deaths",
                    "overall_survival",
                    f"{words}, {{arm}} arm, {{over}}",
                ),
            )
        ),
        row(
            "{os_cut}_power",
            "share",
            "{os_cut}_reject",
            "share",
            "overall_survival",
            OS_LOGRANK,
        ),
        row(
            "{os_cut}_hazard_ratio_median",
            "median",
            "{os_cut}_hazard_ratio",
            "ratio",
            "overall_survival",
            "{os_cut}: Cox hazard ratio, experimental vs control, median over replicates",
            paired=True,
        ),
        row(
            "{os_cut}_median_{arm}_months_median",
            "median",
            "{os_cut}_median_{arm}_months",
            "months",
            "overall_survival",
            "{os_cut}: Kaplan-Meier median overall survival, {arm} arm, median over "
            "replicates; a median not reached counts as longer than every one reached "
            "({os_cut}_median_{arm}_reached: how often it is)",
            paired=True,
        ),
        row(
            "{os_cut}_median_{arm}_reached",
            "share",
            "{os_cut}_median_{arm}_months",
            "share",
            "overall_survival",
            "{os_cut}: share of replicates whose Kaplan-Meier median overall survival of the "
            "{arm} arm is reached",
            derive=happened,
        ),
        row(
            "subsequent_therapy_{arm}_mean",
            "mean",
            "subsequent_therapy_{arm}",
            "share",
            "overall_survival",
            "share of the {arm} arm's patients with a progression by the OS analysis's cut "
            "who started a subsequent therapy, mean over replicates",
            paired=True,
        ),
        row(
            "subsequent_immunotherapy_{arm}_mean",
            "mean",
            "subsequent_immunotherapy_{arm}",
            "share",
            "overall_survival",
            "share of the {arm} arm's patients with a progression by the OS analysis's cut "
            "who started a subsequent immunotherapy (in the control arm: crossover), mean "
            "over replicates",
            paired=True,
        ),
        row(
            "os_hr_dilution_median",
            "median",
            "os_hr_dilution",
            "ratio",
            "overall_survival",
            "OS Cox hazard ratio / the same patients' hazard ratio had nobody started a "
            "subsequent therapy (os_without_subsequent), median over replicates: above 1, "
            "the subsequent therapies dilute the OS benefit",
            paired=True,
        ),
        row(
            "os_maturity_mean",
            "mean",
            "os_maturity",
            "share",
            "overall_survival",
            "deaths by the OS maturity date (or completion) / patients "
            "randomized by then, mean over replicates",
            paired=True,
        ),
        row(
            "os_analysis_months_median",
            "median",
            "os_analysis_months",
            MSS,
            "overall_survival",
            "OS analysis (its own cut), median over replicates",
            paired=True,
        ),
        # PFS as the secondary endpoint of an OS-primary trial (analysis.endpoint: os), at
        # the primary analysis's cut; its KM medians are median_pfs_* of the primary section
        *with_quantiles(
            "pfs_events",
            "pfs_events",
            "events",
            "progression_free_survival",
            "PFS events seen (at scans, or deaths) at the data cut of the OS primary "
            "analysis: PFS as secondary endpoint, {over}",
        ),
        row(
            "pfs_power",
            "share",
            "pfs_reject",
            "share",
            "progression_free_survival",
            "share of replicates whose PFS log-rank test (secondary endpoint, at the OS "
            "primary analysis's data cut; as the primary analysis: sides, alpha, strata, no "
            "group-sequential bound) rejects H0",
        ),
        row(
            "pfs_hazard_ratio_median",
            "median",
            "pfs_hazard_ratio",
            "ratio",
            "progression_free_survival",
            "PFS (secondary endpoint, at the OS primary analysis's data cut): Cox hazard "
            "ratio, experimental vs control, median over replicates",
            paired=True,
        ),
        # tumour response
        *(metric for spec in RESPONSES for metric in response_rows(*spec)),
        # local control of the irradiated lesion
        row(
            "local_control_{m}m_{arm}_mean",
            "mean",
            "local_control_{m}m_{arm}",
            "share",
            "local_control",
            "Kaplan-Meier local control of the index lesion at {m} months, {arm} arm, "
            "mean over replicates",
            paired=True,
        ),
        row(
            "local_control_{m}m_difference_mean",
            "mean",
            "local_control_{m}m_difference",
            "share",
            "local_control",
            "Kaplan-Meier local control of the index lesion at {m} months, experimental - "
            "control, mean over replicates",
            paired=True,
        ),
        row(
            "local_control_{m}m_power",
            "share",
            "local_control_{m}m_reject",
            "share",
            "local_control",
            "share of replicates whose z test of the {m}-month local-control difference "
            "(Greenwood variances) rejects H0 (as the primary analysis: sides, alpha)",
        ),
        row(
            "local_control_progressions_mean",
            "mean",
            "local_control_progressions",
            "patients",
            "local_control",
            "local progressions of the irradiated (index) lesion at the analysis's data cut, "
            "mean over replicates",
            paired=True,
        ),
        row(
            "local_control_logrank_power",
            "share",
            "local_control_logrank_reject",
            "share",
            "local_control",
            OS_LOGRANK.format(os_cut="local_control_logrank"),
        ),
        row(
            "local_control_logrank_hazard_ratio_median",
            "median",
            "local_control_logrank_hazard_ratio",
            "ratio",
            "local_control",
            "local_control_logrank: Cox hazard ratio, experimental vs control, median over "
            "replicates",
            paired=True,
        ),
        # safety (sim.clinic.safety): treated = patients given at least one cycle
        *with_quantiles(
            "ae_patients_{kind}_{grade}_{arm}",
            "ae_patients_{kind}_{grade}_{arm}",
            "patients",
            "safety",
            "patients with a {kind} adverse event ({grade} grade; 'all': any kind) by the "
            "analysis, {arm} arm, {stat} over replicates",
        ),
        row(
            "ae_incidence_{kind}_{grade}_{arm}_mean",
            "mean",
            "ae_incidence_{kind}_{grade}_{arm}",
            "share",
            "safety",
            "incidence of {kind} adverse events ({grade} grade; 'all': any kind): patients "
            "with one / treated patients, {arm} arm, mean over replicates",
            paired=True,
        ),
        *with_quantiles(
            "ae_events_{arm}",
            "ae_events_{arm}",
            "events",
            "safety",
            "adverse events (all kinds and grades) by the analysis, {arm} arm, {stat} over "
            "replicates",
        ),
        row(
            "ae_treated_{arm}_mean",
            "mean",
            "ae_treated_{arm}",
            "patients",
            "safety",
            "treated patients (at least one cycle) by the analysis, {arm} arm, mean over "
            "replicates",
            paired=True,
        ),
        row(
            "ae_at_least_{n}_{kind}",
            "share",
            "ae_at_least_{n}_{kind}",
            "share",
            "safety",
            "share of replicates with at least {n} patients with a {kind} adverse event by the "
            "analysis (both arms)",
        ),
    ),
)
