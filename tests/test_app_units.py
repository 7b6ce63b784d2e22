"""The page's pieces without a browser: the form from the schema, messages routed to their
fields, the answers table and the comparison from summaries, and what sim.app may import."""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sim.app.answers import (
    comparison_table,
    key_questions,
    percent,
    reproduce_command,
    scenario_line,
    share_text,
)
from sim.app.fields import field_messages, scenario_fields, scenario_schema

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "nct07271602.yaml"


@pytest.fixture(scope="module")
def baseline() -> dict:
    return yaml.safe_load(BASELINE.read_text(encoding="utf-8"))


def test_the_form_takes_units_help_and_bounds_from_the_schema(baseline: dict) -> None:
    fields = {f.path: f for f in scenario_fields(baseline, scenario_schema())}
    hr = fields["effect.hazard_ratio"]
    assert (hr.value, hr.unit, hr.minimum, hr.integer) == (0.6, "ratio", 0.0, False)
    assert hr.help.startswith("Hazard ratio of the experimental arm against control")
    size = fields["trial.sample_size"]
    assert (size.value, size.unit, size.integer, size.maximum) == (104, "patients", True, 20000)
    rate = fields["enrollment.sites.0.screening_rate.3.per_month"]
    assert (rate.value, rate.unit) == (8, "patients/month")
    assert rate.label == "Screening rate at full speed: Union Hospital Wuhan"
    assert fields["analysis.alpha"].value == 0.10
    assert fields["assessments.schedule.0.every_weeks"].value == 6


def test_an_os_primary_multi_site_trial_gets_its_own_fields() -> None:
    """The phase 3 with OS primary and 20 generated sites: the form gives the sites and
    their rate, says the hazard ratio is PFS's (OS follows from it), adds OS after
    progression, and calls the event target deaths; the baseline's form is unchanged."""
    data = yaml.safe_load((ROOT / "scenarios" / "phase3_os.yaml").read_text(encoding="utf-8"))
    fields = {f.path: f for f in scenario_fields(data, scenario_schema())}
    assert (
        fields["enrollment.site_generator.count"].value,
        fields["enrollment.site_generator.count"].label,
    ) == (20, "Sites")
    assert fields["enrollment.site_generator.per_month"].unit == "patients/month"
    assert fields["effect.hazard_ratio"].label.startswith("PFS hazard ratio")
    assert fields["overall_survival.post_progression.median_months"].value == 11
    assert fields["overall_survival.post_progression_hazard_ratio"].value == 1.0
    assert fields["analysis.event_target"].label.startswith("Deaths that trigger")
    baseline = yaml.safe_load(BASELINE.read_text(encoding="utf-8"))
    paths = [f.path for f in scenario_fields(baseline, scenario_schema())]
    assert not any(p.startswith(("overall_survival", "enrollment.site_generator")) for p in paths)


def test_a_field_absent_from_the_scenario_is_left_to_the_editor(baseline: dict) -> None:
    baseline = {**baseline, "analysis": {**baseline["analysis"], "event_target": None}}
    paths = [f.path for f in scenario_fields(baseline, scenario_schema())]
    assert "analysis.event_target" not in paths and "effect.hazard_ratio" in paths


def test_messages_go_beside_the_field_they_name() -> None:
    message = (
        "<mapping>: invalid scenario: effect.hazard_ratio = -0.6: Input should be greater "
        "than 0 (use a value > 0.0)\ntrial.sample_size = 0: Input should be greater than 0 "
        "(use a value > 0)\nrandomization.ratio = [1]: two numbers"
    )
    by_field, rest = field_messages(message, ["effect.hazard_ratio", "trial.sample_size"])
    assert by_field == {
        "effect.hazard_ratio": "effect.hazard_ratio = -0.6: Input should be greater than 0 "
        "(use a value > 0.0)",
        "trial.sample_size": "trial.sample_size = 0: Input should be greater than 0 "
        "(use a value > 0)",
    }
    assert rest == ["randomization.ratio = [1]: two numbers"]


