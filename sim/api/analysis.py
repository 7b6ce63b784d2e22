"""The final analysis of a trial's data: `analyze` (``python -m sim analyze``) of a patient
table or of ADaM data sets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sim.api.forecasting import adam_options
from sim.scenario import ScenarioError

AnalysisSource = pd.DataFrame | str | Path | Sequence[str | Path]


def response_analysis(
    data: Any, conf_level: float, described: str, tests: str | None
) -> pd.DataFrame:
    """`analyze` of an ADRS parameter: `sim.stats.final_analysis.analyze_response`, with its
    printed form."""
    from sim.stats.final_analysis import analyze_response, printed_analysis

    if tests:
        raise ScenarioError(
            f"tests = {tests!r}: time-to-event tests; a response parameter gets the response "
            "rates, their difference and the CMH test (leave tests out)"
        )
    table = analyze_response(data, conf_level)
    header = (
        f"{len(data.arm)} patients, {int(data.responder.sum())} responders (CR or PR); control"
        f" = {data.arm_labels[0]!r}, experimental = {data.arm_labels[1]!r}"
        + (f"; strata {list(data.strata_labels)}" if data.stratum is not None else "")
    )
    footer = f"intervals at the {conf_level:g} level; CMH z > 0: the experimental arm responds more"
    body = printed_analysis(table, "")
    table.attrs["printed"] = "\n".join([described, header, body, footer])
    return table


def analysis_input(
    data: AnalysisSource,
    *,
    time: str | None = None,
    event: str | None = None,
    arm: str | None = None,
    strata: str | None = "auto",
    control: str | None = None,
    replicate: int | None = None,
    time_unit: str | None = None,
    paramcd: str = "PFS",
    adam_map: Mapping[str, str] | None = None,
    arm_values: Mapping[str, str] | None = None,
) -> tuple[Any, str, str]:
    """(the checked `PatientData`, the time unit of its times, a line saying what was read)
    of `analyze`'s input: a patient table (a DataFrame, or a CSV or Parquet file) or ADaM
    data sets (their folder or files; see `analyze`)."""
    from sim.adam.inputs import AUTO, adam_analysis_table, is_adam
    from sim.stats.final_analysis import TIME_UNITS, patients_from_frame, responses_from_frame

    if time_unit is not None and time_unit not in TIME_UNITS:
        raise ScenarioError(f"time_unit = {time_unit!r}: must be one of {sorted(TIME_UNITS)}")
    if isinstance(data, pd.DataFrame):
        frame, source, adam = data, "the table", False
    elif isinstance(data, str | Path) or (
        isinstance(data, Sequence) and all(isinstance(d, str | Path) for d in data)
    ):
        adam = is_adam(data, adam_map)
        frame, source = None, str(data)
    else:
        raise ScenarioError(
            f"data: a {type(data).__name__}, not a pandas DataFrame, a file or a folder "
            "(read the table with pd.read_csv or pd.read_parquet, or give the path of a "
            "table or of ADaM data sets)"
        )
    if adam:
        given = [n for n, v in (("time", time), ("event", event), ("replicate", replicate)) if v]
        if given:
            raise ScenarioError(
                f"{', '.join(given)}: not for ADaM data (the time is AVAL, the event CNSR = 0, "
                "the parameter PARAMCD); name variables called otherwise with adam_map "
                "(--adam-map), the parameter with paramcd (--paramcd)"
            )
        options = adam_options(adam_map, paramcd, arm, strata, arm_values, time_unit)
        table, stratum, described = adam_analysis_table(data, options)
        control = control or ("control" if arm_values else None)
        if "responder" in table.columns:  # an ADRS parameter (BOR)
            responses = responses_from_frame(table, "arm", stratum, control, described)
            return responses, "days", described
        patients = patients_from_frame(
            table, "time", "event", "arm", stratum, control, source=described
        )
        return patients, "days", described  # AVAL in days (the reader converts AVALU)
    if adam_map or arm_values or paramcd != "PFS":
        raise ScenarioError(
            f"{source}: not ADaM data (no USUBJID): adam_map, arm_values and paramcd are for "
            "ADSL + ADTTE; for a patient table name its columns with time, event, arm"
        )
    if frame is None:
        from sim.stats.final_analysis import read_patient_table

        frame = read_patient_table(Path(source))
    unit = time_unit or "days"
    if strata == AUTO:
        strata = "stratum" if "stratum" in frame.columns else None
    patients = patients_from_frame(
        frame,
        time or "time",
        event or "event",
        arm or "arm",
        strata,
        control,
        replicate,
        source=source,
    )
    return patients, unit, f"{source}: times read in {unit}"


def analyze(
    data: AnalysisSource,
    *,
    time: str | None = None,
    event: str | None = None,
    arm: str | None = None,
    strata: str | None = "auto",
    control: str | None = None,
    replicate: int | None = None,
    conf_level: float = 0.95,
    conf_type: str = "log",
    time_unit: str | None = None,
    tests: str | None = None,
    paramcd: str = "PFS",
    adam_map: Mapping[str, str] | None = None,
    arm_values: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """The final analysis, as `python -m sim analyze` does it: a tidy table with columns
    test, stratified, arm, estimate, se, z, p_one_sided, p_two_sided, ci_low, ci_high, n,
    events, unit (`sim.stats.final_analysis.analyze_patients`; with `tests`, e.g.
    ``"logrank,fh:0:1,maxcombo"``, one row per test and stratification instead); its
    ``attrs["printed"]`` is the form the command prints for people.

    `data`: a patient table (a DataFrame, or a CSV or Parquet file: columns `time`, `event`,
    `arm`, default time, event, arm; `strata` "auto" takes `stratum` when present, None
    none), or ADaM data sets (ADSL + ADTTE: their folder, e.g. a ``rep000_final`` folder
    of ``run --adam``, or their files), recognised by content: the time is AVAL, the event
    CNSR = 0, the parameter `paramcd`, the arm `arm` (default TRT01P), the strata `strata`
    ("auto": STRATA1R when present); `adam_map` names variables called otherwise
    (standard -> yours, e.g. ``{"TRT01P": "ARM"}``), `arm_values` maps treatments to
    control and experimental. Times are read in `time_unit` (days or months; default days,
    or AVALU for ADaM) and medians reported in months; times that look like the other unit
    give a `TimeUnitWarning` naming both."""
    import warnings

    from sim.stats.analysis import CONF_TYPES
    from sim.stats.final_analysis import (
        TIME_UNITS,
        ResponseData,
        TimeUnitWarning,
        analyze_patients,
        analyze_tests,
        parse_tests,
        printed_analysis,
        time_unit_doubt,
    )

    if not isinstance(conf_level, int | float) or not 0 < conf_level < 1:
        raise ScenarioError(f"conf_level = {conf_level!r}: must be a number in (0, 1), e.g. 0.95")
    if not isinstance(tests, str | None):  # the --tests text; a list of them is joined
        if not all(isinstance(t, str) for t in tests):
            raise ScenarioError(f"tests = {tests!r}: give test names as text, e.g. 'logrank'")
        tests = ",".join(tests)
    if conf_type not in CONF_TYPES:
        raise ScenarioError(f"conf_type = {conf_type!r}: must be one of {list(CONF_TYPES)}")
    specs = parse_tests(tests) if tests else None
    patients, unit, described = analysis_input(
        data,
        time=time,
        event=event,
        arm=arm,
        strata=strata,
        control=control,
        replicate=replicate,
        time_unit=time_unit,
        paramcd=paramcd,
        adam_map=adam_map,
        arm_values=arm_values,
    )
    if isinstance(patients, ResponseData):
        return response_analysis(patients, conf_level, described, tests)
    column = "AVAL" if described.startswith("ADaM") else (time or "time")
    doubt = time_unit_doubt(patients.time, unit, column)
    if doubt is not None:
        warnings.warn(doubt, TimeUnitWarning, stacklevel=2)
    if specs is not None:
        table = analyze_tests(patients, specs, unit)
    else:
        table = analyze_patients(patients, conf_level, conf_type, TIME_UNITS[unit])
    header = (
        f"{len(patients.time)} patients, {int(patients.event.sum())} events; control = "
        f"{patients.arm_labels[0]!r}, experimental = {patients.arm_labels[1]!r}"
        + (f"; strata {list(patients.strata_labels)}" if patients.stratum is not None else "")
        + f"; times read in {unit}, shown in months"
    )
    footer = (
        f"log-rank estimate: O - E, observed minus expected events of the experimental arm; "
        f"KM: {conf_type} band, {conf_level:g} level; NA: not reached"
    )
    body = printed_analysis(table, None if specs is not None else conf_type)
    lines = ([described] if described.startswith("ADaM") else []) + [header, body]
    table.attrs["printed"] = "\n".join([*lines, footer])
    return table
