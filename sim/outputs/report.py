"""One self-contained HTML report of a run or a sweep, for e-mailing to planners.

Everything is inside the file: figures as base64 PNG (``data:`` URIs), tables as HTML, the
assumptions (the resolved scenario from the manifest, and the scenario YAML with its source
comments when the file named in the manifest still exists), and the manifest itself. The file
refers to nothing outside it: no links, no external images, styles or scripts.
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
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1280px; color: #222; line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { border-bottom: 2px solid #ddd;
     padding-bottom: 0.2em; margin-top: 2em; }
.meta { color: #555; } .headline { background: #f3f6fb; border-left: 4px solid #1f3a68;
        padding: 0.6em 1em; }
table.data { border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0 1em; }
table.data th, table.data td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
table.data th { background: #eef1f5; } table.data td:first-child { text-align: left; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #444; font-size: 0.92em; }
pre { background: #f7f7f7; border: 1px solid #e3e3e3; padding: 0.8em; overflow-x: auto;
      font-size: 0.85em; }
details summary { cursor: pointer; color: #1f3a68; }
div.scroll { overflow-x: auto; max-width: 100%; }
table.data td { white-space: nowrap; }
table[data-table="summary"] td:last-child { text-align: left; white-space: normal;
                                            min-width: 18em; color: #444; }
table[data-table="summary"] td:nth-child(2) { text-align: left; }
table[data-table="summary"] td:first-child { white-space: normal; overflow-wrap: anywhere;
                                             min-width: 17em; max-width: 22em; }
"""


# --- pieces of HTML ------------------------------------------------------------------------


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def figure_html(panel: Panel) -> str:
    """A panel as an inline PNG (base64 data URI) with its caption."""
    data = base64.b64encode(figure_png(panel.figure)).decode("ascii")
    return (
        f'<figure id="fig-{esc(panel.name)}"><img alt="{esc(panel.caption)}" '
        f'src="data:image/png;base64,{data}"><figcaption>{esc(panel.caption)}'
        "</figcaption></figure>"
    )


def table_html(frame: pd.DataFrame, name: str) -> str:
    """A whole DataFrame as an HTML table (numbers to 4 significant digits with thousands
    separators and no exponents, blanks for NA)."""
    from sim.engine.metrics import format_number

    shown = frame.copy()
    for column in shown.columns:
        if pd.api.types.is_float_dtype(shown[column]):
            shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else format_number(v))
    body = shown.to_html(index=False, na_rep="", escape=True, border=0, classes="data")
    body = body.replace(
        '<table class="dataframe data">',
        f'<table class="dataframe data" data-table="{esc(name)}">',
        1,
    )
    return f'<div class="scroll">{body}</div>'  # wide tables scroll, the page does not


def pre_html(text: str) -> str:
    return f"<pre>{html.escape(text, quote=False)}</pre>"


def section(title: str, *parts: str) -> str:
    return f"<h2>{esc(title)}</h2>\n" + "\n".join(parts)


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


def summary_table(summary: pd.DataFrame, start: dt.date) -> pd.DataFrame:
    """summary.csv as read: numbers with their unit (shares in %), the date of estimates in
    months since the start, and what each metric means (the registry's words)."""
    from sim.engine.metric_table import describe_metric
    from sim.engine.metrics import MONTHS_SINCE_START, format_number

    table = summary.copy()
    if "unit" not in table:  # a run folder from before units: describe it now
        table["unit"] = [describe_metric(m)[0] for m in table["metric"]]
        table["meaning"] = [describe_metric(m)[1] for m in table["metric"]]
    units = table["unit"].fillna("")
    numbers = [c for c in ("estimate", "mc_se", "ci_low", "ci_high", "q05", "q95") if c in table]
    for column in numbers:
        table[column] = [
            format_number(None if pd.isna(v) else v, "share" if u == "share" else "")
            for v, u in zip(table[column], units, strict=True)
        ]
    table["as date"] = [
        month_to_date(start, v) if u == MONTHS_SINCE_START else ""
        for u, v in zip(units, summary["estimate"], strict=True)
    ]
    table["unit"] = units.replace("share", "% of replicates")
    return table[["metric", "unit", *numbers, "as date", "meaning"]]


