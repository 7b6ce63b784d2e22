"""The page in a real browser (Debian's Chromium driven by Playwright and Shiny's own
controllers): it loads, a bad field shows its message beside it, a 200-replicate run shows
the power the API gives for the same scenario and seed, the YAML download is the scenario
that ran, and two browser sessions do not see each other's runs.

Skipped, with the reason, where Shiny, pytest-playwright or Chromium are absent
(``pip install -c constraints.txt -e ".[test,dask,app]"`` and ``apt-get install chromium``).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

MISSING = [m for m in ("shiny", "pytest_playwright") if importlib.util.find_spec(m) is None]
if MISSING:
    pytest.skip(
        f"browser tests need {' and '.join(MISSING)}: pip install -e '.[test,app]' "
        "pytest-playwright",
        allow_module_level=True,
    )
CHROMIUM = os.environ.get("SIM_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).is_file():
    pytest.skip(
        f"browser tests need Chromium ({CHROMIUM} not found): apt-get install chromium",
        allow_module_level=True,
    )

import pandas as pd  # noqa: E402
from playwright.sync_api import Browser, Page, expect  # noqa: E402
from shiny.playwright import controller  # noqa: E402
from shiny.run import ShinyAppProc, run_shiny_app  # noqa: E402

import sim  # noqa: E402
from sim.app.answers import share_text  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "nct07271602.yaml"
TIMEOUT_MS = 120_000  # a loaded machine: runs and figures can take a while
expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Debian's Chromium (no browser can be downloaded here), headless and quiet."""
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="module")
def app() -> Iterator[ShinyAppProc]:
    """The page served on 127.0.0.1 (a random port) by `shiny run sim.app.page:app`."""
    proc = run_shiny_app("sim.app.page:app", cwd=str(ROOT), timeout_secs=120)
    yield proc
    proc.close()


def open_page(page: Page, app: ShinyAppProc) -> Page:
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(app.url)
    expect(page.locator("#f_effect_hazard_ratio")).to_be_visible()
    return page


def run(page: Page, reps: int, seed: int) -> None:
    controller.InputNumeric(page, "reps").set(str(reps))
    controller.InputNumeric(page, "seed").set(str(seed))
    controller.InputActionButton(page, "run").click()
    expect(page.locator("#answers-scenario")).to_be_visible()
    expect(page.locator("#answers")).to_be_visible()


def test_the_page_loads_with_the_baseline_in_the_form(page: Page, app: ShinyAppProc) -> None:
    open_page(page, app)
    controller.InputNumeric(page, "f_effect_hazard_ratio").expect_value("0.6")
    controller.InputNumeric(page, "f_trial_sample_size").expect_value("104")
    controller.InputSelect(page, "start").expect_selected("nct07271602.yaml")
    expect(page.locator("#yaml")).to_have_value(re.compile(r"NCT07271602"))


def test_bad_values_and_uploads_show_their_messages(page: Page, app: ShinyAppProc) -> None:
    """Beside the field it names; under the editor for YAML; under the upload for files."""
    open_page(page, app)
    hazard_ratio = controller.InputNumeric(page, "f_effect_hazard_ratio")
    hazard_ratio.set("-0.6")
    message = page.locator("#msg_f_effect_hazard_ratio")
    expect(message).to_have_text(
        "effect.hazard_ratio = -0.6: Input should be greater than 0 (use a value > 0.0)"
    )
    hazard_ratio.set("0.7")
    expect(message).to_have_text("")
    editor = page.locator("#yaml")
    editor.fill("trial: [1, 2\nenrollment: {}\n")
    editor.blur()
    expect(page.locator("#editor-msg")).to_contain_text("scenario YAML at line")

    upload = page.locator("#upload")
    upload.set_input_files(
        files=[{"name": "big.yaml", "mimeType": "text/yaml", "buffer": b"#" * 1_000_001}]
    )
    expect(page.locator("#upload_msg")).to_contain_text(
        "a scenario file is at most 1,000,000 bytes"
    )
    upload.set_input_files(
        files=[{"name": "bad.yaml", "mimeType": "text/yaml", "buffer": b"trial: [1\n"}]
    )
    expect(page.locator("#upload_msg")).to_contain_text("upload bad.yaml: scenario YAML at line")


