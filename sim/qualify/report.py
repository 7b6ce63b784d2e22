"""The qualification report: one self-contained HTML page for a quality-assurance reviewer and
the same facts as JSON beside it."""

from __future__ import annotations

import hashlib
import html
import math
import platform
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from sim.qualify.checks import Check

KIND = "sim qualification report"  # marks a folder as one this command wrote
PACKAGES = (
    "sim-trial",
    "numpy",
    "scipy",
    "pandas",
    "simpy",
    "pydantic",
    "PyYAML",
    "pyarrow",
    "pyreadstat",
    "holidays",
    "matplotlib",
    "seaborn",
)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def file_hashes(root: Path, pattern: str) -> dict[str, str]:
    """sha256 of every file under `root` matching `pattern`, by path relative to root's
    parent (``sim/stats/design.py``), sorted."""
    return {
        p.relative_to(root.parent).as_posix(): sha256(p)
        for p in sorted(root.rglob(pattern))
        if p.is_file() and "__pycache__" not in p.parts
    }


def package_versions() -> dict[str, str]:
    """Installed versions; sim-trial's is that of the code imported (not the metadata of
    another installation of it)."""
    # the package this module belongs to is imported already (its parent)
    versions = {"sim-trial": sys.modules["sim"].__version__}
    for name in PACKAGES[1:]:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def environment() -> dict[str, str]:
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "python_executable": sys.executable,
    }


def finite(value: float) -> float | None:
    """JSON has no NaN: a value that could not be computed is null."""
    return value if math.isfinite(value) else None


def report_data(
    checks: Sequence[Check],
    not_run: Sequence[str],
    package: Path,
    references: Path,
    run_date: str,
    seconds: float,
) -> dict[str, Any]:
    """Everything the report states, as plain data (the JSON file's content)."""
    failed = [c for c in checks if not c.passed]
    records = []
    for c in checks:
        row = c.record()
        for key in ("expected", "observed", "difference"):
            row[key] = finite(row[key])
        records.append(row)
    code = file_hashes(package, "*.py")
    return {
        "kind": KIND,
        "format": 1,
        "run_date_utc": run_date,
        "seconds": round(seconds, 1),
        "result": "pass" if not failed else "fail",
        "checks_total": len(checks),
        "checks_passed": len(checks) - len(failed),
        "checks_failed": len(failed),
        "not_run": list(not_run),
        "environment": environment(),
        "packages": package_versions(),
        "package_folder": str(package),
        "package_fingerprint": hashlib.sha256(
            "".join(f"{k} {v}\n" for k, v in code.items()).encode()
        ).hexdigest(),
        "package_files": code,
        "reference_folder": str(references),
        "reference_files": {
            p.relative_to(references).as_posix(): sha256(p)
            for p in sorted(references.rglob("*"))
            if p.is_file()
        },
        "checks": records,
    }


STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1150px; color: #1a1a1a; line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; }
h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
.banner { padding: 0.8em 1.2em; border-radius: 6px; font-size: 1.25em; font-weight: bold; }
.pass { background: #e3f4e1; color: #1d5e20; border: 1px solid #9ccf97; }
.fail { background: #fbe3e1; color: #8a1c13; border: 1px solid #e39b93; }
table { border-collapse: collapse; width: 100%; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #d5d5d5; padding: 0.3em 0.5em; vertical-align: top; }
th { background: #f2f2f2; text-align: left; }
td.num { text-align: right; font-family: Menlo, Consolas, monospace; white-space: nowrap; }
td.ok { color: #1d5e20; font-weight: bold; text-align: center; }
td.bad { color: #8a1c13; font-weight: bold; text-align: center; }
tr.failed td { background: #fdf0ef; }
.call { color: #555; font-family: Menlo, Consolas, monospace; font-size: 0.85em;
        word-break: break-word; }
.rule { white-space: normal; color: #555; font-size: 0.8em; text-align: left; }
.hash { font-family: Menlo, Consolas, monospace; font-size: 0.8em; }
.note { color: #444; }
dl.facts { display: grid; grid-template-columns: 14em 1fr; gap: 0.2em 1em; }
dl.facts dt { font-weight: bold; }
dl.facts dd { margin: 0; }
"""


def number(value: float | None, spec: str = ".12g") -> str:
    return "not computed" if value is None else format(value, spec)


def render_html(data: dict[str, Any]) -> str:
    """The report page; `data` is what `report_data` returns."""
    e = html.escape
    ok = data["result"] == "pass"
    checks = data["checks"]
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in checks:
        groups.setdefault(row["group"], []).append(row)
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Qualification report: sim-trial {e(data['packages']['sim-trial'])}</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>Qualification report of the trial simulator (sim-trial "
        f"{e(data['packages']['sim-trial'])})</h1>",
        f"<p>Run on <b>{e(data['run_date_utc'])}</b> (UTC), in {data['seconds']:g} seconds, "
        f"on {e(data['environment']['platform'])}.</p>",
        f'<div class="banner {"pass" if ok else "fail"}">'
        + (
            f"PASSED: all {data['checks_total']} checks are within their tolerance."
            if ok
            else f"FAILED: {data['checks_failed']} of {data['checks_total']} checks are "
            "outside their tolerance (marked FAIL below)."
        )
        + "</div>",
        "<h2>What was checked, and how</h2>",
        "<p>Each check computes one figure with the package <b>as installed on this "
        "computer</b> and compares it with the same figure computed independently: by "
        "other validated software (rpact, R's survival and mvtnorm packages, haven) or by "
        "a mathematical formula. The reference values were computed once, with the exact "
        "call shown under each check, and are stored with the package, so this report "
        "needs neither R nor the test tools. A check <b>passes</b> when the difference "
        "between the package's figure and the reference is no larger than the stated "
        "tolerance. Tolerances are set by how precisely the reference itself is known: "
        "about one in a million for formulas that both programs compute exactly, and a "
        "multiple of the Monte Carlo standard error (SE) for simulated figures, whose seed "
        "is fixed so that a rerun gives the same numbers.</p>",
        "<table><tr><th>Area</th><th>Reference</th><th>Checks</th><th>Passed</th>"
        "<th>Failed</th></tr>",
    ]
    for group, rows in groups.items():
        failed = sum(not r["passed"] for r in rows)
        references = sorted({r["reference"] for r in rows})
        out.append(
            f"<tr><td>{e(group)}</td><td>{e('; '.join(references))}</td>"
            f'<td class="num">{len(rows)}</td><td class="num">{len(rows) - failed}</td>'
            f'<td class="num">{failed}</td></tr>'
        )
    out.append(
        f'<tr><th>All</th><th></th><th class="num">{data["checks_total"]}</th>'
        f'<th class="num">{data["checks_passed"]}</th>'
        f'<th class="num">{data["checks_failed"]}</th></tr></table>'
    )
    if data["not_run"]:
        out.append("<p><b>Not run in this installation</b> (neither passed nor failed):</p><ul>")
        out.extend(f"<li>{e(reason)}</li>" for reason in data["not_run"])
        out.append("</ul>")
    out.append("<h2>Every check</h2>")
    out.append(
        '<p class="note">Difference = package minus reference. Under each figure, the '
        "call that produced the reference value.</p>"
    )
    index = 0
    for group, rows in groups.items():
        out.append(f"<h3>{e(group)}</h3>")
        out.append(
            "<table><tr><th>#</th><th>Figure (and the reference call)</th><th>Reference</th>"
            "<th>Reference value</th><th>Package value</th><th>Difference</th>"
            "<th>Tolerance</th><th>Result</th></tr>"
        )
        for r in rows:
            index += 1
            diff = r["difference"]
            out.append(
                f'<tr class="{"" if r["passed"] else "failed"}"><td class="num">{index}</td>'
                f'<td>{e(r["quantity"])}<div class="call">{e(r["call"])}</div></td>'
                f"<td>{e(r['reference'])}</td>"
                f'<td class="num">{number(r["expected"])}</td>'
                f'<td class="num">{number(r["observed"])}</td>'
                f'<td class="num">{number(diff, "+.2e")}</td>'
                f'<td class="num">{r["tolerance"]:.2e}<div class="rule">{e(r["rule"])}</div></td>'
                + ('<td class="ok">PASS</td>' if r["passed"] else '<td class="bad">FAIL</td>')
                + "</tr>"
            )
        out.append("</table>")
    env = data["environment"]
    out += [
        "<h2>Where it ran</h2>",
        '<dl class="facts">',
        f"<dt>Date and time (UTC)</dt><dd>{e(data['run_date_utc'])}</dd>",
        f"<dt>Operating system</dt><dd>{e(env['platform'])} ({e(env['machine'])})</dd>",
        f"<dt>Python</dt><dd>{e(env['python'])} ({e(env['python_implementation'])}), "
        f"{e(env['python_executable'])}</dd>",
        f"<dt>Package folder</dt><dd>{e(data['package_folder'])}</dd>",
        f"<dt>Package fingerprint</dt><dd class='hash'>{e(data['package_fingerprint'])}</dd>",
        "</dl>",
        '<p class="note">The fingerprint is the SHA-256 of the list of file hashes below: '
        "two installations with the same fingerprint run the same code.</p>",
        "<h3>Package versions</h3><table><tr><th>Package</th><th>Version</th></tr>",
    ]
    out.extend(f"<tr><td>{e(k)}</td><td>{e(v)}</td></tr>" for k, v in data["packages"].items())
    out.append("</table>")
    for title, files in (
        ("Program files (SHA-256)", data["package_files"]),
        ("Reference files (SHA-256)", data["reference_files"]),
    ):
        out.append(f"<h3>{title}</h3><table><tr><th>File</th><th>SHA-256</th></tr>")
        out.extend(
            f'<tr><td>{e(k)}</td><td class="hash">{e(v)}</td></tr>' for k, v in files.items()
        )
        out.append("</table>")
    out.append(
        '<p class="note">Written by <code>python -m sim qualify</code>; the same facts are in '
        "qualification.json beside this file.</p></body></html>"
    )
    return "\n".join(out) + "\n"
