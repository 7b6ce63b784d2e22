"""python .ci/lock.py [--no-tests]: write constraints.txt, the one set of versions that the
README's two install commands and CI use.

In a fresh virtual environment (a temporary folder):
1. `pip install -e .`: the newest runtime set pyproject.toml allows, resolved alone;
2. `pip install -c <that set> -e ".[test,dask,app,docs,bench]"`: the extras, on that set. An extra
   that cannot live with it fails here, naming the conflict, instead of quietly moving a
   runtime package (a joint resolution, as pip-compile makes, would downgrade pandas for a
   test-only package and test what no user has: issue 33). Give such a package's checks
   committed reference values (tests/references/) or lower the runtime bound in
   pyproject.toml with the measured reason beside it;
3. checks that step 2 moved no runtime package, then runs the test suite there (skipped with
   --no-tests);
4. writes constraints.txt: the runtime pins first, then the extras'.

Uses the Python that runs it (CI's is 3.11); the pins are for that Python on Linux.
"""

from __future__ import annotations

import datetime as dt
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from same_versions import changed_runtime, read_pins  # noqa: E402 (.ci beside this file)

EXTRAS = "test,dask,app,docs,bench"


def run(*args: str | Path, **kwargs) -> subprocess.CompletedProcess:
    print("+", " ".join(map(str, args)), flush=True)
    return subprocess.run([str(a) for a in args], cwd=ROOT, check=True, **kwargs)


def freeze(python: Path) -> str:
    return run(
        python, "-m", "pip", "freeze", "--exclude-editable", capture_output=True, text=True
    ).stdout


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="sim-lock-") as tmp:
        venv = Path(tmp) / "venv"
        run(sys.executable, "-m", "venv", venv)
        python = venv / "bin" / "python"
        run(python, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
        run(python, "-m", "pip", "install", "--quiet", "-e", ".")
        runtime = freeze(python)
        (Path(tmp) / "runtime.txt").write_text(runtime)
        try:
            run(
                python, "-m", "pip", "install", "--quiet",
                "-c", Path(tmp) / "runtime.txt", "-e", f".[{EXTRAS}]",
            )  # fmt: skip
        except subprocess.CalledProcessError:
            print(
                f"lock: the extras [{EXTRAS}] cannot be installed on the newest runtime set "
                "(pip's message above names the package); constraints.txt is unchanged",
                file=sys.stderr,
            )
            return 1
        everything = freeze(python)
        moved = changed_runtime(read_pins(runtime), read_pins(everything))
        if moved:
            print("\n".join(moved), file=sys.stderr)
            return 1
        if "--no-tests" not in sys.argv[1:]:
            try:
                run(python, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider")
            except subprocess.CalledProcessError:
                print(
                    "lock: the tests fail on this set; constraints.txt is unchanged",
                    file=sys.stderr,
                )
                return 1
    runtime_pins = read_pins(runtime)
    extra_pins = {k: v for k, v in read_pins(everything).items() if k not in runtime_pins}
    lines = [
        "# The tested set: one version of every package the README's two commands install",
        '# (pip install -c constraints.txt -e . and -e ".[test,dask,app]"; also [docs], [bench]).',
        f"# Made by `python .ci/lock.py` on {dt.date.today().isoformat()} with Python "
        f"{platform.python_version()} on {platform.system()}: the newest runtime set",
        "# pyproject.toml allows, then the extras on it; CI fails if the second command moves",
        "# a runtime package. Do not edit by hand: change pyproject.toml and run it again.",
        "",
        "# runtime: pip install -e .",
        *(f"{name}=={version}" for name, version in runtime_pins.items()),
        "",
        f"# extras [{EXTRAS}] on that set",
        *(f"{name}=={version}" for name, version in extra_pins.items()),
    ]
    (ROOT / "constraints.txt").write_text("\n".join(lines) + "\n")
    print(f"wrote constraints.txt: {len(runtime_pins)} runtime, {len(extra_pins)} extra pins")
    return 0


if __name__ == "__main__":
    sys.exit(main())
