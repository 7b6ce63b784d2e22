"""The qualification's Monte Carlo checks: whole simulated trials of the shipped textbook
scenario against closed forms and rpact's own simulator, with a fixed seed."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from scipy import optimize

from sim.qualify.records import Check, Collector, NotRun, read_json, relative, vec

# ------------------------------------------------------------------ Monte Carlo simulation

# The scenario the closed forms assume (exponential PFS, progression seen when it happens,
# no screening failure, unstratified test at the event target), as the repository ships it.
TEXTBOOK_SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "textbook.yaml"
BASELINE_SCENARIO = TEXTBOOK_SCENARIO.with_name("nct07271602.yaml")
MC_SEED = 21  # fixed: the same figures on every run of the same installation
MC_REPS = {"textbook": 2000, "null": 2000, "sequential": 1000}


def check_monte_carlo(references: Path) -> list[Check]:
    """Whole simulated trials (the discrete-event model, Monte Carlo) of the textbook
    scenario against closed forms and rpact's own simulator. Tolerances from the Monte Carlo
    standard error (SE): power within 0.01 (Schoenfeld's own error at 70 events) + 3 SE;
    median times within 3%; stopping shares within 3 combined SE of both simulations; mean
    look times within 2%. A fixed seed makes every run of one installation give the same
    figures."""
    import sim.api as api

    if not (TEXTBOOK_SCENARIO.is_file() and BASELINE_SCENARIO.is_file()):
        raise NotRun(
            "Monte Carlo simulation of whole trials: not run, as it needs the repository's "
            f"scenarios {TEXTBOOK_SCENARIO.name} and {BASELINE_SCENARIO.name} in "
            f"{TEXTBOOK_SCENARIO.parent} (an installed wheel has no scenarios folder)"
        )
    c = Collector("Monte Carlo simulation of whole trials", "closed form")
    base = api.load_scenario(TEXTBOOK_SCENARIO)
    plan = api.design(base).set_index("quantity")["value"]
    for label, hr, reps in (("HR 0.6", 0.6, MC_REPS["textbook"]), ("HR 1", 1.0, MC_REPS["null"])):
        scenario = api.load_scenario(TEXTBOOK_SCENARIO, {"effect.hazard_ratio": hr})
        closed = api.design(scenario).set_index("quantity")["value"]
        expected = float(closed["power_schoenfeld"])
        table = api.simulate(scenario, reps=reps, seed=MC_SEED, progress=False).replicates
        power = float(table["reject"].mean())
        se = math.sqrt(max(power * (1 - power), 1e-12) / reps)
        c.add(
            f"power (type I error at HR 1) of the log-rank test at 70 events, {label}, "
            f"{reps:,} simulated trials",
            "Schoenfeld: Phi(sqrt(D/4) |log HR| - z_alpha), D = 70, one-sided alpha 0.10",
            expected,
            power,
            (0.01 + 3 * se, f"|difference| <= 0.01 + 3 SE (SE {se:.4f})"),
            "Schoenfeld (1981) closed form",
        )
        if hr == 0.6:
            for column, quantity, what, method in (
                (
                    "target_events_months",
                    "target_events_months",
                    "70 events",
                    "Lachin-Foulkes event curve",
                ),
                ("lpi_months", "accrual_end_months", "the last randomization", "the accrual table"),
            ):
                expected = float(plan[quantity])
                c.add(
                    f"median months to {what}, {label}, {reps:,} simulated trials",
                    f"sim.design(textbook): {quantity} ({method})",
                    expected,
                    float(np.median(table[column])),
                    relative(0.03, expected),
                    method,
                )
    c.checks.extend(check_illness_death_draws())
    data = read_json(references, "reference_group_sequential.json")
    ref = data["simulation"]["obf2_bshsd_hr0.6"]
    reps = MC_REPS["sequential"]
    looks = {
        "effect.hazard_ratio": 0.6,
        "analysis.looks": [{"events": e} for e in ref["events"]],
        "analysis.efficacy": {"spending": "obrien_fleming"},
        "analysis.futility": {"spending": {"hsd": {"gamma": -2}}},
    }
    scenario = api.load_scenario(TEXTBOOK_SCENARIO, looks)
    table = api.simulate(scenario, reps=reps, seed=MC_SEED, progress=False).replicates
    source = f"rpact {data['rpact']} (R 4.2.2), simulation of {ref['iterations']:,} trials"
    futility = [*vec(ref["futility_per_stage"]), 0.0]
    for k in range(1, len(ref["events"]) + 1):
        at_k = table["stop_look"] == k
        for reason, expected in (("efficacy", ref["reject_per_stage"]), ("futility", futility)):
            p_ref = float(expected[k - 1])
            ours = float((at_k & (table["stop_reason"] == reason)).mean())
            p = max((ours + p_ref) / 2, 1 / reps)
            se = math.sqrt(p * (1 - p) / reps + p * (1 - p) / ref["iterations"])
            c.add(
                f"share of trials stopping for {reason} at look {k} (OBF, HSD(-2) futility), "
                f"{reps:,} simulated trials",
                ref["call"],
                p_ref,
                ours,
                (3 * se, f"|difference| <= 3 combined SE ({se:.4f})"),
                source,
            )
        expected = float(ref["analysis_time"][k - 1])
        c.add(
            f"mean months to look {k} (OBF, HSD(-2) futility), {reps:,} simulated trials",
            ref["call"],
            expected,
            float(table[f"look{k}_months"].mean()),
            relative(0.02, expected),
            source,
        )
    events = table["events"]
    se = float(events.std()) * math.sqrt(1 / reps + 1 / ref["iterations"])
    c.add(
        f"mean events at the stopping look (OBF, HSD(-2) futility), {reps:,} simulated trials",
        ref["call"],
        ref["expected_events"],
        float(events.mean()),
        (3 * se, f"|difference| <= 3 combined SE ({se:.3f})"),
        source,
    )
    return c.checks


def check_illness_death_draws(patients: int = 100_000) -> list[Check]:
    """Overall survival as the simulator draws it (the baseline's illness-death model, HR 0.6
    on progression, 0.8 after it) against the closed form S_OS(t): the median within 4 Monte
    Carlo SE, se = sqrt(1 / 4n) / f(median)."""
    import sim.api as api
    from sim.conduct.outcomes import draw_latent_outcomes
    from sim.conduct.survival import draw_illness_death, os_survival_closed_form
    from sim.scenario import DAYS_PER_MONTH

    c = Collector("Monte Carlo simulation of whole trials", "illness-death closed form")
    scenario = api.load_scenario(
        BASELINE_SCENARIO, {"overall_survival.post_progression_hazard_ratio": 0.8}
    )
    rng = np.random.default_rng(MC_SEED)
    os_block = scenario.overall_survival
    for arm in (0, 1):
        hr = scenario.effect.hazard_ratio if arm else 1.0
        pfs = math.log(2) / scenario.pfs.control.median_months / DAYS_PER_MONTH * hr
        deaths = scenario.pfs.death_fraction
        h12 = (
            math.log(2)
            / os_block.post_progression.median_months
            / DAYS_PER_MONTH
            * (os_block.post_progression_hazard_ratio if arm else 1.0)
        )
        h01, h02 = (1 - deaths) * pfs, deaths * pfs
        arms = np.full((1, patients), arm)
        latent = draw_latent_outcomes(scenario, arms, rng)
        death = draw_illness_death(scenario, arms, latent, rng).death_day.ravel()

        def cdf(t: float, h01: float = h01, h02: float = h02, h12: float = h12) -> float:
            return 1.0 - float(os_survival_closed_form(np.array(t), h01, h02, h12))

        median = optimize.brentq(lambda t: cdf(t) - 0.5, 1.0, 1e5, xtol=1e-9)
        se = math.sqrt(0.25 / patients) / (cdf(median + 0.5) - cdf(median - 0.5))
        c.add(
            f"median overall survival (days), {'experimental' if arm else 'control'} arm, "
            f"{patients:,} simulated patients of the baseline scenario",
            "S(t) = exp(-(h01+h02)t) + h01/(h01+h02-h12) (exp(-h12 t) - exp(-(h01+h02)t)), "
            f"h01 {h01:.4e}, h02 {h02:.4e}, h12 {h12:.4e} per day; its median by root finding",
            median,
            float(np.median(death)),
            (4 * se, f"|difference| <= 4 SE ({se:.2f} days)"),
        )
    return c.checks
