"""Scenario input: many sites (a site table, a site generator), `x-` extension keys, and the
validation cases of issue 27 that belong to the scenario layer. Each bad input is one message
naming the field, the value, the rule and a fix, with exit status 2."""

from __future__ import annotations

import datetime as dt
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from sim.commands.cli import main
from sim.conduct.calendar import StudyCalendar
from sim.scenario import Scenario, ScenarioError, load_scenario, scenario_to_dict
from tests.helpers import BASELINE, ROOT, vary

THREE_SITES = ROOT / "scenarios" / "nct07271602_three_sites.yaml"
SITES_FILE = ROOT / "scenarios" / "nct07271602_sites_file.yaml"
HEADER = "name,activation_date,per_month,ramp,cap\n"


def write_scenario(folder: Path, enrollment: dict[str, Any], name: str = "s.yaml") -> Path:
    """The baseline with `enrollment`'s site fields instead of its sites, in `folder`."""
    data = yaml.safe_load(BASELINE.read_text())
    data["enrollment"].pop("sites", None)
    data["enrollment"].pop("screening_rate", None)
    data["enrollment"].update(enrollment)
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def validate(path: Path, capsys: pytest.CaptureFixture[str], *sets: str) -> tuple[int, str]:
    args = ["validate", str(path)]
    for assignment in sets:
        args += ["--set", assignment]
    code = main(args)
    return code, capsys.readouterr().err


# --- the site table -------------------------------------------------------------------------


def test_sites_file_scenario_resolves_to_the_three_site_variant() -> None:
    """Double programming: the site table and the YAML list give the same resolved scenario."""
    table, listed = (scenario_to_dict(load_scenario(p)) for p in (SITES_FILE, THREE_SITES))
    assert table["trial"].pop("id") == "NCT07271602-sites-file"
    listed["trial"].pop("id")
    assert table == listed
    assert "sites_file" not in table["enrollment"]  # the manifest holds the sites themselves


def test_sites_file_is_relative_to_the_yaml_not_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "sites.csv").write_text(
        HEADER + "A,2026-01-30,8,,\nB,2026-06-01,3,2:1,20\n"
    )
    path = write_scenario(tmp_path / "sub", {"sites_file": "sites.csv"})
    monkeypatch.chdir(tmp_path)
    scenario = load_scenario(path.relative_to(tmp_path))
    sites = scenario.enrollment.sites
    assert [s.name for s in sites] == ["A", "B"]
    assert sites[1].activation_date == dt.date(2026, 6, 1)
    assert [(r.months, r.per_month) for r in sites[1].screening_rate] == [(2, 1), (None, 3)]
    assert sites[1].cap == 20 and sites[0].cap is None


def test_sites_file_with_an_excel_byte_order_mark_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "sites.csv").write_bytes(b"\xef\xbb\xbf" + (HEADER + "A,2026-01-30,8,,\n").encode())
    path = write_scenario(tmp_path, {"sites_file": "sites.csv"})
    assert validate(path, capsys)[0] == 0
    assert load_scenario(path).enrollment.sites[0].name == "A"


@pytest.mark.parametrize(
    ("table", "needle"),
    [
        ("name,activation_date,ramp\nA,2026-01-30,\n", "line 1: missing column 'per_month'"),
        (HEADER + "A,2026-13-01,8,,\n", "line 2: activation_date = '2026-13-01': not a date"),
        (HEADER + "A,30/01/2026,8,,\n", "activation_date = '30/01/2026': not a date"),
        (HEADER + "A,2026-01-30,eight,,\n", "line 2: per_month = 'eight': not a number >= 0"),
        (HEADER + "A,2026-01-30,-1,,\n", "per_month = '-1': not a number >= 0"),
        ("", "the file is empty"),
        ("\n\n", "the file is empty"),
        (HEADER, "no sites: the file has a header but no rows"),
        (
            HEADER + "A,2026-01-30,8,,\n\nA,2026-03-01,2,,\n",
            "line 4: name 'A' is already the site of line 2",
        ),
        (HEADER + "A,2026-01-30,8,2-4,\n", "ramp = '2-4': '2-4' is not months:per_month"),
        (HEADER + "A,2026-01-30,8,,0\n", "cap = '0': not a whole number > 0"),
        (HEADER + "A,2026-01-30,8\n", "line 2: 3 values for 5 columns"),
        ("name,activation,per_month\nA,2026-01-30,8\n", "missing column 'activation_date'"),
        (HEADER.replace("cap", "capp"), "unknown column 'capp'"),
        (HEADER + "A,2026-01-30,0,,\n", "line 2: screening_rate: the open-ended last period"),
        (HEADER + "A,2020-01-30,8,,\n", "enrollment.sites.0.activation_date 2020-01-30"),
    ],
)
def test_bad_site_tables_exit_2_naming_the_field_line_and_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], table: str, needle: str
) -> None:
    (tmp_path / "sites.csv").write_text(table)
    code, err = validate(write_scenario(tmp_path, {"sites_file": "sites.csv"}), capsys)
    assert code == 2, err
    assert needle in err
    assert err.count("\n") == 1  # one message
    if "enrollment.sites.0" not in needle:  # a cross-field rule names the resolved site
        assert "enrollment.sites_file = " in err and "sites.csv" in err


