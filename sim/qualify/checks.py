"""The qualification checks: each figure the package computes, beside the committed reference
value it must reproduce, with the tolerance that applies.

Every reference value is read from ``sim/qualify/references`` (R output committed with the
call that produced it: rpact 3.3.4, survival, mvtnorm, haven) or is a closed form stated here,
so a check needs neither R nor pytest. The tests read the same files. A group of checks that
cannot be computed (an exception) becomes one failed row naming the error, never a crash.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import integrate

from sim.qualify.records import (
    SAME_METHOD,
    Check,
    Collector,
    NotRun,
    absolute,
    read_json,
    relative,
    vec,
)
from sim.qualify.simulation import check_monte_carlo

__all__ = ["GROUPS", "SAME_METHOD", "Check", "Collector", "NotRun", "run_checks"]


# ------------------------------------------------------------------ group-sequential designs

FAMILY = {"OF": "obrien_fleming", "P": "pocock", "HSD": "hsd", "KD": "kim_demets"}


def spending_of(kind: str, gamma: Any) -> Any:
    from sim.stats.spending import Spending

    family = kind[2:]
    return Spending(FAMILY[family], gamma if family in ("HSD", "KD") else None)


def rpact_design(ref: dict[str, Any]) -> Any:
    """The package's design for one of rpact's getDesignGroupSequential calls."""
    from sim.stats.sequential import Design, beta_spending_bounds, efficacy_bounds

    t = vec(ref["information"])
    alpha_spending = spending_of(ref["type"], ref["gammaA"])
    if ref["typeBetaSpending"] != "none":
        eff, fut, drift = beta_spending_bounds(
            t,
            alpha_spending,
            ref["alpha"],
            spending_of(ref["typeBetaSpending"], ref["gammaB"]),
            ref["beta"],
            ref["binding"],
        )
        return Design(t, eff, fut, ref["alpha"], ref["beta"], 1, ref["binding"], drift)
    eff = efficacy_bounds(t, alpha_spending, ref["alpha"], ref["sided"])
    futility = np.full(len(t), -np.inf)
    return Design(
        t, eff, futility, ref["alpha"], ref["beta"], ref["sided"], False, math.sqrt(ref["shift"])
    )


def check_group_sequential_designs(references: Path) -> list[Check]:
    """Spending, bounds, drift and stopping probabilities of ten designs against
    getDesignGroupSequential / getDesignCharacteristics. rpact solves its bounds to about
    1e-9, so 1e-6 (alpha spent: 1e-7; drift squared: 1e-5)."""
    data = read_json(references, "reference_group_sequential.json")
    c = Collector("Group-sequential designs", f"rpact {data['rpact']} (R 4.2.2)")
    for name, ref in data["designs"].items():
        design = rpact_design(ref)
        call = ref["call"]
        spent = spending_of(ref["type"], ref["gammaA"])(vec(ref["information"]), ref["alpha"])
        c.add_all(f"{name}: alpha spent", call, ref["alpha_spent"], spent, lambda e: absolute(1e-7))
        c.add_all(
            f"{name}: efficacy bound (z)",
            call,
            ref["critical"],
            design.efficacy,
            lambda e: absolute(1e-6),
        )
        if ref["typeBetaSpending"] != "none":
            c.add_all(
                f"{name}: futility bound (z)",
                call,
                vec(ref["futility"]),
                design.futility[:-1],
                lambda e: absolute(1e-6),
            )
        char = f"{call}; {ref['characteristics_call']}"
        c.add(f"{name}: drift squared (shift)", char, ref["shift"], design.drift**2, absolute(1e-5))
        up, low = design.probabilities(design.drift)
        c.add_all(
            f"{name}: P(reject) at the design drift",
            char,
            ref["rejection_h1"],
            up,
            lambda e: absolute(1e-6),
        )
        inflation = ref["inflation"]
        c.add(
            f"{name}: expected information under H1 (ASN, relative to fixed)",
            char,
            ref["asn_h1"],
            design.expected_fraction(design.drift) * inflation,
            absolute(1e-6),
        )
        c.add(
            f"{name}: expected information under H0",
            char,
            ref["asn_h0"],
            design.expected_fraction(0.0) * inflation,
            absolute(1e-6),
        )
    return c.checks


# The textbook trial of the rpact calls (benchmarks/rpact/textbook.R): 1:1, 104 patients,
# accrual 2.8, 4.2, 4.9 per month over months 0-2, 2-4, 4-6 then 5.6, control median 6.8
# months, dropout 5% by month 12 in each arm.
TEXTBOOK = dict(
    accrual=[(2.0, 2.8), (2.0, 4.2), (2.0, 4.9), (None, 5.6)],
    control_hazards=math.log(2) / 6.8,
    dropout_hazard=-math.log(0.95) / 12,
    allocation=0.5,
    sample_size=104,
)


def power_survival_figures(
    design: Any, events: np.ndarray, hazard_ratio: float
) -> dict[str, np.ndarray]:
    """getPowerSurvival's figures for `design` at `events` per look (1:1, Schoenfeld)."""
    from sim.stats.design import expected_event_time

    drift = -math.log(hazard_ratio) * math.sqrt(events[-1] * 0.25)
    up, low = design.probabilities(drift)
    stop = up + low
    stop[-1] = 1.0 - stop[:-1].sum()
    times = np.array(
        [expected_event_time(d, hazard_ratio=hazard_ratio, **TEXTBOOK) for d in events]
    )
    scale = np.sqrt(events * 0.25)
    return {
        "reject_per_stage": up,
        "futility_per_stage": low[:-1],
        "early_stop": np.array([stop[:-1].sum()]),
        "overall_reject": np.array([up.sum()]),
        "expected_events": np.array([stop @ events]),
        "analysis_time": times,
        "study_duration": np.array([stop @ times]),
        "critical_hr": np.exp(-design.efficacy / scale),
        "futility_hr": np.exp(-design.futility[:-1] / scale[:-1]),
    }


