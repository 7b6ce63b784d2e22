"""The bounds of a Monte Carlo call's counts, shared by the API and the command line (kept
apart from the engine's heavy modules: ``python -m sim --help`` shows them)."""

MAX_REPS = 10_000_000  # 10 million replicates: hours even on a cluster
MAX_SEED = 2**63 - 1  # SeedSequence takes any integer >= 0; seeds are int64 in the tables
MAX_SWEEP_POINTS = 1_000  # a sweep past this many points needs --allow-large (allow_large)
