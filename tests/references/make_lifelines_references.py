"""Write tests/references/lifelines.json: lifelines' answers on the tests' data sets.

lifelines (0.30.1 and later) requires pandas < 3, so it cannot be installed beside the
runtime set the tests run on (pandas 3). Its answers are committed instead, as the R ones
are, each with the call that made it and a fingerprint of its data; the file names the
versions that made it. Regenerate (from the repository's root) in an environment of its own:

    python3 -m venv /tmp/lifelines-refs
    /tmp/lifelines-refs/bin/pip install -r tests/references/requirements-lifelines.txt
    /tmp/lifelines-refs/bin/python tests/references/make_lifelines_references.py

then run the tests that read it (tests/test_analysis.py, test_references.py, test_analyze.py,
test_plots.py) in the project's environment.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import sys
from pathlib import Path
from typing import Any

import lifelines
import numpy as np
import pandas as pd
import scipy
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import logrank_test

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.references.datasets import (  # noqa: E402 (the repository's root on the path first)
    ANALYZE_SEED,
    HALF_PLATEAU_EVENT,
    HALF_PLATEAU_TIME,
    analyze_table,
    fingerprint,
    headline_data,
    plot_km_data,
    scan_data,
)

OUT = ROOT / "tests" / "references" / "lifelines.json"
SEEDS = range(6)
COX_OPTIONS = {"precision": 1e-20, "r_precision": 0.0, "step_size": 1.0}


def floats(values: Any) -> list[float]:
    return [float(v) for v in np.asarray(values, dtype=float)]


def entry(call: str, data: str, arrays: list[np.ndarray], **values: Any) -> dict[str, Any]:
    return {"call": call, "data": data, "data_sha256": fingerprint(*arrays), **values}


def km_table(km: KaplanMeierFitter) -> dict[str, list[float]]:
    """The fitted curve on lifelines' timeline: counts, S and its band."""
    table = km.event_table
    ci = km.confidence_interval_
    return {
        "time": floats(table.index),
        "at_risk": floats(table["at_risk"]),
        "observed": floats(table["observed"]),
        "censored": floats(table["censored"]),
        "survival": floats(km.survival_function_.iloc[:, 0]),
        "ci_low": floats(ci.iloc[:, 0]),
        "ci_high": floats(ci.iloc[:, 1]),
    }


def scan_references() -> dict[str, Any]:
    """tests/test_analysis.py: log-rank, Cox (Efron) and Kaplan-Meier on `scan_data`."""
    refs: dict[str, Any] = {}
    for seed in SEEDS:
        d = scan_data(seed)
        arrays = [d["time"], d["event"], d["arm"], d["stratum"]]
        a0, a1 = d["arm"] == 0, d["arm"] == 1
        lr = logrank_test(d["time"][a0], d["time"][a1], d["event"][a0], d["event"][a1])
        refs[f"logrank scan_data({seed})"] = entry(
            "logrank_test(time[arm == 0], time[arm == 1], event[arm == 0], event[arm == 1])",
            f"scan_data({seed})",
            arrays,
            test_statistic=float(lr.test_statistic),
            p_value=float(lr.p_value),
        )
        frame = pd.DataFrame({"T": d["time"], "E": d["event"], "arm": d["arm"], "s": d["stratum"]})
        for stratified in (False, True):
            cols = ["T", "E", "arm", "s"] if stratified else ["T", "E", "arm"]
            fit = CoxPHFitter().fit(
                frame[cols],
                "T",
                "E",
                strata=["s"] if stratified else None,
                fit_options=COX_OPTIONS,
            )
            summary = fit.summary.loc["arm"]
            how = "stratified" if stratified else "unstratified"
            refs[f"cox efron {how} scan_data({seed})"] = entry(
                f"CoxPHFitter().fit(frame[{cols}], 'T', 'E', "
                f"strata={['s'] if stratified else None}, fit_options={COX_OPTIONS})",
                f"scan_data({seed}) as frame T, E, arm, s",
                arrays,
                beta=float(fit.params_["arm"]),
                se=float(fit.standard_errors_["arm"]),
                ci_low=float(summary["exp(coef) lower 95%"]),
                ci_high=float(summary["exp(coef) upper 95%"]),
            )
        km = KaplanMeierFitter(alpha=0.1).fit(d["time"], d["event"])
        refs[f"kaplan-meier alpha 0.1 scan_data({seed})"] = entry(
            "KaplanMeierFitter(alpha=0.1).fit(time, event): event_table, survival_function_, "
            "confidence_interval_",
            f"scan_data({seed})",
            [d["time"], d["event"]],
            table=km_table(km),
        )
    for seed in range(30):
        d = scan_data(seed, n=50)
        for arm in (0, 1):
            km = KaplanMeierFitter().fit(d["time"][d["arm"] == arm], d["event"][d["arm"] == arm])
            s = km.survival_function_.to_numpy()
            refs[f"km median scan_data({seed}, n=50) arm {arm}"] = entry(
                "KaplanMeierFitter().fit(time[arm == a], event[arm == a]).median_survival_time_",
                f"scan_data({seed}, n=50)",
                [d["time"], d["event"], d["arm"]],
                median=float(km.median_survival_time_),
                touches_half=bool(np.any(np.abs(s - 0.5) < 1e-8)),
            )
    km = KaplanMeierFitter().fit(HALF_PLATEAU_TIME, HALF_PLATEAU_EVENT)
    refs["km median half plateau"] = entry(
        "KaplanMeierFitter().fit(time, event).median_survival_time_",
        "HALF_PLATEAU_TIME, HALF_PLATEAU_EVENT",
        [HALF_PLATEAU_TIME, HALF_PLATEAU_EVENT],
        median=float(km.median_survival_time_),
    )
    return refs