def summary(power: float, se: float) -> pd.DataFrame:
    rows = [
        ("power", "share", power, se, None, None),
        ("lpi_months_median", "months since start", 20.0, 0.2, 17.0, 23.0),
        ("hazard_ratio_median", "ratio", 0.6, 0.01, None, None),
    ]
    return pd.DataFrame(rows, columns=["metric", "unit", "estimate", "mc_se", "q05", "q95"])


def test_the_answers_table_reads_power_and_dates(baseline: dict) -> None:
    design = pd.DataFrame(
        [
            ("power_schoenfeld", 0.803831, "probability", ""),
            ("accrual_end_date", "2027-10-29", "date", ""),
        ],
        columns=["quantity", "value", "unit", "method"],
    )
    table = key_questions(summary(0.785, 0.00919), design, baseline).set_index("question")
    power = table.iloc[0]
    # a share, as every other share of the table and the terminal and the report write it
    assert power["simulation (this run)"] == "78.5% (MC SE 0.92%)"
    assert power["closed form"] == "80.4% (Schoenfeld, at 70 events)"
    randomized = table.loc["All 104 patients randomized"]
    # 20 months of 30.4375 days from 2026-01-30 is clock day 608.75, within day 608: the
    # date its clock day falls in, as the replicates' dates and timeline.csv have it
    assert randomized["simulation (this run)"] == (
        "2027-09-30 (90% of replicates 2027-07-01 to 2027-12-31), 20.0 months from the start"
    )
    assert randomized["closed form"].startswith("2027-10-29")
    assert share_text(None) == ""


def comparison_row(metric: str, a: float, b: float, se: float, kind: str) -> dict:
    diff = b - a
    return {
        "metric": metric,
        "reference_estimate": a,
        "estimate": b,
        "difference": diff,
        "se": se,
        "se_kind": kind,
        "flag": abs(diff) > 3 * se,
    }


def test_the_compare_table_writes_sim_compares_numbers_in_their_units() -> None:
    metrics = pd.DataFrame(
        [
            comparison_row("power", 0.785, 0.55, 0.014, "paired"),
            comparison_row("p_cut_by_date", 0.10, 0.12, 0.01, "independent"),
            comparison_row("hazard_ratio_median", 0.6, 0.61, 0.02, "paired bootstrap"),
            comparison_row("n_screened_mean", 150.0, 170.0, 2.0, "paired"),
            comparison_row("n_screened_q95", 150.0, 151.0, 2.0, "paired"),
        ]
    )
    described = pd.DataFrame(
        {
            "unit": ["share", "share", "ratio", "n", "n"],
            "meaning": [
                "share of replicates rejecting. With looks: more",
                "share cut by date",
                "hazard ratio",
                "patients screened (e.g. at analysis.cut. Not), mean over replicates; q05. More",
                "patients screened, 95% quantile over replicates",
            ],
        },
        index=pd.Index(metrics["metric"], name="metric"),
    )
    table = comparison_table(metrics, described).set_index("metric")
    # power as the answers table writes it, a share: its difference and SE in points
    assert table.loc["power", ["run A", "B - A"]].tolist() == ["78.5%", "-23.5 points"]
    assert table.loc["power", "SE of the difference"] == "1.4 points (paired)"
    assert table.loc["power", "beyond noise"] == "yes"
    # a share's difference and its SE in percentage points
    assert table.loc["p_cut_by_date", "B - A"] == "+2.0 points"
    assert table.loc["p_cut_by_date", "SE of the difference"] == "1.0 points (independent runs)"
    assert table.loc["hazard_ratio_median", "beyond noise"] == "no"
    # a metric outside the tab's list shows only when sim.compare flags it, in the words of
    # the first sentence of its meaning (summary.csv's), capitalized; the key metrics in theirs
    what = "Patients screened (e.g. at analysis.cut. Not), mean over replicates; q05"
    assert table.loc["n_screened_mean", "what"] == what
    assert "n_screened_q95" not in table.index
    assert table.loc["power", "what"] == "Power at the analysis"


