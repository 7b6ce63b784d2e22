"""Type I error and power of every test of issue 12, with many replicates.

textbook.yaml (exponential PFS, median 6.8 months, 104 patients, cut at 70 events,
unstratified, one-sided alpha 0.10), under HR = 1 and under a delayed effect (HR 1.0 for
3 months, then 0.5). Prints a markdown table: rejection rate of each test with its Monte
Carlo SE, the type I error's distance from alpha in SEs, and the design's closed-form power
(Schoenfeld under gsDesign2's average hazard ratio) for the delayed effect.

Run: PYTHONPATH=. python benchmarks/nph/bench_nph.py [--reps 2000] [--seed 12]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from sim.engine.chunk import TrialModel
from sim.engine.executors import iterate_chunks
from sim.scenario import parse_test
from sim.stats.design import design_scenario
from tests.conftest import TEXTBOOK, scenario_data, vary

TESTS = [
    "logrank",
    "fh:0:1",
    "fh:1:1",
    "fh:1:0",
    "mb:6",
    "maxcombo",
    "rmst:12",
    "milestone:12",
    "ahr",
]
DELAY = {"piecewise_hazard_ratio": [{"months": 3, "hazard_ratio": 1.0}, {"hazard_ratio": 0.5}]}


def rejection_rates(scenario, reps: int, seed: int, workers: int) -> dict[str, float]:
    model = TrialModel.from_scenario(scenario)
    table = pd.concat([c.replicates for c in iterate_chunks(model, reps, seed, workers)])
    return {
        spec.name: float(table[f"reject_{spec.name}"].mean()) for spec in scenario.analysis.tests
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    data = scenario_data(TEXTBOOK)
    tests = {"analysis.supportive_tests": TESTS[1:]}
    null = vary(data, **{"effect.hazard_ratio": 1.0}, **tests)
    delayed = vary(data, effect=DELAY, **tests)
    alpha = null.analysis.alpha
    start = time.perf_counter()
    type1 = rejection_rates(null, args.reps, args.seed, args.workers)
    power = rejection_rates(delayed, args.reps, args.seed, args.workers)
    seconds = time.perf_counter() - start
    design = design_scenario(delayed).set_index("quantity")["value"]
    se0 = np.sqrt(alpha * (1 - alpha) / args.reps)
    print(
        f"textbook.yaml, {args.reps} replicates each, seed {args.seed}, one-sided alpha "
        f"{alpha:g} ({seconds:.0f} s)\n"
    )
    print("| test | type I error (HR 1) | (x - alpha) / SE | power, delay 3 m then HR 0.5 |")
    print("| --- | --- | --- | --- |")
    for spec in map(parse_test, TESTS):
        p0, p1 = type1[spec.name], power[spec.name]
        se1 = np.sqrt(p1 * (1 - p1) / args.reps)
        print(
            f"| {spec.label} | {p0:.3f} ± {se0:.3f} | {(p0 - alpha) / se0:+.1f} | "
            f"{p1:.3f} ± {se1:.3f} |"
        )
    print(
        f"\ndesign (delayed effect): AHR at the 70-event time "
        f"{float(design['average_hazard_ratio']):.3f}, Schoenfeld power under it "
        f"{float(design['power_schoenfeld']):.3f}, 70 events expected at "
        f"{float(design['target_events_months']):.1f} months"
    )


if __name__ == "__main__":
    main()
