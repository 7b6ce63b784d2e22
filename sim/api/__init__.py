"""The Python API: what the command line does, for notebooks and scripts.

    import sim
    scenario = sim.load_scenario("scenarios/nct07271602.yaml",
                                 overrides={"effect.hazard_ratio": 0.7})
    results = sim.simulate(scenario, reps=2000, seed=1, workers=2)
    results.summary                         # DataFrame, as summary.csv
    results.save("results/hr07")            # the folder `python -m sim run` writes
    sim.read_results("results/hr07")        # the same object back

Every function raises `sim.ScenarioError` (a ValueError) with the same one-line message the
command line prints, for bad scenarios, overrides, arguments and tables alike. Options past the
first two arguments are keyword-only. The functions call the engine (`sim.engine.run`,
`sweep`, `forecast`) and the statistics (`sim.stats`); the command line (`sim.commands`) is a
layer above this one, which parses arguments, calls these functions and prints.
"""

# The functions live in this package's modules, one per kind of call (loading, running,
# forecasting, reading, designing, analysis); their helpers are imported here too, so that
# every name `sim.api` had as one module stays importable from it (the command line imports
# analysis_input from here).
from sim.api.analysis import (  # noqa: F401
    AnalysisSource,
    analysis_input,
    analyze,
    response_analysis,
)
from sim.api.designing import boundaries, design
from sim.api.forecasting import (  # noqa: F401
    ADAM_KEYS,
    OBSERVED_FRAME,
    adam_options,
    export_observed,
    forecast,
    observed_file,
    observed_paths,
    observed_source,
)
from sim.api.loading import (  # noqa: F401
    Overrides,
    ScenarioLike,
    as_path,
    load_scenario,
    load_scenario_data,
    override_strings,
    resolve_scenario,
)
from sim.api.reading import Comparison, RunLike, compare, folder_of, plot, read_results, report  # noqa: F401
from sim.api.results import NotebookProgress, Progress, Results, reporting  # noqa: F401
from sim.api.running import (  # noqa: F401
    adam_writer,
    check_count,
    check_executor,
    check_run_options,
    output_target,
    run_results,
    simulate,
    sweep,
)
from sim.scenario import ENDPOINT_WORDS, Scenario, ScenarioError  # noqa: F401
from sim.scenario.overrides import value_at

__all__ = [
    "Comparison",
    "Progress",
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
    "value_at",
]

# Names of the engine the page needs, imported when first asked for (PEP 562), so that
# `import sim` stays as light as the command line needs: compare's flag threshold (a
# difference beyond FLAG_SE Monte Carlo SEs is marked), and the preview of a run under way
# (its first chunk's summary: sim.engine.preview).
LAZY = {
    "FLAG_SE": "sim.engine.compare",
    "PREVIEW_REPLICATES": "sim.engine.preview",
    "first_chunks_summary": "sim.engine.preview",
    "preview_replicates": "sim.engine.preview",
}


def __getattr__(name: str) -> object:
    if name in LAZY:
        import importlib

        return getattr(importlib.import_module(LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
