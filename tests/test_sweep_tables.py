"""sweep.csv for analysts: typed parameter columns (JSON text for nested values, never a
Python repr), and sweep_long.csv beside it (`point, parameter, value`)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import sim
from tests.helpers import TEXTBOOK


@pytest.fixture(scope="module")
def nested_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("tables") / "sweep"
    variants = [
        {"name": "strata", "set": {"randomization.strata": {"squamous": 0.5, "adeno": 0.5}}},
        {"name": "ratio", "set": {"randomization.block_sizes": [2, 4]}},
        {"name": "cut", "set": {"analysis.cut_date": "2028-12-31"}},
    ]
    sim.sweep(TEXTBOOK, variants=variants, reps=10, seed=1, workers=1, progress=False, out=out)
    return out


def test_nested_values_are_json_and_missing_values_blank(nested_sweep):
    text = (nested_sweep / "sweep.csv").read_text()
    assert "{'" not in text and "None" not in text  # no Python reprs
    table = pd.read_csv(nested_sweep / "sweep.csv")
    strata = [json.loads(cell) for cell in table["randomization.strata"]]
    assert strata == [
        {"squamous": 0.5, "adeno": 0.5},
        {"squamous": 0.45, "adenocarcinoma": 0.55},  # the base value where a point leaves it
        {"squamous": 0.45, "adenocarcinoma": 0.55},
    ]
    assert [json.loads(c) for c in table["randomization.block_sizes"]] == [[4, 6], [2, 4], [4, 6]]
    assert table["analysis.cut_date"].isna().tolist() == [True, True, False]  # blank: none
    assert table["analysis.cut_date"].iloc[2] == "2028-12-31"  # a date as an ISO date
    assert pd.api.types.is_float_dtype(table["power"])  # metrics stay numbers


def test_long_form_has_one_row_per_point_and_parameter(nested_sweep):
    wide = pd.read_csv(nested_sweep / "sweep.csv")
    long = pd.read_csv(nested_sweep / "sweep_long.csv", keep_default_na=False)
    assert long.columns.tolist() == ["point", "parameter", "value"]
    params = ["randomization.strata", "randomization.block_sizes", "analysis.cut_date"]
    assert len(long) == len(wide) * len(params)
    back = long.pivot(index="point", columns="parameter", values="value")
    column = "randomization.block_sizes"
    assert back.loc[2, column] == wide.set_index("point").at[2, column]
    assert back.loc[1, "analysis.cut_date"] == ""  # missing stays blank, never "None"