def check_power_survival(references: Path) -> list[Check]:
    """getPowerSurvival on the textbook trial: stage-wise rejection, early stop, power,
    expected events, expected look times (the closed-form event curve) and the bounds on
    the hazard-ratio scale."""
    from sim.stats.sequential import Design, beta_spending_bounds, efficacy_bounds
    from sim.stats.spending import Spending

    data = read_json(references, "reference_group_sequential.json")
    c = Collector("Group-sequential power of a survival trial", f"rpact {data['rpact']} (R 4.2.2)")
    t2 = np.array([0.5, 1.0])
    eff, fut, drift = beta_spending_bounds(
        t2, Spending("obrien_fleming"), 0.1, Spending("hsd", -2.0), 0.2, False
    )
    obf = Design(t2, eff, fut, 0.1, 0.2, 1, False, drift)
    t3 = np.array([1 / 3, 2 / 3, 1.0])
    hsd = efficacy_bounds(t3, Spending("hsd", -4.0), 0.1)
    hsd3 = Design(t3, hsd, np.full(3, -np.inf), 0.1, math.nan, 1, False, math.nan)
    cases = (("textbook_obf_bshsd", obf, 0.6), ("textbook_hsd3_null", hsd3, 0.75))
    tolerances = {
        "reject_per_stage": lambda e: absolute(1e-6),
        "futility_per_stage": lambda e: absolute(1e-6),
        "early_stop": lambda e: absolute(1e-6),
        "overall_reject": lambda e: absolute(1e-6),
        "expected_events": lambda e: absolute(1e-4),
        "analysis_time": lambda e: relative(1e-6, e),
        "study_duration": lambda e: relative(1e-6, e),
        "critical_hr": lambda e: relative(1e-6, e),
        "futility_hr": lambda e: absolute(1e-8),
    }
    for name, design, hr in cases:
        ref = data["power"][name]
        ours = power_survival_figures(design, vec(ref["events_per_stage"]), hr)
        for key, tolerance in tolerances.items():
            expected = vec(ref[key])
            if expected.size == 0:
                continue
            labels = [f"look {k + 1}" for k in range(expected.size)] if expected.size > 1 else [""]
            c.add_all(f"{name}: {key}", ref["call"], expected, ours[key], tolerance, labels)
    return c.checks


# ------------------------------------------------------------- fixed-design closed forms