def test_the_compare_tab_marks_exactly_what_sim_compare_flags() -> None:
    """Two runs as the page keeps them (paired: same seed and replicates): the tab's table
    is `sim.compare`'s, every metric it flags marked and nothing else."""
    import sim

    textbook = ROOT / "scenarios" / "textbook.yaml"
    runs = [
        sim.simulate(
            textbook, reps=200, seed=2, overrides={"effect.hazard_ratio": hr}, progress=False
        )
        for hr in (0.6, 0.9)
    ]
    compared = sim.compare(runs)
    table = comparison_table(compared.metrics, compared.described)
    flagged = set(compared.flagged["metric"])
    assert flagged and "power" in flagged
    # every flagged metric beyond the key ones in words (its meaning), never by its name;
    # the power of the stratified log-rank not in the words of the primary test's power
    words = table.set_index("metric")["what"]
    assert not (words == words.index).any(), list(words.index[words == words.index])
    assert "power_stratified" in flagged
    stratified = words["power_stratified"]
    assert stratified.startswith("Share of replicates whose stratified log-rank test")
    assert stratified.endswith("(type I error if HR = 1)")
    assert len(set(words)) == len(words)
    assert set(table.loc[table["beyond noise"] == "yes", "metric"]) == flagged
    rows = compared.metrics.set_index("metric")
    for metric, mark in zip(table["metric"], table["beyond noise"], strict=True):
        assert (mark == "yes") == bool(rows.at[metric, "flag"])
    power = table.set_index("metric").loc["power"]
    assert power["run A"] == percent(rows.at["power", "reference_estimate"])
    # every difference and its SE to the digits `python -m sim compare` prints
    from sim.commands.compare import format_difference

    shown = table.set_index("metric")
    for rec in compared.metrics.itertuples(index=False):
        if rec.metric in shown.index:
            share = compared.described.at[rec.metric, "unit"] == "share"
            printed = format_difference(rec, share).split()
            assert shown.at[rec.metric, "B - A"].split()[0] == printed[0]
            se = shown.at[rec.metric, "SE of the difference"].split()[0]
            assert se == printed[printed.index("±") + 1], rec.metric


def test_the_command_line_reproduces_the_run() -> None:
    assert reproduce_command(2000, 7) == (
        "python -m sim run scenario.yaml --reps 2000 --seed 7 --out results/app-run --force"
    )


def test_the_app_imports_only_the_api_and_the_outputs() -> None:
    """sim.app is a thin layer: `sim` (the API), sim.outputs (figures) and itself."""
    found = set()
    for path in (ROOT / "sim" / "app").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
    ours = {m for m in found if m.split(".")[0] == "sim"}
    allowed = {
        m for m in ours if m in ("sim", "sim.api") or m.startswith(("sim.app", "sim.outputs"))
    }
    assert ours == allowed, sorted(ours - allowed)


def test_the_command_line_binds_localhost_unless_told_and_warns_then() -> None:
    import argparse

    from sim.app import host_warning, parse_args, register

    args = parse_args([])
    assert (args.host, args.port, args.no_browser) == ("127.0.0.1", 8000, False)
    args = parse_args(["--port", "8123", "--no-browser", "--host", "0.0.0.0"])
    assert (args.host, args.port, args.no_browser) == ("0.0.0.0", 8123, True)
    assert host_warning("127.0.0.1", 8000) is None
    assert host_warning("0.0.0.0", 8123).startswith(
        "warning: serving on 0.0.0.0: anyone who can reach this machine on port 8123"
    )
    with pytest.raises(SystemExit):
        parse_args(["--port", "0"])
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["app", "--no-browser"])
    assert (args.command, args.no_browser, args.func.__name__) == ("app", True, "cmd_app")


