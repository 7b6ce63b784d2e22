"""The Monte Carlo engine: one chunk of replicates (`chunk`), executors, result tables.
Imports the layers below: scenario, conduct, clinic, stats."""
