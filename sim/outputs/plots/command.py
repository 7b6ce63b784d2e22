"""`python -m sim plot`: draw a run or sweep folder's figures and write them as PNG."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sim.outputs.plots.run import run_figures
from sim.outputs.plots.style import Panel, figure_png
from sim.outputs.plots.sweep import sweep_figures
from sim.storage.folders import file_hashes


def write_figures(panels: list[Panel], folder: Path) -> list[Path]:
    """Write each panel as `<name>.png` into `folder` (created), with a manifest.json that
    tells a later `plot` the folder is its own; return the paths of the PNGs."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for panel in panels:
        path = folder / f"{panel.name}.png"
        path.write_bytes(figure_png(panel.figure))
        paths.append(path)
    # the record by which a later `plot` replaces these files and nothing else
    manifest = {"tool": "sim", "kind": "plots", "files": file_hashes(folder)}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return paths


def register(subparsers: Any) -> None:
    """Add ``plot`` to the ``python -m sim`` subcommands."""
    plot = subparsers.add_parser(
        "plot",
        help="draw the figures of a run or sweep folder (PNG)",
        description="Draw the figures of a run folder (enrollment, events, analysis date, "
        "Kaplan-Meier) or of a sweep folder (power curve, trade-off) as PNG.",
    )
    plot.add_argument("folder", type=Path, help="a run or sweep folder")
    plot.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for the PNG files (default: FOLDER/plots); a plots "
        "folder sim wrote is replaced, any other folder is refused",
    )
    plot.add_argument(
        "--force",
        action="store_true",
        help="replace the figures of a plots folder even if they were changed since sim "
        "wrote them (files sim did not write are never replaced)",
    )
    plot.set_defaults(func=cmd_plot)


def folder_figures(folder: Path) -> list[Panel]:
    """The figures of a run or sweep folder; raises ScenarioError if it is neither."""
    from sim.engine.results import read_run

    manifest = read_run(folder, sweep_ok=True)
    return sweep_figures(folder) if manifest.get("kind") == "sweep" else run_figures(folder)


def save_figures(
    draw: Callable[[], list[Panel]], out: Path, force: bool = False
) -> tuple[list[Panel], list[Path]]:
    """Draw (`draw()`, once the folder `out` is known to be writable) and write the figures
    into the plots folder `out`: a plots folder sim wrote is replaced, any other folder is
    refused (`force`: even if its figures were changed since). Returns (the panels, the
    paths of their PNGs)."""
    from sim.storage.folders import output_folder

    with output_folder(out, force, needs_force=False, kinds=["plots"]) as staging:
        panels = draw()
        names = [path.name for path in write_figures(panels, staging)]
    return panels, [out / name for name in names]


def cmd_plot(args: Any) -> int:
    from sim.engine.results import read_run

    read_run(args.folder, sweep_ok=True)  # a bad folder: its one message first
    out = args.out or args.folder / "plots"
    for path in save_figures(lambda: folder_figures(args.folder), out, args.force)[1]:
        print(path)
    return 0