def test_shares_are_never_rounded_to_a_reassuring_100_percent() -> None:
    """Nor to 0%; and written as the terminal and the report write them (format_number),
    so the page and the report of one run read the same figures."""
    from sim.outputs.answers import format_number

    shares = (1.0, 0.9996, 0.995, 0.78575, 0.0004, 0.0)
    assert [percent(x) for x in shares] == ["100.0%", "99.96%", "99.5%", "78.6%", "0.04%", "0.0%"]
    assert [percent(x) for x in shares] == [format_number(x, "share") for x in shares]


def test_uploaded_observed_files_keep_safe_names_and_go_to_the_api_as_given(
    tmp_path: Path,
) -> None:
    """One file (the project's CSV) goes to sim.forecast as a path; several (ADSL + ADTTE)
    as a list, for the API to tell apart by content; no uploaded name leaves the folder."""
    from sim.app.jobs import write_observed
    from sim.app.worker import observed_argument

    uploads = tmp_path / "uploads"
    uploads.mkdir()
    for name in ("a", "b", "c"):
        (uploads / name).write_text(name)
    one = tmp_path / "one"
    written = write_observed(one, [("my data.csv", uploads / "a")])
    assert [p.name for p in written] == ["my_data.csv"]
    assert observed_argument(one) == one / "observed" / "my_data.csv"
    many = tmp_path / "many"
    written = write_observed(
        many,
        [
            ("../../adsl.xpt", uploads / "a"),
            ("adtte.xpt", uploads / "b"),
            ("adtte.xpt", uploads / "c"),
        ],
    )
    assert [p.name for p in written] == ["adsl.xpt", "adtte.xpt", "3-adtte.xpt"]
    assert all(p.parent == many / "observed" for p in written)
    assert observed_argument(many) == sorted(written)
    assert (many / "observed" / "3-adtte.xpt").read_text() == "c"


def test_the_answers_table_names_the_primary_endpoint(baseline: dict) -> None:
    """An OS-primary scenario's questions say deaths, never PFS (issue 25: every label)."""
    scenario = {**baseline, "analysis": {**baseline["analysis"], "endpoint": "os"}}
    questions = list(key_questions(summary(0.8, 0.01), None, scenario)["question"])
    assert not [q for q in questions if "PFS" in q], questions
    assert any("deaths" in q for q in questions)
    pfs = list(key_questions(summary(0.8, 0.01), None, baseline)["question"])
    assert any("PFS events" in q for q in pfs)


def test_a_runs_preview_is_the_api_answer_of_its_first_chunk(tmp_path: Path) -> None:
    """A Run of the page (`sim.app.worker.run_job`, in its own process as the page starts
    it) of 1,000 replicates writes, while it runs, the summary of its first chunk: byte for
    byte the summary.csv of `sim.simulate` of 500 replicates with the same seed (the
    chunk's streams depend on the seed and the chunk alone); its full answer is the API's
    of 1,000, and no replicate is computed twice (progress counts 1,000)."""
    import multiprocessing

    import sim
    from sim.app.worker import run_job
    from sim.engine.preview import preview_replicates

    scenario = ROOT / "scenarios" / "textbook.yaml"
    folder = tmp_path / "job"
    folder.mkdir()
    (folder / "scenario.yaml").write_text(scenario.read_text(encoding="utf-8"))
    assert preview_replicates(1000) == 500 and preview_replicates(500) == 0
    process = multiprocessing.get_context("fork").Process(
        target=run_job, args=(folder, 1000, 7, preview_replicates(1000))
    )
    process.start()
    process.join()
    assert yaml.safe_load((folder / "status.json").read_text())["stage"] == "done"
    first = sim.simulate(scenario, reps=500, seed=7, progress=False)
    whole = sim.simulate(scenario, reps=1000, seed=7, progress=False)
    preview = (folder / "preview" / "summary.csv").read_bytes()
    assert preview == (first.folder / "summary.csv").read_bytes()
    for name in ("summary.csv", "timeline.csv", "replicates.parquet"):
        assert (folder / "run" / name).read_bytes() == (whole.folder / name).read_bytes()
    assert (folder / "progress.txt").read_text().splitlines()[-1] == "1000/1000"
    assert (folder / "figures" / "figures.json").is_file()