def check_design_closed_forms(references: Path) -> list[Check]:
    """Schoenfeld and Freedman events and power, the expected-events curve (exponential and
    piecewise) and its inverse, the accrual curve and the Lachin-Foulkes event probability
    against rpact, which computes the same formulas."""
    from sim.stats.design import (
        accrual_end_time,
        expected_event_time,
        expected_events,
        expected_events_by_arm,
        freedman_events,
        freedman_power,
        lachin_foulkes_event_probability,
        schoenfeld_events,
        schoenfeld_power,
    )

    data = read_json(references, "design_rpact.json")
    c = Collector(
        "Fixed-design closed forms (Schoenfeld, Freedman, Lachin-Foulkes)",
        f"rpact {data['rpact']} (R {data['R']})",
    )
    for e in data["events"]:
        ratio = e["allocation_ratio"]
        args = (e["hazard_ratio"], e["alpha"], e["power"], e["sides"], ratio / (1 + ratio))
        for method, events in (("Schoenfeld", schoenfeld_events), ("Freedman", freedman_events)):
            expected = e[method.lower()]
            c.add(
                f"{method} events, HR {e['hazard_ratio']}, alpha {e['alpha']} "
                f"{e['sides']}-sided, power {e['power']}, allocation {ratio:g}:1",
                e["call"],
                expected,
                events(*args),
                relative(SAME_METHOD, expected),
            )
    book = data["textbook"]
    for method, power in (("Schoenfeld", schoenfeld_power), ("Freedman", freedman_power)):
        expected = book[f"power_{method.lower()}"]
        c.add(
            f"{method} power at 70 events, HR 0.6, alpha 0.10 one-sided",
            f"{book['call']}$overallReject",
            expected,
            power(70, 0.6, 0.10),
            relative(SAME_METHOD, expected),
        )
    months = [f"month {t:g}" for t in book["times"]]
    _, experimental = expected_events_by_arm(book["times"], hazard_ratio=0.6, **TEXTBOOK)
    for label, expected, observed in (
        (
            "",
            104 * np.array(book["cumulative"]),
            expected_events(book["times"], hazard_ratio=0.6, **TEXTBOOK),
        ),
        (", experimental arm", 52 * np.array(book["experimental"]), experimental),
    ):
        c.add_all(
            f"expected events of the textbook trial{label}",
            book["events_call"],
            expected,
            observed,
            lambda e: relative(1e-12, e),
            months,
        )
    c.add(
        "months to 70 expected events, textbook trial",
        f"{book['call']}$analysisTime",
        book["analysis_time"],
        expected_event_time(70, hazard_ratio=0.6, **TEXTBOOK),
        relative(1e-8, book["analysis_time"]),  # rpact's uniroot stops within ~5e-10 months
    )
    c.add(
        "months to the last of 104 patients, textbook accrual",
        f"{book['call']}$accrualTime",
        book["accrual_time"],
        accrual_end_time(104, TEXTBOOK["accrual"]),
        relative(SAME_METHOD, book["accrual_time"]),
    )
    # piecewise hazards, per-arm dropout, 2:1: rpact's own event curve is off by up to
    # 1.1e-6 relative here (the package agrees with nested quadrature to 1e-15), hence 2e-6
    piece = data["piecewise"]
    model = dict(
        accrual=[(3.0, 5.0), (2.0, 2.0), (3.0, 10.0), (None, 12.0)],
        control_hazards=[(6.0, 0.1), (6.0, 0.07), (None, 0.04)],
        hazard_ratio=0.75,
        dropout_hazard=(-math.log(0.95) / 12, -math.log(0.90) / 12),
        allocation=2 / 3,
        sample_size=150,
    )
    months = [f"month {t:g}" for t in piece["times"]]
    _, experimental = expected_events_by_arm(piece["times"], **model)
    for label, expected, observed in (
        ("", 150 * np.array(piece["cumulative"]), expected_events(piece["times"], **model)),
        (", experimental arm", 100 * np.array(piece["experimental"]), experimental),
    ):
        c.add_all(
            f"expected events, piecewise hazards and 2:1 allocation{label}",
            piece["call"],
            expected,
            observed,
            lambda e: relative(2e-6, e),
            months,
        )
    c.add(
        "months to 80 expected events, piecewise hazards",
        piece["analysis_time_call"],
        piece["analysis_time"],
        expected_event_time(80, **model),
        relative(1e-6, piece["analysis_time"]),
    )
    c.add(
        "months to the last of 150 patients, piecewise accrual",
        piece["call"] + "$accrualTime",
        piece["accrual_time"],
        accrual_end_time(150, model["accrual"]),
        relative(SAME_METHOD, piece["accrual_time"]),
    )
    lf = data["lachin_foulkes"]
    eta = -math.log(0.9) / 12
    probabilities = [
        lachin_foulkes_event_probability(hazard, eta, 12, 24) for hazard in (0.035, 0.05)
    ]
    for label, key, observed in (
        ("experimental arm (hazard 0.035)", "p_experimental", probabilities[0]),
        ("control arm (hazard 0.05)", "p_control", probabilities[1]),
    ):
        c.add(
            f"Lachin-Foulkes event probability, {label}, accrual 12, follow-up 24 months",
            lf["call"],
            lf[key],
            observed,
            relative(1e-12, lf[key]),
        )
    c.add(
        "patients for 90% power: Schoenfeld events over the mean event probability",
        lf["sample_size_call"],
        lf["sample_size"],
        schoenfeld_events(0.7, 0.025, 0.9) / np.mean(probabilities),
        relative(1e-12, lf["sample_size"]),
    )
    return c.checks


