"""Time from pressing Run to the preview answer on the page (issue 29: within 3 s on 2 cores),
and with --full to the full 2,000-replicate answer, against the command line's run.

Starts the page (`shiny run sim.app.page:app` on 127.0.0.1), opens it in headless Chromium,
waits for the page's fork server to warm up (`--settle` seconds, as a user reads the page),
and for each round sets the hazard ratio (so every round is a new scenario), presses Run
(2,000 replicates, seed 1: the run's first chunk of 500 is the preview) and waits for the
preview's answers table; the time printed is from the click to the table, measured in the
browser's own clock. The machine's load average is printed beside it: the figure means
little on a machine other jobs share.

    python benchmarks/bench_app_preview.py [--rounds 3] [--full] [--settle 10]
                                           [--chromium /usr/bin/chromium]

With --full, every round also waits for the full 2,000-replicate answer (its heading), then
for the figures (the page's "finished"; they would compete with what follows), then times
`python -m sim run` of the same scenario, replicates and seed (wall clock of the whole
command, as a user waits for it), and prints the ratio page / command line of the round:
the two share the machine's load of that moment, so the ratio means more than either time.

Needs the `app` extra, pytest-playwright's playwright and Chromium.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


WAIT_FOR = """(want) => new Promise(resolve => {
    const seen = () => {
        const h = document.querySelector("#answers_head h4");
        const what = document.querySelector("#answers-scenario");
        const heading = h ? h.textContent : "";
        const kind = want.preview ? heading.includes("preview")
            : heading.startsWith("Answers from 2,000 simulated trials");
        if (document.querySelector("#answers") && kind && what &&
                what.textContent.includes(want.scenario)) {
            resolve((performance.now() - window.benchRunAt) / 1000);
        } else { setTimeout(seen, 20); }
    };
    seen();
})"""


def wait_for(page: Any, scenario: str, preview: bool) -> float:
    """Seconds from the Run click (the browser's clock) to the answers of this round's
    scenario: its preview's, or the full run's (the heading of 2,000 trials)."""
    return page.evaluate(WAIT_FOR, {"scenario": scenario, "preview": preview})


def time_cli(hazard_ratio: float) -> float:
    """Wall seconds of `python -m sim run` of the same scenario, 2,000 replicates, seed 1."""
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "sim",
                "run",
                str(ROOT / "scenarios" / "nct07271602.yaml"),
                "--set",
                f"effect.hazard_ratio={hazard_ratio:g}",
                "--reps",
                "2000",
                "--seed",
                "1",
                "--out",
                str(Path(folder) / "run"),
                "--quiet",
            ],
            check=True,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,  # its summary table: the page's answer is the point
        )
        return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="runs to time (default 3)")
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="browser executable")
    parser.add_argument(
        "--full", action="store_true", help="also time the full run against the CLI's"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=10.0,
        help="seconds to wait after the page loads, for its fork server to warm up (10)",
    )
    args = parser.parse_args(argv)
    from playwright.sync_api import expect, sync_playwright
    from shiny.run import run_shiny_app

    expect.set_options(timeout=300_000)
    app = run_shiny_app("sim.app.page:app", cwd=str(ROOT), timeout_secs=120)
    times, ratios = [], []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, args=ARGS)
            page = browser.new_page()
            page.set_default_timeout(300_000)
            page.goto(app.url)
            expect(page.locator("#f_effect_hazard_ratio")).to_be_visible()
            page.wait_for_timeout(args.settle * 1000)
            for i in range(args.rounds):
                hazard_ratio = 0.6 + 0.01 * i
                page.locator("a[data-value='scenario']").click()
                page.fill("#f_effect_hazard_ratio", f"{hazard_ratio:.2f}")
                page.keyboard.press("Tab")
                page.wait_for_timeout(1000)  # the form's check settles before Run
                load = os.getloadavg()[0]
                page.evaluate(
                    """() => {
                        window.benchRunAt = performance.now();
                        document.querySelector("#run").click();
                    }"""
                )
                scenario = f"hazard ratio {hazard_ratio:g},"
                seconds = wait_for(page, scenario, preview=True)
                times.append(seconds)
                print(
                    f"round {i + 1}: Run -> preview answer {seconds:.2f} s "
                    f"(load average {load:.1f} on {os.cpu_count()} cores)",
                    flush=True,
                )
                if not args.full:
                    page.locator("#cancel").click()  # the full run is not timed here
                    continue
                full = wait_for(page, scenario, preview=False)
                # the figures follow the answer: let them finish before the command line
                expect(page.locator("#run-msg")).to_have_text("Run: finished")
                cli = time_cli(hazard_ratio)
                ratios.append(full / cli)
                print(
                    f"round {i + 1}: Run -> full 2,000-replicate answer {full:.2f} s; "
                    f"python -m sim run --reps 2000 (the same scenario) {cli:.2f} s; "
                    f"page / command line {full / cli:.2f} "
                    f"(load average {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
            browser.close()
    finally:
        app.close()
    print(
        f"preview: median {statistics.median(times):.2f} s, best {min(times):.2f} s over "
        f"{len(times)} rounds; load average now {os.getloadavg()[0]:.1f}"
    )
    if ratios:
        print(
            f"full run, page / command line: median {statistics.median(ratios):.2f}, "
            f"worst {max(ratios):.2f} over {len(ratios)} rounds"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
