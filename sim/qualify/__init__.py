"""Qualification of the installed package: the reference checks, run without R or pytest, and
a report a quality-assurance reviewer can read (``python -m sim.qualify --out DIR``).

The reference values live in ``sim/qualify/references`` (shipped with the package); the
tests read the same files."""

from __future__ import annotations

from sim.qualify.run import REFERENCES, main, run_qualification

__all__ = ["REFERENCES", "main", "run_qualification"]
