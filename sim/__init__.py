"""Discrete-event Monte Carlo simulator of how a randomized trial will run.

Pipeline modules, in the order the trial runs: scenario, calendar, enrollment,
randomization, outcomes, assessments, datacut, analysis, clinic (treatment, radiotherapy),
trial, montecarlo, results, design, cli.
"""

__version__ = "0.1.0"