def test_a_run_gives_the_api_power_and_the_scenario_it_ran(
    page: Page, app: ShinyAppProc, browser: Browser, tmp_path: Path
) -> None:
    """200 replicates (no preview below that): power as `sim.simulate` gives it; the YAML
    download loads to the same scenario; a second session sees none of it."""
    from concurrent.futures import ThreadPoolExecutor

    open_page(page, app)
    with ThreadPoolExecutor(1) as pool:  # the API's run beside the page's: half the wait
        api_run = pool.submit(sim.simulate, BASELINE, reps=200, seed=3, progress=False)
        run(page, reps=200, seed=3)
        api = api_run.result()
    power = page.locator('#answers tr[data-question="0"] td').nth(1)
    expected = share_text(api.summary.set_index("metric").loc["power"])
    expect(power).to_have_text(expected)
    expect(page.locator("h4").first).to_have_text("Answers from 200 simulated trials (seed 3)")

    with page.expect_download() as download:
        page.locator("#dl_yaml").click()
    saved = tmp_path / "scenario.yaml"
    download.value.save_as(saved)
    assert sim.load_scenario(saved) == sim.load_scenario(BASELINE)

    other = open_page(browser.new_context().new_page(), app)
    other.locator("a[data-value='answers']").click()
    expect(other.locator("#answers_head")).to_contain_text("No run yet")
    expect(other.locator("#answers")).to_have_count(0)
    run(other, reps=20, seed=4)
    expect(other.locator("h4").first).to_have_text("Answers from 20 simulated trials (seed 4)")
    expect(page.locator("h4").first).to_have_text("Answers from 200 simulated trials (seed 3)")
    other.context.close()


def test_the_compare_tab_is_the_apis_comparison(page: Page, app: ShinyAppProc) -> None:
    """Two runs of the page (the hazard ratio changed between them, same seed and
    replicates): the compare tab's rows are those of `sim.compare` of the API's two runs,
    the same differences marked beyond noise, and the changed field named."""
    from concurrent.futures import ThreadPoolExecutor

    from sim.app.answers import comparison_table, meaning_words

    open_page(page, app)
    with ThreadPoolExecutor(1) as pool:  # the API's runs beside the page's
        api_runs = pool.submit(
            lambda: [
                sim.simulate(
                    BASELINE,
                    reps=100,
                    seed=6,
                    overrides={"effect.hazard_ratio": hr},
                    progress=False,
                )
                for hr in (0.6, 0.9)
            ]
        )
        run(page, reps=100, seed=6)
        page.locator("a[data-value='scenario']").click()
        controller.InputNumeric(page, "f_effect_hazard_ratio").set("0.9")
        page.wait_for_timeout(500)  # the form's check settles before Run
        controller.InputActionButton(page, "run").click()
        expect(page.locator("#answers-scenario")).to_contain_text("hazard ratio 0.9,")
        compared = sim.compare(api_runs.result())
    page.locator("a[data-value='compare']").click()
    expect(page.locator("#comparison-table")).to_be_visible()
    expect(page.locator("#comparison")).to_contain_text("effect.hazard_ratio: 0.6 (A) -> 0.9 (B)")
    expected = comparison_table(compared.metrics, compared.described)
    rows = page.locator("#comparison-table tbody tr")
    expect(rows).to_have_count(len(expected))
    for row in expected.itertuples(index=False):
        cells = page.locator(f'#comparison-table tr[data-metric="{row.metric}"] td')
        expect(cells).to_have_text([str(v) for v in row[1:]])
    # a flagged metric beyond the key ones in the words of its meaning, its name and whole
    # meaning in the row's tooltip
    name = next(m for m in ("power_stratified", "power_unstratified") if m in set(expected.metric))
    meaning = compared.described.at[name, "meaning"]
    row = page.locator(f'#comparison-table tr[data-metric="{name}"]')
    expect(row).to_have_attribute("title", f"{name}: {meaning}")
    expect(row.locator("td").first).to_have_text(meaning_words(meaning))
    assert not meaning_words(meaning).startswith("Power at the analysis")
    assert set(expected.loc[expected["beyond noise"] == "yes", "metric"]) == set(
        compared.flagged["metric"]
    )