def headline_html(
    summary: pd.DataFrame, manifest: dict[str, Any], timeline: pd.DataFrame | None = None
) -> str:
    """The answers in one paragraph: power, analysis by completion, key dates. A median
    date is timeline.csv's (the replicates it counts, its quantile), so the headline, the
    timeline and the figures give the same day; without a timeline, the summary's."""
    values = summary.set_index("metric")
    medians = (
        {} if timeline is None else dict(zip(timeline["milestone"], timeline["q50"], strict=True))
    )
    start = dt.date.fromisoformat(manifest["scenario"]["trial"]["start_date"])
    completion = manifest["scenario"]["trial"]["completion_date"]

    def share(metric: str) -> str:
        if metric not in values.index or pd.isna(values.at[metric, "estimate"]):
            return "n/a"
        se = values.at[metric, "mc_se"]
        shown = f"{values.at[metric, 'estimate']:.1%}"
        return shown + (f" (MC SE {se:.1%})" if pd.notna(se) and se > 0 else "")

    def date(milestone: str, metric: str) -> str:
        if milestone in medians:
            value = medians[milestone]
            return "not reached" if pd.isna(value) or not str(value) else str(value)
        if metric not in values.index:
            return "n/a"
        return month_to_date(start, values.at[metric, "estimate"]) or "not reached"

    def number(metric: str) -> str:
        if metric not in values.index or pd.isna(values.at[metric, "estimate"]):
            return "n/a"
        from sim.engine.metrics import format_number

        low, high = values.get("q05", {}).get(metric), values.get("q95", {}).get(metric)
        spread = (
            f" (90% of replicates {format_number(low)} to {format_number(high)})"
            if low is not None and pd.notna(low) and pd.notna(high)
            else ""
        )
        return format_number(values.at[metric, "estimate"]) + spread

    target = manifest["scenario"]["analysis"].get("event_target")
    endpoint = manifest["scenario"]["analysis"].get("endpoint", "pfs")
    events = ENDPOINT_WORDS[endpoint]["events"]
    looks = len(manifest["scenario"]["analysis"].get("looks") or [])
    if looks and "early_stop" in values.index:
        return sequential_headline_html(values, share, date, completion, looks, endpoint)
    lead = (
        f"Event target{f' ({target} {events})' if target else ''} seen by the registered "
        f"completion date {esc(completion)} in <b>{share('p_target_by_completion')}</b> of "
        f"replicates; events seen by then <b>{number('events_at_completion_mean')}</b> on "
        f"average; power if the analysis happens at that date "
        f"<b>{share('power_at_completion')}</b>. "
    )
    return (
        f'<p class="headline">{lead}The analysis as the scenario triggers it: cut by the '
        f"event target in <b>{share('p_cut_by_events')}</b>, by the calendar date in "
        f"<b>{share('p_cut_by_date')}</b>; power <b>{share('power')}</b> "
        f"({ENDPOINT_WORDS[endpoint]['primary']}). Median dates: "
        f"last patient randomized <b>{date('randomized_100pct', 'lpi_months_median')}</b>, "
        f"event target reached <b>{date('target_events', 'target_events_months_median')}</b>"
        f", final analysis <b>{date('final_analysis', 'analysis_months_median')}</b>.</p>"
    )


def sequential_headline_html(
    values: pd.DataFrame, share: Any, date: Any, completion: str, looks: int, endpoint: str
) -> str:
    """The headline of a design with interim looks: when the trial is concluded (stopped at a
    look or final analysis held), the share stopped at each look, then the final analysis."""
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
        f"Power <b>{share('power')}</b> ({ENDPOINT_WORDS[endpoint]['primary']}: efficacy "
        f"bound crossed at some look before a futility stop). Median dates: trial concluded "
        f"<b>{date('concluded', 'analysis_months_median')}</b>; interim look 1 "
        f"<b>{date('look1', 'look1_months_median')}</b>; among the trials that get there, "
        f"last patient randomized <b>{date('randomized_100pct', 'lpi_months_median')}</b>, "
        f"event target reached <b>{date('target_events', 'target_events_months_median')}</b>"
        f", final analysis <b>{date(f'look{looks}', f'look{looks}_months_median')}</b>.</p>"
    )


def sweep_key_table(table: pd.DataFrame, manifest: dict[str, Any]) -> pd.DataFrame:
    """Per point: its settings and the key metrics as `estimate ± MC SE`."""
    from sim.engine.metric_table import KEY_METRICS, describe_metric
    from sim.engine.metrics import format_number

    swept = list(dict.fromkeys(k for p in manifest["points"] for k in p["params"]))
    key = table[["label"]].copy()
    for metric in KEY_METRICS:  # the answers first, the settings after them
        if metric in table:
            unit = describe_metric(metric)[0]
            unit = "share" if unit == "share" else ""
            key[metric] = [
                ""
                if pd.isna(v)
                else f"{format_number(v, unit)} ± {format_number(s, unit)}"
                if pd.notna(s)
                else format_number(v, unit)
                for v, s in zip(table[metric], table[f"{metric}_mc_se"], strict=True)
            ]
    for column in ("point", *[p for p in swept if p in table]):
        key[column] = table[column]
    return key


