"""Imported by the page's fork server, before it forks any run (`sim.app.jobs.context`).

Importing this module runs a two-replicate simulation of a shipped scenario through the API,
and its closed form, in a temporary folder removed at once. The API imports the engine, the
clinic's SimPy model, scipy and pyarrow on first use (so that ``python -m sim --help`` pays
for none of it): done here once, in the fork server, a run forked from it starts computing at
once instead of importing for a second or more. A failed warm-up only costs that time back:
it never stops the fork server.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

WARM_SCENARIO = "nct07271602.yaml"  # the page's default scenario, the first a user runs


class Silent:
    """A `sim.api.Progress` that reports nothing (no tqdm bar, hence no monitor thread in the
    fork server)."""

    def start(self, total: int, done: int) -> None:
        pass

    def update(self, n: int) -> None:
        pass

    def write(self, text: str) -> None:
        pass


def warm_up() -> None:
    """Simulate 2 replicates of the page's default scenario (if it is shipped) and compute
    its closed form, imports and first-call caches being the point; and import what a run
    of several chunks (its worker pool) and a forecast (its progress bar) add."""
    import multiprocessing.popen_fork  # noqa: F401  (the engine's worker pool, from 2 chunks)
    import multiprocessing.synchronize  # noqa: F401

    import tqdm.auto  # noqa: F401  (sim.forecast's progress bar)

    import sim
    from sim.app.fields import shipped_scenarios

    path = shipped_scenarios().get(WARM_SCENARIO)
    if path is None:
        return
    scenario = sim.load_scenario(path)
    sim.design(scenario)
    with tempfile.TemporaryDirectory(prefix="sim-app-warm-") as folder:
        sim.simulate(scenario, reps=2, seed=1, out=Path(folder) / "run", progress=Silent())
        sim.read_results(Path(folder) / "run").summary  # noqa: B018  (reads it, as the page does)


try:
    warm_up()
except Exception:  # noqa: BLE001, S110  (a warm-up that fails costs time, never a run)
    pass