def test_the_forecast_page_accepts_an_observed_file(
    page: Page, app: ShinyAppProc, tmp_path: Path
) -> None:
    """The observed table as the README makes it (`export-observed` of a simulated trial)."""
    import subprocess
    import sys

    run = sim.simulate(BASELINE, reps=10, seed=5, progress=False)
    observed = tmp_path / "observed.csv"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "sim",
            "export-observed",
            str(run.folder),
            "--as-of",
            "2026-12-01",
            "--out",
            str(observed),
        ],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    open_page(page, app)
    controller.InputNumeric(page, "reps").set("20")
    page.locator("a[data-value='forecast']").click()
    controller.InputDate(page, "as_of").set("2026-12-01")
    page.locator("#observed").set_input_files(observed)
    expect(page.locator("#observed_progress")).to_contain_text("Upload complete")
    controller.InputActionButton(page, "forecast").click()
    expect(page.locator("#forecast-table")).to_be_visible()
    expect(page.locator("h4").filter(has_text="Forecast as of")).to_have_text(
        "Forecast as of 2026-12-01 (20 simulated continuations)"
    )
    expect(page.locator("#forecast-table tbody tr")).to_have_count(4)
    # how likely success is, beside the plan's, as `python -m sim forecast` says it; and
    # the caveat of few events (6 PFS events by then) above the table
    expect(page.locator("#forecast-success")).to_have_text(
        re.compile(r"Probability of success: \d+(\.\d+)?% \(MC SE [\d.]+%\); the plan's power: ")
    )
    expect(page.locator("#forecast-caveat")).to_contain_text("Only 6 PFS events so far")
    expect(page.locator("#forecast-success-words")).to_contain_text("Blinded: ")
    # the DMC's view: a hazard per arm; its probability of success is the predictive one,
    # and the caveat says it rests mostly on the prior
    controller.InputCheckbox(page, "unblinded").set(True)
    # the forecast's other options, as the command line's
    controller.Accordion(page, "forecast_options").set("options")
    controller.InputSelect(page, "accrual_model").set("plan")
    controller.InputNumeric(page, "prior_events").set("3")
    controller.InputNumeric(page, "hr_threshold").set("0.8")
    controller.InputActionButton(page, "forecast").click()
    words = page.locator("#forecast-success-words")
    expect(words).to_contain_text("(predictive_probability_of_success in summary.csv)")
    expect(words).to_contain_text("P(HR < 0.8 | data)")
    expect(words).to_contain_text("Posterior HR: median")
    expect(page.locator("#forecast-caveat")).to_contain_text("worth 3 events on each arm")
    assumed = page.locator("#forecast-assumed")
    expect(assumed).to_contain_text("accrual model: plan")
    expect(assumed).to_contain_text("worth 3 events")
    # the plan's accrual weight and the screening counts (--prior-months, --screening)
    randomized = pd.read_csv(observed, parse_dates=["randomized"])
    month = randomized["randomized"].dt.strftime("%Y-%m").rename("month")
    counts = randomized.groupby(["site", month]).size().rename("randomized").reset_index()
    counts.assign(screened=counts["randomized"] + 1, failed=1).drop(columns="randomized").to_csv(
        tmp_path / "screening.csv", index=False
    )
    controller.InputNumeric(page, "prior_months").set("2")
    page.locator("#screening").set_input_files(tmp_path / "screening.csv")
    expect(page.locator("#screening_progress")).to_contain_text("Upload complete")
    controller.InputActionButton(page, "forecast").click()
    expect(assumed).to_contain_text("prior worth 2 months of the plan's full speed")
    expect(assumed).to_contain_text("the screened counts of screening.csv fit each site's")
    # the piecewise model, with its knots: text that is not numbers gets a message first
    controller.InputSelect(page, "accrual_model").set("piecewise")
    controller.InputText(page, "accrual_knots").set("3, six")
    controller.InputActionButton(page, "forecast").click()
    expect(page.locator("#forecast-msg")).to_contain_text(
        "accrual knots = '3, six': numbers of months since the start date"
    )
    controller.InputText(page, "accrual_knots").set("3, 6")
    controller.InputActionButton(page, "forecast").click()
    expect(assumed).to_contain_text("accrual model: piecewise (requested): piecewise Poisson")


def test_the_forecast_page_takes_adam_data_sets_at_their_data_cut(
    page: Page, app: ShinyAppProc
) -> None:
    """ADSL + ADTTE uploaded together (XPT, as `run --adam` writes them) and no as-of date:
    the page hands both files to sim.forecast, which reads them by content and takes ADSL's
    data cut as the as-of date (docs/adam.md)."""
    run = sim.simulate(BASELINE, reps=4, seed=5, progress=False, adam=1)
    cut = run.folder / "rep000_final"  # the final analysis's data sets of the first trial
    open_page(page, app)
    controller.InputNumeric(page, "reps").set("20")
    page.locator("a[data-value='forecast']").click()
    page.locator("#observed").set_input_files([cut / "adsl.xpt", cut / "adtte.xpt"])
    expect(page.locator("#observed_progress")).to_contain_text("Upload complete")
    controller.InputActionButton(page, "forecast").click()
    expect(page.locator("#forecast-table")).to_be_visible()
    expect(page.locator("h4").filter(has_text="Forecast as of")).to_have_text(
        re.compile(r"Forecast as of \d{4}-\d{2}-\d{2} \(20 simulated continuations\)")
    )
    expect(page.locator("#forecast-table tbody tr")).to_have_count(4)
