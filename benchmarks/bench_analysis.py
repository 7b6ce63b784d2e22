"""Time the batched survival analysis on Monte Carlo-sized input (R x n = 1000 x 104).

Data resemble a trial cut: exponential PFS (HR 0.7) seen at 42-day scans (many ties),
uniform administrative censoring, 2 strata, 10% empty slots masked by `valid`.
Run: python benchmarks/bench_analysis.py [R] [n]
"""

from __future__ import annotations

import sys
import timeit

import numpy as np

from sim.stats import analysis


def make_data(n_reps: int, n: int, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, 2, (n_reps, n))
    stratum = rng.integers(0, 2, (n_reps, n))
    pfs = rng.exponential(300.0 * np.where(arm == 1, 1 / 0.7, 1.0))
    seen = np.ceil(pfs / 42.0) * 42.0  # progression is seen at the next scan
    censor = np.floor(rng.uniform(0.0, 900.0, (n_reps, n)) / 42.0) * 42.0
    return {
        "time": np.minimum(seen, censor),
        "event": seen <= censor,
        "arm": arm,
        "stratum": stratum,
        "valid": rng.random((n_reps, n)) > 0.1,
    }


def best_ms(call, number: int = 5, repeat: int = 5) -> float:
    return min(timeit.repeat(call, number=number, repeat=repeat)) / number * 1e3


def main() -> None:
    n_reps = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 104
    d = make_data(n_reps, n)
    t, e, a, s, v = d["time"], d["event"], d["arm"], d["stratum"], d["valid"]
    calls = {
        "logrank stratified": lambda: analysis.logrank_test(t, e, a, s, valid=v),
        "logrank unstratified": lambda: analysis.logrank_test(t, e, a, None, valid=v),
        "cox efron stratified": lambda: analysis.cox_ph(t, e, a, s, valid=v, ties="efron"),
        "cox breslow unstratified": lambda: analysis.cox_ph(t, e, a, None, valid=v, ties="breslow"),
        "km medians": lambda: analysis.km_median(t, e, a, valid=v),
    }
    times = {name: best_ms(call) for name, call in calls.items()}
    print(f"R = {n_reps}, n = {n} (best of 5 x 5 runs, one core)")
    for name, ms in times.items():
        print(f"  {name:<26} {ms:8.2f} ms")
    pipeline = ("logrank stratified", "logrank unstratified", "cox efron stratified", "km medians")
    print(
        f"  {'trial pipeline total':<26} {sum(times[k] for k in pipeline):8.2f} ms"
        "  (stratified + unstratified log-rank, Cox Efron, KM medians)"
    )
    iters = analysis.cox_ph(t, e, a, s, valid=v).n_iter
    print(f"  Newton iterations: max {iters.max()}, mean {iters.mean():.1f}")


if __name__ == "__main__":
    main()
