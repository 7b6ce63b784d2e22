"""Local control of the irradiated (index) lesion, followed in both arms.

The lesion's progression is one cause of the patient's progression: each progression
involves the index lesion with the arm's probability pi (`Scenario.local_progression_share`),
i.e. the lesion's cause-specific hazard is pi h01(t), chosen so that its cumulative hazard
by `local_control.months` gives the scenario's local-progression probability. So a local
progression happens on the day of the patient's (overall) progression and is seen at the
same scan, never after it; a progression that spares the lesion, a death, a withdrawal or
the cut censors local control at the patient's PFS time (the lesion is not followed past
the PFS event). The Kaplan-Meier of that time estimates exp(-pi H01(t)), the lesion's
progression-free rate in the absence of other events.

The draws come from a stream of their own: the PFS draws do not change.
"""

from __future__ import annotations

import numpy as np

from sim.scenario import Scenario


def draw_lesion_involved(
    scenario: Scenario, arm: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """(R, N) bool: the patient's progression, if any, involves the index lesion."""
    share = np.asarray([scenario.local_progression_share(a) for a in (0, 1)])
    return rng.random(arm.shape) < share[arm]


def local_control_at_cut(
    involved: np.ndarray, time: np.ndarray, event: np.ndarray, is_death: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(time, event) of local control from the PFS data at the cut: the PFS time, an event
    when the PFS event seen is a progression that involves the lesion."""
    return time, event & ~is_death & involved