def test_bad_sites_file_bytes_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "sites.csv").write_bytes(HEADER.encode() + b"Z\xfcrich,2026-01-30,8,,\n")
    code, err = validate(write_scenario(tmp_path, {"sites_file": "sites.csv"}), capsys)
    assert code == 2 and "not UTF-8 text: byte 0xfc at line 2" in err


def test_missing_folder_and_fifo_site_tables_say_what_they_are(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_scenario(tmp_path, {"sites_file": "sites.csv"})
    code, err = validate(path, capsys)
    assert code == 2 and "sites.csv' : no such file" not in err and "no such file" in err
    (tmp_path / "sites.csv").mkdir()
    code, err = validate(path, capsys)
    assert code == 2 and "is a folder, not a file" in err, err
    (tmp_path / "sites.csv").rmdir()
    os.mkfifo(tmp_path / "sites.csv")
    code, err = validate(path, capsys)  # must not hang reading the pipe
    assert code == 2 and "is a FIFO (named pipe)" in err, err


def test_scenario_path_that_is_a_folder_or_fifo_is_named_as_such(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = validate(tmp_path, capsys)
    assert code == 2 and "is a folder, not a file" in err
    os.mkfifo(tmp_path / "s.yaml")
    code, err = validate(tmp_path / "s.yaml", capsys)
    assert code == 2 and "is a FIFO (named pipe)" in err


def test_one_source_of_sites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "sites.csv").write_text(HEADER + "A,2026-01-30,8,,\n")
    path = write_scenario(
        tmp_path, {"sites_file": "sites.csv", "screening_rate": [{"per_month": 3}]}
    )
    code, err = validate(path, capsys)
    assert code == 2 and "got screening_rate and sites_file" in err


# --- the site generator ---------------------------------------------------------------------


def test_site_generator_spreads_twenty_sites_evenly_and_deterministically(tmp_path: Path) -> None:
    generator = {
        "count": 20,
        "activation_spread_months": 6,
        "per_month": 1.2,
        "ramp": [{"months": 2, "per_month": 0.5}],
        "cap": 25,
    }
    path = write_scenario(tmp_path, {"site_generator": generator})
    sites = load_scenario(path).enrollment.sites
    assert [s.name for s in sites[:2]] == ["site 01", "site 02"] and sites[-1].name == "site 20"
    start = dt.date(2026, 1, 30)
    offsets = [(s.activation_date - start).days for s in sites]
    # site i on round(i x 6 x 30.4375 / 19) days: the first at the start, the last 183 later
    assert offsets == [round(i * 6 * 30.4375 / 19) for i in range(20)]
    assert offsets[0] == 0 and offsets[-1] == 183
    assert all(s.cap == 25 for s in sites)
    assert [(r.months, r.per_month) for r in sites[5].screening_rate] == [(2, 0.5), (None, 1.2)]
    assert scenario_to_dict(load_scenario(path)) == scenario_to_dict(load_scenario(path))


def test_site_generator_first_activation_and_prefix(tmp_path: Path) -> None:
    generator = {"count": 3, "per_month": 4, "first_activation": "2026-03-02", "name_prefix": "CN"}
    sites = load_scenario(write_scenario(tmp_path, {"site_generator": generator})).enrollment.sites
    assert [(s.name, s.activation_date) for s in sites] == [
        ("CN 1", dt.date(2026, 3, 2)),
        ("CN 2", dt.date(2026, 3, 2)),
        ("CN 3", dt.date(2026, 3, 2)),
    ]


@pytest.mark.parametrize(
    ("generator", "needle"),
    [
        ({"count": 0, "per_month": 3}, "enrollment.site_generator.count = 0"),
        (
            {"count": 3},
            "enrollment.site_generator.per_month = <missing>: required field is missing",
        ),
        (
            {"count": 3, "per_month": 3, "activation_spread_months": 60},
            "enrollment.sites.2.activation_date",
        ),
        ({"count": 3, "per_month": 3, "ramp": [{"per_month": 1}]}, "ramp.0.months"),
        ({"count": 3, "per_month": 3, "sites": 4}, "site_generator.sites"),
    ],
)
def test_bad_site_generators_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], generator: dict[str, Any], needle: str
) -> None:
    code, err = validate(write_scenario(tmp_path, {"site_generator": generator}), capsys)
    assert code == 2 and needle in err, err


