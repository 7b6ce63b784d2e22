"""Time from pressing Run to the preview answer on the page (issue 29: within 3 s on 2 cores).

Starts the page (`shiny run sim.app.page:app` on 127.0.0.1), opens it in headless Chromium,
and for each round sets the hazard ratio (so every round is a new scenario), presses Run
(2,000 replicates: a 200-replicate preview first) and waits for the answers table; the time
printed is from the click to the table, measured in the browser's own clock. The machine's
load average is printed beside it: the figure means little on a machine other jobs share.

    python benchmarks/bench_app_preview.py [--rounds 3] [--chromium /usr/bin/chromium] [--full]

With --full, the last round also waits for the full 2,000-replicate answer, and the same run
is timed on the command line (`python -m sim run`) right after, for the issue's "no slower
than the CLI" (the page's full run comes after its preview, and draws the figures after).

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


def time_full(page: Any, hazard_ratio: float) -> float:
    """Seconds from the Run click (the browser's clock) to the full answer's heading."""
    from playwright.sync_api import expect

    expect(page.locator("#answers_head h4")).to_have_text(
        "Answers from 2,000 simulated trials (seed 1)"
    )
    return page.evaluate("() => (performance.now() - window.benchRunAt) / 1000")


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
    args = parser.parse_args(argv)
    from playwright.sync_api import expect, sync_playwright
    from shiny.run import run_shiny_app

    expect.set_options(timeout=300_000)
    app = run_shiny_app("sim.app.page:app", cwd=str(ROOT), timeout_secs=120)
    times = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, args=ARGS)
            page = browser.new_page()
            page.set_default_timeout(300_000)
            page.goto(app.url)
            expect(page.locator("#f_effect_hazard_ratio")).to_be_visible()
            page.wait_for_timeout(3000)  # let the fork server finish its imports, as a user would
            for i in range(args.rounds):
                page.locator("a[data-value='scenario']").click()
                page.fill("#f_effect_hazard_ratio", f"{0.6 + 0.01 * i:.2f}")
                page.keyboard.press("Tab")
                page.wait_for_timeout(1000)  # the form's check settles before Run
                load = os.getloadavg()[0]
                seconds = page.evaluate(
                    """(shown) => new Promise(resolve => {
                        const t0 = performance.now();
                        window.benchRunAt = t0;
                        const seen = () => {
                            const h = document.querySelector("#answers_head h4");
                            if (document.querySelector("#answers") && h &&
                                h.textContent.includes("preview") &&
                                document.querySelector("#answers-scenario").textContent
                                    .includes(shown)) {
                                resolve((performance.now() - t0) / 1000);
                            } else { setTimeout(seen, 20); }
                        };
                        document.querySelector("#run").click();
                        seen();
                    })""",
                    f"hazard ratio {0.6 + 0.01 * i:g},",
                )
                times.append(seconds)
                print(
                    f"round {i + 1}: Run -> preview answer {seconds:.2f} s "
                    f"(load average {load:.1f} on {os.cpu_count()} cores)",
                    flush=True,
                )
                if args.full and i == args.rounds - 1:
                    full = time_full(page, 0.6 + 0.01 * i)
                    print(f"Run -> full 2,000-replicate answer {full:.2f} s", flush=True)
                    cli = time_cli(0.6 + 0.01 * i)
                    print(
                        f"python -m sim run --reps 2000 (the same scenario): {cli:.2f} s "
                        f"(load average {os.getloadavg()[0]:.1f})",
                        flush=True,
                    )
                else:
                    page.locator("#cancel").click()  # the full run is not timed here
            browser.close()
    finally:
        app.close()
    print(
        f"median {statistics.median(times):.2f} s, best {min(times):.2f} s over "
        f"{len(times)} rounds; load average now {os.getloadavg()[0]:.1f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
