"""One run of the page, in a child process: the closed form, simulate, then the figures.

The page starts each run as a process forked from a server that has imported this module
and run a tiny simulation once (`sim.app.warm`), so a run starts computing at once, and a
cancel can stop it and its worker processes together (its own process group). What the page
needs is written into the run's folder, step by step:

    scenario.yaml     the scenario of the run (written by the page before the start)
    status.json       {"stage": "simulating" | "preview" | "figures" | "done" | "error",
                      "message": ...}
    progress.txt      replicates done of the total ("done/total" lines), notes, warnings
    design.csv        `sim.design` of the scenario (the closed form)
    preview/          summary.csv of the run's first chunk (stage "preview"), while it runs:
                      the summary a run of that many replicates gives (`sim.engine.preview`)
    run/              the results folder (as `python -m sim run --out` writes it)
    figures/          NAME.png and figures.json (name, caption) of `sim.outputs.plots`

A forecast (`run_forecast_job`) reads the uploaded files in observed/ beside scenario.yaml
(the project's CSV, or ADaM data sets) and writes the folder `sim.forecast` writes into run/.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")

import sim  # noqa: E402
import sim.api  # noqa: E402, F401  (imported here, once, before any run is forked)
from sim.api import first_chunks_summary  # noqa: E402
from sim.outputs.plots import figure_png, run_figures  # noqa: E402

if TYPE_CHECKING:
    from sim.api import Scenario


def write_status(folder: Path, stage: str, message: str = "") -> None:
    """Replace status.json atomically (the page may read it at any moment)."""
    part = folder / "status.json.part"
    part.write_text(json.dumps({"stage": stage, "message": message}), encoding="utf-8")
    part.replace(folder / "status.json")


class PageProgress:
    """The API's `Progress` for a run of the page: replicates done into progress.txt (the
    page's progress bar reads the last "done/total"), notes and warnings as lines there too;
    and, once the first `preview_reps` replicates (whole chunks) are in, the preview: their
    summary (`sim.engine.preview`: what a run of that many replicates gives) written to
    preview/summary.csv and the stage "preview" to status.json, while the run goes on."""

    def __init__(self, folder: Path, scenario: Scenario, preview_reps: int) -> None:
        self.folder, self.scenario, self.preview_reps = folder, scenario, preview_reps
        self.file = open(folder / "progress.txt", "w", buffering=1, encoding="utf-8")  # noqa: SIM115
        self.done, self.total = 0, 0

    def start(self, total: int, done: int) -> None:
        self.total, self.done = total, done
        self.file.write(f"{done}/{total}\n")

    def update(self, n: int) -> None:
        self.done += n
        self.file.write(f"{self.done}/{self.total}\n")
        if self.preview_reps and self.done >= self.preview_reps:
            try:
                self.write_preview()
            except Exception as error:  # noqa: BLE001  (costs the preview, never the run)
                self.preview_reps = 0
                self.write(f"no preview: {type(error).__name__}: {error}".splitlines()[0])

    def write(self, text: str) -> None:
        self.file.write(text + "\n")

    def write_preview(self) -> None:
        summary = first_chunks_summary(self.folder / "run", self.scenario, self.preview_reps)
        if summary is None:
            return
        part = self.folder / "preview.part"
        part.mkdir()
        summary.to_csv(part / "summary.csv", index=False)
        part.replace(self.folder / "preview")
        self.preview_reps = 0  # once
        write_status(self.folder, "preview")

    def close(self) -> None:
        self.file.close()


def run_job(folder: Path, reps: int, seed: int, preview_reps: int = 0) -> None:
    """Simulate `folder/scenario.yaml` with `reps` replicates from `seed` into `folder/run`
    (design.csv, the closed form, first), with the preview of its first `preview_reps`
    replicates on the way (`PageProgress`; 0: none), then the figures; errors go to
    status.json as one line, never a traceback."""
    os.setpgrp()  # a cancel stops this process and the engine's workers as one group
    progress = None
    try:
        write_status(folder, "simulating")
        scenario = sim.load_scenario(folder / "scenario.yaml")
        sim.design(scenario).to_csv(folder / "design.csv", index=False)
        progress = PageProgress(folder, scenario, preview_reps)
        sys.stderr = progress.file  # anything else the run prints goes there too
        sim.simulate(scenario, reps=reps, seed=seed, out=folder / "run", progress=progress)
        write_status(folder, "figures")
        write_figures(folder / "run", folder / "figures")
        write_status(folder, "done")
    except sim.ScenarioError as error:
        write_status(folder, "error", str(error))
    except Exception as error:  # shown on the page as one line; the server stays up
        write_status(folder, "error", f"{type(error).__name__}: {error}".splitlines()[0])
    finally:
        if progress is not None:
            progress.close()


def observed_argument(folder: Path) -> Path | list[Path]:
    """What the page hands `sim.forecast` as `observed`: the one uploaded file (the project's
    CSV or Parquet table), or every uploaded file as a list (ADSL + ADTTE, which the API
    tells apart by their content, as `forecast --observed FILE FILE` does)."""
    files = sorted(p for p in (folder / "observed").iterdir() if p.is_file())
    return files[0] if len(files) == 1 else files


def run_forecast_job(
    folder: Path,
    reps: int,
    seed: int,
    as_of: str,
    unblinded: bool = False,
    options: Mapping[str, Any] | None = None,
) -> None:
    """`sim.forecast` of `folder/scenario.yaml` from the uploaded files in `folder/observed/`
    as of `as_of` (YYYY-MM-DD; empty: the ADaM data sets' data cut), blinded unless
    `unblinded` (a hazard per arm, the DMC's view), with `options` (accrual_model,
    accrual_knots, prior_events, prior_months, hr_threshold, screening: the API's keywords,
    checked by it), into `folder/run` (forecast.csv, forecast.png, ... beside the run's
    tables); errors (a bad row of the observed table, say) go to status.json as the API
    words them."""
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
                unblinded=unblinded,
                out=folder / "run",
                **(options or {}),
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
