"""Group-sequential designs at full scale: the simulator against rpact's getSimulationSurvival.

For every simulated design of sim/qualify/references/reference_group_sequential.json (the
textbook trial under
three designs at HR 0.6 and 1, rpact 20,000 iterations each), runs the same design for
R replicates and prints, per look, the efficacy and futility stopping shares with their
difference in combined MC SEs, and the mean look times with their relative difference; then
the type I error of each design (efficacy bounds alone) under HR 1, beside that of the
single-look log-rank test on the same draws (common random numbers: the designs share the
replicates' data, so their type I errors move together with the single look's; the log-rank
z itself is a little liberal at 70 events, about 0.101-0.103 at one-sided 0.10). The tests do
the same with 1,000-1,500 replicates.

Run: python benchmarks/bench_group_sequential.py [R]   (default 20000; ~1 minute)
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim.engine.chunk import TrialModel  # noqa: E402
from sim.engine.executors import default_workers, iterate_chunks  # noqa: E402
from sim.scenario import parse_scenario  # noqa: E402

LOOKS = {
    "obf2_bshsd": dict(
        efficacy={"spending": "obrien_fleming"}, futility={"spending": {"hsd": {"gamma": -2}}}
    ),
    "hsd3": dict(efficacy={"spending": {"hsd": {"gamma": -4}}}),
    "pocock3_bsp": dict(efficacy={"spending": "pocock"}, futility={"spending": "pocock"}),
}


def replicates(name: str | None, hazard_ratio: float, events: list[int], reps: int) -> pd.DataFrame:
    """The textbook trial with design `name` at `events` (None: the single final look)."""
    data = yaml.safe_load((ROOT / "scenarios" / "textbook.yaml").read_text())
    data["effect"]["hazard_ratio"] = hazard_ratio
    if name is not None:
        data["analysis"]["looks"] = [{"events": e} for e in events]
        data["analysis"].update(LOOKS[name])
    model = TrialModel.from_scenario(parse_scenario(data))
    chunks = iterate_chunks(model, reps, seed=2026, workers=default_workers())
    return pd.concat([c.replicates for c in chunks], ignore_index=True)


def main(reps: int) -> None:
    references = ROOT / "sim" / "qualify" / "references"
    reference = json.loads((references / "reference_group_sequential.json").read_text())
    rows = []
    started = time.perf_counter()
    for key, ref in reference["simulation"].items():
        name, hr = key.rsplit("_hr", 1)
        table = replicates(name, float(hr), ref["events"], reps)
        futility = [*np.atleast_1d(ref["futility_per_stage"]), 0.0]
        for k in range(1, len(ref["events"]) + 1):
            at_k = table["stop_look"] == k
            for what, expected in (("efficacy", ref["reject_per_stage"]), ("futility", futility)):
                ours = float((at_k & (table["stop_reason"] == what)).mean())
                p = max((ours + expected[k - 1]) / 2, 1 / reps)
                se = math.sqrt(p * (1 - p) * (1 / reps + 1 / ref["iterations"]))
                rows.append(
                    {
                        "design": name,
                        "hr": hr,
                        "look": k,
                        "quantity": f"P({what})",
                        "rpact": expected[k - 1],
                        "ours": ours,
                        "diff_in_se": (ours - expected[k - 1]) / se,
                    }
                )
            months = table[f"look{k}_months"].mean()
            rows.append(
                {
                    "design": name,
                    "hr": hr,
                    "look": k,
                    "quantity": "months",
                    "rpact": ref["analysis_time"][k - 1],
                    "ours": months,
                    "diff_in_se": np.nan,
                    "rel_diff": months / ref["analysis_time"][k - 1] - 1,
                }
            )
        if float(hr) == 1.0:
            alpha = float(table["reject_ignoring_futility"].mean())
            rows.append(
                {
                    "design": name,
                    "hr": hr,
                    "look": 0,
                    "quantity": "type I error",
                    "rpact": 0.1,
                    "ours": alpha,
                    "diff_in_se": (alpha - 0.1) / math.sqrt(0.09 / reps),
                }
            )
    single = float(replicates(None, 1.0, [70], reps)["reject"].mean())
    rows.append(
        {
            "design": "single look (same seed)",
            "hr": "1",
            "look": 0,
            "quantity": "type I error",
            "rpact": 0.1,
            "ours": single,
            "diff_in_se": (single - 0.1) / math.sqrt(0.09 / reps),
        }
    )
    out = pd.DataFrame(rows)
    print(out.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(
        f"\n{reps} replicates per design and HR, {time.perf_counter() - started:.1f} s; "
        f"largest |difference| {np.nanmax(np.abs(out['diff_in_se'])):.2f} MC SE, look times "
        f"within {np.nanmax(np.abs(out.get('rel_diff', pd.Series([0.0])))):.2%}"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
