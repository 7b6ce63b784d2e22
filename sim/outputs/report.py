"""One self-contained HTML report of a run or a sweep, for a steering committee.

A run's report opens with the answers (will the trial finish by the registered completion
date, when is each analysis, power or probability of success, what it needs: drug,
radiotherapy slots, infusion chairs) in sentences and a short table (`sim.outputs.answers`),
then the figures, each with a one-line reading, the milestone dates, and at the end every
metric in a collapsed appendix grouped by the metric table's groups, with units; the
assumptions and the manifest last. A table of contents links the sections.

Everything is inside the file: figures as PNG (``data:`` URIs; reduced to a 128-colour
palette, which keeps a figure's look at about a third of the bytes), tables as HTML, the
assumptions (the resolved scenario from the manifest, and the scenario YAML with its source
comments when the file named in the manifest still exists), and the manifest itself. The file
refers to nothing outside it: no external links, images, styles or scripts. ``--pdf`` prints
the same HTML (its collapsed parts opened) to a PDF through headless Chromium.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import html
import json
import math
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from sim.outputs.interim_words import interim_probability_text
from sim.outputs.plots import Panel, figure_png, run_figures, sweep_figures
from sim.scenario import (
    DAYS_PER_MONTH,
    ENDPOINT_WORDS,
    ScenarioError,
    apply_override,
    parse_scenario,
    read_scenario_yaml,
    scenario_to_dict,
)

STYLE = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 1.2em auto;
       max-width: 1180px; color: #222; line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.55em; margin: 0 0 0.1em; } h2 { border-bottom: 2px solid #ddd;
     padding-bottom: 0.2em; margin-top: 1.8em; font-size: 1.3em; }
h3 { font-size: 1.05em; margin: 0; display: inline; }
.meta { color: #555; margin: 0 0 0.5em; font-size: 0.92em; }
nav.toc { font-size: 0.9em; color: #555; border-top: 1px solid #ddd;
          border-bottom: 1px solid #ddd; padding: 0.3em 0; }
nav.toc a { color: #1f3a68; text-decoration: none; margin-right: 1.2em; }
.headline { background: #f3f6fb; border-left: 4px solid #1f3a68; padding: 0.6em 1em;
            margin: 0.8em 0; }
.caveat { background: #fff8e6; border-left: 4px solid #b36b00; padding: 0.5em 1em; }
table.data { border-collapse: collapse; font-size: 0.88em; margin: 0.5em 0 1em; }
table.data th, table.data td { border: 1px solid #ccc; padding: 3px 7px; text-align: right;
                               vertical-align: top; }
table.data th { background: #eef1f5; } table.data td:first-child { text-align: left; }
table.answers { border-collapse: collapse; width: 100%; font-size: 0.97em; }
table.answers th, table.answers td { border-bottom: 1px solid #dde3ea; padding: 5px 8px;
                                     text-align: left; vertical-align: top; }
table.answers th { background: #1f3a68; color: white; font-weight: 600; }
table.answers td:nth-child(1) { width: 30%; }
table.answers td:nth-child(2) { font-weight: 600; width: 42%; }
table.answers td:nth-child(3) { color: #555; font-size: 0.92em; }
figure { margin: 1.2em 0 2em; break-inside: avoid; }
figure img { max-width: min(100%, 960px); border: 1px solid #eee; display: block; }
p.reading { margin: 0 0 0.3em; } figcaption { color: #444; font-size: 0.9em; }
pre { background: #f7f7f7; border: 1px solid #e3e3e3; padding: 0.8em; white-space: pre-wrap;
      font-size: 0.82em; }
details { margin: 0.4em 0; } details summary { cursor: pointer; color: #1f3a68; }
table.fit { width: 100%; table-layout: auto; }
table.fit th { overflow-wrap: anywhere; }
table.fit td { overflow-wrap: break-word; } table.fit td:last-child { text-align: left; }
table.metrics td:last-child { text-align: left; color: #444; min-width: 16em; }
table.metrics td:nth-child(2) { text-align: left; }
table.metrics td:first-child { overflow-wrap: anywhere; max-width: 16em; }
table.data td.nowrap, table.data td.date { white-space: nowrap; }
@media print {
  body { max-width: none; margin: 0; font-size: 10pt; } nav.toc { display: none; }
  h2 { break-after: avoid; } table { break-inside: auto; } tr { break-inside: avoid; }
  thead { display: table-header-group; } a { color: inherit; text-decoration: none; }
}
@page { size: A4; margin: 14mm 12mm; }
"""


# --- pieces of HTML ------------------------------------------------------------------------


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


PALETTE_COLOURS = 128  # a figure's palette in the report: flat colours and their antialiasing


def compressed_png(figure: Any) -> bytes:
    """The figure as a PNG reduced to a `PALETTE_COLOURS`-colour palette (median cut),
    optimized: the same picture in about a third of the bytes of the full-colour PNG."""
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(figure_png(figure))).convert("RGB")
    buffer = io.BytesIO()
    image.quantize(colors=PALETTE_COLOURS, method=Image.Quantize.MEDIANCUT).save(
        buffer, format="PNG", optimize=True
    )
    return buffer.getvalue()


def figure_reading(panel: Panel) -> str:
    """The figure's one-line reading: the headline drawn above it (what it answers)."""
    return " ".join(panel.figure.get_suptitle().split())


