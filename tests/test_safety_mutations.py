"""Mutation test: the baseline YAML changed at random (a value replaced by another type, an
extreme or non-finite number, a date or non-ASCII text; a key deleted; a line duplicated,
deleted or garbled) is either run (exit 0) or refused with exit status 2 and one message,
never a traceback, and never leaves a partial folder behind."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.commands.cli import main
from tests.helpers import BASELINE

BASE_TEXT = BASELINE.read_text(encoding="utf-8")
BASE = yaml.safe_load(BASE_TEXT)
LINES = BASE_TEXT.splitlines(keepends=True)


def all_paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    found = []
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, value in items:
        found.append((*prefix, key))
        found += all_paths(value, (*prefix, key))
    return found


PATHS = all_paths(BASE)
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.dates(min_value=dt.date(1, 1, 1)),
    st.just([]),
    st.just({}),
    st.sampled_from([0, 1, -1, 0.5, 2, 1e-300, 1e300, 10**9, "2026-02-30", "∞", "1e400"]),
    st.lists(st.integers(-3, 3), max_size=3),
)
DATA_MUTATION = st.one_of(
    st.tuples(st.just("set"), st.sampled_from(PATHS), VALUES),
    st.tuples(st.just("delete"), st.sampled_from(PATHS), st.none()),
)
TEXT_MUTATION = st.one_of(
    st.tuples(st.just("duplicate"), st.integers(0, len(LINES) - 1), st.none()),
    st.tuples(st.just("drop"), st.integers(0, len(LINES) - 1), st.none()),
    st.tuples(
        st.just("insert"),
        st.integers(0, len(LINES) - 1),
        # non-ASCII text a UTF-8 file can hold (no lone surrogates: they cannot be
        # written, which failed the test's own write_text now and then)
        st.text(
            alphabet=st.characters(min_codepoint=0x80, exclude_categories=("Cs",)),
            min_size=1,
            max_size=6,
        ),
    ),
)


def mutated_text(mutation: tuple) -> str:
    kind, where, value = mutation
    if kind in ("set", "delete"):
        data = copy.deepcopy(BASE)
        node = data
        for key in where[:-1]:
            node = node[key]
        if kind == "set":
            node[where[-1]] = value
        else:
            del node[where[-1]]
        return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    lines = list(LINES)
    if kind == "duplicate":
        lines.insert(where, lines[where])
    elif kind == "drop":
        del lines[where]
    else:
        line = lines[where]
        cut = len(line) // 2
        lines[where] = line[:cut] + value + line[cut:]
    return "".join(lines)


MUTATIONS = st.one_of(DATA_MUTATION, TEXT_MUTATION)
SETTINGS = {
    "deadline": None,
    "database": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}


@settings(max_examples=60, **SETTINGS)
@given(mutation=MUTATIONS)
def test_mutated_baseline_validates_or_is_refused_in_one_line(tmp_path_factory, capsys, mutation):
    path = tmp_path_factory.mktemp("mutant") / "scenario.yaml"
    path.write_text(mutated_text(mutation), encoding="utf-8")
    code = main(["validate", str(path)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert code in (0, 2), err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: " if code else "# "), err


@settings(max_examples=10, **SETTINGS)  # each valid mutant is a (one-replicate) run
@given(mutation=MUTATIONS)
def test_mutated_baseline_runs_or_is_refused_in_one_line(tmp_path_factory, capsys, mutation):
    folder = tmp_path_factory.mktemp("mutant")
    path = folder / "scenario.yaml"
    path.write_text(mutated_text(mutation), encoding="utf-8")
    code = main(
        [
            "run",
            str(path),
            "--reps",
            "1",
            "--workers",
            "1",
            "--keep-patients",
            "0",
            "--quiet",
            "--out",
            str(folder / "out"),
        ]
    )
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert code in (0, 2), err
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        # nothing written: no run folder, no staging folder, no lock file
        assert sorted(p.name for p in folder.iterdir()) == ["scenario.yaml"]
    else:
        assert sorted(p.name for p in folder.iterdir()) == ["out", "scenario.yaml"]
