"""The rows of the metric table (`sim.engine.metric_table`) for the design's own choices:
group-sequential looks (analysis.looks), analysis triggers (analysis.triggers), minimization
and the re-randomization test (randomization), and the supportive tests (analysis.tests)."""

from __future__ import annotations

from sim.engine.metrics import (
    MONTHS_SINCE_START,
    PRIMARY_COUNT,
    Section,
    by_completion,
    efficacy_first_at_look,
    equal_to,
    happened,
    row,
    stopped_at_look,
    stopped_or_by_completion,
    went_on_past_look,
    with_quantiles,
)

MSS = MONTHS_SINCE_START


SEQUENTIAL = Section(  # group-sequential designs (analysis.looks)
    "sequential",
    "table",
    (
        row(
            "power_ignoring_futility",
            "share",
            "reject_ignoring_futility",
            "share",
            "sequential",
            "share of replicates whose log-rank z of the {primary} crosses an efficacy bound "
            "at some look, futility stops ignored (the trial followed to the look where its z "
            "first crosses; the same bounds as power): what a non-binding futility rule "
            "allows to continue. It exceeds power by the trials a futility stop ended that "
            "would have crossed later; with binding futility the bounds assume the stops, so "
            "it is not a valid power then",
        ),
        row(
            "p_stopped_or_target_by_completion",
            "share",
            ("early_stop", "target_events_date"),
            "share",
            "sequential",
            "share of replicates stopped early at an interim look (efficacy or futility) or "
            "whose event target is seen on or before the registered completion date: with "
            "looks, the counterpart of p_target_by_completion, which counts a trial stopped "
            "early as not seeing its target",
            derive=stopped_or_by_completion,
            heading="Stopped early or event target reached by the completion date",
        ),
        row(
            "early_stop",
            "share",
            "early_stop",
            "share",
            "sequential",
            "share of replicates stopped at an interim look (efficacy or futility): "
            "concluded early, not late (by look: reject_look<k> and "
            "futility_look<k>)",
            looks_key=2,
            heading="Stopped early at an interim look",
        ),
        row(
            "futility_stop",
            "share",
            "stop_reason",
            "share",
            "sequential",
            "share of replicates stopped at an interim look for futility",
            derive=equal_to("futility"),
        ),
        row(
            "not_randomized_at_stop_mean",
            "mean",
            "not_randomized_at_stop",
            "patients",
            "sequential",
            "patients of trial.sample_size never randomized because the trial stopped at an "
            "interim look (screening and randomization end at the analysis date of the stop; "
            "0 in a trial not stopped early), mean over replicates",
            paired=True,
        ),
        row(
            "expected_events",
            "mean",
            "events",
            PRIMARY_COUNT,
            "sequential",
            "{events} at the analysis that ended the trial (interim "
            "stop or final), mean over replicates",
            requires=("stop_look",),
        ),
        row(
            "expected_analysis_months",
            "mean",
            "analysis_months",
            MSS,
            "sequential",
            "months from the start to the analysis that ended the trial "
            "(interim stop or final), mean over replicates",
            requires=("stop_look",),
        ),
        row(
            "reject_look{k}",
            "share",
            ("stop_look", "stop_reason"),
            "share",
            "sequential",
            "share of replicates stopping for efficacy at look {k} (its z of the {primary} "
            "crossing the efficacy bound; the reject_look<k> add up to power)",
            derive=stopped_at_look("efficacy"),
        ),
        row(
            "futility_look{k}",
            "share",
            ("stop_look", "stop_reason"),
            "share",
            "sequential",
            "share of replicates stopping for futility at look {k}",
            derive=stopped_at_look("futility"),
        ),
        row(
            "reached_look{k}",
            "share",
            "look{k}_months",
            "share",
            "sequential",
            "share of replicates that held look {k} (not stopped before it)",
            derive=happened,
        ),
        row(
            "p_look{k}_by_completion",
            "share",
            "look{k}_date",
            "share",
            "sequential",
            "share of replicates that held look {k} on or before the registered completion "
            "date (a trial stopped before it does not hold it)",
            derive=by_completion,
        ),
        row(
            "look{k}_months_mean",
            "mean",
            "look{k}_months",
            MSS,
            "sequential",
            "months from the start to look {k}'s analysis, mean over the replicates that held it",
            paired=True,
        ),
        row(
            "look{k}_months_median",
            "median_finite",
            "look{k}_months",
            MSS,
            "sequential",
            "months from the start to look {k}'s analysis, median over the replicates that held it",
            paired=True,
        ),
        row(
            "look{k}_events_mean",
            "mean",
            "look{k}_events",
            PRIMARY_COUNT,
            "sequential",
            "{events} seen at look {k}'s data cut, mean over the replicates that held it",
            paired=True,
        ),
        row(
            "reject_look{k}_ignoring_futility",
            "share",
            ("stop_look_ignoring_futility", "reject_ignoring_futility"),
            "share",
            "sequential",
            "share of replicates whose efficacy bounds alone (futility stops ignored) are "
            "first crossed at look {k}",
            derive=efficacy_first_at_look,
        ),
        row(
            "look{k}_conditional_power_design_mean",
            "mean",
            "look{k}_conditional_power_design",
            "probability",
            "sequential",
            "at interim look {k}: the chance that the final analysis rejects H0 if the "
            "{design_effect} holds from the look on (conditional "
            "power, B-value closed form with the look's z and events), mean over the "
            "replicates that held the look",
            paired=True,
        ),
        row(
            "look{k}_conditional_power_trend_mean",
            "mean",
            "look{k}_conditional_power_trend",
            "probability",
            "sequential",
            "at interim look {k}: the chance that the final analysis rejects H0 if the "
            "hazard ratio estimated at the look holds from then on (conditional power under "
            "the current trend), mean over the replicates that held the look",
            paired=True,
        ),
        *(
            row(
                f"look{{k}}_{quantity}_continuing_mean",
                "mean",
                (f"look{{k}}_{quantity}", "stop_look"),
                "probability",
                "sequential",
                f"at interim look {{k}}: {words}, mean over the replicates that went on past "
                "the look (not stopped there: the trials whose decision the look left open; "
                "the mean over every replicate that held it counts those stopped there too)",
                derive=went_on_past_look,
            )
            for quantity, words in (
                ("conditional_power_design", "conditional power under the {design_effect}"),
                ("conditional_power_trend", "conditional power under the current trend"),
                ("predictive_power", "predictive power"),
            )
        ),
        *with_quantiles(
            "look{k}_predictive_power",
            "look{k}_predictive_power",
            "probability",
            "sequential",
            "at interim look {k}: the chance that the final analysis rejects H0, averaged "
            "over what the hazard ratio may be given the look's data (predictive power; "
            "posterior from the design prior, or a flat prior without one), {over} that "
            "held the look",
        ),
        row(
            "look{k}_posterior_probability_mean",
            "mean",
            "look{k}_posterior_probability",
            "probability",
            "sequential",
            "at interim look {k}: the posterior probability that the hazard ratio is below "
            "the Bayesian rule's hr_below given the look's data (design prior), mean over "
            "the replicates that held the look",
            paired=True,
        ),
    ),
)

