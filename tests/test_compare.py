"""Compare: paired and independent errors, false alarms, differing fields, refusals."""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pandas as pd
import pytest

from sim.commands.compare import register
from sim.engine.compare import (
    bootstrap_median_se,
    compare_summaries,
    differing_fields,
    flatten,
    load_runs,
)
from sim.engine.run import run_scenario
from sim.engine.versions import METRICS_VERSION
from tests.helpers import TEXTBOOK, run_command, vary

REPS = 200


@pytest.fixture(scope="module")
def runs(tmp_path_factory, textbook_data):
    """Textbook runs: seed 1, seed 2 (same scenario), seed 1 with HR 0.8 (paired with seed 1)."""
    root = tmp_path_factory.mktemp("runs")
    specs = {"seed1": (0.6, 1), "seed2": (0.6, 2), "hr08": (0.8, 1)}
    for name, (hr, seed) in specs.items():
        scenario = vary(textbook_data, **{"effect.hazard_ratio": hr})
        run_scenario(
            scenario, root / name, reps=REPS, seed=seed, workers=1, scenario_path=str(TEXTBOOK)
        )
    return root


def compare(*folders) -> pd.DataFrame:
    return compare_summaries(load_runs(list(folders))).set_index("metric")


def test_same_scenario_different_seeds_rarely_flags(runs):
    # Under no true difference, each metric's z = difference / SE is ~N(0, 1), so a 3-SE flag
    # fires with probability 2 x (1 - Phi(3)) = 0.27%. With the ~15 metrics of summary.csv the
    # expected number of flags is ~0.04, P(at least one) <= 15 x 0.27% = 4% (Bonferroni) and
    # P(two or more) ~ C(15, 2) x 0.0027^2 = 0.08%: more than one flag would mean the SEs are
    # too small. (Seeds are fixed, so this is deterministic; the bound says why it is safe.)
    table = compare(runs / "seed1", runs / "seed2")
    assert len(table) >= 15
    assert (table["se_kind"] == "independent").all()  # different seeds: nothing shared
    assert table["flag"].sum() <= 1
    assert np.nanmax(np.abs(table["z"])) < 4


def test_shared_seed_gives_paired_errors_that_see_the_effect(runs):
    table = compare(runs / "seed1", runs / "hr08")
    assert table.at["power", "se_kind"] == "paired"
    assert table.at["lpi_months_median", "se_kind"] == "paired bootstrap"
    # Common random numbers: accrual is identical, so the difference and its SE are exactly 0
    assert table.at["lpi_months_median", "difference"] == 0
    assert not table.at["lpi_months_median", "flag"]
    assert table.at["power", "flag"] and table.at["hazard_ratio_median", "flag"]
    # Pairing removes the shared noise: the paired SE is below the independent one
    independent = compare(runs / "seed2", runs / "hr08")
    assert table.at["power", "se"] < independent.at["power", "se"]


def test_paired_se_of_a_share_is_the_sd_of_differences(runs):
    a = pd.read_parquet(runs / "seed1" / "replicates.parquet")["reject"].to_numpy(float)
    b = pd.read_parquet(runs / "hr08" / "replicates.parquet")["reject"].to_numpy(float)
    expected = np.std(b - a, ddof=1) / np.sqrt(REPS)
    table = compare(runs / "seed1", runs / "hr08")
    assert table.at["power", "se"] == pytest.approx(expected, rel=1e-12)
    assert table.at["power", "difference"] == pytest.approx(b.mean() - a.mean(), abs=1e-12)


def test_bootstrap_se_of_median_difference_matches_theory():
    # Independent normal samples: SE of a median ~ 1.2533 sd / sqrt(n), so the difference of
    # two has SE ~ sqrt(2) x 1.2533 / sqrt(400) = 0.0886 for sd 1 (asymptotic theory).
    rng = np.random.default_rng(5)
    se = bootstrap_median_se(rng.normal(size=400), rng.normal(size=400))
    assert se == pytest.approx(np.sqrt(2) * 1.2533 / 20, rel=0.2)


def test_fields_that_differ_are_dotted_paths(runs):
    fields = differing_fields(load_runs([runs / "seed1", runs / "seed2", runs / "hr08"]))
    assert fields["field"].tolist() == ["effect.hazard_ratio", "seed"]
    assert fields.set_index("field").loc["effect.hazard_ratio"].tolist() == ["0.6", "0.6", "0.8"]


def test_flatten_numbers_list_rows():
    assert flatten({"a": {"b": [1, {"c": 2}], "d": []}}) == {"a.b.0": 1, "a.b.1.c": 2, "a.d": []}


