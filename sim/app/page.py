"""The page: a scenario form and YAML editor, Run with a preview, the answers, downloads.

A thin layer over the API (`sim.load_scenario`, `sim.simulate`, `sim.design`, the figures of
`sim.outputs.plots`): the page builds a scenario mapping from the editor and the form,
validates it with `sim.load_scenario`, and runs it in a child process (`sim.app.jobs`).
Each browser session has its own workspace, removed when the session ends.
"""

from __future__ import annotations

import base64
import copy
import html
import json
import time
from pathlib import Path
from typing import Any

import yaml
from shiny import App, Inputs, Outputs, Session, reactive, render, ui

import sim
from sim.api import (
    ACCRUAL_CHOICES,
    DEFAULT_ACCRUAL_PRIOR_PATIENTS,
    DEFAULT_PRIOR_MONTHS,
    FLAG_SE,
    PREVIEW_REPLICATES,
    preview_replicates,
)
from sim.app.answers import (
    comparison_table,
    key_questions,
    percent,
    reproduce_command,
    reproduce_python,
    scenario_line,
    zip_folder,
)
from sim.app.fields import (
    Field,
    field_messages,
    scenario_fields,
    scenario_schema,
    shipped_scenarios,
    value_at,
)
from sim.app.jobs import Job, Workspace, start_fork_server, write_observed

MAX_REPS = 100_000
MAX_UPLOAD_BYTES = 1_000_000  # a scenario is a few kB; anything larger is not one
MAX_OBSERVED_BYTES = 20_000_000  # one row per patient: thousands of patients fit in 1 MB
DEFAULT_SCENARIO = "nct07271602.yaml"
MILESTONES = {
    "randomized_100pct": "All patients randomized",
    "target_events": "Event target reached",
    "data_cut": "Data cut",
    "final_analysis": "Final analysis",
}
# The forecast's accrual models (the API's ACCRUAL_CHOICES) in words; "": the API's default.
ACCRUAL_WORDS = {
    "plan": "the plan's ramp-up, site rates scaled by their posterior",
    "plan_shape": "the plan's shape, its level fitted",
    "poisson": "one constant rate, fitted",
    "time_decay": "a ramp-up, fitted",
    "piecewise": "constant rates between knots, fitted",
    "auto": "the fit with the smallest AIC",
}
ACCRUAL_MODELS = {
    "": "default: fitted ramp-up (time_decay), the plan while sites are still to open",
    **{m: f"{m}: {ACCRUAL_WORDS.get(m, m)}" for m in ACCRUAL_CHOICES},
}
KNOTS_EXAMPLE = "4, 8"  # months since the start date, as --accrual-knots 4 8
POLL_SECONDS = 0.1  # how often the page reads a run's status: the latency of an answer

STYLE = """
.field-msg, .editor-msg { color: #b00020; font-size: 0.9em; }
.field-msg:not(:empty) { margin: -0.4em 0 0.4em; font-weight: 600; }
.field-help { color: #555; font-size: 0.85em; margin-bottom: 0.9em; }
.field .form-group { margin-bottom: 0.3em; }
textarea#yaml { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.8em; }
table.answers { border-collapse: collapse; width: 100%; font-size: 0.95em; }
table.answers th, table.answers td { border: 1px solid #ccc; padding: 4px 8px;
                                     text-align: left; vertical-align: top; }
table.answers th { background: #eef1f5; }
table.answers td:first-child { font-weight: 600; width: 34%; }
#comparison-table td:first-child { width: 44%; }
.figure-reading { font-weight: 600; margin-top: 1.2em; }
.figure-caption { color: #444; font-size: 0.9em; margin-bottom: 2em; }
.progress-outer { background: #e9ecef; border-radius: 4px; height: 14px; margin: 6px 0; }
.progress-inner { background: #1f3a68; height: 14px; border-radius: 4px; }
.lead { font-size: 1.05em; }
.editor-msg { white-space: pre-wrap; }
.caveat { border-left: 4px solid #b36b00; background: #fff8e6; padding: 6px 10px; }
"""
SCRIPT = """
Shiny.addCustomMessageHandler("field_messages", function(messages) {
  document.querySelectorAll(".field-msg").forEach(function(el) {
    el.textContent = messages[el.dataset.path] || "";
  });
});
"""


def field_input(item: Field) -> ui.Tag:
    """A numeric input labelled with the field's unit, its help text and its message slot."""
    unit = f" [{item.unit}]" if item.unit and item.unit != "-" else ""
    step = 1 if item.integer else ("any")
    return ui.div(
        ui.input_numeric(
            item.input_id,
            f"{item.label}{unit}",
            value=item.value,
            min=item.minimum,
            max=item.maximum,
            step=step,
            width="100%",
        ),
        ui.div(
            class_="field-msg",
            id=f"msg_{item.input_id}",
            **{"data-path": item.path},
        ),
        ui.div(item.help, class_="field-help"),
        class_="field",
    )