TRIGGER_WORDS = (  # (rule, what set the cut) of sim.conduct.triggers.TRIGGERS, and interim
    ("events", "the total event target (analysis.event_target)"),
    ("date", "the calendar cut (analysis.cut_date)"),
    ("all_followed", "the end of follow-up, the event target never reached"),
    ("stratum_events", "every named stratum reaching its event target"),
    ("min_followup", "the minimum follow-up after the last randomization (the cut raised)"),
    ("not_before", "the calendar floor not_before (the cut raised)"),
    ("not_after", "the calendar cap not_after (the cut lowered)"),
    ("max_extension", "the maximum extension beyond the planned date (the cut lowered)"),
    ("interim", "an interim look that stopped the trial early"),
)

TRIGGER_ROWS = Section(  # analysis.triggers (sim.conduct.triggers)
    "triggers",
    "table",
    (
        *(
            row(
                f"p_trigger_{rule}",
                "share",
                "analysis_trigger",
                "share",
                "timeline",
                f"share of replicates whose concluding analysis's data cut was set by {words}",
                derive=equal_to(rule),
            )
            for rule, words in TRIGGER_WORDS
        ),
        *with_quantiles(
            "dmc_wait_days",
            "dmc_wait_days",
            "days",
            "timeline",
            "days from the data being ready (data cut + analysis.lag_days) to the DMC meeting "
            "that holds the concluding analysis, {over}",
        ),
    ),
)