def figure_html(panel: Panel, number: int) -> str:
    """A panel as an inline PNG (base64 data URI): its number and reading above, its
    caption (how to read it) below."""
    data = base64.b64encode(compressed_png(panel.figure)).decode("ascii")
    reading = figure_reading(panel)
    return (
        f'<figure id="fig-{esc(panel.name)}"><p class="reading"><b>Figure {number}.</b> '
        f"{esc(reading)}</p>"
        f'<img alt="{esc(panel.caption)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{esc(panel.caption)}</figcaption></figure>"
    )


def figures_html(panels: list[Panel]) -> list[str]:
    return [figure_html(panel, k) for k, panel in enumerate(panels, 1)]


def table_html(frame: pd.DataFrame, name: str, classes: str = "") -> str:
    """A whole DataFrame as an HTML table (numbers to 4 significant digits with thousands
    separators and no exponents, blanks for NA); `classes` add CSS classes (``fit``: the
    table takes the page's width and wraps its cells instead of scrolling sideways)."""
    from sim.engine.metrics import format_number

    shown = frame.copy()
    for column in shown.columns:
        if pd.api.types.is_float_dtype(shown[column]):
            shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else format_number(v))
    if "fit" in classes.split():  # long snake_case headers may break after an underscore
        shown.columns = [str(c).replace("_", "_\u200b") for c in shown.columns]
    body = shown.to_html(index=False, na_rep="", escape=True, border=0, classes="data")
    extra = f" {classes}" if classes else ""
    return body.replace(
        '<table class="dataframe data">',
        f'<table class="dataframe data{extra}" data-table="{esc(name)}">',
        1,
    )


def pre_html(text: str) -> str:
    return f"<pre>{html.escape(text, quote=False)}</pre>"


def section(title: str, *parts: str, anchor: str = "") -> str:
    """A titled section; `anchor` makes it a target of the table of contents."""
    ident = f' id="{esc(anchor)}"' if anchor else ""
    return f"<h2{ident}>{esc(title)}</h2>\n" + "\n".join(parts)


def toc_html(entries: list[tuple[str, str]]) -> str:
    """The table of contents: a line of links to the sections' anchors."""
    links = "".join(f'<a href="#{esc(anchor)}">{esc(title)}</a>' for anchor, title in entries)
    return f'<nav class="toc">Contents: {links}</nav>'


def page_html(title: str, body: list[str]) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="generator" content="{GENERATOR}">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


# --- tables --------------------------------------------------------------------------------


def month_to_date(start: dt.date, months: float) -> str:
    """The calendar date of `months` since `start`: the day the clock day falls in, as the
    replicates' dates and timeline.csv have it (`Calendar.to_datetime64` floors), so a date
    reads the same day in the summary, timeline.csv and the figures."""
    if pd.isna(months):
        return ""
    day = math.floor(months * DAYS_PER_MONTH + 1e-6)  # months = day / 30.4375, to rounding
    return (start + dt.timedelta(days=day)).isoformat()


def share_unit(metric: str) -> str:
    """The unit of a share in words: a share of replicates (power, p_target_by_completion:
    each replicate yes or no) is "% of replicates"; a mean over replicates of a share within
    each (a share of patients, of capacity, a difference of two shares) is "% in a trial,
    mean over replicates", not a share of trials."""
    from sim.engine.metric_table import find_metric

    found = find_metric(metric)
    if found is None or found.metric.statistic == "share":
        return "% of replicates"
    return "% in a trial, mean over replicates"


def summary_table(summary: pd.DataFrame, start: dt.date) -> pd.DataFrame:
    """summary.csv as read: numbers with their unit (shares in %), the 95% interval and the
    middle 90% of replicates each in one cell, the date of estimates in months since the
    start, and what each metric means (the registry's words)."""
    from sim.engine.metric_table import describe_metric
    from sim.engine.metrics import MONTHS_SINCE_START, format_number

    table = summary.copy()
    if "unit" not in table:  # a run folder from before units: describe it now
        table["unit"] = [describe_metric(m)[0] for m in table["metric"]]
        table["meaning"] = [describe_metric(m)[1] for m in table["metric"]]
    units = table["unit"].fillna("")

    def shown(column: str) -> list[str]:
        if column not in table:
            return [""] * len(table)
        return [
            format_number(None if pd.isna(v) else v, "share" if u == "share" else "")
            for v, u in zip(table[column], units, strict=True)
        ]

    def joined(low: list[str], high: list[str]) -> list[str]:
        return [f"{a} to {b}" if a and b else "" for a, b in zip(low, high, strict=True)]

    return pd.DataFrame(
        {
            "metric": table["metric"],
            "unit": [
                share_unit(m) if u == "share" else u
                for m, u in zip(table["metric"], units, strict=True)
            ],
            "estimate": shown("estimate"),
            "MC SE": shown("mc_se"),
            "95% interval": joined(shown("ci_low"), shown("ci_high")),
            "90% of replicates": joined(shown("q05"), shown("q95")),
            "as date": [
                month_to_date(start, v) if u == MONTHS_SINCE_START else ""
                for u, v in zip(units, summary["estimate"], strict=True)
            ],
            "meaning": table["meaning"],
        }
    )


