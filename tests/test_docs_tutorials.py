"""Documentation that runs: every code block of the tutorials and how-to pages
(docs/tutorial-*.md, docs/howto-*.md, many-sites.md, scaling.md) runs here, in order, so no
page shows a command that no longer works.

The convention (docs/tutorials.md says it to the reader):

- a page runs in a fresh temporary folder holding a copy of `scenarios/`, so its commands
  are written as a reader types them in a clone of the repository;
- ```` ```bash ```` blocks run in bash (`set -euo pipefail`) with this interpreter first on
  PATH, so `python -m sim ...` is the package under test;
- ```` ```python ```` blocks run one after the other in one namespace per page, as the cells
  of a notebook do;
- a ```` ```yaml ```` block whose first line is ``# file: NAME`` is written to NAME before
  the next block runs (the page's own scenario file); other YAML blocks are shown only;
- a block right after the line ``<!-- not run -->`` is shown only (a server, a cluster);
- ```` ```text ```` blocks are output, shown only.

Replicate counts are the pages' own (a few hundred, said on each page), kept small so the
pages together run in about a minute on 2 cores; `test_pages_keep_replicates_small` holds
them to that.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
# the pages docs/tutorials.md lists: the tutorials, the how-to pages, and two how-to pages
# named for their subject (scaling.md runs on Dask: the `dask` extra, which the README's test
# command installs)
HOW_TO = ("many-sites.md", *(("scaling.md",) if importlib.util.find_spec("distributed") else ()))
PAGES = (
    sorted(DOCS.glob("tutorial-*.md"))
    + sorted(DOCS.glob("howto-*.md"))
    + [DOCS / name for name in HOW_TO]
)
FENCE = re.compile(r"^```(\w*)\s*$")
NOT_RUN = "<!-- not run -->"
FILE = re.compile(r"^#\s*file:\s*(\S+)\s*$")
REPS = re.compile(r"(?:--reps[ =]|reps=)(\d[\d_]*)")
MOST_REPS = 400  # per run in a page: the pages together stay near a minute on 2 cores


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page: its language, text, first line and whether it runs."""

    language: str
    text: str
    line: int
    shown_only: bool

    @property
    def file(self) -> str | None:
        """The file a ``# file: NAME`` YAML block is written to, or None."""
        first = self.text.splitlines()[0] if self.text else ""
        found = FILE.match(first) if self.language == "yaml" else None
        return found.group(1) if found else None

    @property
    def runs(self) -> bool:
        if self.shown_only:
            return False
        return self.language in ("bash", "python") or self.file is not None


def page_blocks(text: str) -> list[Block]:
    """The fenced blocks of a markdown page, in order (blocks are not nested)."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        before = next((x.strip() for x in reversed(lines[:i]) if x.strip()), "")
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        blocks.append(
            Block(opening.group(1), "\n".join(lines[i + 1 : end]), i + 1, before == NOT_RUN)
        )
        i = end + 1
    return blocks


def test_page_blocks_reads_the_convention() -> None:
    text = (
        "intro\n```bash\necho hi\n```\n<!-- not run -->\n\n```bash\nserve\n```\n"
        "```yaml\n# file: a.yaml\nx: 1\n```\n```yaml\nx: 2\n```\n```text\nout\n```\n"
    )
    blocks = page_blocks(text)
    assert [(b.language, b.runs, b.line) for b in blocks] == [
        ("bash", True, 2),
        ("bash", False, 7),
        ("yaml", True, 10),
        ("yaml", False, 14),
        ("text", False, 17),
    ]
    assert blocks[2].file == "a.yaml" and blocks[3].file is None


def test_there_are_tutorials_and_each_runs_something() -> None:
    assert len([p for p in PAGES if p.name.startswith("tutorial-")]) >= 5
    for page in PAGES:
        assert any(b.runs for b in page_blocks(page.read_text(encoding="utf-8"))), page.name


def test_pages_keep_replicates_small() -> None:
    """Every run a page makes asks for at most MOST_REPS replicates (the default, 2,000,
    would take minutes): each page says that its numbers are a quick look."""
    for page in PAGES:
        for block in page_blocks(page.read_text(encoding="utf-8")):
            if not block.runs or block.file is not None:
                continue
            for count in REPS.findall(block.text):
                assert int(count.replace("_", "")) <= MOST_REPS, (page.name, block.line)
            text = block.text.replace("\\\n", " ")  # a command continued over lines is one
            runs = re.findall(r"python -m sim (?:run|sweep|forecast)\b[^\n]*", text)
            for command in runs:
                assert "--reps" in command, f"{page.name}:{block.line}: {command} (give --reps)"


def run_bash(block: Block, page: Path, folder: Path, env: dict[str, str]) -> None:
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block.text],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        pytest.fail(
            f"{page.name}:{block.line}: exit {done.returncode}\n{block.text}\n"
            f"--- stdout (end)\n{done.stdout[-3000:]}\n--- stderr (end)\n{done.stderr[-3000:]}"
        )


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_page_code_runs(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(ROOT / "scenarios", tmp_path / "scenarios")
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["MPLBACKEND"] = "Agg"
    # this checkout's package, whatever the interpreter has installed
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for block in page_blocks(page.read_text(encoding="utf-8")):
        if not block.runs:
            continue
        if block.file is not None:
            (tmp_path / block.file).write_text(block.text + "\n", encoding="utf-8")
        elif block.language == "bash":
            run_bash(block, page, tmp_path, env)
        else:
            try:
                exec(compile(block.text, f"{page.name}:{block.line}", "exec"), namespace)
            except Exception as error:
                pytest.fail(f"{page.name}:{block.line}: {type(error).__name__}: {error}")
    import matplotlib.pyplot as plt

    plt.close("all")