# --- x- extension keys ----------------------------------------------------------------------


def test_x_keys_are_ignored_and_hold_anchors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = textwrap.dedent(
        """\
        x-site: &site {activation_date: 2026-03-01, screening_rate: [{per_month: 3}]}
        x-note: anything at all, [not, validated]
        """
    )
    data = yaml.safe_load(BASELINE.read_text())
    data["enrollment"].pop("sites", None)
    data["enrollment"].pop("screening_rate", None)
    body = yaml.safe_dump(data, sort_keys=False).replace(
        "enrollment:\n",
        "enrollment:\n  sites:\n  - {<<: *site, name: A, activation_date: 2026-01-30}\n"
        "  - {<<: *site, name: B}\n",
        1,
    )
    path = tmp_path / "x.yaml"
    path.write_text(text + body)
    assert validate(path, capsys)[0] == 0
    sites = load_scenario(path).enrollment.sites
    assert [(s.name, s.activation_date) for s in sites] == [
        ("A", dt.date(2026, 1, 30)),
        ("B", dt.date(2026, 3, 1)),
    ]
    path.write_text(text.replace("x-note", "note") + body)
    code, err = validate(path, capsys)
    assert code == 2 and "note = 'anything at all, [not, validated]': unknown key" in err


def test_sites_file_scenario_validates_and_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(SITES_FILE)]) == 0
    out = tmp_path / "run"
    assert main(["run", str(SITES_FILE), "--reps", "20", "--out", str(out), "--quiet"]) == 0
    assert (out / "summary.csv").exists()


# --- issue 27: validation that matches the model --------------------------------------------


def test_closures_win_over_makeup_working_days(baseline_data: dict[str, Any]) -> None:
    """2026-02-14 and 2026-02-28 are China's make-up working Saturdays (the holidays
    library); a closure over them shuts the clinic those days too (failed before: open)."""
    closure = {"start": "2026-02-09", "end": "2026-03-06", "reason": "renovation"}
    scenario = vary(baseline_data, **{"calendar.closures": [closure]})
    cal = StudyCalendar.from_scenario(scenario)
    start = scenario.trial.start_date
    for date in (dt.date(2026, 2, 14), dt.date(2026, 2, 28)):
        assert not cal.is_open((date - start).days), date
    assert (
        cal.next_open_day((dt.date(2026, 2, 10) - start).days) == (dt.date(2026, 3, 9) - start).days
    )
    plain = StudyCalendar.from_scenario(vary(baseline_data))  # without it, they are open
    assert plain.is_open((dt.date(2026, 2, 14) - start).days)


def test_no_screening_randomization_or_scan_on_a_makeup_day_inside_a_closure(
    baseline_data: dict[str, Any],
) -> None:
    """End to end, with a closure from 9 February to 6 March 2026 over China's make-up
    Saturdays 14 and 28 February: no patient screened or randomized in it, no scan done in
    it (on main, screenings and randomizations piled onto those two Saturdays)."""
    import numpy as np

    from sim.conduct.assessments import scan_day_map
    from sim.conduct.enrollment import enroll_patients

    closure = {"start": "2026-02-09", "end": "2026-03-06"}
    scenario = vary(baseline_data, **{"calendar.closures": [closure]})
    cal = StudyCalendar.from_scenario(scenario)
    first = (dt.date(2026, 2, 9) - scenario.trial.start_date).days
    inside = np.arange(first, first + 26)
    enrolled = enroll_patients(
        scenario.enrollment, 104, np.array([0.45, 0.55]), cal, 200, np.random.default_rng(5)
    )
    assert not np.isin(enrolled.rand_day, inside).any()
    started = enrolled.screen_day[enrolled.screen_day <= inside[-1]]
    assert not np.isin(started, inside).any()
    done = scan_day_map(cal, 7)[:400]  # the day a scan due on each day is done
    assert not np.isin(done, inside).any()


