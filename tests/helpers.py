"""Helpers the test modules share: paths, scenario variations, the clinic's hand-made
patients, and the committed reference values of libraries not installed beside the package.
Fixtures live in tests/conftest.py; a test module imports helpers from here, never from
conftest.py or from another test module."""

from __future__ import annotations

import copy
import datetime as dt
import functools
import json
import math
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import strategies as st

from sim.clinic.model import ClinicDraws, ClinicResult, draw_clinic, simulate_clinic
from sim.commands.cli import EXIT_BAD_INPUT, ArgumentParser
from sim.commands.sweep import register
from sim.conduct.calendar import WEEKDAYS, StudyCalendar
from sim.errors import ScenarioError
from sim.scenario import Scenario, parse_scenario
from tests.references.datasets import fingerprint

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "nct07271602.yaml"
TEXTBOOK = ROOT / "scenarios" / "textbook.yaml"


def python_output(code: str) -> str:
    """What `python -c code` prints, run in a fresh interpreter from the repository's root
    (what a module imports is seen only there: this process has imported everything)."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=120,
    )
    return done.stdout


def scenario_data(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def vary(data: dict[str, Any], **changes: Any) -> Scenario:
    """A copy of `data` with dotted-path changes (``vary(d, **{"effect.hazard_ratio": 1})``)."""
    data = copy.deepcopy(data)
    for path, value in changes.items():
        node = data
        *parents, last = path.split(".")
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return parse_scenario(data)


def assert_run_rejects(tmp_path: Path, capsys, override: str | Sequence[str], needle: str) -> None:
    """`run` with a bad --set (or several): exit 2, one message containing `needle`,
    nothing written."""
    from sim.commands.cli import main

    out = tmp_path / "out"
    sets = [
        x for o in ([override] if isinstance(override, str) else override) for x in ("--set", o)
    ]
    code = main(["run", str(BASELINE), *sets, "--reps", "10", "--out", str(out), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert needle in err
    assert err.count("\n") <= 3  # one message, not a traceback
    assert not out.exists() and not list(tmp_path.iterdir())


# --- commands and tables ----------------------------------------------------------------


def run_command(argv: Sequence[str], *registers: Callable) -> int:
    """What `sim.commands.cli.main` does, with only the given subcommands registered
    (`sweep` when none is given)."""
    parser = ArgumentParser(prog="python -m sim")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)
    for add in registers or (register,):
        add(sub)
    try:
        args = parser.parse_args(list(argv))
        return args.func(args)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


def assert_same_tables(a, b) -> None:
    """Two tallies (`sim.clinic.tally`) with the same summary, monthly and deviation arrays."""
    assert list(a.summary) == list(b.summary)
    for key, value in b.summary.items():
        assert np.array_equal(a.summary[key], value, equal_nan=True), key
    assert list(a.monthly) == list(b.monthly)
    for key, value in b.monthly.items():
        assert np.array_equal(a.monthly[key], value, equal_nan=True), key
    assert np.array_equal(a.deviations, b.deviations)


# --- the clinic with hand-made draws (tests/test_treatment.py, test_radiotherapy.py, ...) ---

MONDAY = 3  # clinic day of the first Monday of the baseline calendar
CONTROL, EXPERIMENTAL = 0, 1


def fixed_draws(
    n: int,
    max_cycles: int,
    offset: int = 0,
    delayed_cycles: tuple[int, ...] = (),
    toxicity_cycle: int | None = None,
    rt_courses: int = 3,
) -> ClinicDraws:
    """One replicate of `n` identical patients with chosen draws (cycles are 1-based)."""
    delayed = np.zeros((1, n, max_cycles), dtype=bool)
    for k in delayed_cycles:
        delayed[0, :, k - 1] = True
    return ClinicDraws(
        cycle1_offset=np.full((1, n), offset),
        delayed=delayed,
        toxicity_cycle=np.full((1, n), toxicity_cycle or max_cycles + 1),
        rt_courses=np.full((1, n), rt_courses),
    )


def run_clinic(
    scenario: Scenario,
    calendar: StudyCalendar,
    draws: ClinicDraws,
    rand_day,
    arm,
    stop_day=math.inf,
    stop_reason="none",
    horizon_day: float = math.inf,
) -> ClinicResult:
    """`simulate_clinic` on replicate 0 with scalars broadcast to every patient."""
    n = draws.cycle1_offset.shape[1]
    return simulate_clinic(
        scenario,
        calendar,
        draws,
        0,
        np.broadcast_to(np.asarray(rand_day, dtype=np.int64), (n,)),
        np.broadcast_to(np.asarray(arm, dtype=np.int64), (n,)),
        np.broadcast_to(np.asarray(stop_day, dtype=float), (n,)),
        np.broadcast_to(np.asarray(stop_reason), (n,)),
        horizon_day=horizon_day,
        keep_patients=True,
        keep_log=True,
    )


@st.composite
def clinic_cases(draw):
    """A random calendar, treatment rules, patients, stops and horizon."""
    closed = draw(st.lists(st.sampled_from(WEEKDAYS), unique=True, max_size=6))
    start = draw(st.dates(dt.date(2024, 1, 1), dt.date(2030, 12, 31)))
    holidays = draw(st.sets(st.integers(0, 600), max_size=40))
    changes = {
        "treatment.cycle_days": draw(st.integers(1, 30)),
        "treatment.max_cycles": draw(st.integers(4, 12)),
        "treatment.delay": {"probability": draw(st.floats(0, 1)), "days": draw(st.integers(0, 14))},
        "treatment.discontinuation_per_cycle": draw(st.floats(0, 0.5)),
        "treatment.cycle1_within_days": draw(st.integers(0, 5)),
        "radiotherapy.complete_all_courses": draw(st.floats(0, 1)),
        "radiotherapy.days_per_course": draw(st.integers(1, 3)),
        "radiotherapy.course_interval_days": draw(st.integers(1, 30)),
    }
    n = draw(st.integers(1, 8))
    rand = draw(st.lists(st.integers(0, 300), min_size=n, max_size=n))
    stop = [r + draw(st.one_of(st.just(math.inf), st.floats(0, 400))) for r in rand]
    horizon = draw(st.one_of(st.just(math.inf), st.floats(1, 800)))
    return {
        "closed": tuple(closed),
        "start": start,
        "changes": changes,
        "rand": rand,
        "holidays": frozenset(start + dt.timedelta(days=d) for d in holidays),
        "arm": draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)),
        "stop": stop,
        "horizon": horizon,
        "seed": draw(st.integers(0, 2**32 - 1)),
    }


def simulate_case(baseline_data, case) -> tuple[Scenario, StudyCalendar, ClinicResult]:
    # the clinic's own toxicity draws: no safety block (see tests/conftest.py)
    scenario = vary(baseline_data, **{"safety": None, **case["changes"]})
    calendar = StudyCalendar(case["start"], case["closed"], case["holidays"])
    n = len(case["rand"])
    draws = draw_clinic(scenario, 1, n, np.random.default_rng(case["seed"]))
    stop = np.asarray(case["stop"])
    result = simulate_clinic(
        scenario,
        calendar,
        draws,
        0,
        np.asarray(case["rand"]),
        np.asarray(case["arm"]),
        stop,
        np.where(np.isfinite(stop), "progression", "none"),
        horizon_day=case["horizon"],
        keep_patients=True,
        keep_log=True,
    )
    return scenario, calendar, result


# --- committed reference values ------------------------------------------------------------

LIFELINES_REFERENCES = ROOT / "tests" / "references" / "lifelines.json"


@functools.cache
def _lifelines_document() -> dict[str, Any]:
    return json.loads(LIFELINES_REFERENCES.read_text())


def lifelines_reference(key: str, *arrays: np.ndarray) -> dict[str, Any]:
    """lifelines' answer `key` in tests/references/lifelines.json (made by
    tests/references/make_lifelines_references.py in an environment of its own), checked to
    be for these data: `arrays` must have the fingerprint the reference was made from."""
    document = _lifelines_document()
    ref = document["references"][key]
    if fingerprint(*arrays) != ref["data_sha256"]:
        pytest.fail(
            f"{LIFELINES_REFERENCES.name}[{key!r}] was made on other data than "
            f"{ref['data']} gives now (made with {document['versions']}); regenerate it "
            "with tests/references/make_lifelines_references.py"
        )
    return ref