RANDOMIZATION = Section(  # minimization, covariates, the re-randomization test
    "randomization",
    "columns",
    (
        *with_quantiles(
            "imbalance_{factor}",
            "imbalance_{factor}",
            "patients",
            "randomization",
            "imbalance between the arms on the factor {factor} at the end of randomization: "
            "the sum over its levels of |experimental - control x allocation ratio| (at 1:1, "
            "|experimental - control|), all patients randomized, {over}",
        ),
        row(
            "power_rerandomization",
            "share",
            "reject_rerandomization",
            "share",
            "power",
            "share of replicates whose re-randomization test (the patients randomized again "
            "analysis.rerandomization_draws times by the same method, the stratified log-rank "
            "z recomputed each time) rejects H0 at analysis.alpha, at the analysis that "
            "concluded the trial (type I error if HR = 1)",
        ),
    ),
)

TESTS = Section(  # analysis.tests beyond the log-rank alone (sim.stats.weighted)
    "tests",
    "table",
    (
        row(
            "power_{test}",
            "share",
            "reject_{test}",
            "share",
            "tests",
            "share of replicates rejecting H0 with the {test} test of the {primary} at the "
            "nominal analysis.alpha, on the data of the analysis that concluded the trial "
            "(type I error if HR = 1)",
        ),
        row(
            "estimate_{test}_median",
            "median",
            "estimate_{test}",
            PRIMARY_COUNT,
            "tests",
            "{test}: weighted observed minus expected {events} of the experimental arm "
            "(< 0 favours it), median over replicates",
            paired=True,
            where=(("test", r"logrank|fh_[0-9a-z_]+|mb_[0-9a-z_]+"),),
        ),
        row(
            "estimate_{test}_median",
            "median",
            "estimate_{test}",
            "z",
            "tests",
            "{test}: smallest z of its Fleming-Harrington tests, median over replicates",
            paired=True,
            where=(("test", r"maxcombo[0-9a-z_]*"),),
        ),
        row(
            "estimate_{test}_median",
            "median",
            "estimate_{test}",
            "months",
            "tests",
            "restricted mean {endpoint} to {tau} months, experimental - control, median over "
            "replicates",
            paired=True,
            where=(("test", r"rmst_(?P<tau>[\dp]+)"),),
        ),
        row(
            "estimate_{test}_median",
            "median",
            "estimate_{test}",
            "share",
            "tests",
            "Kaplan-Meier {endpoint} at {t} months, experimental - control, median over replicates",
            paired=True,
            where=(("test", r"milestone_(?P<t>[\dp]+)"),),
        ),
        row(
            "estimate_{test}_median",
            "median",
            "estimate_{test}",
            "ratio",
            "tests",
            "{test}: Kalbfleisch-Prentice average hazard ratio of the {primary}, experimental "
            "vs control, median over replicates",
            paired=True,
            where=(("test", r"ahr[0-9a-z_]*"),),
        ),
    ),
)
