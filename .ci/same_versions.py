"""python .ci/same_versions.py FIRST SECOND CONSTRAINTS: `pip freeze` after the README's
first install command (the runtime set) and after its second (the extras added), checked:
every runtime package keeps its version, and every installed package is the one
CONSTRAINTS pins. Each difference is printed, naming the package and both versions; exit 1
if there is any."""

from __future__ import annotations

import re
import sys
from pathlib import Path


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(text: str) -> dict[str, str]:
    """name -> version of the `name==version` lines of a freeze or constraints file."""
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[canonical(name)] = version.strip()
    return pins


def changed_runtime(first: dict[str, str], second: dict[str, str]) -> list[str]:
    return [
        f"runtime dependency {name} changed: {version} after the first install "
        f"(the package), {second.get(name, 'not installed')} after the second (its extras)"
        for name, version in first.items()
        if second.get(name) != version
    ]


def unpinned(installed: dict[str, str], pins: dict[str, str]) -> list[str]:
    return [
        f"{name} {version} is installed but constraints.txt "
        + (f"pins {pins[name]}" if name in pins else "does not pin it")
        + ": run python .ci/lock.py"
        for name, version in installed.items()
        if pins.get(name) != version
    ]


def main(first: str, second: str, constraints: str) -> int:
    before, after = (read_pins(Path(p).read_text()) for p in (first, second))
    problems = changed_runtime(before, after) + unpinned(
        after, read_pins(Path(constraints).read_text())
    )
    for problem in problems:
        print(problem, file=sys.stderr)
    print(
        f"{len(before)} runtime packages, {len(after)} in all: "
        + (
            "the same versions after both commands, as constraints.txt pins"
            if not problems
            else f"{len(problems)} differences"
        )
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