# ------------------------------------------------------ assurance and conditional power


def check_assurance(references: Path) -> list[Check]:
    """Assurance (power averaged over a design prior) and conditional power at an interim,
    against rpact's getPowerSurvival over the prior's quadrature nodes and
    getConditionalPower; 1e-6 absolute."""
    from sim.stats.assurance import assurance, fixed_design
    from sim.stats.predictive import (
        conditional_power,
        conditional_power_sequential,
        conditional_power_trend,
    )
    from sim.stats.priors import LognormalHazardRatio, MixtureHazardRatio
    from sim.stats.sequential import Design, efficacy_bounds
    from sim.stats.spending import Spending

    data = read_json(references, "assurance_rpact.json")
    r_version = data["R"].split()[2]  # "R version 4.2.2 Patched (...)"
    c = Collector("Assurance and conditional power", f"rpact {data['rpact']} (R {r_version})")

    def obf(fractions: list[float]) -> Design:
        t = np.asarray(fractions, dtype=float)
        bounds = efficacy_bounds(t, Spending("obrien_fleming"), 0.025)
        return Design(t, bounds, np.full(len(t), -np.inf), 0.025, math.nan, 1, False, math.nan)

    designs = {
        "fixed": fixed_design(0.025),
        "obf2": obf([0.6, 1.0]),
        "obf3": obf([1 / 3, 2 / 3, 1.0]),
    }
    for name, ref in data["designs"].items():
        c.add_all(
            f"{name}: efficacy bound (z)",
            ref["call"],
            vec(ref["critical"]),
            designs[name].efficacy,
            lambda e: absolute(1e-6),
        )
    for name, ref in data["assurance"].items():
        spec = ref["prior"]
        if spec["distribution"] == "lognormal":
            prior = LognormalHazardRatio(spec["median"], spec["sd_log"])
            described = f"lognormal prior, median HR {spec['median']}, sd(log) {spec['sd_log']}"
        else:
            prior = MixtureHazardRatio(tuple(spec["values"]), tuple(spec["weights"]))
            described = f"mixture prior, HR {spec['values']} with weights {spec['weights']}"
        ratio = ref["allocation_ratio"]
        got = assurance(
            prior, ref["events"], design=designs[ref["design"]], allocation=ratio / (1 + ratio)
        )
        c.add(
            f"{name}: assurance, {ref['events']} events, {described}",
            f"mean over the prior of {ref['call']}$overallReject",
            ref["assurance"],
            got,
            absolute(1e-6),
        )
    c2 = vec(data["designs"]["obf2"]["critical"])[1]
    for ref in data["conditional_power"].values():
        t = ref["events"] / ref["max_events"]
        info = ref["max_events"] * 0.25
        c.add(
            f"conditional power at HR 0.6, interim z {ref['z']}",
            ref["call"],
            ref["conditional_power_design"],
            conditional_power(ref["z"], t, information=info, hazard_ratio=0.6, critical=c2),
            absolute(1e-6),
        )
        c.add(
            f"conditional power under the trend, interim z {ref['z']}",
            ref["call"],
            ref["conditional_power_trend"],
            conditional_power_trend(ref["z"], t, critical=c2),
            absolute(1e-6),
        )
    for ref in data["conditional_power_sequential"].values():
        t = ref["events"] / ref["max_events"]
        args = dict(design=designs["obf3"], information=ref["max_events"] * 0.25)
        for label, hr, key in (
            ("HR 0.6", 0.6, "conditional_power_design"),
            ("the trend", None, "conditional_power_trend"),
        ):
            c.add(
                f"conditional power over the remaining looks at {label}, interim z {ref['z']}",
                ref["call"],
                vec(ref[key])[-1],
                conditional_power_sequential(ref["z"], t, hazard_ratio=hr, **args),
                absolute(1e-6),
            )
    return c.checks


# ---------------------------------------------------- weighted and restricted-time tests