def test_compare_prints_and_writes_the_tables(runs, tmp_path, capsys):
    out = tmp_path / "cmp.csv"
    args = ["compare", str(runs / "seed1"), str(runs / "hr08"), "--out", str(out)]
    assert run_command(args, register) == 0
    printed = capsys.readouterr().out
    assert "effect.hazard_ratio" in printed and ">3 SE" in printed
    table = pd.read_csv(out)
    summary = pd.read_csv(runs / "seed1" / "summary.csv")
    assert table["metric"].tolist() == summary["metric"].tolist()
    assert {"estimate", "reference_estimate", "difference", "se", "se_kind", "flag"} <= set(
        table.columns
    )
    assert len(pd.read_csv(tmp_path / "cmp.timeline.csv")) == 9  # the 8 milestones and concluded
    assert pd.read_csv(tmp_path / "cmp.fields.csv")["field"].tolist() == ["effect.hazard_ratio"]


def bad_input(tmp_path, runs, case):
    if case == "not a run":
        (tmp_path / "empty").mkdir()
        return [str(runs / "seed1"), str(tmp_path / "empty")], ["empty", "not a run folder"]
    if case == "missing":
        return [str(runs / "seed1"), str(tmp_path / "nope")], ["nope", "no such folder"]
    if case == "one run":
        return [str(runs / "seed1")], ["at least two"]
    shutil.copytree(runs / "hr08", tmp_path / "v2")
    path = tmp_path / "v2" / "manifest.json"
    manifest = json.loads(path.read_text())
    other = METRICS_VERSION + 1
    path.write_text(json.dumps({**manifest, "metrics_version": other}))
    return [str(runs / "seed1"), str(tmp_path / "v2")], ["metrics_version", f"v2 has {other}"]


@pytest.mark.parametrize("case", ["not a run", "missing", "one run", "metrics version"])
def test_bad_runs_get_one_message_and_exit_2(runs, tmp_path, capsys, case):
    folders, words = bad_input(tmp_path, runs, case)
    out = tmp_path / "cmp.csv"
    assert run_command(["compare", *folders, "--out", str(out)], register) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1
    for word in words:
        assert word in err
    assert not out.exists()


def test_bootstrap_of_medians_that_never_happen_warns_nothing() -> None:
    """Resamples whose medians are both infinite (milestones never reached) are dropped
    without numpy's 'invalid value encountered in subtract' on the user's terminal."""
    never = np.array([1.0, np.nan, np.nan, 2.0, np.nan])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(bootstrap_median_se(never, never))


def test_differences_stop_at_the_digit_their_se_supports():
    """A difference carries the digits of its SE (2 significant digits), with its sign;
    shares in percentage points; a difference that rounds to zero is +0, never -0."""
    from types import SimpleNamespace

    from sim.commands.compare import format_difference

    def shown(difference, se, share=False, flag=False):
        rec = SimpleNamespace(difference=difference, se=se, se_kind="paired", flag=flag)
        return format_difference(rec, share)

    assert shown(-0.06571, 0.1203) == "-0.07 ± 0.12 (p)"
    assert shown(-1.708, 0.2, flag=True) == "-1.71 ± 0.20 (p)  <-- >3 SE"
    assert shown(-0.03, 0.016, share=True) == "-3.0 pts ± 1.6 (p)"
    assert shown(-0.0004, 0.012) == "+0.000 ± 0.012 (p)"
    assert shown(0.0, 0.0, share=True) == "+0.00 pts ± 0 (p)"  # no SE to go by


def test_every_share_and_mean_pairs_over_the_replicates(runs, tmp_path):
    """Paired runs pair every share and mean of per-replicate values (sd of the differences
    over sqrt(R)), not only the metrics the table marks for a paired bootstrap: a share the
    table does not mark (power_at_completion) gets the SE of its own paired differences. A
    mean over the replicates where a value happened pairs only when it happened in the same
    replicates of both runs; otherwise the SE is the independent one."""
    from sim.engine.metric_table import find_metric
    from sim.engine.metrics import Context

    table = compare(runs / "seed1", runs / "hr08")
    units = pd.read_csv(runs / "seed1" / "summary.csv").set_index("metric")["unit"]
    shares = [m for m in table.index if units.get(m) == "share"]
    assert shares and (table.loc[shares, "se_kind"] == "paired").all()
    metric = find_metric("power_at_completion")
    assert not metric.metric.paired
    context = Context(np.datetime64("2028-12-31", "D"))
    a, b = (
        metric.values(pd.read_parquet(runs / name / "replicates.parquet"), context).astype(float)
        for name in ("seed1", "hr08")
    )
    assert table.at["power_at_completion", "se"] == pytest.approx(
        np.std(b - a, ddof=1) / np.sqrt(REPS), rel=1e-12
    )
    # one replicate of the second run without the event target's time: not paired any more
    changed = tmp_path / "hr08"
    shutil.copytree(runs / "hr08", changed)
    replicates = pd.read_parquet(changed / "replicates.parquet")
    column = find_metric("target_events_months_mean").columns[0]
    replicates.loc[0, column] = np.nan
    replicates.to_parquet(changed / "replicates.parquet")
    fallback = compare(runs / "seed1", changed)
    assert fallback.at["target_events_months_mean", "se_kind"] == "independent"
    assert fallback.at["power", "se_kind"] == "paired"
