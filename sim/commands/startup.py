"""What ``python -m sim`` sets up in its own process before a command runs (with the
environment settings in `sim.__main__`).

scipy (1.15 and later) builds, at its first import, an array-API copy of numpy's namespace
(`scipy._lib.array_api_compat.numpy`), reading every attribute `dir(numpy)` lists. That
imports numpy's subpackages that load on first use: f2py (the Fortran wrapper generator,
with its regular expressions and charset_normalizer) and testing (with unittest). No command
uses them, and they cost about 0.1 s of the 0.8-1.0 s a run spends before its workers start
(benchmarks/README.md, lazy-32). `defer_numpy_extras_until_scipy` registers them as lazy
modules (the standard library's `importlib.util.LazyLoader`) just before scipy is first
imported: they are loaded at their first real use, if any, as they would have been.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from collections.abc import Sequence
from types import ModuleType

UNUSED_NUMPY = ("f2py", "testing")


def defer_numpy_extras(names: Sequence[str] = UNUSED_NUMPY) -> None:
    """Register numpy's subpackages `names` as lazy modules, unless already imported. Each is
    set in `sys.modules` and as numpy's attribute, as an import would (numpy's own
    `__getattr__` then finds it: no import). A subpackage that cannot be made lazy (a numpy
    laid out otherwise) is left to load as it would: this only saves time."""
    import numpy

    for name in names:
        full = f"numpy.{name}"
        if full in sys.modules:
            continue
        try:
            spec = importlib.util.find_spec(full)
            if spec is None or spec.loader is None:
                continue
            spec.loader = importlib.util.LazyLoader(spec.loader)
            module: ModuleType = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)  # (lazy: the module runs at its first attribute read)
        except (ImportError, TypeError, ValueError):
            continue
        sys.modules[full] = module
        setattr(numpy, name, module)


class NumpyExtrasDeferred(importlib.abc.MetaPathFinder):
    """A finder that finds nothing: asked for scipy the first time, it takes itself off
    `sys.meta_path` and defers numpy's unused subpackages (`defer_numpy_extras`)."""

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        if fullname == "scipy":
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            defer_numpy_extras()
        return None


def defer_numpy_extras_until_scipy() -> None:
    """Defer numpy's unused subpackages at scipy's first import (nothing if scipy is imported
    already: its copy of numpy's namespace is made); a command that never imports scipy
    imports no numpy for it."""
    if "scipy" not in sys.modules and not any(
        isinstance(f, NumpyExtrasDeferred) for f in sys.meta_path
    ):
        sys.meta_path.insert(0, NumpyExtrasDeferred())
