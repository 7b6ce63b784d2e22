"""What a run's results depend on besides its scenario, seed and replicates: the version of
the metrics' definitions and the installed packages' versions (manifests, resume checks,
`compare`). Light to import: a run records them before its workers start, without the
metric table (`sim.engine.results`)."""

from __future__ import annotations

import functools
import platform
import re
from importlib import metadata

METRICS_VERSION = 6  # bump when a metric's definition changes; `compare` refuses mixes
# 3: with overall_survival, a death before the scan that would see a progression is the PFS
#    event (illness-death model)
# 4: KM medians as the mean of per-replicate medians; timeline's target_events counted only
#    before the data cut; unit and meaning columns
# 5: lpi_months_median and target_events_months_median over the replicates that reach the
#    milestone (as their means; a trial stopped early at a look reaches neither);
#    concluded_date and the metrics of a trial concluded (stopped at a look or final
#    analysis held)
# 6: target_events_months_median over the replicates whose cut came from the event target
#    (timeline.csv's target_events: the same day in the summary, the timeline and the report)

PACKAGES = (
    "sim-trial",
    "numpy",
    "pandas",
    "scipy",
    "simpy",
    "pydantic",
    "pyarrow",
    "pyyaml",
    "holidays",
)


def package_versions() -> dict[str, str]:
    """Versions of Python and of the packages results depend on (for manifests and resume
    checks); looked up once per process (importlib.metadata scans sys.path, ~10 ms each)."""
    return dict(installed_versions())


@functools.cache
def installed_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = distribution_version(metadata.distribution(name))
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def distribution_version(dist: metadata.Distribution) -> str:
    """`dist.version` (what `importlib.metadata.version` returns), read from the Version
    line of its metadata headers: `dist.version` runs the email parser over every header
    first, and some packages fold a whole licence into one (pandas' is 90 kB), ~10 ms a
    package. The line is taken as that parser takes it (the first `Version:` header, leading
    blanks dropped); anything it might read otherwise (a folded Version, a carriage return,
    a line that is no header before it) is left to `dist.version`."""
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    head = text.split("\n\n", 1)[0]
    if "\r" not in head:
        lines = head.split("\n")
        for i, line in enumerate(lines):
            if HEADER_LINE.match(line) is None:
                break
            if line[:8].lower() == "version:":
                if i + 1 < len(lines) and lines[i + 1][:1] in (" ", "\t"):
                    break  # folded
                return line[8:].lstrip(" \t")
    return dist.version


# a header's first line, or a folded line of the one before (the email parser's headerRE)
HEADER_LINE = re.compile(r"[\041-\071\073-\176]+:|[ \t]")