def headline_html(
    summary: pd.DataFrame, manifest: dict[str, Any], timeline: pd.DataFrame | None = None
) -> str:
    """The answers in one paragraph: power, analysis by completion, key dates. A median
    date is timeline.csv's (the replicates it counts, its quantile), so the headline, the
    timeline and the figures give the same day; without a timeline, the summary's."""
    from sim.engine.metrics import reached_words

    values = summary.set_index("metric")
    medians = (
        {} if timeline is None else dict(zip(timeline["milestone"], timeline["q50"], strict=True))
    )
    # a milestone not every trial reaches: its median is over those that do, and says so
    reached = (
        {}
        if timeline is None
        else {row["milestone"]: reached_words(row) for row in timeline.to_dict("records")}
    )
    start = dt.date.fromisoformat(manifest["scenario"]["trial"]["start_date"])
    completion = manifest["scenario"]["trial"]["completion_date"]

    def share(metric: str) -> str:
        """As the answers table below gives it (`format_number`; an SE of 0 left out)."""
        if metric not in values.index or pd.isna(values.at[metric, "estimate"]):
            return "n/a"
        from sim.engine.metrics import format_number

        se = values.at[metric, "mc_se"]
        shown = format_number(values.at[metric, "estimate"], "share")
        return shown + (f" (MC SE {format_number(se, 'share')})" if pd.notna(se) and se > 0 else "")

    def date(milestone: str, metric: str) -> str:
        if milestone in medians:
            value = medians[milestone]
            if pd.isna(value) or not str(value):
                return "<b>not reached</b>"
            among = reached.get(milestone, "")
            return f"<b>{value}</b>" + (f" ({among})" if among else "")
        if metric not in values.index:
            return "n/a"
        return f"<b>{month_to_date(start, values.at[metric, 'estimate']) or 'not reached'}</b>"

    def number(metric: str) -> str:
        if metric not in values.index or pd.isna(values.at[metric, "estimate"]):
            return "n/a"
        from sim.engine.metrics import format_number

        low, high = values.get("q05", {}).get(metric), values.get("q95", {}).get(metric)
        spread = (
            f" (90% of replicates: {format_number(low)} to {format_number(high)})"
            if low is not None and pd.notna(low) and pd.notna(high)
            else ""
        )
        return f"{format_number(values.at[metric, 'estimate'])} on average{spread}"

    target = manifest["scenario"]["analysis"].get("event_target")
    endpoint = manifest["scenario"]["analysis"].get("endpoint", "pfs")
    events = ENDPOINT_WORDS[endpoint]["events"]
    looks = len(manifest["scenario"]["analysis"].get("looks") or [])
    if looks and "early_stop" in values.index:
        return sequential_headline_html(values, share, date, completion, looks, endpoint)
    target_words = f"the event target of {target} {events}" if target else "the event target"
    forecast = "forecast" in manifest  # its replicates continue one trial: not new trials
    trials = f"{manifest['replicates']:,} simulated {'continuations' if forecast else 'trials'}"
    power = (
        f"<b>Success?</b> At the analysis of the {ENDPOINT_WORDS[endpoint]['primary']} as the "
        f"scenario triggers it, the trial succeeds in <b>{share('power')}</b> of the "
        f"continuations ({forecast_success_words(manifest)}); if the data were cut on "
        f"{esc(completion)} instead, "
        f"<b>{share('power_at_completion')}</b>.</p>"
        if forecast
        else f"<b>Probability of success?</b> At the analysis of the "
        f"{ENDPOINT_WORDS[endpoint]['primary']} as the scenario triggers it, the trial "
        f"succeeds in <b>{share('power')}</b> of the simulated trials, each with its hazard "
        "ratio drawn from the design prior (the assurance, not the power at one hazard ratio"
        f"{prior_mean_words(values)}); if the data were cut on {esc(completion)} instead, "
        f"<b>{share('power_at_completion')}</b>.</p>"
        if "assurance" in values.index
        else f"<b>Power?</b> At the analysis of the {ENDPOINT_WORDS[endpoint]['primary']} as "
        f"the scenario triggers it, power <b>{share('power')}</b>; if the data were cut on "
        f"{esc(completion)} instead, <b>{share('power_at_completion')}</b>.</p>"
    )
    return (
        f'<p class="headline"><b>On time?</b> In <b>{share("p_target_by_completion")}</b> of '
        f"the {trials}, {target_words} is seen by the registered completion date "
        f"{esc(completion)}. {events[:1].upper() + events[1:]} seen by then: "
        f"{number('events_at_completion_mean')}. The analysis is cut by the event target in "
        f"{share('p_cut_by_events')}, by the calendar date in {share('p_cut_by_date')}.<br>"
        f"<b>When?</b> Median dates: last patient randomized "
        f"{date('randomized_100pct', 'lpi_months_median')}, "
        f"{ENDPOINT_WORDS[endpoint]['target_reached']} "
        f"{date('target_events', 'target_events_months_median')}, final analysis "
        f"{date('final_analysis', 'analysis_months_median')}.<br>" + power
    )


def forecast_success_words(manifest: dict[str, Any]) -> str:
    """What a forecast's share of succeeding continuations is: unblinded, a probability of
    success given the data so far; blinded, the same at the design's hazard ratio (or
    over the design prior), since masked data say nothing of the effect."""
    if not manifest["forecast"].get("blinded", True):
        return "a probability of success given the data so far, not the design's power"
    effect = (
        "each with its hazard ratio drawn from the design prior"
        if manifest["scenario"].get("prior")
        else "at the design's hazard ratio"
    )
    return f"blinded: {effect}, given the pooled data so far, which say nothing of the effect"


def prior_mean_words(values: pd.DataFrame) -> str:
    """'; the power at the prior's mean log HR: 80.4%, the closed form' of a run with a
    design prior, '' without power_at_prior_mean."""
    from sim.engine.metrics import format_number

    if "power_at_prior_mean" not in values.index:
        return ""
    power = values.at["power_at_prior_mean", "estimate"]
    if pd.isna(power):
        return ""
    return f"; the power at the prior's mean log HR: {format_number(power, 'share')}, closed form"