def test_explicit_makeup_day_inside_a_closure_is_closed(baseline_data: dict[str, Any]) -> None:
    scenario = vary(
        baseline_data,
        **{
            "calendar.closures": [{"start": "2026-03-02", "end": "2026-03-13"}],
            "calendar.makeup_working_days": ["2026-03-07"],
        },
    )
    cal = StudyCalendar.from_scenario(scenario)
    assert not cal.is_open((dt.date(2026, 3, 7) - scenario.trial.start_date).days)


def test_a_closure_past_the_default_calendar_horizon_stays_closed(
    baseline_data: dict[str, Any],
) -> None:
    closure = {"start": "2040-01-01", "end": "2040-12-31"}
    cal = StudyCalendar.from_scenario(vary(baseline_data, **{"calendar.closures": [closure]}))
    start = dt.date(2026, 1, 30)
    assert not cal.is_open((dt.date(2040, 6, 1) - start).days)
    assert cal.is_open((dt.date(2041, 1, 2) - start).days)


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        (  # issue 27: a closure of 70 years was accepted and "succeeded" with power 0.20
            "calendar.closures=[{start: 2026-03-01, end: 2096-03-01}]",
            "calendar.closures.0.end = 2096-03-01: more than 50 years after trial.start_date",
        ),
        (
            "calendar.closures=[{start: 2026-01-01, end: 2027-06-30}, "
            "{start: 2027-07-01, end: 2029-01-01}]",
            "calendar.closures: the closures shut the clinic every day from",
        ),
        (
            "calendar.makeup_working_days=[2094-01-03]",
            "calendar.makeup_working_days.0 = 2094-01-03: more than 50 years",
        ),
        (
            "analysis.looks=[{events: 35, not_before: 2099-01-01}, {events: 70}]",
            "analysis.looks.0.not_before = 2099-01-01: more than 50 years",
        ),
        (  # issue 27: closed form 0.100 beside a simulated 0.780
            "pfs.control={distribution: weibull, median_months: 6.8, shape: 1000}",
            "pfs.control.shape = 1000: outside 0.5 to 5",
        ),
        (
            "pfs.control={distribution: weibull, median_months: 6.8, shape: 0.1}",
            "pfs.control.shape = 0.1: outside 0.5 to 5",
        ),
        (  # already refused before (test added): not read as a date
            "trial.start_date=2026-02-24T25:00",
            "trial.start_date = '2026-02-24T25:00'",
        ),
        (
            "randomization.block_sizes=[]",
            "randomization.block_sizes = []: the list is empty",
        ),
        (
            "treatment.regimens.squamous.induction=[]",
            "treatment.regimens.squamous.induction = []: the list is empty",
        ),
        (  # issue 27: a look index on a scenario without looks
            "analysis.looks.0.events=35",
            "analysis.looks has no row 0",
        ),
        ("trial.completion_date=2080-01-01", "trial.completion_date = 2080-01-01: more than 50"),
        ("analysis.cut_date=2080-01-01", "analysis.cut_date 2080-01-01 is more than 50 years"),
    ],
)
def test_issue_27_inputs_exit_2_with_the_field(
    capsys: pytest.CaptureFixture[str], override: str, needle: str
) -> None:
    code, err = validate(BASELINE, capsys, override)
    assert code == 2, err
    assert needle in err
    assert err.count("\n") == 1


TEXTBOOK = ROOT / "scenarios" / "textbook.yaml"


@pytest.mark.parametrize(
    "changes",
    [
        # a median PFS of 400 months: 70 events only after ~60 years (ran, "never", on main)
        ("trial.completion_date=2075-01-01", "pfs.control.median_months=400"),
        # half the patients cured: about 52 events ever for a target of 70 (main: a warning)
        ("pfs.control.cure_fraction=0.5",),
    ],
)
def test_a_cut_waiting_for_events_that_never_come_in_the_limit_is_refused(
    capsys: pytest.CaptureFixture[str], changes: tuple[str, ...]
) -> None:
    code, err = validate(TEXTBOOK, capsys, *changes)
    assert code == 2, err
    assert "analysis.event_target = 70: not expected within 50 years" in err
    assert "cap the cut by a date" in err


