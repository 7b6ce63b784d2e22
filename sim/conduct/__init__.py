"""The trial's conduct without the clinic, vectorized over replicates: calendar, enrollment,
randomization, outcomes, assessments, data cut. Imports only `sim.scenario`."""
