"""Time from pressing Run to the preview answer on the page (issue 29: within 3 s on 2 cores).

Starts the page (`shiny run sim.app.page:app` on 127.0.0.1), opens it in headless Chromium,
and for each round sets the hazard ratio (so every round is a new scenario), presses Run
(2,000 replicates: a 200-replicate preview first) and waits for the answers table; the time
printed is from the click to the table, measured in the browser's own clock. The machine's
load average is printed beside it: the figure means little on a machine other jobs share.

    python benchmarks/bench_app_preview.py [--rounds 3] [--chromium /usr/bin/chromium]

Needs the `app` extra, pytest-playwright's playwright and Chromium.
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="runs to time (default 3)")
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="browser executable")
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