def check_nph_tests(references: Path) -> list[Check]:
    """Fleming-Harrington, RMST, milestone and MaxCombo on a tied, stratified data set
    against R's survival (survdiff, survfit) and mvtnorm (pmvnorm)."""
    from sim.stats import analysis, weighted

    data = read_json(references, "nph_r.json")
    pkgs = data["packages"]
    survival = f"R survival {pkgs['survival']}"
    c = Collector("Weighted log-rank, RMST, milestone, MaxCombo", survival)
    d = pd.read_csv(references / "nph_reference.csv")
    t, e, a, s = (d[col].to_numpy() for col in ("time", "event", "arm", "stratum"))
    sets = {False: analysis.risk_sets(t, e, a, None), True: analysis.risk_sets(t, e, a, s)}
    for row in data["survdiff"]:
        result = weighted.fleming_harrington(sets[row["stratified"]], row["rho"], 0.0)
        label = f"rho {row['rho']:g}, {'stratified' if row['stratified'] else 'unstratified'}"
        c.add(
            f"weighted log-rank O - E, {label}",
            data["survdiff_call"],
            row["o_minus_e"],
            result.estimate[0],
            absolute(1e-9),
        )
        c.add(
            f"weighted log-rank variance, {label}",
            data["survdiff_call"],
            row["variance"],
            result.se[0] ** 2,
            absolute(1e-9),
        )
    rmst = data["rmst"]
    (m0, v0), (m1, v1) = weighted.rmst_by_arm(sets[False], rmst["tau"])
    start = weighted.stratum_starts(sets[False])[0]
    ours = [m0[start], m1[start], math.sqrt(v0[start]), math.sqrt(v1[start])]
    for label, expected, got in zip(
        ("RMST(12) arm 0", "RMST(12) arm 1", "SE of RMST(12) arm 0", "SE of RMST(12) arm 1"),
        [*rmst["rmean"], *rmst["se"]],
        ours,
        strict=True,
    ):
        c.add(label, rmst["call"], expected, got, absolute(1e-9))
    milestone = data["milestone"]
    result = weighted.milestone_difference(sets[False], milestone["time"])
    c.add(
        "milestone survival difference at 12 (arm 1 - arm 0)",
        milestone["call"],
        milestone["survival"][1] - milestone["survival"][0],
        result.estimate[0],
        absolute(1e-10),
    )
    c.add(
        "SE of the milestone difference",
        milestone["call"],
        math.hypot(*milestone["se"]),
        result.se[0],
        absolute(1e-10),
    )
    maxcombo = data["maxcombo"]
    result, _ = weighted.maxcombo(sets[False], ((0, 0), (0, 1), (1, 1), (1, 0)), abs_tol=1e-6)
    mvtnorm = f"R mvtnorm {pkgs['mvtnorm']}"
    # pmvnorm is itself a randomized quadrature: 2e-6 covers both integrators' error
    c.add(
        "MaxCombo one-sided p",
        maxcombo["call"],
        maxcombo["p_one_sided"],
        result.p_one[0],
        absolute(2e-6),
        mvtnorm,
    )
    c.add(
        "MaxCombo two-sided p",
        maxcombo["call"],
        maxcombo["p_two_sided"],
        result.p_two[0],
        absolute(2e-6),
        mvtnorm,
    )
    return c.checks


# ------------------------------------------------------------------ ADaM round trip in R


