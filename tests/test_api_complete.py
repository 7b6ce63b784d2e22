"""The API beside the commands (issue 30): sim.compare, sim.plot, sim.report,
Results.plot_*(ax=None) returning the axes (as lifelines' plots do), and sim.forecast taking
the observed table as a DataFrame. Each gives what its command gives."""

from __future__ import annotations

import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure

import sim
from sim.commands.cli import main
from tests.helpers import TEXTBOOK

AS_OF = "2027-01-15"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two textbook runs sharing the seed (paired) and a baseline-size run for the clinic."""
    root = tmp_path_factory.mktemp("api")
    options = dict(reps=40, seed=3, workers=1, progress=False, keep_patients=2)
    a = sim.simulate(TEXTBOOK, out=root / "a", **options)
    b = sim.simulate(TEXTBOOK, overrides={"effect.hazard_ratio": 0.8}, out=root / "b", **options)
    return root, a, b


def test_compare_gives_the_tables_compare_writes(runs, tmp_path):
    root, a, b = runs
    result = sim.compare([a, root / "b"], out=tmp_path / "c.csv")
    assert (
        main(["compare", str(root / "a"), str(root / "b"), "--out", str(tmp_path / "d.csv")]) == 0
    )
    pd.testing.assert_frame_equal(
        result.metrics, pd.read_csv(tmp_path / "d.csv"), check_dtype=False
    )
    assert result.written == (
        tmp_path / "c.csv",
        tmp_path / "c.timeline.csv",
        tmp_path / "c.fields.csv",
    )
    assert result.fields["field"].tolist() == ["effect.hazard_ratio"]
    assert result.metrics.set_index("metric").at["power", "se_kind"] == "paired"
    assert set(result.flagged["metric"]) == set(
        result.metrics.loc[result.metrics["flag"], "metric"]
    )


def test_compare_needs_a_list_of_runs(runs):
    _, a, _ = runs
    with pytest.raises(sim.ScenarioError, match="a list of two or more runs"):
        sim.compare(a)


@pytest.mark.parametrize(
    "method", ["plot_enrollment", "plot_events", "plot_analysis_dates", "plot_km"]
)
def test_results_plots_draw_on_the_given_axes_and_return_them(runs, method):
    _, a, _ = runs
    figure = Figure()
    left, right = figure.subplots(1, 2)
    assert getattr(a, method)(ax=right) is right
    assert right.has_data() and not left.has_data()  # only the axes given is drawn on
    own = getattr(a, method)()
    assert isinstance(own, Axes) and own is not right


def test_plot_km_takes_a_kept_replicate(runs):
    _, a, _ = runs
    kept = sorted(set(a.table("patients")["replicate"]))
    assert a.plot_km(replicate=kept[-1]).has_data()
    with pytest.raises(sim.ScenarioError, match="replicate = 999: not kept"):
        a.plot_km(replicate=999)


def test_clinic_plots_need_the_clinic_tables(runs):
    _, a, _ = runs
    with pytest.raises(sim.ScenarioError, match="resources.csv: not written"):
        a.plot_utilization()


def test_plot_gives_the_figures_plot_writes(runs, tmp_path):
    root, a, _ = runs
    panels = sim.plot(a, out=tmp_path / "plots")
    assert [p.name for p in panels] == ["enrollment", "events", "analysis_date", "km"]
    assert sorted(p.name for p in (tmp_path / "plots").glob("*.png")) == sorted(
        f"{p.name}.png" for p in panels
    )
    assert panels[0]._repr_png_().startswith(b"\x89PNG")  # shown by Jupyter
    assert [p.name for p in sim.plot(root / "b")] == [p.name for p in panels]


def test_report_writes_the_html_report(runs, tmp_path):
    _, a, _ = runs
    path = sim.report(a, out=tmp_path / "r.html")
    assert path == tmp_path / "r.html"
    assert 'data-table="answers"' in path.read_text(encoding="utf-8")
    with pytest.raises(sim.ScenarioError, match=r"must end in \.html"):
        sim.report(a, out=tmp_path / "r.txt")


def test_forecast_takes_a_dataframe_as_the_observed_table(runs, tmp_path):
    root, _, _ = runs
    frame = sim.export_observed(root / "a", as_of=AS_OF, replicate=0)
    frame.to_csv(tmp_path / "observed.csv", index=False)
    dated = frame.copy()
    for column in [c for c in dated.columns if c.endswith("_date")]:
        dated[column] = pd.to_datetime(dated[column])  # Timestamps, NaT where nothing happened
    options = dict(as_of=AS_OF, reps=20, seed=2, workers=1, progress=False)
    from_file = sim.forecast(TEXTBOOK, tmp_path / "observed.csv", **options)
    from_frame = sim.forecast(TEXTBOOK, dated, **options)
    pd.testing.assert_frame_equal(from_frame.table("forecast"), from_file.table("forecast"))
    pd.testing.assert_frame_equal(from_frame.summary, from_file.summary)
    with pytest.raises(sim.ScenarioError, match=r"observed = \{\} \(of type dict\)"):
        sim.forecast(TEXTBOOK, {}, **options)


def test_api_page_figures_example_runs_as_written(tmp_path, monkeypatch):
    """The second Python block of docs/api.md, after the first (smaller runs)."""
    import re

    from tests.helpers import ROOT

    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    first, second = re.findall(r"```python\n(.*?)```", text, re.S)[:2]
    code = (first + second).replace("reps=2000", "reps=30").replace("workers=2", "workers=1")
    code = code.replace('"results/', f'"{tmp_path}/results/')
    code = code.replace('"scenarios/', f'"{ROOT}/scenarios/')
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "docs/api.md", "exec"), namespace)
    assert (tmp_path / "report.html").is_file()
    assert namespace["comparison"].fields["field"].tolist() == ["effect.hazard_ratio"]
    assert [p.name for p in namespace["panels"]][:2] == ["enrollment", "events"]