def with_values(data: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of the scenario mapping with the form's values at their paths."""
    data = copy.deepcopy(data)
    for path, value in values.items():
        *parents, last = path.split(".")
        node: Any = data
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return data


def accrual_knots(text: str | None) -> tuple[tuple[float, ...] | None, str]:
    """The piecewise model's knots typed on the page ("4, 8": months since the start date,
    as --accrual-knots 4 8), and a message if they are not numbers ("" if they are); empty:
    None, the API's default. The API checks that they are positive and increasing."""
    words = (text or "").replace(",", " ").split()
    try:
        return (tuple(float(word) for word in words) or None), ""
    except ValueError:
        return None, (
            f"accrual knots = {text!r}: numbers of months since the start date, separated "
            f"by commas, e.g. {KNOTS_EXAMPLE}; or empty (halfway to the as-of date)"
        )


def parse_yaml_text(text: str) -> tuple[dict[str, Any] | None, str]:
    """(mapping, '') of the editor's text, or (None, a one-line message)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "not valid YAML"
        return None, f"scenario YAML{where}: {problem} (check the indentation and colons there)"
    if not isinstance(data, dict):
        return None, "scenario YAML: not a mapping of blocks (trial:, enrollment:, ...)"
    return data, ""


def app_ui() -> ui.Tag:
    scenarios = list(shipped_scenarios())
    sidebar = ui.sidebar(
        ui.h5("Run the simulation"),
        ui.input_numeric(
            "reps", "Replicates (simulated trials)", value=2000, min=1, max=MAX_REPS, step=100
        ),
        ui.input_numeric("seed", "Seed (same seed, same numbers)", value=1, min=0, step=1),
        ui.input_action_button("run", "Run", class_="btn-primary", width="100%"),
        ui.input_action_button("cancel", "Cancel", width="100%"),
        ui.output_ui("progress"),
        ui.p(
            f"The first answer comes from the run's first {PREVIEW_REPLICATES:,} replicates; "
            "the page then refines it to the full count.",
            class_="field-help",
            style="margin-top: 1em",
        ),
        width=290,
    )
    scenario_page = ui.nav_panel(
        "1. Scenario",
        ui.p(
            "Pick a trial scenario (or upload your own YAML), change the numbers that matter "
            "in the form, then press Run on the left. The answers appear on the next tab.",
            class_="lead",
        ),
        ui.layout_columns(
            ui.card(
                ui.card_header("Start from"),
                ui.input_select(
                    "start",
                    "A shipped scenario",
                    choices=scenarios,
                    selected=DEFAULT_SCENARIO if DEFAULT_SCENARIO in scenarios else None,
                    width="100%",
                ),
                ui.input_file(
                    "upload", "or upload a scenario YAML (up to 1 MB)", accept=[".yaml", ".yml"]
                ),
                ui.output_ui("upload_msg"),
                ui.card_header("The numbers a planner changes most"),
                ui.output_ui("form"),
            ),
            ui.card(
                ui.card_header("Everything else: the scenario as YAML"),
                ui.p(
                    "Edit any other field here; changes apply when you click outside the "
                    "editor. The form's fields win over the same fields here.",
                    class_="field-help",
                    style="margin-top: 0",
                ),
                ui.output_ui("editor_msg"),
                ui.input_text_area("yaml", None, value="", rows=32, width="100%", update_on="blur"),
            ),
            col_widths=(5, 7),
        ),
        value="scenario",
    )
    answers_page = ui.nav_panel(
        "2. Answers",
        ui.output_ui("answers_head"),
        ui.output_ui("answers_table"),
        ui.output_ui("downloads"),
        ui.output_ui("figures"),
        value="answers",
    )
    compare_page = ui.nav_panel(
        "3. Compare runs",
        ui.p(
            "Each finished run of this browser tab is kept here: change a number, press Run "
            "again, and compare the two.",
            class_="lead",
        ),
        ui.layout_columns(
            ui.input_select("run_a", "Run A", choices=[], width="100%"),
            ui.input_select("run_b", "Run B", choices=[], width="100%"),
        ),
        ui.output_ui("comparison"),
        value="compare",
    )
    forecast_page = ui.nav_panel(
        "4. Forecast",
        ui.p(
            "A trial under way: upload its observed data (the CSV `python -m sim forecast "
            "--observed` reads, one row per randomized patient; or the ADaM data sets ADSL "
            "and ADTTE together), set the date the data are current to (for ADaM: empty "
            "takes ADSL's data cut, DCUTDT), and press Forecast. The scenario of the first "
            "tab is the plan; replicates and seed are on the left.",
            class_="lead",
        ),
        ui.layout_columns(
            ui.input_file(
                "observed",
                "Observed data (CSV; or ADSL + ADTTE: XPT, SAS7BDAT, Parquet, CSV; 20 MB)",
                accept=[".csv", ".xpt", ".sas7bdat", ".parquet"],
                multiple=True,
                width="100%",
            ),
            ui.input_date(  # empty at first: today is rarely the date the data are current to
                "as_of",
                "Data current to (as-of date; ADaM: DCUTDT if empty)",
                value="",
                width="100%",
            ),
            ui.div(
                ui.input_action_button("forecast", "Forecast", class_="btn-primary"),
                style="padding-top: 2em",
            ),
            col_widths=(5, 4, 3),
        ),
        ui.accordion(
            ui.accordion_panel(
                "Forecast options (as python -m sim forecast's)",
                ui.layout_columns(
                    ui.input_select(
                        "accrual_model",
                        "Accrual of the patients still to randomize (--accrual-model)",
                        choices=ACCRUAL_MODELS,
                        selected="",
                        width="100%",
                    ),
                    ui.input_numeric(
                        "prior_events",
                        "Weight of the plan's hazards, in events (--prior-events; empty: a "
                        "fifth of the event target, unblinded half of it on each arm)",
                        value=None,
                        min=0,
                        width="100%",
                    ),
                    ui.input_numeric(
                        "hr_threshold",
                        "Unblinded: the chance that the HR is below (--hr-threshold)",
                        value=1.0,
                        min=0.05,
                        step=0.05,
                        width="100%",
                    ),
                    col_widths=(4, 5, 3),
                ),
                ui.layout_columns(
                    ui.input_text(
                        "accrual_knots",
                        "Piecewise model: its knots, months since the start date, e.g. "
                        f"{KNOTS_EXAMPLE} (--accrual-knots; empty: halfway to the as-of date)",
                        value="",
                        width="100%",
                    ),
                    ui.input_numeric(
                        "prior_months",
                        "Weight of the plan's accrual, in months of its full speed "
                        f"(--prior-months; empty: the plan model {DEFAULT_PRIOR_MONTHS:g} "
                        "months, or the scenario's site_heterogeneity; a fitted ramp-up "
                        f"{DEFAULT_ACCRUAL_PRIOR_PATIENTS:g} patients)",
                        value=None,
                        min=0,
                        width="100%",
                    ),
                    ui.input_file(
                        "screening",
                        "Screened and failed counts by site and month (--screening; CSV or "
                        "Parquet: site, month, screened, failed)",
                        accept=[".csv", ".parquet"],
                        width="100%",
                    ),
                    col_widths=(4, 4, 4),
                ),
                value="options",
            ),
            open=False,
            id="forecast_options",
        ),
        ui.input_checkbox(
            "unblinded",
            "Unblinded: a PFS hazard per arm, from the observed arms (the data monitoring "
            "committee's view; the observed data must give each patient's arm). Blinded, "
            "one pooled hazard split by the plan's hazard ratio.",
            value=False,
            width="100%",
        ),
        ui.output_ui("forecast_view"),
        value="forecast",
    )
    return ui.page_navbar(
        scenario_page,
        answers_page,
        compare_page,
        forecast_page,
        title="Trial simulator",
        id="tabs",
        sidebar=sidebar,
        header=ui.tags.head(ui.tags.style(STYLE), ui.tags.script(SCRIPT)),
        fillable=False,
    )


def server(input: Inputs, output: Outputs, session: Session) -> None:
    start_fork_server()  # the first session starts it, while its user reads the page
    workspace = Workspace()
    session.on_ended(workspace.close)
    fields: reactive.Value[list[Field]] = reactive.value([])
    editor_values: dict[str, Any] = {}  # the form's paths as the editor last had them
    upload_message = reactive.value("")
    active: reactive.Value[Job | None] = reactive.value(None)
    progress_state: reactive.Value[dict[str, Any]] = reactive.value({})
    # the run whose answers show, and whether they are its preview (its first chunk)
    shown: reactive.Value[tuple[Job, bool] | None] = reactive.value(None)
    drawn: reactive.Value[Job | None] = reactive.value(None)  # the run whose figures show
    run_error = reactive.value("")
    finished: reactive.Value[list[Job]] = reactive.value([])  # runs with results, for Compare
    forecast_job: reactive.Value[Job | None] = reactive.value(None)
    forecast_error = reactive.value("")

    def load_text(text: str) -> None:
        """A new scenario: its text into the editor, its values into a new form."""
        data, _ = parse_yaml_text(text)
        ui.update_text_area("yaml", value=text)
        editor_values.clear()
        if data is not None:
            new = scenario_fields(data, scenario_schema())
            editor_values.update({f.path: f.value for f in new})
            fields.set(new)

    @reactive.effect
    @reactive.event(input.start)
    def _start() -> None:
        path = shipped_scenarios().get(input.start())
        if path is not None:
            upload_message.set("")
            load_text(Path(path).read_text(encoding="utf-8"))

    @reactive.effect
    @reactive.event(input.upload)
    def _upload() -> None:
        files = input.upload() or []
        if not files:
            return
        info = files[0]
        size = Path(info["datapath"]).stat().st_size
        if size > MAX_UPLOAD_BYTES:
            upload_message.set(
                f"upload {info['name']}: {size:,} bytes: a scenario file is at most "
                f"{MAX_UPLOAD_BYTES:,} bytes (upload the YAML itself, not a results folder)"
            )
            return
        try:
            text = Path(info["datapath"]).read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            upload_message.set(
                f"upload {info['name']}: not UTF-8 text (save the scenario as a YAML text file)"
            )
            return
        data, problem = parse_yaml_text(text)
        if data is None:
            upload_message.set(f"upload {info['name']}: {problem}")
            return
        upload_message.set(f"loaded {info['name']}")
        load_text(text)

    @render.ui
    def upload_msg() -> ui.Tag:
        text = upload_message()
        style = "editor-msg" if text and not text.startswith("loaded") else "field-help"
        return ui.div(text, class_=style)

    @reactive.effect
    @reactive.event(input.yaml)
    def _editor_to_form() -> None:
        """A field changed in the editor goes into the form (the last edit wins)."""
        data, _ = parse_yaml_text(input.yaml())
        if data is None:
            return
        new = scenario_fields(data, scenario_schema())
        current = fields.get()
        if [f.path for f in new] != [f.path for f in current]:
            editor_values.clear()
            editor_values.update({f.path: f.value for f in new})
            fields.set(new)
            return
        for item in new:
            if editor_values.get(item.path) != item.value:
                editor_values[item.path] = item.value
                ui.update_numeric(item.input_id, value=item.value)

    @render.ui
    def form() -> ui.Tag:
        return ui.div(*[field_input(item) for item in fields()])

    @reactive.calc
    def checked() -> tuple[dict[str, Any] | None, dict[str, str], list[str]]:
        """(the scenario mapping to run, messages by field path, other messages)."""
        data, problem = parse_yaml_text(input.yaml())
        if data is None:
            return None, {}, [problem] if input.yaml() else []
        values: dict[str, Any] = {}
        missing: dict[str, str] = {}
        for item in fields():
            if item.input_id not in input:
                continue
            value = input[item.input_id]()
            if value is None or value == "":
                missing[item.path] = f"{item.path}: enter a number ({item.label.lower()})"
            elif item.integer and float(value) == int(value):
                values[item.path] = int(value)
            else:
                values[item.path] = value
        if missing:
            return None, missing, []
        if value_at(data, "trial") is None:
            return None, {}, ["scenario YAML: no trial: block (start from a shipped scenario)"]
        try:
            candidate = with_values(data, values)
        except (KeyError, IndexError, TypeError):
            candidate = data  # the editor no longer has that path: the form re-renders
        try:
            sim.load_scenario(candidate)
        except sim.ScenarioError as error:
            by_field, rest = field_messages(str(error), [f.path for f in fields()])
            return None, by_field, rest
        return candidate, {}, []

    @reactive.effect
    async def _show_messages() -> None:
        _, by_field, _ = checked()
        await session.send_custom_message("field_messages", by_field)

    @render.ui
    def editor_msg() -> ui.Tag:
        _, _, rest = checked()
        return ui.div(*[ui.div(line) for line in rest], class_="editor-msg", id="editor-msg")

    # --- running ---------------------------------------------------------------------------

    def start(job: Job) -> None:
        job.started = time.monotonic()
        job.start()
        active.set(job)
        progress_state.set({"label": job.label, "done": 0, "total": job.reps, "stage": "start"})

    def stop_all() -> None:
        job = active.get()
        if job is not None:
            job.cancel()
        active.set(None)

    @reactive.effect
    @reactive.event(input.run)
    def _run() -> None:
        data, by_field, rest = checked()
        reps, seed = input.reps(), input.seed()
        run_error.set("")
        if data is None:
            first = next(iter(by_field.values()), None) or (rest[0] if rest else "")
            run_error.set(f"Fix the scenario first: {first}")
            return
        if not isinstance(reps, int | float) or not 1 <= reps <= MAX_REPS or reps != int(reps):
            run_error.set(f"replicates = {reps}: a whole number from 1 to {MAX_REPS:,}, e.g. 2000")
            return
        if not isinstance(seed, int | float) or seed < 0 or seed != int(seed):
            run_error.set(f"seed = {seed}: a whole number >= 0, e.g. 1")
            return
        reps, seed = int(reps), int(seed)
        stop_all()
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        # one run: its first chunk is the preview (the answer of a run of that many
        # replicates), the rest refine it; no replicate is computed twice
        start(workspace.new_job(text, reps, seed, "run", preview_replicates(reps)))

    @reactive.effect
    @reactive.event(input.cancel)
    def _cancel() -> None:
        if active.get() is not None:
            stop_all()
            progress_state.set({"stage": "cancelled"})

    @reactive.effect
    def _poll() -> None:
        job = active()
        if job is None:
            return
        reactive.invalidate_later(POLL_SECONDS)
        with reactive.isolate():
            status = job.status()
            stage = status["stage"]
            state = {
                "label": job.label,
                "done": job.done_reps(),
                "total": job.reps,
                "stage": stage,
                "message": status.get("message", ""),
                "seconds": int(time.monotonic() - job.started),
            }
            if state != progress_state():  # a redraw only when the line changes
                progress_state.set(state)
            view = shown()
            if job.kind == "run" and stage in ("preview", "figures", "done"):
                now = (job, stage == "preview")
                if view is None or view[0] is not job:  # the first answer of a Run: show it
                    ui.update_navset("tabs", selected="answers")
                if view != now:
                    shown.set(now)
            kept = any(run is job for run in finished())
            if stage in ("figures", "done") and job.kind == "run" and not kept:
                finished.set([*finished(), job])  # its results are complete: compare them
            if stage == "done" and job.kind == "run":
                drawn.set(job)
            if stage in ("done", "error", "cancelled"):
                active.set(None)

    @render.ui
    def progress() -> ui.Tag:
        state = progress_state()
        if run_error():
            return ui.div(run_error(), class_="editor-msg", id="run-msg")
        stage = state.get("stage")
        if not stage:
            return ui.div()
        if stage == "cancelled":
            return ui.div("Cancelled.", id="run-msg")
        if stage == "error":
            return ui.div(f"The run failed: {state['message']}", class_="editor-msg", id="run-msg")
        done, total = state.get("done", 0), max(1, state.get("total", 1))
        words = {
            "start": "starting",
            "starting": "starting",
            "simulating": f"{done:,} of {total:,} replicates ({state.get('seconds', 0)} s)",
            "preview": f"{done:,} of {total:,} replicates ({state.get('seconds', 0)} s)",
            "figures": "drawing the figures",
            "done": "finished",
        }
        share = 1.0 if stage in ("figures", "done") else done / total
        return ui.div(
            ui.div(f"{state['label'].capitalize()}: {words.get(stage, stage)}", id="run-msg"),
            ui.div(
                ui.div(class_="progress-inner", style=f"width: {share:.0%}"),
                class_="progress-outer",
            ),
        )

    # --- answers ----------------------------------------------------------------------------

    @reactive.calc
    def answer() -> dict[str, Any] | None:
        view = shown()
        if view is None:
            return None
        job, preview = view
        import pandas as pd

        if preview:  # the run's first chunk: a run of that many replicates' summary.csv
            summary = pd.read_csv(job.folder / "preview" / "summary.csv")
        else:
            summary = sim.read_results(job.folder / "run").summary
        path = job.folder / "design.csv"
        design = pd.read_csv(path) if path.is_file() else None
        scenario = yaml.safe_load((job.folder / "scenario.yaml").read_text(encoding="utf-8"))
        return {
            "job": job,
            "preview": preview,
            "reps": job.preview_reps if preview else job.reps,
            "summary": summary,
            "design": design,
            "scenario": scenario,
        }

    @render.ui
    def answers_head() -> ui.Tag:
        found = answer()
        if found is None:
            return ui.p("No run yet: set up the scenario and press Run on the left.", class_="lead")
        job, scenario, preview = found["job"], found["scenario"], found["preview"]
        refining = (
            f"A first answer: the run's first {found['reps']:,} replicates. The other "
            f"{job.reps - found['reps']:,} are under way (progress on the left) and will "
            "replace these numbers and add the figures."
            if preview and active() is job
            else ""
        )
        what = scenario_line(scenario, found["design"])
        kind = "a quick preview of " if preview else ""
        return ui.div(
            ui.h4(f"Answers from {kind}{found['reps']:,} simulated trials (seed {job.seed})"),
            ui.p(what, class_="lead", id="answers-scenario"),
            ui.p(refining, id="refining", class_="field-help") if refining else ui.div(),
        )

    @render.ui
    def answers_table() -> ui.Tag:
        found = answer()
        if found is None:
            return ui.div()
        table = key_questions(found["summary"], found["design"], found["scenario"])
        rows = "".join(
            f'<tr data-question="{i}"><td>{html.escape(q)}</td><td>{html.escape(s)}</td>'
            f"<td>{html.escape(c)}</td></tr>"
            for i, (q, s, c) in enumerate(table.itertuples(index=False))
        )
        head = "".join(f"<th>{html.escape(c)}</th>" for c in table.columns)
        return ui.div(
            ui.HTML(
                f'<table class="answers" id="answers"><thead><tr>{head}</tr></thead>'
                f"<tbody>{rows}</tbody></table>"
            ),
            ui.p(
                "Simulation: medians with the middle 90% of simulated trials; MC SE is the "
                "Monte Carlo standard error (more replicates make it smaller). Closed form: "
                "textbook formulas, which assume no scan schedule or clinic.",
                class_="field-help",
                style="margin-top: 0.5em",
            ),
        )

    @render.ui
    def downloads() -> ui.Tag:
        found = answer()
        if found is None:
            return ui.div()
        job = found["job"]
        if found["preview"]:
            return ui.p(
                "The downloads (scenario, results, report, code) come with the full run.",
                class_="field-help",
            )
        return ui.card(
            ui.card_header("Take this run with you"),
            ui.div(
                ui.download_button("dl_yaml", "Scenario (YAML)"),
                ui.download_button("dl_zip", "Results folder (zip)"),
                ui.download_button("dl_report", "Report (HTML)"),
                ui.download_button("dl_python", "Python code"),
                style="display: flex; gap: 0.5em; flex-wrap: wrap",
            ),
            ui.p("The same run from the command line, with the downloaded scenario:"),
            ui.pre(reproduce_command(job.reps, job.seed), id="command"),
            ui.p("or in Python:"),
            ui.pre(reproduce_python(job.reps, job.seed), id="python"),
        )

    def shown_job() -> Job:
        view = shown.get()
        if view is None or view[1]:
            raise ValueError("no finished run yet")
        return view[0]

    @render.download_button(filename="scenario.yaml")
    def dl_yaml() -> Any:
        yield (shown_job().folder / "scenario.yaml").read_bytes()

    @render.download_button(filename="results.zip")
    def dl_zip() -> Any:
        yield zip_folder(shown_job().folder / "run")

    @render.download_button(filename="report.html")
    def dl_report() -> Any:
        from sim.outputs.report import build_report

        yield build_report(shown_job().folder / "run").encode("utf-8")

    @render.download_button(filename="reproduce.py")
    def dl_python() -> Any:
        job = shown_job()
        yield reproduce_python(job.reps, job.seed).encode("utf-8")

    @reactive.effect
    def _compare_choices() -> None:
        runs = finished()
        choices = {str(i): run_label(i + 1, job) for i, job in enumerate(runs)}
        a = str(max(0, len(runs) - 2)) if runs else None
        b = str(len(runs) - 1) if runs else None
        ui.update_select("run_a", choices=choices, selected=a)
        ui.update_select("run_b", choices=choices, selected=b)

    @render.ui
    def comparison() -> ui.Tag:
        runs = finished()
        if len(runs) < 2:
            return ui.p(
                f"{len(runs)} finished run(s) so far: run at least two to compare them.",
                class_="field-help",
            )
        try:
            job_a, job_b = runs[int(input.run_a())], runs[int(input.run_b())]
        except (TypeError, ValueError, IndexError):
            return ui.div()
        # the API's comparison, as `python -m sim compare RUN_A RUN_B` computes and flags it
        try:
            compared = sim.compare([job_a.folder / "run", job_b.folder / "run"])
        except sim.ScenarioError as error:  # e.g. runs of different primary endpoints
            return ui.div(str(error), class_="editor-msg", id="comparison-msg")
        described = compared.described  # each metric's unit and meaning (the metric table's)
        table = comparison_table(compared.metrics, described)
        changes = [tuple(row) for row in compared.fields.itertuples(index=False)]
        differs = ui.tags.ul(*[ui.tags.li(f"{p}: {a} (A) -> {b} (B)") for p, a, b in changes])
        shown_columns = [c for c in table.columns if c != "metric"]
        head = "".join(f"<th>{html.escape(c)}</th>" for c in shown_columns)
        # a row's tooltip: the metric's name in summary.csv and its whole meaning
        body = "".join(
            f'<tr data-metric="{html.escape(row["metric"])}" title="'
            f'{html.escape(row["metric"] + ": " + described.at[row["metric"], "meaning"])}">'
            + "".join(f"<td>{html.escape(str(row[c]))}</td>" for c in shown_columns)
            + "</tr>"
            for _, row in table.iterrows()
        )
        paired = compared.paired
        return ui.div(
            ui.h5("What differs between the two scenarios"),
            differs if changes else ui.p("Nothing: the same scenario, seed and replicates."),
            ui.HTML(
                f'<table class="answers" id="comparison-table"><thead><tr>{head}</tr>'
                f"</thead><tbody>{body}</tbody></table>"
            ),
            ui.p(
                f"'beyond noise': the difference is more than {FLAG_SE:g} Monte Carlo standard "
                "errors, so it is not chance: exactly the differences `python -m sim compare` "
                "marks. After the key metrics come the other metrics it marks, each in the "
                "words of its meaning in summary.csv (its first sentence; rest the pointer on a "
                "row for the metric's name and its whole meaning). "
                + (
                    "The two runs share their seed and replicates, so each simulated trial of "
                    "run B drew the same random numbers as the one of run A: the standard "
                    "error is that of the paired differences, smaller than for independent runs."
                    if paired
                    else "The runs do not share their seed and replicates: the standard error "
                    "is that of two independent runs."
                ),
                class_="field-help",
            ),
        )

    @reactive.effect
    @reactive.event(input.forecast)
    def _forecast() -> None:
        data, by_field, rest = checked()
        forecast_error.set("")
        files = input.observed() or []
        reps, seed, as_of = input.reps(), input.seed(), input.as_of()
        problem = ""
        if data is None:
            first = next(iter(by_field.values()), None) or (rest[0] if rest else "")
            problem = f"Fix the scenario first (tab 1): {first}"
        elif not files:
            problem = "observed: upload the observed data first (a CSV, one row per patient)"
        elif sum(Path(f["datapath"]).stat().st_size for f in files) > MAX_OBSERVED_BYTES:
            names = ", ".join(f["name"] for f in files)
            problem = f"observed {names}: larger than {MAX_OBSERVED_BYTES:,} bytes in all"
        elif not isinstance(reps, int | float) or not 1 <= reps <= MAX_REPS:
            problem = f"replicates = {reps}: a whole number from 1 to {MAX_REPS:,}, e.g. 2000"
        elif not isinstance(seed, int | float) or seed < 0 or seed != int(seed):
            problem = f"seed = {seed}: a whole number >= 0, e.g. 1"
        knots, knots_problem = accrual_knots(input.accrual_knots())
        screening = input.screening() or []
        problem = problem or knots_problem
        if not problem and screening and screening[0]["size"] > MAX_OBSERVED_BYTES:
            problem = f"screening {screening[0]['name']}: larger than {MAX_OBSERVED_BYTES:,} bytes"
        if problem:
            forecast_error.set(problem)
            return
        stop_all()
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        job = workspace.new_job(text, int(reps), int(seed), "forecast")
        # no date: the API takes ADaM's data cut, or says the date is missing
        job.kind, job.as_of = "forecast", as_of.isoformat() if as_of is not None else ""
        job.unblinded = bool(input.unblinded())
        # empty (None): the API's default; a bad value: the API's message
        prior_events, prior_months = input.prior_events(), input.prior_months()
        job.options = {
            "accrual_model": input.accrual_model() or None,
            "accrual_knots": knots,
            "prior_events": None if prior_events in (None, "") else float(prior_events),
            "prior_months": None if prior_months in (None, "") else float(prior_months),
            "hr_threshold": float(input.hr_threshold() or 1.0),
        }
        write_observed(job.folder, [(f["name"], Path(f["datapath"])) for f in files])
        if screening:
            job.options["screening"] = write_observed(
                job.folder, [(screening[0]["name"], Path(screening[0]["datapath"]))], "screening"
            )[0]
        forecast_job.set(job)
        start(job)

    @render.ui
    def forecast_view() -> ui.Tag:
        if forecast_error():
            return ui.div(forecast_error(), class_="editor-msg", id="forecast-msg")
        job = forecast_job()
        if job is None:
            return ui.div()
        progress_state()  # redraw as the run goes on
        status = job.status()
        if status["stage"] == "error":
            return ui.div(status["message"], class_="editor-msg", id="forecast-msg")
        if status["stage"] != "done":
            return ui.p("Forecasting... (progress on the left)", id="forecast-msg")
        import pandas as pd

        results = sim.read_results(job.folder / "run")
        table = results.table("forecast")
        info = results.manifest["forecast"]
        as_of_used = info["as_of"]  # the one given, or the ADaM data sets' data cut
        shown_table = pd.DataFrame(
            {
                "milestone": table["milestone"].map(MILESTONES).fillna(table["milestone"]),
                "forecast (median)": table["median"].astype("string").fillna("not reached"),
                "80% of replicates": table["pi80_low"].astype("string").fillna("?")
                + " to "
                # beyond every date the replicates that get there reach (`forecast` says
                # "never" too): more than 10% never do, e.g. stopped at an interim look
                + table["pi80_high"].astype("string").fillna("never"),
                "get there at all": table["share_reached"].map(percent),
                "by the completion date": table["p_by_completion"].map(percent),
                "plan (median)": table["plan_median"].astype("string").fillna("not reached"),
                "plan: by the completion date": table["plan_p_by_completion"].map(percent),
            }
        )
        head = "".join(f"<th>{html.escape(c)}</th>" for c in shown_table.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
            for row in shown_table.itertuples(index=False)
        )
        parts = [
            ui.h4(f"Forecast as of {as_of_used} ({job.reps:,} simulated continuations)"),
            # few events: the dates lean on the plan
            *(
                [ui.p(info["maturity_note"], class_="caveat", id="forecast-caveat")]
                if info["maturity_note"]
                else []
            ),
            ui.HTML(
                f'<table class="answers" id="forecast-table"><thead><tr>{head}</tr></thead>'
                f"<tbody>{body}</tbody></table>"
            ),
            ui.p(
                "Forecast: the rest of the trial simulated from its own data (rates fitted "
                "to the observed patients); plan: the same scenario without data.",
                class_="field-help",
            ),
        ]
        success = sim.api.success_answer(
            results.summary, results.table("comparison"), info["hr_threshold"]
        )
        if success is not None:
            parts += [
                ui.p(
                    ui.strong("Probability of success: "),
                    f"{success.estimate} ({success.how_sure})"
                    + (f"; {success.plan}" if success.plan else ""),
                    id="forecast-success",
                    class_="lead",
                ),
                ui.p(
                    f"{success.words[0].upper()}{success.words[1:]} ({success.metric} in "
                    "summary.csv)."
                    + "".join(f" {line[:1].upper() + line[1:]}." for line in success.more),
                    id="forecast-success-words",
                    class_="field-help",
                ),
            ]
        parts.append(  # what it assumed, as `python -m sim forecast` says it
            ui.p(
                f"What the forecast assumed: {info['accrual']}; {info['prior']}.",
                id="forecast-assumed",
                class_="field-help",
            )
        )
        picture = job.folder / "run" / "forecast.png"
        if picture.is_file():
            data = base64.b64encode(picture.read_bytes()).decode("ascii")
            parts.append(
                ui.img(src=f"data:image/png;base64,{data}", style="max-width: 100%", alt="forecast")
            )
        return ui.div(*parts)

    @render.ui
    def figures() -> ui.Tag:
        job, view = drawn(), shown()
        if view is None:
            return ui.div()
        if job is not view[0]:
            waiting = "Drawing the figures..." if not view[1] else "The figures follow the run."
            return ui.p(waiting, class_="field-help")
        listing = job.folder / "figures" / "figures.json"
        if not listing.is_file():
            return ui.div()
        parts = [ui.h4(f"Figures ({job.reps:,} simulated trials)")]
        for item in json.loads(listing.read_text(encoding="utf-8")):
            png = (job.folder / "figures" / f"{item['name']}.png").read_bytes()
            data = base64.b64encode(png).decode("ascii")
            parts += [  # the figure's own headline is the reading; the caption says how
                ui.img(
                    src=f"data:image/png;base64,{data}",
                    alt=item["headline"],
                    style="max-width: 100%",
                    id=f"fig-{item['name']}",
                ),
                ui.div(f"How to read it: {item['caption']}", class_="figure-caption"),
            ]
        return ui.div(*parts)


def run_label(number: int, job: Job) -> str:
    data = yaml.safe_load((job.folder / "scenario.yaml").read_text(encoding="utf-8"))
    return (
        f"Run {number}: hazard ratio {value_at(data, 'effect.hazard_ratio')}, "
        f"{data['trial']['sample_size']} patients, {job.reps:,} replicates, seed {job.seed}"
    )


def make_app() -> App:
    """The Shiny application (for `shiny run sim.app.page:app` and the tests)."""
    return App(app_ui(), server)


app = make_app()
