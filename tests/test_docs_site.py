"""The documentation site builds with `mkdocs build --strict` (a broken link, a page missing
from the nav or an API reference to a name that is gone fails it), into a temporary folder.

Needs the `docs` extra (mkdocs, mkdocs-material, mkdocstrings[python]); skipped, with the
reason, where it is not installed. `.ci/run` installs it, so CI always builds the site.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NEEDED = {"mkdocs": "mkdocs", "material": "mkdocs-material", "mkdocstrings": "mkdocstrings"}


def test_the_site_builds_strict(tmp_path: Path) -> None:
    missing = [pip for module, pip in NEEDED.items() if importlib.util.find_spec(module) is None]
    if missing:
        pytest.skip(
            f"the docs extra is not installed ({', '.join(missing)} missing): "
            'pip install -c constraints.txt -e ".[docs]" to build the site here'
        )
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},  # no banner about MkDocs 2 in the log
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert (tmp_path / "site" / "index.html").is_file()
    assert (tmp_path / "site" / "api-reference" / "index.html").is_file()