def sequential_headline_html(
    values: pd.DataFrame, share: Any, date: Any, completion: str, looks: int, endpoint: str
) -> str:
    """The headline of a design with interim looks: when the trial is concluded (stopped at a
    look or final analysis held), the share stopped at each look, then the final analysis."""
    success = (  # with a design prior, `power` counts replicates with drawn hazard ratios
        f"Probability of success (assurance, over the design prior{prior_mean_words(values)})"
        if "assurance" in values.index
        else "Power"
    )
    stops = "; ".join(
        f"look {k}: efficacy <b>{share(f'reject_look{k}')}</b>, futility "
        f"<b>{share(f'futility_look{k}')}</b>"
        for k in range(1, looks)
    )
    return (
        f'<p class="headline">Trial concluded (stopped at an interim look, or its final '
        f"analysis held) by the registered completion date {esc(completion)} in "
        f"<b>{share('p_concluded_by_completion')}</b> of replicates: stopped early in "
        f"<b>{share('early_stop')}</b> ({stops}); final analysis (look {looks}) held by then "
        f"in <b>{share(f'p_look{looks}_by_completion')}</b>. Stopped early or event target "
        f"seen by then: <b>{share('p_stopped_or_target_by_completion')}</b> (the event target "
        f"alone: {share('p_target_by_completion')}, which a trial stopped early does not need). "
        f"{success} <b>{share('power')}</b> ({ENDPOINT_WORDS[endpoint]['primary']}: efficacy "
        f"bound crossed at some look before a futility stop). Median dates: trial concluded "
        f"{date('concluded', 'analysis_months_median')}; interim look 1 "
        f"{date('look1', 'look1_months_median')}; among the trials that get there, "
        f"last patient randomized {date('randomized_100pct', 'lpi_months_median')}, "
        f"{ENDPOINT_WORDS[endpoint]['target_reached']} "
        f"{date('target_events', 'target_events_months_median')}"
        f", final analysis {date(f'look{looks}', f'look{looks}_months_median')}.</p>"
    )


def all_or_none_words(table: pd.DataFrame, reps: int) -> str:
    """A sentence for a key table in which a share is 0% or 100% with a standard error of 0
    (none or every one of the replicates): that is not certainty; the rule of three bounds
    the true share within 3 / reps of it (95%). Empty when there is no such share."""
    from sim.engine.metric_table import describe_metric, key_metrics_of

    shares = [
        m for m in key_metrics_of(table.columns) if m in table and describe_metric(m)[0] == "share"
    ]
    if not any(((table[m].isin([0.0, 1.0])) & (table[f"{m}_mc_se"] == 0)).any() for m in shares):
        return ""
    return (
        f" A share shown as 100.0% (all {reps:,}) or 0.0% (none of {reps:,}) is every or "
        "none of the replicates, whose standard error of 0 is not certainty: the true share "
        f"may be up to {3 / reps:.1%} from it (95%, the rule of three)."
    )


def sweep_key_table(table: pd.DataFrame, manifest: dict[str, Any]) -> pd.DataFrame:
    """Per point: the key metrics as `estimate ± MC SE` under headings in words, then what
    the point changes from the base scenario (``field = value``, separated by semicolons;
    the grid's points are named by their values already, so only a sweep of variants has
    it). The headings are the metric table's (`metric_heading`)."""
    from sim.engine.metric_table import describe_metric, key_metrics_of, metric_heading
    from sim.engine.metrics import format_with_se

    key = pd.DataFrame({"#": table["point"], "scenario": table["label"]})
    for metric in key_metrics_of(table.columns):  # the answers first
        if metric in table:
            unit = "share" if describe_metric(metric)[0] == "share" else ""
            key[metric_heading(metric)] = [
                format_with_se(v, s, unit, manifest.get("replicates"))
                for v, s in zip(table[metric], table[f"{metric}_mc_se"], strict=True)
            ]
    if manifest.get("variants"):
        changes = {p["point"]: p["params"] for p in manifest["points"]}
        key["changed from the base scenario"] = [
            "; ".join(
                f"{field} = {json.dumps(value, separators=(', ', ': '))}"
                for field, value in changes.get(point, {}).items()
            )
            or "(none)"
            for point in table["point"]
        ]
    return key


# --- assumptions ---------------------------------------------------------------------------


def source_yaml(manifest: dict[str, Any]) -> tuple[str, str] | None:
    """(note, text) of the scenario YAML named in the manifest, if it still exists."""
    path = Path(manifest.get("scenario_path") or "")
    if not manifest.get("scenario_path") or not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    try:
        data = read_scenario_yaml(path)
        for assignment in manifest.get("overrides", []):
            apply_override(data, assignment)
        same = scenario_to_dict(parse_scenario(data, str(path))) == manifest.get("scenario")
    except ScenarioError:
        same = False
    note = f"{path}, as on disk when this report was made" + (
        ""
        if same
        else ": it no longer gives the scenario of this run (edited since, "
        "or overridden by the sweep); the resolved scenario above is "
        "what was simulated"
    )
    return note, text