def test_a_run_forked_from_the_warm_fork_server_imports_nothing() -> None:
    """What the page's fork server preloads (`sim.app.jobs.context`: `sim.app.worker` and
    the warm-up `sim.app.warm`) is every module a run of the default scenario imports, so a
    run forked from it starts computing at once (in a fresh interpreter, as the fork server
    is one)."""
    import subprocess
    import sys

    script = (
        "import sys, tempfile\n"
        "from pathlib import Path\n"
        "import sim.app.worker, sim.app.warm\n"
        "import sim\n"
        "before = set(sys.modules)\n"
        "with tempfile.TemporaryDirectory() as folder:\n"
        f"    sim.simulate({str(BASELINE)!r}, reps=600, seed=3, out=Path(folder) / 'run',\n"
        "                 progress=sim.app.warm.Silent())\n"
        "    sim.design(sim.load_scenario(" + repr(str(BASELINE)) + "))\n"
        "print(sorted(m for m in set(sys.modules) - before if not m.startswith('_')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout


def test_a_design_with_looks_is_not_read_as_a_timeline_risk_on_the_page(baseline: dict) -> None:
    """With interim looks (early_stop in the summary) the page's answers ask whether the
    trial concluded by the completion date and how often a look stopped it, not whether
    the event target was reached (a trial stopped early does not need it), as the report
    and `run` do; the dates say over which trials they are read."""
    with_looks = pd.concat(
        [
            summary(0.8, 0.01),
            pd.DataFrame(
                [
                    ["p_concluded_by_completion", "share", 1.0, 0.0, float("nan"), float("nan")],
                    ["early_stop", "share", 0.326, 0.015, float("nan"), float("nan")],
                    ["p_target_reached", "share", 0.668, 0.015, float("nan"), float("nan")],
                    ["target_events_months_median", "months since start", 28.5, 0.2, 25, 32],
                ],
                columns=["metric", "unit", "estimate", "mc_se", "q05", "q95"],
            ),
        ]
    )
    table = key_questions(with_looks, None, baseline).set_index("question")
    questions = "\n".join(table.index)
    assert "Event target (70 PFS events) reached by the completion date" not in questions
    concluded = next(q for q in table.index if q.startswith("Trial concluded by"))
    assert table.loc[concluded, "simulation (this run)"] == "100.0% (MC SE 0.0%)"
    assert table.loc["Stopped early at an interim look", "simulation (this run)"].startswith(
        "32.6%"
    )
    assert (
        "reached in 66.8% of replicates"
        in table.loc["Event target (70 PFS events) reached"].iloc[0]
    )
    without = "\n".join(key_questions(summary(0.8, 0.01), None, baseline)["question"])
    assert "Event target (70 PFS events) reached by the completion date" in without
    assert "Stopped early" not in without


def test_the_compare_tab_of_designs_with_looks_shows_the_conclusion() -> None:
    """Two runs with interim looks: the tab shows, in words, whether the trial concluded by
    the completion date and how often a look stopped it, in place of the event target by
    that date (which it lists only if sim.compare flags it)."""
    metrics = pd.DataFrame(
        [
            comparison_row("power", 0.755, 0.70, 0.014, "paired"),
            comparison_row("p_target_by_completion", 0.668, 0.66, 0.015, "paired"),
            comparison_row("p_concluded_by_completion", 1.0, 1.0, 0.001, "paired"),
            comparison_row("early_stop", 0.326, 0.30, 0.015, "paired"),
        ]
    )
    described = pd.DataFrame(
        {"unit": ["share"] * 4, "meaning": ["a", "b", "c", "d"]},
        index=pd.Index(metrics["metric"], name="metric"),
    )
    what = comparison_table(metrics, described).set_index("metric")["what"]
    assert list(what.index) == ["power", "p_concluded_by_completion", "early_stop"]
    assert what["early_stop"] == "Stopped early at an interim look"
    assert what["p_concluded_by_completion"] == "Trial concluded by the completion date"


def test_a_share_of_all_or_none_of_the_trials_is_not_read_as_certain() -> None:
    """100% of 1,000 simulated trials has an MC SE of 0: the page gives its 95% interval
    (Wilson's, from summary.csv) instead of 'MC SE 0.0%'."""
    row = pd.Series({"estimate": 1.0, "mc_se": 0.0, "ci_low": 0.99617, "ci_high": 1.0})
    assert share_text(row) == "100.0% (every simulated trial; 95% CI 99.6% to 100.0%)"
    none = pd.Series({"estimate": 0.0, "mc_se": 0.0, "ci_low": 0.0, "ci_high": 0.00383})
    assert share_text(none) == "0.0% (no simulated trial; 95% CI 0.0% to 0.4%)"  # rounded up
    some = pd.Series({"estimate": 0.785, "mc_se": 0.0092, "ci_low": 0.76, "ci_high": 0.80})
    assert share_text(some) == "78.5% (MC SE 0.92%)"  # as the report writes it


def test_with_a_design_prior_the_answers_give_the_assurance_not_power(baseline: dict) -> None:
    """Each replicate's HR drawn from the design prior: the share that succeed is the
    assurance, set beside its closed form over the prior (and the power at the prior's mean
    log HR), not beside Schoenfeld's power at one HR, as `run` prints it."""
    with_prior = pd.concat(
        [
            summary(0.705, 0.032),
            pd.DataFrame(
                [["assurance", "share", 0.705, 0.032, float("nan"), float("nan")]],
                columns=["metric", "unit", "estimate", "mc_se", "q05", "q95"],
            ),
        ]
    )
    design = pd.DataFrame(
        [
            ("power_schoenfeld", 0.803831, "probability", ""),
            ("assurance", 0.722791, "probability", ""),
            ("power_at_prior_mean", 0.803831, "probability", ""),
        ],
        columns=["quantity", "value", "unit", "method"],
    )
    first = key_questions(with_prior, design, baseline).iloc[0]
    assert first["question"].startswith("Probability of success: the power averaged over")
    assert first["simulation (this run)"] == "70.5% (MC SE 3.2%)"
    assert first["closed form"] == "72.3% (over the prior; the power at its mean log HR 80.4%)"
    without = key_questions(summary(0.785, 0.0092), design, baseline).iloc[0]
    assert without["closed form"] == "80.4% (Schoenfeld, at 70 events)"


def test_the_compare_tab_of_runs_with_a_design_prior_names_the_assurance() -> None:
    metrics = pd.DataFrame(
        [
            comparison_row("power", 0.705, 0.60, 0.014, "paired"),
            comparison_row("assurance", 0.705, 0.60, 0.014, "paired"),
        ]
    )
    described = pd.DataFrame(
        {"unit": ["share"] * 2, "meaning": ["a", "the assurance"]},
        index=pd.Index(metrics["metric"], name="metric"),
    )
    what = comparison_table(metrics, described).set_index("metric")["what"]
    assert what["power"] == "Probability of success at the analysis (assurance, over the prior)"


def test_the_forecast_offers_the_apis_accrual_models() -> None:
    """The page's accrual models are the API's (ACCRUAL_CHOICES), each in words; "" leaves
    the API's default."""
    from sim.api import ACCRUAL_CHOICES
    from sim.app.page import ACCRUAL_MODELS, ACCRUAL_WORDS

    assert list(ACCRUAL_MODELS) == ["", *ACCRUAL_CHOICES]
    assert set(ACCRUAL_WORDS) == set(ACCRUAL_CHOICES)


def test_the_forecast_reads_the_piecewise_knots_as_the_command_line_does() -> None:
    """Knots typed on the page ("4, 8" or "4 8") are --accrual-knots 4 8; empty leaves the
    API's default; text that is not numbers gets a message naming the field, the value and
    an example (the API checks that they are positive and increasing)."""
    from sim.app.page import accrual_knots

    assert accrual_knots("4, 8") == ((4.0, 8.0), "")
    assert accrual_knots(" 2.5 6 ") == ((2.5, 6.0), "")
    assert accrual_knots("") == (None, "") == accrual_knots(None)
    knots, problem = accrual_knots("4, eight")
    assert knots is None
    assert problem.startswith("accrual knots = '4, eight': numbers of months since the start")
    assert "e.g. 4, 8" in problem


def test_with_looks_the_power_is_any_looks_beside_the_designs(tmp_path: Path) -> None:
    """A group-sequential design (OS primary, an interim at 60% of the deaths): the page's
    power row counts success at any look and stands beside the group-sequential design's
    power under the alternative, gs_power_h1, as the terminal's closed-form block does
    (one rule, power_closed_form), not beside Schoenfeld's single-look power; the line above
    the table says the hazard ratio is PFS's and gives the OS average HR of the design."""
    import sim
    from sim.commands.cli import closed_form_lines
    from sim.stats.design import power_closed_form

    path = ROOT / "scenarios" / "phase3_os.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    design = sim.design(sim.load_scenario(path))
    quantities = set(design["quantity"])
    assert power_closed_form(quantities, looks=True) == (
        "gs_power_h1",
        "group-sequential design, any look",
    )
    assert power_closed_form(quantities - {"hazards_cross"}, looks=False)[0] == "power_schoenfeld"
    assert power_closed_form({"hazards_cross"}, looks=False)[0] == "power_logrank"
    rows = summary(0.824, 0.017)
    rows.loc[len(rows)] = ("early_stop", "share", 0.42, 0.02, None, None)
    table = key_questions(rows, design, data).set_index("question")
    power = table.iloc[0]
    assert table.index[0] == (
        "Power: chance the trial shows the effect at an interim look or the final analysis "
        "(one-sided alpha 0.025)"
    )
    gs_power = float(design.set_index("quantity").at["gs_power_h1", "value"])
    assert power["closed form"] == (
        f"{gs_power:.1%} (group-sequential design, any look, at 280 deaths)"
    )
    # the terminal's closed form of the power is the same number
    closed = closed_form_lines(sim.load_scenario(path), rows.assign(ci_low=None, ci_high=None))
    assert f"{gs_power:.1%}" in next(line for line in closed.splitlines() if "power" in line)
    assert "OS hazard ratio estimated at the analysis (median over replicates)" in table.index
    # the power at the completion date is one test at the full alpha: not the design's
    assert (
        "Power if the analysis happened on 2034-12-31 (one test at the full alpha, ignoring "
        "the interim looks)"
    ) in table.index
    # its deaths are expected numerically (illness-death OS), not by Lachin-Foulkes
    assert table.loc["Event target (280 deaths) reached", "closed form"].endswith(
        "(expected deaths computed numerically, no scans)"
    )
    ahr = float(design.set_index("quantity").at["average_hazard_ratio", "value"])
    assert scenario_line(data, design) == (
        "QL1706-QUADSHOT-P3-OS: OS primary, 400 patients, control median PFS 6.8 months, "
        f"PFS hazard ratio 0.6 (OS average hazard ratio {ahr:.2f} by the time of 280 deaths), "
        "death target 280, alpha 0.025"
    )


def test_the_line_above_the_answers_names_the_pfs_design(baseline: dict) -> None:
    assert scenario_line(baseline, None) == (
        "NCT07271602: 104 patients, control median PFS 6.8 months, hazard ratio 0.6, event "
        "target 70, alpha 0.1"
    )
    by_date = {**baseline, "analysis": {**baseline["analysis"], "event_target": None}}
    assert "target" not in scenario_line(by_date, None)
