"""`python -m sim analyze`: the same statistics as lifelines on a table (its numbers committed
in tests/references/lifelines.json); bad tables rejected."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sim.commands.cli import main
from tests.helpers import lifelines_reference
from tests.references.datasets import analyze_table


@pytest.fixture
def table(tmp_path, rng):
    frame = analyze_table(rng)
    path = tmp_path / "trial.csv"
    frame.to_csv(path, index=False)
    return path, frame


def test_analyze_matches_lifelines(table, tmp_path, capsys):
    path, frame = table
    out = tmp_path / "res.json"
    code = main(
        [
            "analyze",
            str(path),
            "--time",
            "t",
            "--event",
            "e",
            "--arm",
            "group",
            "--strata",
            "histology",
            "--out",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    results = pd.DataFrame(json.loads(out.read_text())["results"])
    # lifelines, same tie handling: logrank_test(ctl.t, exp.t, ctl.e, exp.e).test_statistic,
    # KaplanMeierFitter().fit(ctl.t, ctl.e).median_survival_time_ (ctl, exp: the arms' rows)
    reference = lifelines_reference("analyze table", *(frame[c].to_numpy() for c in frame))
    logrank = results[(results.test == "logrank") & ~results.stratified].iloc[0]
    assert logrank["arm"] == "experimental" and logrank["unit"] == "events"
    np.testing.assert_allclose(logrank["z"] ** 2, reference["test_statistic"], rtol=1e-8)
    row = results[(results.test == "km_median") & (results.arm == "control")].iloc[0]
    assert row["unit"] == "months"
    assert row["estimate"] == pytest.approx(reference["control_median"] / 30.4375)
    assert "log band" in capsys.readouterr().out


def test_analyze_json_is_strict_and_the_band_selectable(table, tmp_path, capsys):
    path, frame = table
    frame.assign(e=np.where(frame.group == "control", 0, frame.e)).iloc[:-1].to_csv(path)
    bands = {}
    for band in ("log", "log-log"):
        out = tmp_path / f"{band}.json"
        assert (
            main(
                [
                    "analyze",
                    str(path),
                    "--time",
                    "t",
                    "--event",
                    "e",
                    "--arm",
                    "group",
                    "--conf-type",
                    band,
                    "--out",
                    str(out),
                ]
            )
            == 0
        )
        text = out.read_text()
        payload = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
        assert payload["band"] == band and payload["time_unit"] == "months"
        km = pd.DataFrame(payload["kaplan_meier"])
        bands[band] = km.loc[km.arm == "experimental", "ci_low"].to_numpy(float)
        results = pd.DataFrame(payload["results"])
        median = results[(results.test == "km_median") & (results.arm == "control")]
        assert len(median) == 1 and median["estimate"].isna().all()  # not reached: null
    assert not np.allclose(bands["log"], bands["log-log"], equal_nan=True)
    printed = capsys.readouterr().out
    assert "O - E" in printed and "shown in months" in printed


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda f: f.drop(columns="t"), "--time 't': no such column"),
        (
            lambda f: f.assign(t=f.t.astype(object).where(f.index != 3, "soon")),
            "times must be numbers; rows 3",
        ),
        (lambda f: f.assign(t=f.t.where(f.index != 5, -1.0)), "must be >= 0; rows 5"),
        (
            lambda f: f.assign(e=f.e.where(f.index != 7, 2)),
            "must be 0 (censored) or 1 (event); rows 7",
        ),
        (lambda f: f.assign(group="control"), "needs exactly two arms"),
        (
            lambda f: f.assign(histology=np.where(f.group == "control", "only-c", f.histology)),
            "has patients of one arm only",
        ),
    ],
)
def test_bad_tables_exit_2_naming_column_and_rows(table, tmp_path, capsys, change, needle):
    path, frame = table
    bad = tmp_path / "bad.csv"
    change(frame).to_csv(bad, index=False)
    out = tmp_path / "o.csv"
    code = main(
        [
            "analyze",
            str(bad),
            "--time",
            "t",
            "--event",
            "e",
            "--arm",
            "group",
            "--strata",
            "histology",
            "--out",
            str(out),
        ]
    )
    assert code == 2
    assert needle in capsys.readouterr().err
    assert not out.exists()


def test_analyze_reads_simulator_patients(tmp_path):
    from tests.helpers import TEXTBOOK

    run = tmp_path / "run"
    assert (
        main(
            [
                "run",
                str(TEXTBOOK),
                "--reps",
                "5",
                "--out",
                str(run),
                "--quiet",
                "--workers",
                "1",
                "--keep-patients",
                "2",
            ]
        )
        == 0
    )
    out = tmp_path / "a.csv"
    assert (
        main(["analyze", str(run / "patients.parquet"), "--replicate", "1", "--out", str(out)]) == 0
    )
    results = pd.read_csv(out).set_index(["test", "stratified"]).sort_index()
    replicate = pd.read_parquet(run / "replicates.parquet").set_index("replicate").loc[1]
    # the same functions analyze the simulated cut: identical Z for the stratified test
    assert np.isclose(
        results.loc[("logrank", True), "z"],
        replicate["z_stratified"],
        rtol=1e-12,
    )