def assumptions_html(manifest: dict[str, Any]) -> str:
    parts = [
        '<details class="appendix"><summary>The resolved scenario, as simulated (from '
        "manifest.json)</summary>"
        + pre_html(yaml.safe_dump(manifest["scenario"], sort_keys=False))
        + "</details>",
    ]
    if manifest.get("overrides"):
        parts += [
            "<p>Overrides on the command line (<code>--set</code>):</p>",
            pre_html("\n".join(manifest["overrides"])),
        ]
    source = source_yaml(manifest)
    if source is not None:
        note, text = source
        parts.append(
            f'<details class="appendix"><summary>Scenario file with its source comments: '
            f"{esc(note)}.</summary>{pre_html(text)}</details>"
        )
    else:
        parts.append(
            f"<p>The scenario file {esc(manifest.get('scenario_path') or '(none)')} "
            "is not available here, so its source comments are not shown.</p>"
        )
    return "\n".join(parts)


def manifest_html(manifest: dict[str, Any]) -> str:
    shown = {k: v for k, v in manifest.items() if k != "scenario"}
    return (
        "<details><summary>manifest.json (without the scenario, shown above)</summary>"
        + pre_html(json.dumps(shown, indent=2, default=str))
        + "</details>"
    )


# --- whole reports -------------------------------------------------------------------------


def made_text(created: str) -> str:
    """The manifest's creation time as people write it (6 Dec 2026, 23:55 UTC)."""
    try:
        when = dt.datetime.fromisoformat(created).astimezone(dt.UTC)
    except ValueError:
        return created
    return f"{when.day} {when:%b %Y, %H:%M} UTC"


KIND_TITLES = {
    "run": "simulated conduct of the trial",
    "sweep": "simulated conduct across scenarios (sweep)",
}


def header_html(folder: Path, manifest: dict[str, Any], kind: str) -> str:
    trial = manifest["scenario"]["trial"]
    return (
        f"<h1>{esc(trial['id'])}: {esc(KIND_TITLES.get(kind, kind + ' report'))}</h1>"
        f'<p class="meta">{esc(trial.get("title", ""))}<br>Folder {esc(folder)}; '
        f"{manifest['replicates']:,} replicates, seed {esc(manifest['seed'])}; made "
        f"{esc(made_text(manifest.get('created', '')))}; metrics version "
        f"{esc(manifest.get('metrics_version'))}.</p>"
    )


GROUP_TITLES = {  # the metric table's groups, in words; a new group shows as its name
    "timeline": "Calendar: event target, data cut and dates",
    "power": "Power",
    "efficacy": "Efficacy estimates",
    "conduct": "Conduct: screening, withdrawals, scans",
    "clinic": "Clinic: cycles, waits, radiotherapy, capacity",
    "supply": "Drug supply",
    "overall_survival": "Overall survival",
    "progression_free_survival": "Progression-free survival (secondary)",
    "response": "Tumour response",
    "local_control": "Local control",
    "safety": "Safety",
    "sequential": "Interim looks",
    "tests": "Other tests",
}
GROUP_NOTES = {
    "overall_survival": "Illness-death model: deaths without progression (the PFS deaths) "
    "and after a progression (post-progression survival). OS at the PFS analysis cut, at its "
    "own cut if the scenario has one (with OS primary: the primary analysis, in the first "
    "groups), and the deaths by the maturity date (OS maturity).",
    "progression_free_survival": "With OS primary: PFS (progression seen at the scans, or "
    "death) at the data cut of the OS analysis, the log-rank test and Cox hazard ratio as the "
    "primary analysis; the Kaplan-Meier medians are median_pfs_* among the efficacy "
    "estimates.",
    "response": "Best overall response at the scheduled scans (the same scans as PFS): ORR "
    "(CR + PR) and DCR (CR + PR + SD) among all patients in the analysis, the difference with "
    "Newcombe's interval and the CMH test across strata.",
    "local_control": "Local control of the irradiated (index) lesion, followed in both arms: "
    "Kaplan-Meier rate at the landmarks (Greenwood variance), the z test of the difference "
    "and the log-rank test of time to local progression.",
    "safety": "Treatment-related adverse events by kind and grade per arm (the same events "
    "cause the clinic's delays, reductions, discontinuations and RT stops): patients with an "
    "event, incidence among the treated, and the chance of seeing at least k cases.",
}


