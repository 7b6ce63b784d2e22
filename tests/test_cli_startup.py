"""Start-up: a command imports only what it needs (issue 15). No timing here (benchmarks/
bench_startup.py measures it); what is tested is which heavy packages each command loads."""

from __future__ import annotations

import argparse
import sys
from importlib import import_module

import pytest

from sim.commands.cli import COMMANDS, PLUGIN_HELP, PLUGIN_MODULES, main
from tests.helpers import BASELINE, python_output

HEAVY = (
    "pandas",
    "numpy",
    "scipy",
    "pyarrow",
    "matplotlib",
    "seaborn",
    "simpy",
    "pydantic",
    "dask",
    "distributed",
)


def heavy_imports(args: list[str]) -> list[str]:
    code = (
        "import contextlib, io, sys\n"
        "from sim.commands.cli import main\n"
        "quiet = io.StringIO()\n"
        "with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):\n"
        "    try:\n"
        f"        main({args!r})\n"
        "    except SystemExit:\n"
        "        pass\n"
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    return python_output(code).split()


def test_help_imports_no_heavy_package():
    assert heavy_imports(["--help"]) == []


def test_validate_imports_only_the_scenario_models():
    assert heavy_imports(["validate", str(BASELINE)]) == ["pydantic"]


def test_a_plugin_command_imports_only_its_own_module():
    assert "matplotlib" not in heavy_imports(["schema"])


@pytest.mark.parametrize("command", sorted(PLUGIN_MODULES))
def test_plugin_help_in_the_listing_is_the_modules_own(command):
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    import_module(PLUGIN_MODULES[command]).register(sub)
    own = {action.dest: action.help for action in sub._choices_actions}
    assert own[command] == PLUGIN_HELP[command]


@pytest.mark.parametrize("command", sorted([*COMMANDS, *PLUGIN_MODULES]))
def test_every_commands_help_prints(command, capsys):
    """`python -m sim COMMAND --help` prints its options (docs/commands.md quotes them); a
    bare % in a help text (argparse formats them) made `forecast --help` an error."""
    with pytest.raises(SystemExit) as stop:
        main([command, "--help"])
    assert stop.value.code == 0
    assert f"python -m sim {command}" in capsys.readouterr().out


UNUSED_NUMPY = ("numpy.f2py.crackfortran", "numpy.testing._private.utils", "unittest")


def test_numpys_unused_subpackages_load_only_when_used():
    """scipy's import reads every attribute of numpy, f2py and testing among them (~0.1 s);
    deferred, they are lazy modules that load at their first use, and work as before."""
    code = (
        "import sys\n"
        "from sim.commands.startup import defer_numpy_extras_until_scipy\n"
        "defer_numpy_extras_until_scipy()\n"
        "import numpy\n"
        "assert 'numpy.f2py' not in sys.modules  # numpy itself defers nothing more\n"
        "import pandas, scipy.special, scipy.optimize\n"
        f"print(sorted(m for m in {UNUSED_NUMPY!r} if m in sys.modules))\n"
        "numpy.testing.assert_allclose(scipy.special.ndtr(0.0), 0.5)\n"
        "from numpy.testing import assert_array_equal\n"
        "import numpy.f2py\n"
        "print('numpy.testing._private.utils' in sys.modules, callable(numpy.f2py.run_main))\n"
    )
    assert python_output(code).splitlines() == ["[]", "True True"]


def test_a_run_from_the_command_line_imports_no_unused_numpy_subpackage(tmp_path):
    """The whole command, as `python -m sim` runs it (its atexit handlers run before it
    exits; the check is one of them)."""
    code = (
        "import atexit, runpy, sys\n"
        f"atexit.register(lambda: print(sorted(m for m in {UNUSED_NUMPY!r} if m in sys.modules)))\n"
        "sys.argv = ['sim', 'run', 'scenarios/textbook.yaml', '--reps', '40', '--seed', '1',\n"
        f"            '--workers', '1', '--quiet', '--out', {str(tmp_path / 'out')!r}]\n"
        "runpy.run_module('sim', run_name='__main__', alter_sys=True)\n"
    )
    assert python_output(code).splitlines()[-1] == "[]"


def test_a_numpy_subpackage_that_cannot_be_deferred_is_left_alone():
    from sim.commands.startup import defer_numpy_extras

    defer_numpy_extras(("not_a_subpackage",))
    assert "numpy.not_a_subpackage" not in sys.modules
