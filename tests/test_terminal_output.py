"""What `run` and `compare` print for people: the answers first, in a few lines; the whole
tables with --verbose / --all. The line counts are the contract (issue 30)."""

from __future__ import annotations

import re

import pytest

from sim.commands.cli import main
from tests.helpers import BASELINE, ROOT

INTERIM = ROOT / "scenarios" / "nct07271602_interim.yaml"
RUN_LINES = 25  # `run` without --verbose prints at most this many lines
COMPARE_LINES = 31  # `compare` without --all


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """The baseline and the interim design (the longest answers), and the baseline again
    at HR 0.8 with the same seed (a paired comparison with many differences)."""
    root = tmp_path_factory.mktemp("terminal")
    specs = {
        "baseline": (BASELINE, []),
        "interim": (INTERIM, []),
        "hr08": (BASELINE, ["--set", "effect.hazard_ratio=0.8"]),
    }
    printed = {}
    for name, (scenario, extra) in specs.items():
        args = ["run", str(scenario), "--reps", "60", "--seed", "3", "--workers", "1"]
        args += ["--keep-patients", "0", "--quiet", "--out", str(root / name), *extra]
        printed[name] = run_printing(args)
    return root, printed


def run_printing(args: list[str]) -> str:
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(args) == 0
    return buffer.getvalue()


def first_words(text: str) -> set[str]:
    return {line.split()[0] for line in text.splitlines() if line.strip()}


def test_run_prints_the_answers_in_at_most_25_lines(folders):
    root, printed = folders
    for name in ("baseline", "interim"):
        lines = printed[name].splitlines()
        assert len(lines) <= RUN_LINES, printed[name]
        text = printed[name]
        assert "registered completion date 2028-12-31" in text
        assert re.search(r"^\s*power\s", text, re.M)
        assert str(root / name / "summary.csv") in text  # where the whole table is
    assert "p_target_by_completion" in printed["baseline"]


def test_a_design_with_looks_is_not_read_as_a_timeline_risk(folders):
    """With interim looks a trial stopped early concludes without its event target: the
    answers lead with whether the trial concluded by the completion date and how often a
    look stopped it (as the report's answers do), not with the event target alone; a date
    that not every trial reaches says how many do."""
    _, printed = folders
    metrics = [line.split()[0] for line in printed["interim"].splitlines()[2:6]]
    assert metrics[:2] == ["p_concluded_by_completion", "early_stop"]
    assert "p_target_by_completion" not in printed["interim"]
    randomized = next(
        line for line in printed["interim"].splitlines() if "last patient randomized" in line
    )
    assert re.search(r"; \d+(\.\d)?% of trials get there\)$", randomized), randomized
    baseline = printed["baseline"].splitlines()
    assert "get there" not in next(line for line in baseline if "randomized" in line)


def test_run_verbose_prints_every_metric(folders):
    import pandas as pd

    root, _ = folders
    text = run_printing(
        ["run", str(BASELINE), "--reps", "60", "--seed", "3", "--workers", "1", "--quiet"]
        + ["--keep-patients", "0", "--force", "--out", str(root / "baseline"), "--verbose"]
    )
    summary = pd.read_csv(root / "baseline" / "summary.csv")
    assert len(text.splitlines()) > len(summary)
    assert set(summary["metric"]) <= first_words(text)


def test_compare_leads_with_key_metrics_in_at_most_30_lines(folders):
    root, _ = folders
    text = run_printing(["compare", str(root / "baseline"), str(root / "hr08")])
    lines = text.splitlines()
    assert len(lines) <= COMPARE_LINES, text
    assert lines[3].startswith("key metrics")
    assert "p_target_by_completion" in lines[5]  # the metric table's first key metric
    assert "effect.hazard_ratio" in text
    assert "--all" in lines[-1]