def metric_groups(summary: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """summary.csv's rows by the metric table's group of each, groups in their first
    row's order (a metric the table does not know: group "other")."""
    from sim.engine.metric_table import find_metric

    found = [find_metric(name) for name in summary["metric"]]
    groups = pd.Series([f.metric.group if f else "other" for f in found], index=summary.index)
    return [(group, summary[groups == group]) for group in dict.fromkeys(groups)]


def appendix_html(summary: pd.DataFrame, start: dt.date) -> str:
    """Every metric of summary.csv, one collapsed block per group of the metric table."""
    parts = [
        "<p>Every metric of summary.csv with its unit, Monte Carlo standard error, 95% "
        "interval (the uncertainty of the estimate) and the middle 90% of replicates (what "
        "one trial may see), grouped as the metric table groups them. Click a group to open "
        "it.</p>"
    ]
    for group, rows in metric_groups(summary):
        title = GROUP_TITLES.get(group, group.replace("_", " ").capitalize())
        note = f"<p>{esc(GROUP_NOTES[group])}</p>" if group in GROUP_NOTES else ""
        parts.append(
            f'<details class="appendix" id="group-{esc(group)}"><summary><h3>{esc(title)}'
            f"</h3> ({len(rows)} metrics)</summary>{note}"
            + table_html(summary_table(rows, start), f"summary-{group}", "fit metrics")
            + "</details>"
        )
    return "\n".join(parts)


def answers_html(
    folder: Path, manifest: dict[str, Any], summary: pd.DataFrame, timeline: pd.DataFrame
) -> list[str]:
    """The answers a run's report opens with (a forecast's lead first, the headline, the
    answers table and what MC SE means); a notebook shows them for a run's `Results`."""
    from sim.outputs.answers import answer_rows

    rows = answer_rows(summary, timeline, manifest)
    answers = pd.DataFrame(
        [(r.question, r.answer, r.spread) for r in rows],
        columns=["question", "answer", "how sure / range"],
    )
    return [
        *([forecast_lead_html(folder, manifest, summary)] if "forecast" in manifest else []),
        headline_html(summary, manifest, timeline),
        answers_table_html(answers),
        '<p class="meta">MC SE: the Monte Carlo standard error of an estimate (it shrinks '
        "with more replicates); a range over trials is what one trial may see. Dates are "
        "medians over the simulated trials.</p>",
    ]


def run_report(folder: Path, manifest: dict[str, Any]) -> str:
    summary = pd.read_csv(folder / "summary.csv")
    timeline = pd.read_csv(folder / "timeline.csv")
    start = dt.date.fromisoformat(manifest["scenario"]["trial"]["start_date"])
    first = answers_html(folder, manifest, summary, timeline)
    contents = [("answers", "Answers")]
    extra = []
    if (words := interim_probability_text(summary, manifest)) is not None:
        extra.append(
            section(
                "Probability of success at the interim looks",
                f"<p>{esc(words)}</p>",
                anchor="interim-success",
            )
        )
        contents.append(("interim-success", "Success at the looks"))
    if "assurance" in set(summary["metric"]):
        extra.append(assurance_html(summary, manifest))
        contents.append(("success", "Probability of success"))
    if "forecast" in manifest:
        extra.append(forecast_html(folder, manifest))
        contents.append(("forecast", "Forecast"))
    contents += [
        ("figures", "Figures"),
        ("milestones", "Milestone dates"),
        ("appendix", "All metrics"),
        ("assumptions", "Assumptions"),
        ("manifest", "Manifest"),
    ]
    body = [
        header_html(folder, manifest, "run"),
        toc_html(contents),
        section("The answers", *first, anchor="answers"),
        *extra,
        section("Figures", *figures_html(run_figures(folder)), anchor="figures"),
        section(
            "Milestone dates",
            "<p>Dates across replicates (5%, 25%, 50%, 75%, 95% quantiles) among the "
            "replicates each row counts (column counted).</p>",
            table_html(timeline, "timeline", "fit"),
            anchor="milestones",
        ),
        section("All metrics (appendix)", appendix_html(summary, start), anchor="appendix"),
        section("Assumptions", assumptions_html(manifest), anchor="assumptions"),
        section("Manifest", manifest_html(manifest), anchor="manifest"),
    ]
    return page_html(f"{manifest['scenario']['trial']['id']} run report", body)


def answers_table_html(answers: pd.DataFrame) -> str:
    body = answers.to_html(index=False, escape=True, border=0, classes="answers")
    return body.replace(
        '<table class="dataframe answers">', '<table class="answers" data-table="answers">', 1
    )


def assurance_html(summary: pd.DataFrame, manifest: dict[str, Any]) -> str:
    """A run with a design prior: its probability of success in plain words."""
    from sim.engine.metrics import format_number

    rows = summary.set_index("metric")

    def share(metric: str) -> str:
        est, se = rows.loc[metric, "estimate"], rows.loc[metric, "mc_se"]
        return f"{format_number(est, 'share')} (MC SE {100 * se:.1f} points)"

    prior = manifest["scenario"]["prior"]
    no_benefit = prior.get("no_benefit_hr", 1.0)
    hr = prior["hazard_ratio"]
    belief = (
        f"lognormal, median {hr['median']:g}, sd of log HR {hr['sd_log']:g}"
        if hr["distribution"] == "lognormal"
        else ", ".join(
            f"HR {v:g} with probability {w:g}"
            for v, w in zip(hr["values"], hr["weights"], strict=True)
        )
    )
    return section(
        "Probability of success",
        f"<p>Each replicate drew its own true hazard ratio from the design prior "
        f"({esc(belief)}), so the share of successful trials is the assurance: "
        f"the chance of success given what the team believes, not the power at one hazard "
        f"ratio. Assurance {esc(share('assurance'))}. Among the replicates whose drawn hazard "
        f"ratio was below {no_benefit:g} (the treatment works), "
        f"{esc(share('p_success_given_effective'))} succeeded. A success although the drawn "
        f"hazard ratio was {no_benefit:g} or more (the treatment does not work) happened in "
        f"{esc(share('p_false_success'))} of all replicates. The assurance figure shows the "
        "power at each hazard ratio with the prior's belief beneath it.</p>",
        anchor="success",
    )


def forecast_lead_html(folder: Path, manifest: dict[str, Any], summary: pd.DataFrame) -> str:
    """What a forecast's report says first: from which data, how likely success is beside
    the plan's (as `python -m sim forecast` says it: `success_answer`), and the few-events
    caveat when there is one."""
    from sim.engine.forecast import success_answer

    info = manifest["forecast"]
    success = success_answer(summary, pd.read_csv(folder / "comparison.csv"), info["hr_threshold"])
    lead = (
        f'<p class="headline"><b>Forecast as of {esc(info["as_of"])}</b> from '
        f"{esc(info['patients'])} randomized patients and {esc(info['events'])} PFS events: "
        f"the rest of the trial simulated {manifest['replicates']:,} times from its own data; "
        "the figures below count these continuations of one trial, not new trials."
    )
    if success is not None:
        lead += (
            f"<br><b>How likely is success?</b> <b>{esc(success.estimate)}</b> ("
            f"{esc(success.how_sure)}; {esc(success.words)}"
            + (f"; {esc(success.plan)}" if success.plan else "")
            + ")."
            + "".join(f" {esc(line[:1].upper() + line[1:])}." for line in success.more)
        )
    caveat = f'<p class="caveat">{esc(info["maturity_note"])}</p>' if info["maturity_note"] else ""
    return caveat + lead + "</p>"


def forecast_html(folder: Path, manifest: dict[str, Any]) -> str:
    """A forecast folder's own section: the fan, milestones against the plan, the fit."""
    info = manifest["forecast"]
    png = base64.b64encode((folder / "forecast.png").read_bytes()).decode("ascii")
    accrual = info.get("accrual_prior_patients")  # the time-decay model's prior, if used
    accrual_prior = (
        f"accrual model {esc(info.get('accrual_model', 'plan'))} with the plan worth "
        f"{esc(f'{accrual:g}')} patients"
        if accrual is not None
        else f"site-rate prior {esc(info.get('site_prior', info['prior_months']))}"
    )
    return section(
        f"Forecast as of {info['as_of']} against the plan",
        f"<p>From {esc(info['patients'])} randomized patients, {esc(info['events'])} PFS "
        f"events and {esc(info['dropouts'])} dropouts ({'blinded' if info['blinded'] else 'by arm'}"
        f"); {accrual_prior}, hazards worth {esc(info['prior_events'])} events. The plan is the "
        "same scenario, seed and replicates without data.</p>",
        f'<figure id="fig-forecast"><img alt="observed to the as-of date, then the forecast" '
        f'src="data:image/png;base64,{png}"><figcaption>Observed counts to the as-of date, '
        "then the forecast's median, 50% and 90% bands.</figcaption></figure>",
        "<p>Milestones: median and 80% / 90% prediction intervals.</p>",
        table_html(pd.read_csv(folder / "forecast.csv"), "forecast", "fit"),
        table_html(pd.read_csv(folder / "comparison.csv"), "comparison", "fit"),
        "<p>Prior, observed and posterior of each rate (fit.csv).</p>",
        table_html(pd.read_csv(folder / "fit.csv"), "fit", "fit"),
        anchor="forecast",
    )


POINTS_PER_TABLE = 6  # points side by side in the sweep's all-metrics tables (fit the page)


def sweep_metric_tables(table: pd.DataFrame, reps: int | None = None) -> list[str]:
    """sweep.csv's metrics with the points as columns (estimate ± MC SE; a share of all or
    none of the `reps` replicates as such), at most `POINTS_PER_TABLE` points a table, so
    that no table is wider than the page."""
    from sim.engine.metric_table import describe_metric
    from sim.engine.metrics import format_with_se

    settings = {"point", "name", "label", "variant"}
    metrics = [
        c for c in table.columns if c not in settings and "." not in c and not c.endswith("_mc_se")
    ]
    parts = []
    for first in range(0, len(table), POINTS_PER_TABLE):
        rows = table.iloc[first : first + POINTS_PER_TABLE]
        shown = pd.DataFrame({"metric": metrics})
        for rec in rows.to_dict("records"):
            cells = []
            for metric in metrics:
                unit = "share" if describe_metric(metric)[0] == "share" else ""
                se = rec.get(f"{metric}_mc_se")
                cells.append(format_with_se(rec[metric], se, unit, reps))
            shown[f"{rec['point']}: {rec['label']}"] = cells
        parts.append(table_html(shown, "sweep", "fit"))
    return parts


def sweep_report(folder: Path, manifest: dict[str, Any]) -> str:
    table = pd.read_csv(folder / "sweep.csv")
    grid = "; ".join(f"{p} = {', '.join(map(str, v))}" for p, v in manifest["grid"].items())
    variants = ", ".join(v["name"] for v in manifest.get("variants", []))
    settings = " x ".join(
        x for x in (f"variants {variants}" if variants else "", f"grid {grid}" if grid else "") if x
    )
    contents = [
        ("key", "Key metrics"),
        ("figures", "Figures"),
        ("appendix", "All metrics"),
        ("assumptions", "Assumptions"),
        ("manifest", "Manifest"),
    ]
    body = [
        header_html(folder, manifest, "sweep"),
        toc_html(contents),
        f'<p class="headline">{len(table)} points ({esc(settings)}), each with the same seed '
        "and replicates (common random numbers), so differences between points are "
        "differences of the scenario, not noise.</p>",
        section(
            "Key metrics",
            "<p>Estimate ± Monte Carlo standard error; the completion date is the registered "
            f"one, {html.escape(str(manifest['scenario']['trial']['completion_date']))}."
            f"{all_or_none_words(table, int(manifest['replicates']))}</p>",
            table_html(sweep_key_table(table, manifest), "sweep_key", "fit"),
            anchor="key",
        ),
        section("Figures", *figures_html(sweep_figures(folder)), anchor="figures"),
        section(
            "All metrics (appendix)",
            '<details class="appendix"><summary>every metric of sweep.csv, estimate ± MC SE '
            f"per point ({POINTS_PER_TABLE} points a table)</summary>"
            + "\n".join(sweep_metric_tables(table, manifest.get("replicates")))
            + "</details>",
            anchor="appendix",
        ),
        section(
            "Assumptions",
            "<p>The base scenario; each point changes only the fields in its row.</p>",
            assumptions_html(manifest),
            anchor="assumptions",
        ),
        section("Manifest", manifest_html(manifest), anchor="manifest"),
    ]
    return page_html(f"{manifest['scenario']['trial']['id']} sweep report", body)


def build_report(folder: Path) -> str:
    """The HTML report of a run or sweep folder; raises ScenarioError if it is neither."""
    from sim.engine.results import read_run

    manifest = read_run(folder, sweep_ok=True)
    if manifest.get("kind") == "sweep":
        return sweep_report(folder, manifest)
    return run_report(folder, manifest)


def check_out_html(out: Path) -> None:
    if out.suffix.lower() not in (".html", ".htm"):
        raise ScenarioError(f"--out {out}: must end in .html (e.g. --out report.html)")
    if out.is_dir():
        raise ScenarioError(f"--out {out}: is a folder; give a file name ending in .html")


GENERATOR = "sim report"  # in every report's <head>: what made the page


def write_text_atomic(path: Path, text: str, *, force: bool = False) -> None:
    """Write via a staging folder beside `path`, so a failed write leaves no half file; an
    existing file is replaced only if sim's record lists it as a report it wrote (changed
    since: only with `force`)."""
    from sim.storage.folders import output_files

    with output_files([path], force, needs_force=False) as staging:
        (staging / path.name).write_text(text, encoding="utf-8")


CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
PDF_SECONDS = 120  # Chromium prints a report in seconds; past this it is stuck


def find_chromium() -> str | None:
    """The path of a headless-capable Chromium (or Chrome), or None."""
    import shutil

    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def printable(text: str) -> str:
    """The report with its collapsed appendix opened, as it is printed (a closed
    <details> prints only its summary line)."""
    return text.replace('<details class="appendix"', '<details open class="appendix"')


def print_pdf(html_text: str, pdf: Path, chromium: str) -> None:
    """Print `html_text` to the file `pdf` through headless Chromium (A4, no header or
    footer). Raises ScenarioError if Chromium fails."""
    import os
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory(prefix="sim-pdf-") as scratch:
        page = Path(scratch) / "report.html"
        page.write_text(printable(html_text), encoding="utf-8")
        command = [
            chromium,
            "--headless",
            "--disable-gpu",
            "--no-pdf-header-footer",
            f"--user-data-dir={scratch}/profile",  # never the user's own browser profile
            f"--print-to-pdf={pdf}",
            page.as_uri(),
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            # Chromium refuses to run as root with its sandbox; the page is our own file
            command.insert(1, "--no-sandbox")
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=PDF_SECONDS, check=False
            )
        except subprocess.TimeoutExpired:
            raise ScenarioError(
                f"--pdf: {chromium} did not finish printing within {PDF_SECONDS} s; "
                "print the HTML report from a browser instead"
            ) from None
        if done.returncode != 0 or not pdf.is_file():
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise ScenarioError(
                f"--pdf: {chromium} could not print the report (exit {done.returncode}: "
                f"{last}); print the HTML report from a browser instead"
            )


def write_report(
    folder: Path, out: Path | None = None, *, force: bool = False, pdf: bool = False
) -> tuple[Path, int, Path | None]:
    """Write the report of a run or sweep folder (default FOLDER/report.html) and, with
    `pdf`, the PDF beside it (same name, .pdf) if Chromium is installed. Returns (the HTML
    path, its size in bytes, the PDF path or None when Chromium is absent)."""
    from sim.storage.folders import output_files

    out = out or folder / "report.html"
    check_out_html(out)
    text = build_report(folder)
    chromium = find_chromium() if pdf else None
    if chromium is None:
        write_text_atomic(out, text, force=force)
        return out, len(text.encode("utf-8")), None
    # the HTML and the PDF are staged together and both targets checked first: a PDF that
    # cannot be written (a file of the user's in the way) leaves no HTML behind either
    target = out.with_suffix(".pdf")
    with output_files([out, target], force, needs_force=False) as staging:
        (staging / out.name).write_text(text, encoding="utf-8")
        print_pdf(text, staging / target.name, chromium)
    return out, len(text.encode("utf-8")), target


# --- command line --------------------------------------------------------------------------


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``report`` to the ``python -m sim`` subcommands."""
    report = subparsers.add_parser(
        "report",
        help="one self-contained HTML report of a run or sweep",
        description="Write one self-contained HTML file (the answers first, then figures, "
        "milestones, every metric in an appendix, assumptions and manifest) for a run or "
        "sweep folder; --pdf prints it to a PDF too.",
    )
    report.add_argument("folder", type=Path, help="a run or sweep folder")
    report.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="FILE.html",
        help="output file (default: FOLDER/report.html); a report sim wrote is "
        "replaced, any other file is refused",
    )
    report.add_argument(
        "--force",
        action="store_true",
        help="replace a report sim wrote even if it was changed since",
    )
    report.add_argument(
        "--pdf",
        action="store_true",
        help="also print the report to FILE.pdf through headless Chromium (skipped, with a "
        "note, when Chromium is not installed)",
    )
    report.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    out, size, pdf = write_report(args.folder, args.out, force=args.force, pdf=args.pdf)
    print(f"report -> {out} ({size / 1e3:,.0f} KB)", file=sys.stderr)
    if pdf is not None:
        print(f"pdf -> {pdf}", file=sys.stderr)
    elif args.pdf:
        print(
            "note: no PDF: headless Chromium is not installed (looked for "
            f"{', '.join(CHROMIUM_NAMES)}); print {out} from a browser instead",
            file=sys.stderr,
        )
    return 0
