"""The records of a qualification: one check (the package's figure beside its reference, with
the tolerance that applies), a collector of one group's checks, and the tolerance rules."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SAME_METHOD = 1e-6  # relative: the reference computes the same formula


@dataclass(frozen=True)
class Check:
    """One comparison: the package's figure against the reference's, within `tolerance`
    (absolute, already scaled if the rule is relative; `rule` says which)."""

    group: str
    quantity: str
    reference: str
    call: str
    expected: float
    observed: float
    tolerance: float
    rule: str

    @property
    def difference(self) -> float:
        return self.observed - self.expected

    @property
    def passed(self) -> bool:
        return bool(np.isfinite(self.observed) and abs(self.difference) <= self.tolerance)

    def record(self) -> dict[str, Any]:
        """The check as a JSON-ready dict (floats kept exact by repr in the JSON writer)."""
        return {
            "group": self.group,
            "quantity": self.quantity,
            "reference": self.reference,
            "call": self.call,
            "expected": self.expected,
            "observed": self.observed,
            "difference": self.difference,
            "tolerance": self.tolerance,
            "rule": self.rule,
            "passed": self.passed,
        }


def absolute(tol: float) -> tuple[float, str]:
    return tol, f"|difference| <= {tol:g}"


def relative(tol: float, expected: float) -> tuple[float, str]:
    return tol * max(abs(expected), 1e-300), f"|difference| <= {tol:g} x |reference|"


class Collector:
    """Appends checks of one group; keeps the group's name and reference in one place."""

    def __init__(self, group: str, reference: str) -> None:
        self.group, self.reference, self.checks = group, reference, []

    def add(
        self,
        quantity: str,
        call: str,
        expected: float,
        observed: float,
        tolerance: tuple[float, str],
        reference: str | None = None,
    ) -> None:
        self.checks.append(
            Check(
                self.group,
                quantity,
                reference or self.reference,
                call,
                float(expected),
                float(observed),
                *tolerance,
            )
        )

    def add_all(
        self,
        quantity: str,
        call: str,
        expected: Iterable[float],
        observed: Iterable[float],
        tolerance: Callable[[float], tuple[float, str]],
        labels: Iterable[str] | None = None,
    ) -> None:
        """One check per element (look, time point), labelled `quantity, <label>`."""
        expected, observed = list(np.atleast_1d(expected)), list(np.atleast_1d(observed))
        if len(expected) != len(observed):
            raise ValueError(f"{quantity}: {len(observed)} values, reference has {len(expected)}")
        labels = list(labels) if labels is not None else [f"look {k + 1}" for k in range(99)]
        for label, e, o in zip(labels, expected, observed, strict=False):
            self.add(f"{quantity}, {label}" if label else quantity, call, e, o, tolerance(float(e)))


def vec(value: Any) -> np.ndarray:
    """A JSON number or list as an array (R's toJSON unboxes length-1 vectors)."""
    return np.atleast_1d(np.asarray(value, dtype=float))


def read_json(references: Path, name: str) -> dict[str, Any]:
    return json.loads((references / name).read_text(encoding="utf-8"))


class NotRun(Exception):
    """A group that cannot run in this installation (reported as not run, not failed)."""