def test_compare_all_prints_every_metric(folders):
    import pandas as pd

    root, _ = folders
    text = run_printing(["compare", str(root / "baseline"), str(root / "hr08"), "--all"])
    summary = pd.read_csv(root / "baseline" / "summary.csv")
    assert set(summary["metric"]) <= first_words(text)
    assert "first_patient_in" in text  # every milestone


def test_summary_rows_stop_at_the_digit_their_se_supports():
    """A row's estimate and interval carry the digits of its Monte Carlo SE (2 significant
    digits), not 4 significant digits each: 20.862 ± 0.059, not 20.86, 0.05867 and a lower
    limit of 20.8 (20.797 with its last digit dropped). Shares and the spread over
    replicates (q05, q95) as before."""
    import pandas as pd

    from sim.commands.cli import format_summary

    table = pd.DataFrame(
        {
            "metric": ["lpi_months_median", "drug_mg", "power", "constant"],
            "unit": ["months since start", "mg", "share", "events"],
            "estimate": [20.8624, 375_312.0, 0.785, 70.0],
            "mc_se": [0.05867, 5_812.0, 0.0092, 0.0],
            "ci_low": [20.797, 363_900.0, 0.766, 70.0],
            "ci_high": [21.027, 386_700.0, 0.802, 70.0],
            "q05": [17.914, 300_001.0, float("nan"), 70.0],
            "q95": [24.0213, 450_123.0, float("nan"), 70.0],
        }
    )
    rows = [line.split() for line in format_summary(table, note=False).splitlines()[1:]]
    assert rows[0][-6:] == ["20.862", "0.059", "20.797", "21.027", "17.91", "24.02"]
    assert rows[1][-6:] == ["375,300", "5,800", "363,900", "386,700", "300,000", "450,100"]
    assert rows[2][-4:] == ["78.5%", "0.92%", "76.6%", "80.2%"]
    assert rows[3][-6:] == ["70", "0", "70", "70", "70", "70"]  # no SE: 4 significant digits


def test_the_closed_forms_read_in_the_answers_notation(folders):
    """Power and timing beside their closed forms in the notation of the answers table
    above them: shares as percentages, an estimate to the digit its MC SE supports and the
    closed form to the same digit (``78.8% ± 1.8%`` beside ``80.4%``, ``28.83 ± 0.11``
    beside ``27.72``), not ``0.788 ± 0.018`` beside ``0.804`` under a table in percent."""
    import pandas as pd

    from sim.engine.metrics import se_place

    root, printed = folders
    lines = printed["interim"].splitlines()
    start = next(
        i for i, line in enumerate(lines) if line.split() == ["simulated", "closed", "form"]
    )
    rows = {line[:40].strip(): line[40:].split() for line in lines[start + 1 : start + 7]}
    power = rows["power (any look)"]
    assert re.fullmatch(r"\d+\.\d% ± \d+(\.\d+)?% \d+\.\d%", " ".join(power)), power
    summary = pd.read_csv(root / "interim" / "summary.csv").set_index("metric")
    decimals = max(0, se_place(summary.loc["target_events_months_mean", "mc_se"]))
    estimate, _, se, closed = rows["months to event target (mean)"]
    for shown in (estimate, se, closed):
        assert len(shown.partition(".")[2]) == decimals, rows


def test_the_closed_form_note_names_the_figures_beside_the_power(folders):
    """With interim looks the power stands beside the group-sequential design's power
    (gs_power_h1, `power_closed_form`), so the note under the block names that design, not
    Schoenfeld's single-look power; a single analysis keeps Schoenfeld's."""
    _, printed = folders
    interim = next(line for line in printed["interim"].splitlines() if "closed form:" in line)
    assert interim.startswith(
        "closed form: the group-sequential design at the planned looks (power, early stop, "
        "expected events and analysis months), Lachin-Foulkes timing"
    )
    assert "Schoenfeld" not in interim
    baseline = next(line for line in printed["baseline"].splitlines() if "closed form:" in line)
    assert baseline.startswith("closed form: Schoenfeld power, Lachin-Foulkes timing")
