"""The one error the user is meant to see: a bad scenario, argument or table.

Kept apart from `sim.scenario` (and its pydantic models) so that the command line can catch it
without paying for their import: `python -m sim --help` loads neither pydantic nor pandas.
"""


class ScenarioError(ValueError):
    """A scenario or argument the simulator cannot run; the message says what to change."""
