"""One run of the page, in a child process: simulate, then the closed form, then the figures.

The page starts each run as a process forked from a server that has imported this module
(and with it the API, pandas and matplotlib) once, so a run starts at once and a cancel can
stop it and its worker processes together (its own process group). What the page needs is
written into the run's folder, step by step:

    scenario.yaml     the scenario of the run (written by the page before the start)
    status.json       {"stage": "simulating" | "figures" | "done" | "error", "message": ...}
    progress.txt      the API's progress bar (replicates done of the total)
    run/              the results folder (as `python -m sim run --out` writes it)
    design.csv        `sim.design` of the scenario (the closed form)
    figures/          NAME.png and figures.json (name, caption) of `sim.outputs.plots`

A forecast (`run_forecast_job`) reads the uploaded files in observed/ beside scenario.yaml
(the project's CSV, or ADaM data sets) and writes the folder `sim.forecast` writes into run/.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import sim  # noqa: E402
import sim.api  # noqa: E402, F401  (imported here, once, before any run is forked)
from sim.outputs.plots import figure_png, run_figures  # noqa: E402


def write_status(folder: Path, stage: str, message: str = "") -> None:
    """Replace status.json atomically (the page may read it at any moment)."""
    part = folder / "status.json.part"
    part.write_text(json.dumps({"stage": stage, "message": message}), encoding="utf-8")
    part.replace(folder / "status.json")


def run_job(folder: Path, reps: int, seed: int, figures: bool = True) -> None:
    """Simulate `folder/scenario.yaml` with `reps` replicates from `seed` into `folder/run`,
    then write design.csv and (with `figures`) the figures; errors go to status.json as one
    line, never a traceback."""
    os.setpgrp()  # a cancel stops this process and the engine's workers as one group
    with open(folder / "progress.txt", "w", buffering=1, encoding="utf-8") as progress:
        sys.stderr = progress  # the API's progress bar writes here
        try:
            write_status(folder, "simulating")
            scenario = sim.load_scenario(folder / "scenario.yaml")
            sim.simulate(scenario, reps=reps, seed=seed, out=folder / "run", progress=True)
            sim.design(scenario).to_csv(folder / "design.csv", index=False)
            if figures:
                write_status(folder, "figures")
                write_figures(folder / "run", folder / "figures")
            write_status(folder, "done")
        except sim.ScenarioError as error:
            write_status(folder, "error", str(error))
        except Exception as error:  # shown on the page as one line; the server stays up
            write_status(folder, "error", f"{type(error).__name__}: {error}".splitlines()[0])


def observed_argument(folder: Path) -> Path | list[Path]:
    """What the page hands `sim.forecast` as `observed`: the one uploaded file (the project's
    CSV or Parquet table), or every uploaded file as a list (ADSL + ADTTE, which the API
    tells apart by their content, as `forecast --observed FILE FILE` does)."""
    files = sorted(p for p in (folder / "observed").iterdir() if p.is_file())
    return files[0] if len(files) == 1 else files


def run_forecast_job(folder: Path, reps: int, seed: int, as_of: str) -> None:
    """`sim.forecast` of `folder/scenario.yaml` from the uploaded files in `folder/observed/`
    as of `as_of` (YYYY-MM-DD; empty: the ADaM data sets' data cut) into `folder/run`
    (forecast.csv, forecast.png, ... beside the run's tables); errors (a bad row of the
    observed table, say) go to status.json as the API words them."""
    os.setpgrp()
    with open(folder / "progress.txt", "w", buffering=1, encoding="utf-8") as progress:
        sys.stderr = progress
        try:
            write_status(folder, "simulating")
            scenario = sim.load_scenario(folder / "scenario.yaml")
            sim.forecast(  # by keyword: the API's options are keyword-only
                scenario,
                observed_argument(folder),
                as_of=as_of or None,  # none given: ADaM's data cut (DCUTDT), or the API's message
                reps=reps,
                seed=seed,
                out=folder / "run",
            )
            write_status(folder, "done")
        except sim.ScenarioError as error:
            write_status(folder, "error", str(error))
        except Exception as error:  # shown on the page as one line; the server stays up
            write_status(folder, "error", f"{type(error).__name__}: {error}".splitlines()[0])


def write_figures(run: Path, out: Path) -> None:
    """The run's figures as PNG, and figures.json listing (name, headline, caption)."""
    out.mkdir(parents=True, exist_ok=True)
    listed = []
    for panel in run_figures(run):
        (out / f"{panel.name}.png").write_bytes(figure_png(panel.figure, dpi=90))
        title = panel.figure.get_suptitle() if hasattr(panel.figure, "get_suptitle") else ""
        listed.append({"name": panel.name, "headline": title, "caption": panel.caption})
    (out / "figures.json").write_text(json.dumps(listed, indent=1), encoding="utf-8")
