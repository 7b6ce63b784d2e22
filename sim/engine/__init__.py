"""The Monte Carlo engine: one chunk of replicates (`chunk`), executors, result tables, and what
the API runs with them: a run (`run`), a sweep (`sweep`), a forecast (`forecast`, its model in
`continuation`). Imports the layers below: scenario, conduct, stats, storage, clinic."""