def headline_references() -> dict[str, Any]:
    """tests/test_references.py: one comparison per statistic on `headline_data`."""
    data = headline_data()
    arrays = [data[c].to_numpy() for c in ("time", "event", "arm", "stratum")]
    c, e = data[data.arm == 0], data[data.arm == 1]
    options = {"precision": 1e-14, "max_steps": 200}
    fit = CoxPHFitter().fit(data[["time", "event", "arm"]], "time", "event", fit_options=options)
    return {
        "headline logrank": entry(
            "logrank_test(c.time, e.time, c.event, e.event)",
            "headline_data(), c = arm 0, e = arm 1",
            arrays,
            test_statistic=float(logrank_test(c.time, e.time, c.event, e.event).test_statistic),
        ),
        "headline cox efron": entry(
            f"CoxPHFitter().fit(data[['time', 'event', 'arm']], 'time', 'event', "
            f"fit_options={options}).params_['arm']",
            "headline_data()",
            arrays,
            beta=float(fit.params_["arm"]),
        ),
        "headline km median": entry(
            "KaplanMeierFitter().fit(part.time, part.event).median_survival_time_ per arm",
            "headline_data()",
            arrays,
            median=[
                float(KaplanMeierFitter().fit(p.time, p.event).median_survival_time_)
                for p in (c, e)
            ],
        ),
    }


def analyze_references() -> dict[str, Any]:
    """tests/test_analyze.py: the table `analyze` reads."""
    frame = analyze_table(np.random.default_rng(ANALYZE_SEED))
    arrays = [frame[c].to_numpy() for c in ("t", "e", "group", "histology")]
    ctl, exp = frame[frame.group == "control"], frame[frame.group == "experimental"]
    return {
        "analyze table": entry(
            "logrank_test(ctl.t, exp.t, ctl.e, exp.e).test_statistic; "
            "KaplanMeierFitter().fit(ctl.t, ctl.e).median_survival_time_",
            f"analyze_table(default_rng({ANALYZE_SEED}))",
            arrays,
            test_statistic=float(logrank_test(ctl.t, exp.t, ctl.e, exp.e).test_statistic),
            control_median=float(KaplanMeierFitter().fit(ctl.t, ctl.e).median_survival_time_),
        )
    }


def plots_references() -> dict[str, Any]:
    """tests/test_plots.py: the curve `km_steps` draws."""
    time, event = plot_km_data()
    km = KaplanMeierFitter().fit(time, event)
    return {
        "plot km": entry(
            "KaplanMeierFitter().fit(time, event).survival_function_",
            "plot_km_data()",
            [time, event],
            time=floats(km.survival_function_.index),
            survival=floats(km.survival_function_.iloc[:, 0]),
        )
    }


def main() -> None:
    document = {
        "made_by": "python tests/references/make_lifelines_references.py "
        "(environment: tests/references/requirements-lifelines.txt)",
        "made": dt.date.today().isoformat(),
        "versions": {
            "python": platform.python_version(),
            "lifelines": lifelines.__version__,
            "pandas": pd.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
        },
        "references": {
            **scan_references(),
            **headline_references(),
            **analyze_references(),
            **plots_references(),
        },
    }
    OUT.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}: {len(document['references'])} references")


if __name__ == "__main__":
    main()
