"""Report: one self-contained HTML file, every figure and table in it, nothing outside."""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser

import pandas as pd
import pytest

from sim.commands.sweep import register as register_sweep
from sim.engine.run import run_scenario
from sim.engine.versions import METRICS_VERSION
from sim.outputs.report import register
from tests.helpers import BASELINE, TEXTBOOK, run_command

PNG = b"\x89PNG\r\n\x1a\n"


class ReportParser(HTMLParser):
    """Collects images, links, and the rows of every table (by its data-table name)."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.references: list[str] = []
        self.tables: dict[str, int] = {}
        self.table: str | None = None
        self.in_body = False
        self.pre: list[str] = []
        self.in_pre = False
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        for key in ("src", "href", "data", "action", "poster"):
            if key in attrs:
                self.references.append(attrs[key])
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        if tag == "link" or tag == "script":
            self.references.append(f"<{tag}>")
        if tag == "table":
            self.table = attrs.get("data-table")
            self.tables.setdefault(self.table, 0)  # tables of one name count together
        if tag == "tbody":
            self.in_body = True
        if tag == "tr" and self.in_body:
            self.tables[self.table] += 1
        if tag == "pre":
            self.in_pre = True
            self.pre.append("")

    def handle_endtag(self, tag):
        if tag == "tbody":
            self.in_body = False
        if tag == "pre":
            self.in_pre = False

    def handle_data(self, data):
        if self.in_pre:
            self.pre[-1] += data


def parse(path) -> ReportParser:
    parser = ReportParser()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


@pytest.fixture(scope="module")
def run(tmp_path_factory, textbook):
    out = tmp_path_factory.mktemp("report") / "run"
    run_scenario(
        textbook,
        out,
        reps=200,
        seed=5,
        workers=1,
        keep_patients=1,
        scenario_path=str(TEXTBOOK),
        overrides=[],
    )
    return out


def assert_self_contained(report: ReportParser, n_figures: int) -> None:
    assert len(report.images) == n_figures
    for src in report.images:
        prefix = "data:image/png;base64,"
        assert src.startswith(prefix)
        assert base64.b64decode(src[len(prefix) :]).startswith(PNG)
    # the only references are the embedded images and the table of contents' links to the
    # page's own sections: no file, link, script or stylesheet
    inside = [ref for ref in report.references if not ref.startswith("data:")]
    assert all(ref.startswith("#") for ref in inside), inside
    assert {ref[1:] for ref in inside} <= report.ids  # every link has its target


def test_run_report_has_every_figure_and_complete_tables(run, tmp_path):
    out = tmp_path / "r.html"
    assert run_command(["report", str(run), "--out", str(out)], register) == 0
    report = parse(out)
    assert_self_contained(report, n_figures=4)  # enrollment, events, analysis date, KM
    summary = pd.read_csv(run / "summary.csv")
    groups = {name: n for name, n in report.tables.items() if name.startswith("summary-")}
    assert sum(groups.values()) == len(summary)  # every metric, in the appendix's groups
    assert {"summary-timeline", "summary-power"} <= set(groups)
    assert report.tables["timeline"] == len(pd.read_csv(run / "timeline.csv"))
    text = out.read_text(encoding="utf-8")
    # the first screen: the answers (sentences and a table) before any figure or metric
    first = text.split("<img", 1)[0]
    assert 'data-table="answers"' in first and 'class="headline"' in first
    assert "summary-" not in first
    for words in ("seen by 2028-12-31?", "Final analysis", "Power at the analysis as planned"):
        assert words in first, words
    # the metrics sit in collapsed blocks at the end, one per group of the metric table
    appendix = text.split('id="appendix"', 1)[1]
    assert appendix.count('<details class="appendix"') >= len(groups)
    assert text.index('id="appendix"') > text.rindex("<img")
    # assumptions: the resolved scenario, the YAML's own source comments, the manifest
    assert any("hazard_ratio: 0.6" in block for block in report.pre)
    assert any("# NCT07271602 stripped to what closed forms" in block for block in report.pre)
    assert any(f'"metrics_version": {METRICS_VERSION}' in block for block in report.pre)
    assert "seen by the registered completion date" in text and "power <b>" in text
    tables = re.sub(r'src="data:[^"]*"', "", text.split('<h2 id="assumptions">')[0])
    assert "<th>unit</th>" in tables and "e+0" not in tables  # readable numbers


def test_report_defaults_into_the_run_folder(run):
    assert run_command(["report", str(run)], register) == 0
    assert (run / "report.html").is_file()


def test_sweep_report_has_the_sweep_figures_and_tables(tmp_path):
    sweep = tmp_path / "sweep"
    assert (
        run_command(
            [
                "sweep",
                str(TEXTBOOK),
                "--grid",
                "effect.hazard_ratio=0.6,0.8,1.0",
                "--reps",
                "100",
                "--out",
                str(sweep),
                "--workers",
                "1",
                "--quiet",
            ],
            register_sweep,
        )
        == 0
    )
    out = tmp_path / "s.html"
    assert run_command(["report", str(sweep), "--out", str(out)], register) == 0
    report = parse(out)
    assert_self_contained(report, n_figures=3)  # power curve, trade-off, analysis dates
    table = pd.read_csv(sweep / "sweep.csv")
    metrics = [c for c in table.columns if "." not in c and not c.endswith("_mc_se")]
    # all metrics with the points as columns (so the tables fit the page), the key table
    # one row per point
    assert report.tables == {"sweep_key": 3, "sweep": len(metrics) - 3}  # no point, name, label
    manifest = json.loads((sweep / "manifest.json").read_text())
    text = out.read_text(encoding="utf-8")
    assert manifest["points"][2]["label"] in text
    # the key table's headings in words, not the metrics' names; a grid's points are named
    # by their values, so no column of changes
    key = text[
        text.index('data-table="sweep_key"') : text.index("</table>", text.index("sweep_key"))
    ]
    completion = manifest["scenario"]["trial"]["completion_date"]
    assert "Event target reached by the completion date" in key
    assert "p_target_by_completion" not in key
    assert f"the completion date is the registered one, {completion}" in text
    assert "changed from the base scenario" not in key


def test_a_share_of_none_or_all_replicates_is_not_read_as_certain():
    from sim.outputs.report import all_or_none_words

    table = pd.DataFrame({"power": [0.5, 1.0], "power_mc_se": [0.05, 0.0]})
    words = all_or_none_words(table, 200)
    assert "not certainty" in words and "1.5%" in words  # 3 / 200
    assert all_or_none_words(table.iloc[:1], 200) == ""
    # a mean of 0 is not a share: no sentence
    events = pd.DataFrame(
        {"events_at_analysis_mean": [0.0], "events_at_analysis_mean_mc_se": [0.0]}
    )
    assert all_or_none_words(events, 200) == ""


def test_missing_scenario_file_is_said_not_hidden(run, tmp_path):
    moved = tmp_path / "run"
    import shutil

    shutil.copytree(run, moved)
    manifest = json.loads((moved / "manifest.json").read_text())
    (moved / "manifest.json").write_text(json.dumps({**manifest, "scenario_path": "gone.yaml"}))
    out = tmp_path / "r.html"
    assert run_command(["report", str(moved), "--out", str(out)], register) == 0
    assert "gone.yaml is not available here" in out.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", ["not a run", "bad suffix"])
def test_bad_report_input_exits_2_and_writes_nothing(run, tmp_path, capsys, case):
    folder = tmp_path / "empty"
    folder.mkdir()
    out = tmp_path / ("r.html" if case == "not a run" else "r.pdf")
    target = folder if case == "not a run" else run
    assert run_command(["report", str(target), "--out", str(out)], register) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1
    assert ("not a run folder" if case == "not a run" else ".html") in err
    assert not out.exists() and list(folder.iterdir()) == []


@pytest.fixture(scope="module")
def baseline_run(tmp_path_factory, baseline):
    """The shipped baseline (every endpoint, the clinic, drug supply): the largest report."""
    from tests.helpers import BASELINE

    out = tmp_path_factory.mktemp("report") / "baseline"
    run_scenario(
        baseline, out, reps=100, seed=7, workers=1, keep_patients=1, scenario_path=str(BASELINE)
    )
    return out


def test_baseline_report_stays_under_500_kb_and_answers_what_it_needs(baseline_run, tmp_path):
    out = tmp_path / "b.html"
    assert run_command(["report", str(baseline_run), "--out", str(out)], register) == 0
    size = out.stat().st_size
    assert size < 500_000, size  # figures as palette PNGs (report.compressed_png)
    first = out.read_text(encoding="utf-8").split("<img", 1)[0]
    for words in ("Drug: QL1706", "Radiotherapy slots", "Infusion chairs: busiest month"):
        assert words in first, words


def test_report_pdf_prints_the_same_html(run, tmp_path, capsys):
    from sim.outputs import report

    out = tmp_path / "r.html"
    if report.find_chromium() is None:
        pytest.skip("headless Chromium is not installed here")
    assert run_command(["report", str(run), "--out", str(out), "--pdf"], register) == 0
    pdf = tmp_path / "r.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    assert f"pdf -> {pdf}" in capsys.readouterr().err


def test_report_pdf_without_chromium_says_so_and_writes_the_html(run, tmp_path, capsys):
    from unittest import mock

    out = tmp_path / "r.html"
    with mock.patch("sim.outputs.report.find_chromium", return_value=None):
        assert run_command(["report", str(run), "--out", str(out), "--pdf"], register) == 0
    assert out.is_file() and not (tmp_path / "r.pdf").exists()
    assert "no PDF: headless Chromium is not installed" in capsys.readouterr().err


def test_printed_report_opens_its_appendix():
    from sim.outputs.report import printable

    page = '<details class="appendix"><summary>x</summary></details><details>m</details>'
    assert printable(page) == (
        '<details open class="appendix"><summary>x</summary></details><details>m</details>'
    )


def test_a_sweep_of_variants_says_what_each_point_changes():
    from sim.outputs.report import sweep_key_table

    table = pd.DataFrame(
        {"point": [1, 2], "label": ["baseline", "AE delays"], "power": [0.8, 0.7]}
        | {"power_mc_se": [0.01, 0.01]}
    )
    manifest = {
        "scenario": {"trial": {"completion_date": "2028-12-31"}},
        "variants": [{"name": "baseline"}, {"name": "AE delays"}],
        "points": [
            {"point": 1, "params": {}},
            {"point": 2, "params": {"safety.events.0.delay": {"2": 1.0}, "dropout.months": 6}},
        ],
    }
    key = sweep_key_table(table, manifest)
    assert list(key.columns) == [
        "#",
        "scenario",
        "Power at the analysis",
        "changed from the base scenario",
    ]
    assert list(key["changed from the base scenario"]) == [
        "(none)",
        'safety.events.0.delay = {"2": 1.0}; dropout.months = 6',
    ]
    assert key["Power at the analysis"].tolist() == ["80.0% ± 1.0%", "70.0% ± 1.0%"]


def test_every_key_metric_has_a_heading_in_words():
    # the sweep report's key table and the page's compare tab name these metrics in words
    # from the metric table's one heading each, not a list of their own
    from sim.app.answers import COMPARED
    from sim.engine.metric_table import KEY_METRICS, TABLE, metric_heading

    for metric in (*KEY_METRICS, *TABLE.looks_key_metrics, *COMPARED):
        heading = metric_heading(metric)
        assert heading != metric and heading[:1].isupper(), metric


def test_with_a_design_prior_the_report_gives_the_assurance_not_a_power() -> None:
    """With a design prior each replicate draws its hazard ratio, so `power` counts the
    same replicates as the assurance: the headline and the answers say probability of
    success, and set the design's target power beside the power at the prior's mean log HR
    (the closed form at one HR), not beside the simulated share."""
    import yaml

    from sim.outputs.answers import answer_rows
    from sim.outputs.report import headline_html

    # as the manifest holds it: dates as text
    scenario = json.loads(
        json.dumps(yaml.safe_load(BASELINE.read_text(encoding="utf-8")), default=str)
    )
    rows = [
        ("power", "share", 0.73, 0.022),
        ("assurance", "share", 0.73, 0.022),
        ("power_at_completion", "share", 0.7375, 0.022),
        ("power_at_prior_mean", "probability", 0.8038, None),
        ("p_target_by_completion", "share", 0.94, 0.012),
    ]
    summary = pd.DataFrame(rows, columns=["metric", "unit", "estimate", "mc_se"])
    manifest = {"scenario": scenario, "replicates": 400}
    timeline = pd.DataFrame(columns=["milestone", "q05", "q50", "q95"])
    answers = {a.question: a for a in answer_rows(summary, timeline, manifest)}
    assert "Power at the analysis as planned" not in answers
    assert answers["Probability of success (assurance, over the design prior)"].answer.startswith(
        "73.0%"
    )
    at_mean = answers["Power at the prior's mean log hazard ratio"]
    assert at_mean.answer == "80.4% (the design's target: 80%)"
    assert "Probability of success if the data were cut on 2028-12-31" in answers
    headline = headline_html(summary, manifest)
    assert "<b>Power?</b>" not in headline
    assert "<b>Probability of success?</b>" in headline
    assert "the power at the prior's mean log HR: 80.4%" in headline