def sweep_all_table(table: pd.DataFrame) -> pd.DataFrame:
    """sweep.csv with the label and the metrics first, the point's settings last."""
    settings = [c for c in ("point", "name") if c in table]
    params = [c for c in table.columns if "." in c]  # grid paths: effect.hazard_ratio
    first = ["label", *[c for c in table.columns if c not in {"label", *settings, *params}]]
    return table[[*first, *settings, *params]]


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
        "<p>The resolved scenario, as simulated (from manifest.json):</p>",
        pre_html(yaml.safe_dump(manifest["scenario"], sort_keys=False)),
    ]
    if manifest.get("overrides"):
        parts += [
            "<p>Overrides on the command line (<code>--set</code>):</p>",
            pre_html("\n".join(manifest["overrides"])),
        ]
    source = source_yaml(manifest)
    if source is not None:
        note, text = source
        parts += [f"<p>Scenario file with its source comments: {esc(note)}.</p>", pre_html(text)]
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


def header_html(folder: Path, manifest: dict[str, Any], kind: str) -> str:
    trial = manifest["scenario"]["trial"]
    return (
        f"<h1>{esc(trial['id'])}: {esc(kind)} report</h1>"
        f'<p class="meta">{esc(trial.get("title", ""))}<br>Folder {esc(folder)}; '
        f"{esc(manifest['replicates'])} replicates, seed {esc(manifest['seed'])}; made "
        f"{esc(manifest.get('created', ''))}; metrics version "
        f"{esc(manifest.get('metrics_version'))}.</p>"
    )


ENDPOINT_SECTIONS = (  # (title, group of the metric table, words, quantile rows shown)
    (
        "Overall survival",
        "overall_survival",
        "Illness-death model: deaths without progression (the PFS deaths) and after a "
        "progression (post-progression survival). OS at the PFS analysis cut, at its own cut if "
        "the scenario has one (with OS primary: the primary analysis, in the summary), and the "
        "deaths by the maturity date (OS maturity).",
        True,
    ),
    (
        "Progression-free survival (secondary)",
        "progression_free_survival",
        "With OS primary: PFS (progression seen at the scans, or death) at the data cut of the "
        "OS analysis, the log-rank test and Cox hazard ratio as the primary analysis; the "
        "Kaplan-Meier medians are median_pfs_* in the summary.",
        True,
    ),
    (
        "Tumour response",
        "response",
        "Best overall response at the scheduled scans (the same scans as PFS): ORR (CR + PR) and "
        "DCR (CR + PR + SD) among all patients in the analysis, the difference with Newcombe's "
        "interval and the CMH test across strata.",
        True,
    ),
    (
        "Local control",
        "local_control",
        "Local control of the irradiated (index) lesion, followed in both arms: Kaplan-Meier rate "
        "at the landmarks (Greenwood variance), the z test of the difference and the log-rank "
        "test of time to local progression.",
        True,
    ),
    (
        "Safety",
        "safety",
        "Treatment-related adverse events by kind and grade per arm (the same events cause the "
        "clinic's delays, reductions, discontinuations and RT stops): patients with an event, "
        "incidence among the treated, and the chance of seeing at least k cases.",
        False,  # the quantile rows repeat the columns q05/q95 of the means
    ),
)
QUANTILES = ("q05", "q50", "q95")


def endpoint_sections(summary: pd.DataFrame, start: dt.date) -> list[str]:
    """One section per secondary endpoint present in summary.csv (its group's metrics)."""
    from sim.engine.metric_table import find_metric

    found = [find_metric(name) for name in summary["metric"]]
    groups = pd.Series([f.metric.group if f else "" for f in found], index=summary.index)
    quantile = pd.Series(
        [bool(f) and f.metric.statistic in QUANTILES for f in found], summary.index
    )
    out = []
    for title, group, text, quantiles in ENDPOINT_SECTIONS:
        rows = summary[(groups == group) & (quantiles | ~quantile)]
        if rows.empty:
            continue
        out.append(
            section(
                title, f"<p>{esc(text)}</p>", table_html(summary_table(rows, start), title.lower())
            )
        )
    return out