def check_adam_round_trip(references: Path) -> list[Check]:
    """The ADaM data sets the package wrote (SAS transport files), read back by the package
    and analysed, against R's survdiff and coxph on the same files read by haven; 1e-9
    relative to max(1, |reference|)."""
    from sim.adam import analysis_table, read_adam
    from sim.stats import analysis

    data = read_json(references, "adam_roundtrip_r.json")
    pkgs = data["packages"]
    reference = f"R survival {pkgs['survival']}, haven {pkgs['haven']}"
    c = Collector("ADaM (SAS transport) read back and analysed", reference)
    calls = data["calls"]
    for row in data["results"]:
        folder = references / "adam" / row["folder"]
        table = analysis_table(read_adam(folder / "adsl.xpt", folder / "adtte.xpt"), row["param"])
        arm = (table["arm"] != "control").to_numpy(int)
        stratum = pd.factorize(table["stratum"], sort=True)[0]
        time, event = table["time"].to_numpy(float), table["event"].to_numpy(bool)
        where = f"{row['folder']} {row['param']}"
        c.add(f"{where}: patients", calls["data"], row["n"], len(table), absolute(0))
        c.add(f"{where}: events", calls["data"], row["events"], event.sum(), absolute(0))
        for label, strata in (("", None), ("_stratified", stratum)):
            lr = analysis.logrank_test(time, event, arm, strata)
            call = calls["logrank" + label]
            chisq = row["logrank" + label]["chisq"]
            c.add(
                f"{where}: log-rank chi-square{label.replace('_', ', ')}",
                call,
                chisq,
                lr.chi2[0],
                absolute(1e-9 * max(1.0, abs(chisq))),
            )
            for ties in ("efron", "breslow"):
                cox = analysis.cox_ph(time, event, arm, strata, ties=ties, conf_level=0.95)
                ref = row[f"cox_{ties}{label}"]
                for key, got in (("coef", cox.beta[0]), ("se", cox.se[0])):
                    name = "log hazard ratio" if key == "coef" else "its standard error"
                    c.add(
                        f"{where}: Cox {name}, {ties} ties{label.replace('_', ', ')}",
                        calls["cox" + label].replace("ties = ties", f"ties = '{ties}'"),
                        ref[key],
                        got,
                        absolute(1e-9 * max(1.0, abs(ref[key]))),
                    )
    return c.checks


# ------------------------------------------------------------- illness-death closed form


def progressed_then_alive(u: float, t: float, h01: float, lam: float, h12: float) -> float:
    """Density of progressing at day u (no event before it), then alive at day t."""
    return h01 * math.exp(-lam * u - h12 * (t - u))


def check_illness_death(references: Path) -> list[Check]:
    """The overall-survival function of the illness-death model (constant hazards h01 to
    progression, h02 to death without progression, h12 after progression), as the simulator
    uses it, against its definition integrated numerically (scipy quad):
    S(t) = exp(-(h01 + h02) t) + int_0^t h01 exp(-(h01 + h02) u) exp(-h12 (t - u)) du."""
    from sim.conduct.survival import os_survival_closed_form

    c = Collector("Illness-death model of overall survival", "numerical integration (scipy)")
    day = 30.4375
    cases = (  # PFS median 6.8 months with 10% deaths; post-progression medians 11 and 6.8
        (0.9 * math.log(2) / 6.8 / day, 0.1 * math.log(2) / 6.8 / day, math.log(2) / 11 / day),
        (
            0.9 * 0.6 * math.log(2) / 6.8 / day,
            0.1 * 0.6 * math.log(2) / 6.8 / day,
            0.8 * math.log(2) / 11 / day,
        ),
        (0.9 * math.log(2) / 6.8 / day, 0.1 * math.log(2) / 6.8 / day, math.log(2) / 6.8 / day),
    )
    for h01, h02, h12 in cases:
        lam = h01 + h02
        for t in (90.0, 365.0, 730.0):
            inner, _ = integrate.quad(
                progressed_then_alive, 0.0, t, args=(t, h01, lam, h12), epsabs=1e-14
            )
            reference = math.exp(-lam * t) + inner
            c.add(
                f"S_OS({t:g} days), h01 {h01:.3e}, h02 {h02:.3e}, h12 {h12:.3e} per day",
                "scipy.integrate.quad of the definition",
                reference,
                float(os_survival_closed_form(np.array(t), h01, h02, h12)),
                absolute(1e-10),
            )
    return c.checks


GROUPS: tuple[Callable[[Path], list[Check]], ...] = (
    check_group_sequential_designs,
    check_power_survival,
    check_design_closed_forms,
    check_assurance,
    check_nph_tests,
    check_adam_round_trip,
    check_illness_death,
    check_monte_carlo,
)


def run_checks(references: Path) -> tuple[list[Check], list[str]]:
    """Every group's checks, and the groups not run (with why); a group that raises
    becomes one failed row with the error."""
    checks: list[Check] = []
    not_run: list[str] = []
    for group in GROUPS:
        try:
            checks.extend(group(references))
        except NotRun as reason:
            not_run.append(str(reason))
        except Exception as error:  # noqa: BLE001 - the report must show it, not crash
            title = (group.__doc__ or group.__name__).split("\n")[0]
            checks.append(
                Check(
                    group.__name__.removeprefix("check_").replace("_", " "),
                    f"could not be computed: {type(error).__name__}: {error}",
                    title,
                    "",
                    math.nan,
                    math.nan,
                    0.0,
                    "the check must run",
                )
            )
    return checks, not_run
