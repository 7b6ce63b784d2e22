"""What a job leaves on disk and how its processes end: output folders written whole or not at
all (`folders`), the checkpoints a resumed run continues from (`checkpoints`), stop signals and
worker processes that never outlive their parent (`lifetime`). Imports only `sim.errors`, so
every layer that writes may use it."""
