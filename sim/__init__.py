"""Discrete-event Monte Carlo simulator of how a randomized trial will run.

The package in layers, each importing only those above it in this list:
``scenario`` (the one way in), ``conduct`` (enrollment to data cut, vectorized), ``stats``
(tests, Cox, Kaplan-Meier, closed-form design) and ``storage`` (output folders, checkpoints,
process lifetime), ``clinic`` (the SimPy model of treatment and radiotherapy), ``engine``
(chunks of replicates, executors, result tables; run, sweep and forecast), ``outputs`` (plots,
report), ``api`` (these functions), and ``commands`` (the command line, a thin layer over
the API):

    import sim
    scenario = sim.load_scenario("scenarios/nct07271602.yaml")
    results = sim.simulate(scenario, reps=2000, seed=1)
    results.summary

The API is imported on first use, so ``python -m sim --help`` pays for none of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

API = (
    "Comparison",
    "Results",
    "ScenarioError",
    "analyze",
    "boundaries",
    "compare",
    "design",
    "export_observed",
    "forecast",
    "load_scenario",
    "plot",
    "read_results",
    "report",
    "simulate",
    "sweep",
)
__all__ = [*API, "__version__"]

if TYPE_CHECKING:
    from sim.api import (  # noqa: F401
        Comparison,
        Results,
        ScenarioError,
        analyze,
        boundaries,
        compare,
        design,
        export_observed,
        forecast,
        load_scenario,
        plot,
        read_results,
        report,
        simulate,
        sweep,
    )


def __getattr__(name: str) -> Any:
    if name in API:
        from sim import api

        return getattr(api, name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *API])
