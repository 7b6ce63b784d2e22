"""The screenshots of docs/app.md, as a first-time user meets the page: the scenario form,
a hazard ratio changed to a bad value and its message, then to 0.7 and Run (the preview's
answers, the full answers, the figures), a second run at 0.6 and the comparison, and a
forecast from the README's observed file (export-observed of a simulated trial).

    python docs/app_screenshots.py [--reps 1000] [--chromium /usr/bin/chromium]

Writes docs/images/app-*.png (1400 x 1050). Needs the `app` extra, pytest-playwright's
playwright and Chromium, as tests/test_app.py does.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars"]


def observed_file(folder: Path) -> Path:
    """The README's observed file: `export-observed` of the first trial of a small run."""
    run = folder / "run"
    command = [sys.executable, "-m", "sim", "run", str(ROOT / "scenarios" / "nct07271602.yaml")]
    command += ["--reps", "20", "--seed", "7", "--keep-patients", "1", "--out", str(run)]
    subprocess.run([*command, "--quiet"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    observed = folder / "observed.csv"
    subprocess.run(
        [sys.executable, "-m", "sim", "export-observed", str(run), "--as-of", "2027-03-01"]
        + ["--out", str(observed)],
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    return observed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1000, help="replicates of each run")
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="browser executable")
    args = parser.parse_args(argv)
    from playwright.sync_api import expect, sync_playwright
    from shiny.playwright import controller
    from shiny.run import run_shiny_app

    expect.set_options(timeout=600_000)
    app = run_shiny_app("sim.app.page:app", cwd=str(ROOT), timeout_secs=120)
    try:
        with tempfile.TemporaryDirectory() as scratch, sync_playwright() as playwright:
            observed = observed_file(Path(scratch))
            browser = playwright.chromium.launch(executable_path=args.chromium, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1050})
            page.set_default_timeout(600_000)
            page.goto(app.url)
            hazard_ratio = controller.InputNumeric(page, "f_effect_hazard_ratio")
            expect(page.locator("#f_effect_hazard_ratio")).to_be_visible()
            controller.InputNumeric(page, "reps").set(str(args.reps))
            page.screenshot(path=IMAGES / "app-scenario.png")

            hazard_ratio.set("-0.7")
            expect(page.locator("#msg_f_effect_hazard_ratio")).not_to_have_text("")
            page.locator("#f_effect_hazard_ratio").scroll_into_view_if_needed()
            page.screenshot(path=IMAGES / "app-scenario-error.png")

            hazard_ratio.set("0.7")
            expect(page.locator("#msg_f_effect_hazard_ratio")).to_have_text("")
            page.wait_for_timeout(1000)  # the form's check settles, as a person pauses
            controller.InputActionButton(page, "run").click()
            expect(page.locator("#answers_head h4")).to_contain_text("preview")
            page.screenshot(path=IMAGES / "app-answers-preview.png")
            expect(page.locator("#answers_head h4")).to_have_text(
                f"Answers from {args.reps:,} simulated trials (seed 1)"
            )
            page.screenshot(path=IMAGES / "app-answers.png")
            figures = page.locator("#figures img")
            expect(figures.first).to_be_visible()
            figures.first.scroll_into_view_if_needed()
            page.screenshot(path=IMAGES / "app-figures.png")

            page.locator("a[data-value='scenario']").click()
            hazard_ratio.set("0.6")
            page.wait_for_timeout(1000)
            controller.InputActionButton(page, "run").click()
            expect(page.locator("#answers_head h4")).to_have_text(
                f"Answers from {args.reps:,} simulated trials (seed 1)"
            )
            expect(page.locator("#answers-scenario")).to_contain_text("hazard ratio 0.6,")
            page.locator("a[data-value='compare']").click()
            # the table once the selections have reached the server (the two runs differ)
            expect(page.locator("#comparison")).to_contain_text("effect.hazard_ratio")
            page.screenshot(path=IMAGES / "app-compare.png")

            page.locator("a[data-value='forecast']").click()
            page.locator("#observed").set_input_files(observed)
            expect(page.locator("#observed_progress")).to_contain_text("Upload complete")
            controller.InputDate(page, "as_of").set("2027-03-01")
            controller.InputActionButton(page, "forecast").click()
            expect(page.locator("#forecast-table")).to_be_visible()
            page.screenshot(path=IMAGES / "app-forecast.png")
            browser.close()
    finally:
        app.close()
    print(f"wrote {', '.join(sorted(p.name for p in IMAGES.glob('app-*.png')))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
