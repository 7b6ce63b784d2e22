"""The start-up shortcuts of issue 15 give the very results of what they replace:
`sim.stats.roots.brentq` (for scipy.optimize.brentq), the order-statistic ranks of
`sim.engine.results` (for scipy.stats.binom.ppf / isf), and libyaml's parser in
`sim.scenario.parse_yaml` (for PyYAML's own: same data, same errors)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, stats

from sim import scenario
from sim.engine.results import order_statistic_ranks
from sim.scenario import loading
from sim.stats import design
from sim.stats.roots import brentq
from tests.helpers import ROOT, python_output

AWKWARD = [
    lambda x: x * x - 2.0,
    lambda x: math.cos(x) - x,
    lambda x: x**3 - 2 * x - 5,
    lambda x: math.exp(x) - 10.0,
    lambda x: (x - 1e-3) ** 5,  # flat at the root
    lambda x: math.atan(x - 7.0),
    lambda x: x - 1e-300,  # root near 0: the absolute tolerance decides
    lambda x: 1.0 if x > 0.37 else -1.0,  # a jump: bisection all the way
    lambda x: np.float64(x) ** 7 - 3.0,  # numpy scalars, as the closed forms return
]
TOLERANCES = [
    (2e-12, 4 * np.finfo(float).eps, 100),
    (1e-10, 4 * np.finfo(float).eps, 100),
    (1e-13, 1e-14, 200),
    (1e-3, 1e-6, 100),
    (1e-12, 1e-14, 3),
]


def outcome(solver, f, a, b, xtol, rtol, maxiter):
    try:
        return solver(f, a, b, xtol=xtol, rtol=rtol, maxiter=maxiter)
    except (ValueError, RuntimeError) as exc:
        return type(exc)


def test_brentq_is_scipys_bit_for_bit():
    rng = np.random.default_rng(15)
    for f in AWKWARD:
        for a, b in zip(rng.uniform(-5, 0.2, 40), rng.uniform(0.5, 50, 40), strict=True):
            for tol in TOLERANCES:
                ours = outcome(brentq, f, a, b, *tol)
                theirs = outcome(optimize.brentq, f, a, b, *tol)
                assert ours == theirs and type(ours) is type(theirs), (a, b, tol)


def test_brentq_refuses_what_scipy_refuses():
    with pytest.raises(ValueError, match="different signs"):
        brentq(lambda x: x * x + 1, -1.0, 1.0)
    with pytest.raises(ValueError, match="xtol"):
        brentq(lambda x: x, -1.0, 1.0, xtol=0.0)
    with pytest.raises(ValueError, match="rtol"):
        brentq(lambda x: x, -1.0, 1.0, rtol=1e-17)
    with pytest.raises(RuntimeError, match="converge"):
        brentq(lambda x: math.cos(x) - x, 0.0, 2.0, xtol=1e-15, maxiter=2)


@pytest.mark.parametrize("target", [10.0, 45.5, 70.0, 90.0])
def test_the_design_event_time_is_the_scipy_root(target):
    accrual = [(2, 2.8), (2, 4.2), (2, 4.9), (None, 5.6)]
    args = (accrual, math.log(2) / 6.8, 0.6, -math.log(0.95) / 12, 0.5, 104)

    def gap(t: float) -> float:
        return float(design.expected_events(t, *args)) - target

    hi = 1.0
    while gap(hi) < 0:
        hi *= 2.0
    expected = optimize.brentq(gap, 0.0, hi, xtol=1e-10, rtol=4 * np.finfo(float).eps)
    assert design.expected_event_time(target, *args) == expected


@pytest.mark.parametrize("q", [0.05, 0.5, 0.95])
def test_order_statistic_ranks_are_scipys_binomial_quantiles(q):
    for r in [
        *range(1, 400),
        499,
        500,
        1000,
        1999,
        2000,
        2001,
        9999,
        10_000,
        100_000,
        1_000_000,
        10_000_000,
    ]:
        lo = int(stats.binom.ppf(0.025, r, q))
        hi = min(int(stats.binom.isf(0.025, r, q)), r - 1)
        assert order_statistic_ranks(r, q) == (lo, hi), r


YAML_TEXTS = [
    "a: 1\na: 2\n",  # a key twice: refused
    "a: 2026-02-30\n",  # not a calendar date: refused
    "a: x\ty\n",  # a tab in a value: PyYAML refuses, libyaml would not
    "a: 1\n\ufeff\n",  # a byte-order mark inside the text: the same
    "%YAML 1.3\n---\na: 1\n",  # libyaml refuses, PyYAML accepts
    "a: [1, 2\n",
    "a: *x\n",
    "a: b: c\n",
    'a: "\\q"\n',
    "a: 'x\n",
    "",
    "---\n",
    "a: &a {x: 1}\nb: {<<: *a, y: 2}\n",
    "a: [.inf, 0x1F, 1_000, ~, yes, 2026-01-30]\n",
    "a: \x07\n",
    'a: "\\x41\\u00e9"\n',
    "[" * 300 + "]" * 300,
]


def parse_outcome(text: str):
    try:
        return "ok", repr(scenario.parse_yaml(text, "label"))
    except scenario.ScenarioError as exc:
        return "error", str(exc)


@pytest.mark.parametrize(
    "text",
    YAML_TEXTS
    + [p.read_text(encoding="utf-8") for p in sorted((ROOT / "scenarios").glob("*.yaml"))],
)
def test_libyaml_parses_as_pyyaml_does(text, monkeypatch):
    fast = parse_outcome(text)
    monkeypatch.setattr(loading, "FAST_LOADER", None)
    assert fast == parse_outcome(text)


def test_a_run_imports_neither_scipy_stats_nor_scipy_optimize(tmp_path):
    args = [
        "run",
        str(ROOT / "scenarios" / "textbook.yaml"),
        "--reps",
        "20",
        "--workers",
        "1",
        "--out",
        str(tmp_path / "run"),
    ]
    code = (
        "import contextlib, io, sys\n"
        "from sim.commands.cli import main\n"
        "quiet = io.StringIO()\n"
        "with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):\n"
        f"    status = main({args!r})\n"
        "heavy = ('scipy.stats', 'scipy.optimize', 'matplotlib', 'seaborn')\n"
        "print(status, *[m for m in heavy if m in sys.modules])\n"
    )
    assert python_output(code).split() == ["0"]


def test_distribution_versions_are_importlib_metadatas():
    """The manifest's package versions read from the Version header line (not the email
    parser over every header): the same string as `importlib.metadata` gives, for every
    installed distribution, and for metadata with the awkward cases written out."""
    from importlib import metadata

    from sim.engine.versions import distribution_version

    found = [(d.version, distribution_version(d)) for d in metadata.distributions()]
    assert found and all(a == b for a, b in found)

    class Written(metadata.Distribution):
        def __init__(self, text: str) -> None:
            self.text = text

        def read_text(self, filename: str) -> str | None:
            return self.text if filename == "METADATA" else None

        def locate_file(self, path):  # pragma: no cover - not read
            raise NotImplementedError

    for text in (
        "Metadata-Version: 2.1\nName: a\nVersion: 1.0\n\nVersion: 2.0\n",
        "Metadata-Version: 2.1\nName: a\nversion:\t 3.0rc1  \r\nSummary: s\n",
        "Metadata-Version: 2.1\nName: a\nLicense: x\n  Version: 9\nVersion: 4\n",
        "Metadata-Version: 2.1\nName: a\nVersion: 5\n folded\nSummary: s\n",
        "Metadata-Version: 2.1\nName: a\nVersion: 6",
        "Metadata-Version: 2.1\nName: a\n\nVersion: 7\n",
        "Metadata-Version: 2.1\nName: a\nnot a header\nVersion: 8\n",
        "Metadata-Version: 2.1\r\nName: a\r\nVersion: 9\r\n",
        "Metadata-Version: 2.1\nName: a\nVersion: 10\x0bb\n",
    ):
        written = Written(text)
        assert distribution_version(written) == written.version, text
