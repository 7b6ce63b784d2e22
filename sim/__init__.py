"""Discrete-event Monte Carlo simulator of how a randomized trial will run.

The package in layers, each importing only those above it in this list:
``scenario`` (the one way in), ``conduct`` (enrollment to data cut, vectorized) and ``stats``
(tests, Cox, Kaplan-Meier, closed-form design), ``clinic`` (the SimPy model of treatment and
radiotherapy), ``engine`` (chunks of replicates, executors, result tables), ``outputs`` (plots,
report), ``commands`` (the command line), and ``api`` (these functions):

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
    "Results",
    "ScenarioError",
    "analyze",
    "boundaries",
    "design",
    "forecast",
    "load_scenario",
    "read_results",
    "simulate",
)
__all__ = [*API, "__version__"]

if TYPE_CHECKING:
    from sim.api import (  # noqa: F401
        Results,
        ScenarioError,
        analyze,
        boundaries,
        design,
        forecast,
        load_scenario,
        read_results,
        simulate,
    )


def __getattr__(name: str) -> Any:
    if name in API:
        from sim import api

        return getattr(api, name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *API])
