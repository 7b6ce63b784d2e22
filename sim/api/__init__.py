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
# forecasting, reading, designing, analysis); each name, their helpers' too, is imported from
# its module when first asked for (PEP 562), so that every name `sim.api` had as one module
# stays importable from it while a call imports only its own module: `python -m sim run`
# does not pay for the forecast's, the analysis' and the reading modules it never calls.
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.api.analysis import (  # noqa: F401
        AnalysisSource,
        analysis_input,
        analyze,
        response_analysis,
    )
    from sim.api.designing import boundaries, design  # noqa: F401
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
    from sim.api.reading import (  # noqa: F401
        Comparison,
        RunLike,
        compare,
        folder_of,
        plot,
        read_results,
        report,
    )
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
    from sim.engine.compare import FLAG_SE  # noqa: F401
    from sim.engine.continuation import (  # noqa: F401
        DEFAULT_ACCRUAL_PRIOR_PATIENTS,
        DEFAULT_PRIOR_MONTHS,
    )
    from sim.engine.forecast import SuccessAnswer, success_answer  # noqa: F401
    from sim.engine.metric_table import metric_heading, with_looks  # noqa: F401
    from sim.engine.metrics import difference_with_se, format_number  # noqa: F401
    from sim.engine.preview import (  # noqa: F401
        PREVIEW_REPLICATES,
        first_chunks_summary,
        preview_replicates,
    )
    from sim.scenario import ENDPOINT_WORDS, Scenario, ScenarioError  # noqa: F401
    from sim.scenario.overrides import value_at  # noqa: F401
    from sim.stats.accrual_models import ACCRUAL_CHOICES  # noqa: F401
    from sim.stats.design import power_closed_form  # noqa: F401

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

# name -> the module it comes from. Besides the API's own: the scenario's names, and the
# engine's that the page needs (compare's flag threshold: a difference beyond FLAG_SE Monte
# Carlo SEs is marked; the metrics' headings in words and whether a run has interim looks;
# the forecast's accrual models and their priors' defaults; which closed form stands beside
# the power; numbers and differences written as the terminal writes them; a forecast's
# probability of success in words; the preview of a run under way: its first chunk's
# summary).
LAZY = {
    **dict.fromkeys(
        ("AnalysisSource", "analysis_input", "analyze", "response_analysis"), "sim.api.analysis"
    ),
    **dict.fromkeys(("boundaries", "design"), "sim.api.designing"),
    **dict.fromkeys(
        (
            "ADAM_KEYS",
            "OBSERVED_FRAME",
            "adam_options",
            "export_observed",
            "forecast",
            "observed_file",
            "observed_paths",
            "observed_source",
        ),
        "sim.api.forecasting",
    ),
    **dict.fromkeys(
        (
            "Overrides",
            "ScenarioLike",
            "as_path",
            "load_scenario",
            "load_scenario_data",
            "override_strings",
            "resolve_scenario",
        ),
        "sim.api.loading",
    ),
    **dict.fromkeys(
        ("Comparison", "RunLike", "compare", "folder_of", "plot", "read_results", "report"),
        "sim.api.reading",
    ),
    **dict.fromkeys(("NotebookProgress", "Progress", "Results", "reporting"), "sim.api.results"),
    **dict.fromkeys(
        (
            "adam_writer",
            "check_count",
            "check_executor",
            "check_run_options",
            "output_target",
            "run_results",
            "simulate",
            "sweep",
        ),
        "sim.api.running",
    ),
    **dict.fromkeys(("ENDPOINT_WORDS", "Scenario", "ScenarioError"), "sim.scenario"),
    "value_at": "sim.scenario.overrides",
    "FLAG_SE": "sim.engine.compare",
    **dict.fromkeys(("metric_heading", "with_looks"), "sim.engine.metric_table"),
    "ACCRUAL_CHOICES": "sim.stats.accrual_models",
    "power_closed_form": "sim.stats.design",
    **dict.fromkeys(
        ("DEFAULT_ACCRUAL_PRIOR_PATIENTS", "DEFAULT_PRIOR_MONTHS"), "sim.engine.continuation"
    ),
    **dict.fromkeys(("difference_with_se", "format_number"), "sim.engine.metrics"),
    **dict.fromkeys(("SuccessAnswer", "success_answer"), "sim.engine.forecast"),
    **dict.fromkeys(
        ("PREVIEW_REPLICATES", "first_chunks_summary", "preview_replicates"), "sim.engine.preview"
    ),
}


def __getattr__(name: str) -> object:
    if name in LAZY:
        import importlib

        value = getattr(importlib.import_module(LAZY[name]), name)
        globals()[name] = value  # asked once
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *LAZY})