def test_the_event_time_estimate_matches_the_closed_form(textbook: Scenario) -> None:
    """Lachin-Foulkes (python -m sim design scenarios/textbook.yaml) expects the 70th event
    at 27.11 months, with 5% dropout a year; the estimate (no dropout, a monthly grid) puts
    it in month 27, so no later than the closed form: it refuses only what cannot finish."""
    from sim.scenario.checks import event_target_expected_within

    assert not event_target_expected_within(textbook, 26)
    assert event_target_expected_within(textbook, 27)


def test_impossible_time_in_the_yaml_is_not_read_as_a_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Already refused before (test added): by the YAML reader or the date field."""
    text = BASELINE.read_text()
    for bad, needle in [
        ("2026-01-30T25:00", "trial.start_date = '2026-01-30T25:00'"),
        ("2026-01-30T25:00:00", "2026-01-30T25:00:00 is not a calendar date"),
        ("2026-01-30 25:00", "trial.start_date = '2026-01-30 25:00'"),
    ]:
        path = tmp_path / "t.yaml"
        path.write_text(text.replace("start_date: 2026-01-30 ", f"start_date: {bad} ", 1))
        code, err = validate(path, capsys)
        assert code == 2 and needle in err, (bad, err)


def test_byte_order_mark_at_the_start_of_a_scenario_is_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Already accepted before (test added): an editor's UTF-8 BOM."""
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + BASELINE.read_bytes())
    assert validate(path, capsys)[0] == 0


def test_a_look_index_of_a_scenario_with_looks_still_works(
    capsys: pytest.CaptureFixture[str],
) -> None:
    interim = ROOT / "scenarios" / "nct07271602_interim.yaml"
    code, err = validate(interim, capsys, "analysis.looks.0.events=30")
    assert code == 0, err


def test_the_issue_27_closure_is_refused_by_the_api_too(baseline_data: dict[str, Any]) -> None:
    with pytest.raises(ScenarioError, match=r"calendar\.closures\.0\.end"):
        vary(baseline_data, **{"calendar.closures": [{"start": "2026-03-01", "end": "2096-03-01"}]})


def docs_yaml_blocks() -> list[str]:
    text = (ROOT / "docs" / "many-sites.md").read_text()
    return [part.split("```", 1)[0] for part in text.split("```yaml\n")[1:]]


def test_the_many_sites_page_examples_validate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/many-sites.md: its generator and x- anchor examples, each in the baseline."""
    generator, anchors = (b for b in docs_yaml_blocks() if "enrollment:" in b)
    data = yaml.safe_load(BASELINE.read_text())
    data["enrollment"].pop("sites")
    data["enrollment"].update(yaml.safe_load(generator)["enrollment"])
    path = tmp_path / "g.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    sites = load_scenario(path).enrollment.sites
    assert len(sites) == 20 and sites[-1].name == "site 20"
    base = yaml.safe_load(BASELINE.read_text())
    base["enrollment"].pop("sites")
    rest = yaml.safe_dump(base["enrollment"], sort_keys=False)
    others = yaml.safe_dump({k: v for k, v in base.items() if k != "enrollment"}, sort_keys=False)
    # the page's block (x-later-site, then enrollment: sites:), the baseline's other
    # enrollment fields under it, then the baseline's other blocks
    text = anchors + textwrap.indent(rest, "  ") + others
    path.write_text(text)
    code, err = validate(path, capsys)
    assert code == 0, err
    assert [s.name for s in load_scenario(path).enrollment.sites] == [
        "Union Hospital Wuhan",
        "second site",
        "third site",
    ]


def test_a_scenario_without_an_effect_is_told_to_give_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A new trial's first YAML (docs/tutorials/new-trial.md) without an effect block: the
    effect's message, not the event-time check's internal error on the missing hazards."""
    data = yaml.safe_load(TEXTBOOK.read_text())
    del data["effect"]
    path = tmp_path / "no-effect.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    code, err = validate(path, capsys)
    assert code == 2, err
    assert "effect.hazard_ratio = <missing>: the experimental arm needs an effect" in err
    assert err.count("\n") == 1
