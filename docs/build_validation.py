"""Build docs/validation.md from the test outputs.

    python docs/build_validation.py

Runs the validation tests with SIM_VALIDATION_LOG set, so each comparison records the
quantity, the reference, our value and the tolerance (tests/conftest.py:record_validation),
then writes the table. Failing comparisons are kept in the table and marked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
TESTS = [
    "tests/test_references.py",
    "tests/test_validation.py",
    "tests/test_group_sequential.py",
    "tests/test_endpoints.py",
]


def collect() -> pd.DataFrame:
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "records.jsonl"
        env = dict(os.environ, SIM_VALIDATION_LOG=str(log))
        tests = [t for t in TESTS if (ROOT / t).exists()]
        subprocess.run(
            [sys.executable, "-m", "pytest", "-q", *tests], cwd=ROOT, env=env, check=False
        )
        rows = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return pd.DataFrame(rows)


def render(table: pd.DataFrame) -> str:
    lines = [
        "# Validation",
        "",
        "Each quantity the simulator computes, against an independent reference. Produced by",
        "`python docs/build_validation.py` from the test run; do not edit by hand.",
        "",
        "| quantity | reference | reference value | ours | difference | tolerance | ok |",
        "| --- | --- | ---: | ---: | ---: | ---: | :---: |",
    ]
    for row in table.itertuples():
        ok = "yes" if abs(row.difference) <= row.tolerance else "**NO**"
        lines.append(
            f"| {row.quantity} | {row.reference_name} | {row.reference:.6g} | {row.ours:.6g} | "
            f"{row.difference:+.3g} | {row.tolerance:.3g} | {ok} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    table = collect()
    (ROOT / "docs" / "validation.md").write_text(render(table), encoding="utf-8")
    print(f"{len(table)} comparisons -> docs/validation.md")


if __name__ == "__main__":
    main()