def run_report(folder: Path, manifest: dict[str, Any]) -> str:
    summary = pd.read_csv(folder / "summary.csv")
    timeline = pd.read_csv(folder / "timeline.csv")
    start = dt.date.fromisoformat(manifest["scenario"]["trial"]["start_date"])
    body = [
        header_html(folder, manifest, "run"),
        headline_html(summary, manifest, timeline),
        section(
            "Summary metrics",
            "<p>Each metric with its Monte Carlo standard error and 95% interval.</p>",
            table_html(summary_table(summary, start), "summary"),
        ),
        *endpoint_sections(summary, start),
        section(
            "Timeline",
            "<p>Milestone dates: quantiles across replicates.</p>",
            table_html(timeline, "timeline"),
        ),
        section("Figures", *map(figure_html, run_figures(folder))),
        section("Assumptions", assumptions_html(manifest)),
        section("Manifest", manifest_html(manifest)),
    ]
    if "forecast" in manifest:
        body.insert(2, forecast_html(folder, manifest))
    if "assurance" in set(summary["metric"]):
        body.insert(2, assurance_html(summary, manifest))
    if (words := interim_probability_text(summary, manifest)) is not None:
        body.insert(
            2, section("Probability of success at the interim looks", f"<p>{esc(words)}</p>")
        )
    return page_html(f"{manifest['scenario']['trial']['id']} run report", body)


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
    )


def forecast_html(folder: Path, manifest: dict[str, Any]) -> str:
    """A forecast folder's own section: the fan, milestones against the plan, the fit."""
    info = manifest["forecast"]
    png = base64.b64encode((folder / "forecast.png").read_bytes()).decode("ascii")
    return section(
        f"Forecast as of {info['as_of']} against the plan",
        f"<p>From {esc(info['patients'])} randomized patients, {esc(info['events'])} PFS "
        f"events and {esc(info['dropouts'])} dropouts ({'blinded' if info['blinded'] else 'by arm'}"
        f"); site-rate prior {esc(info.get('site_prior', info['prior_months']))}, hazards "
        f"worth {esc(info['prior_events'])} events. The plan is the same scenario, seed and "
        "replicates without data.</p>",
        f'<figure id="fig-forecast"><img alt="observed to the as-of date, then the forecast" '
        f'src="data:image/png;base64,{png}"><figcaption>Observed counts to the as-of date, '
        "then the forecast's median, 50% and 90% bands.</figcaption></figure>",
        "<p>Milestones: median and 80% / 90% prediction intervals.</p>",
        table_html(pd.read_csv(folder / "forecast.csv"), "forecast"),
        table_html(pd.read_csv(folder / "comparison.csv"), "comparison"),
        "<p>Prior, observed and posterior of each rate (fit.csv).</p>",
        table_html(pd.read_csv(folder / "fit.csv"), "fit"),
    )


def sweep_report(folder: Path, manifest: dict[str, Any]) -> str:
    table = pd.read_csv(folder / "sweep.csv")
    grid = "; ".join(f"{p} = {', '.join(map(str, v))}" for p, v in manifest["grid"].items())
    variants = ", ".join(v["name"] for v in manifest.get("variants", []))
    settings = " x ".join(
        x for x in (f"variants {variants}" if variants else "", f"grid {grid}" if grid else "") if x
    )
    body = [
        header_html(folder, manifest, "sweep"),
        f'<p class="headline">{len(table)} points ({esc(settings)}), each with the same seed '
        "and replicates (common random numbers), so differences between points are "
        "differences of the scenario, not noise.</p>",
        section(
            "Key metrics",
            "<p>Estimate ± Monte Carlo standard error.</p>",
            table_html(sweep_key_table(table, manifest), "sweep_key"),
        ),
        section("Figures", *map(figure_html, sweep_figures(folder))),
        section(
            "All metrics",
            "<details><summary>sweep.csv, every metric and its MC SE"
            "</summary>" + table_html(sweep_all_table(table), "sweep") + "</details>",
        ),
        section(
            "Assumptions",
            "<p>The base scenario; each point changes only the fields in its row.</p>",
            assumptions_html(manifest),
        ),
        section("Manifest", manifest_html(manifest)),
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


# --- command line --------------------------------------------------------------------------


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``report`` to the ``python -m sim`` subcommands."""
    report = subparsers.add_parser(
        "report",
        help="one self-contained HTML report of a run or sweep",
        description="Write one self-contained HTML file (figures, tables, assumptions, "
        "manifest) for a run or sweep folder.",
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
    report.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    out = args.out or args.folder / "report.html"
    check_out_html(out)
    text = build_report(args.folder)
    write_text_atomic(out, text, force=args.force)
    print(f"report -> {out} ({len(text) / 1e6:.1f} MB)", file=sys.stderr)
    return 0
