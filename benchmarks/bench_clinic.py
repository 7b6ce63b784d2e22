"""Time the SimPy clinic per replicate on the baseline scenario: prints ms/replicate.

Inputs come from the real pipeline (chunk 0 of a run: enrollment, randomization, outcomes,
scans, data cut, clinic draws, and each replicate's adverse events with a safety block), so
stop days, strata, horizons and the consequences of adverse events are those of a run.
Timed: building those inputs (vectorized over the chunk: covariates, doses, the background
load of chairs and linacs), then `simulate_clinic` replicate by replicate, with capacity,
doses and its monthly and deviation tables (the budget is 8 ms per replicate for 104
patients: 10,000 baseline replicates in under 60 s on 2 workers).

    python benchmarks/bench_clinic.py [--reps 250] [--repeat 5] [--seed 1] [--scenario PATH]
    python benchmarks/bench_clinic.py --instructions     # the same ratio, counted (valgrind)
    python benchmarks/bench_clinic.py --day-loop 20      # instructions in the day loop alone

On a shared machine a timed ratio drifts with the load (the yardstick's short runs catch
quiet moments more often than the clinic's long ones). `--instructions` counts instead:
the CPU instructions of 80 replicates as a run does them (`run_block`, after 2 warm-up
replicates), of the same 80 by `simulate_clinic` (to the final analysis only, one at a time)
and of 200 x 1,248 bare timeouts, each as the difference of two runs under valgrind's
cachegrind (about 8 minutes; PYTHONHASHSEED=0 and one OpenBLAS thread, whose idle
threads otherwise add tens of millions of instructions that vary from run to run: with
them, identical runs differed by up to 1 M instructions a replicate and 9% of a timeout;
without, by a few thousand instructions in all); counts do not depend on the load, but
they weigh every instruction alike (the clinic's memory traffic costs it more time per
instruction than the yardstick's). `--day-loop N` counts the instructions inside
`sim.clinic.treatment.run_days` alone (its callbacks included) over N of those replicates as
a run does them, under valgrind's callgrind collecting only while `run_days` runs (it is
called through `operator.call`, whose C function names the span; about 6 minutes for 20).
"""

from __future__ import annotations

import argparse
import operator
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import simpy

ROOT = Path(__file__).resolve().parents[1]
BLOCK = 10  # replicates per timed block
CHUNK_BLOCK = 50  # replicates per block tallied together, as a run's chunk does
sys.path.insert(0, str(ROOT))

from sim.clinic.model import (  # noqa: E402
    collector_paused,
    draw_clinic,
    plan_adverse_events,
    simulate_clinic,
    tally_replicates,
)
from sim.clinic.model import run_replicate as clinic_run  # noqa: E402
from sim.clinic.safety import draw_adverse_event_block  # noqa: E402
from sim.conduct.assessments import observe_outcomes  # noqa: E402
from sim.conduct.datacut import cut_at_analysis  # noqa: E402
from sim.conduct.enrollment import enroll_patients  # noqa: E402
from sim.conduct.outcomes import draw_latent_outcomes  # noqa: E402
from sim.conduct.randomization import randomize_by_block  # noqa: E402
from sim.engine.chunk import TrialModel, chunk_streams, treatment_stop  # noqa: E402
from sim.engine.clinic_bridge import replicate_blocks  # noqa: E402
from sim.scenario import load_scenario  # noqa: E402


def baseline_inputs(model: TrialModel, seed: int, n_reps: int) -> dict:
    """Chunk 0 of a run with `seed`, as `sim.engine.chunk.simulate_chunk` draws it, to the clinic.

    rand_day, arm, stratum, stop_day, stop_reason (R, n), horizon (R,), the clinic's
    draws and, per replicate, the adverse events (None without a safety block), drawn for
    all at once ("adverse_event_block", their patients end to end: the same numbers).
    """
    sc = model.scenario
    rng = chunk_streams(seed, 0)
    n = sc.trial.sample_size
    enrolled = enroll_patients(
        sc.enrollment, n, model.stratum_p, model.calendar, n_reps, rng["enrollment"]
    )
    arm = randomize_by_block(enrolled.stratum, sc.randomization, rng["randomization"])
    observed = observe_outcomes(draw_latent_outcomes(sc, arm, rng["outcomes"]), model.schedule)
    cut = cut_at_analysis(
        sc.analysis, enrolled.rand_day, observed, model.schedule, model.date_cut_day
    )
    stop, reason = treatment_stop(enrolled.rand_day, observed)
    block = draw_adverse_event_block(sc, n, n_reps, rng["safety"]) if sc.safety else None
    return {
        "rand_day": enrolled.rand_day,
        "arm": arm,
        "stratum": enrolled.stratum,
        "stop_day": stop,
        "stop_reason": reason,
        "horizon": cut.cut_day + sc.analysis.lag_days,
        "draws": draw_clinic(sc, n_reps, n, rng["clinic"]),
        "adverse_events": [
            block.rows(r * n, (r + 1) * n) if block is not None else None for r in range(n_reps)
        ],
        "adverse_event_block": block,
    }


def replicate_call(model: TrialModel, inputs: dict, r: int) -> tuple[tuple, dict]:
    """Replicate r's arguments to the clinic's runs (`sim.clinic.model.run_replicate`,
    `simulate_clinic`, `run_course`): the eight positional ones, and horizon_day, stratum
    and adverse_events by name."""
    args = (
        model.scenario,
        model.calendar,
        inputs["draws"],
        r,
        inputs["rand_day"][r],
        inputs["arm"][r],
        inputs["stop_day"][r],
        inputs["stop_reason"][r],
    )
    named = {
        "horizon_day": float(inputs["horizon"][r]),
        "stratum": inputs["stratum"][r],
        "adverse_events": inputs["adverse_events"][r],
    }
    return args, named


def run_replicate(model: TrialModel, inputs: dict, r: int) -> dict[str, float]:
    """`simulate_clinic` of replicate r: the SimPy run and its tally, on its own."""
    args, named = replicate_call(model, inputs, r)
    return simulate_clinic(*args, **named).summary


def run_block(model: TrialModel, inputs: dict, block: range) -> None:
    """Replicates `block` as a run does them (`sim.engine.clinic_bridge.run_clinic`): the
    consequences of their adverse events planned `EVENT_BLOCK` replicates at a time
    (`replicate_blocks`), each one's SimPy run, the collector paused for the block, the
    supply followed to the end of treatment, then one tally of all."""
    with collector_paused():
        records = [
            clinic_run(*args, **named, to_end=True, consequences=plan).records
            for part in replicate_blocks(block.stop - block.start)
            for args, named, plan in planned_calls(
                model, inputs, range(block.start + part.start, block.start + part.stop)
            )
        ]
    tally_replicates(records)


def planned_calls(model: TrialModel, inputs: dict, reps: range) -> list[tuple[tuple, dict, object]]:
    """`replicate_call` of each replicate of `reps` with its adverse events' consequences,
    planned for `reps` at once (`plan_adverse_events`; None without a safety block)."""
    calls = [replicate_call(model, inputs, r) for r in reps]
    block = inputs["adverse_event_block"]
    if block is None:
        return [(args, named, None) for args, named in calls]
    n = inputs["arm"].shape[1]
    plans = plan_adverse_events(
        model.scenario,
        model.calendar,
        inputs["draws"],
        reps,
        inputs["arm"][reps.start : reps.stop],
        block.rows(reps.start * n, reps.stop * n),
    )
    return [(args, named, plan) for (args, named), plan in zip(calls, plans, strict=True)]


def bare_timeout_us(n_processes: int = 104, n_timeouts: int = 12, repeat: int = 5) -> float:
    """Best-of cost of one bare SimPy timeout (with its process resume), in microseconds.

    A yardstick measured alongside the clinic: on a shared machine both drift together, so
    the clinic's cost in bare timeouts is steadier than its cost in ms.
    """

    def patient(env: simpy.Environment):
        for _ in range(n_timeouts):
            yield env.timeout(21)

    best = np.inf
    for _ in range(repeat):
        env = simpy.Environment()
        for _ in range(n_processes):
            env.process(patient(env))
        t0 = time.perf_counter()
        env.run()
        best = min(best, (time.perf_counter() - t0) / (n_processes * n_timeouts))
    return 1e6 * best


def time_clinic(
    model: TrialModel, inputs: dict, repeat: int, block_size: int, chunked: bool
) -> tuple[float, float, float]:
    """(best, median) ms per replicate over the chunk, and the yardstick: replicate by
    replicate with `simulate_clinic` (`chunked` False) or as a run does them (`run_block`).

    Timed in blocks of `block_size` replicates, each block `repeat` times; a block's cost
    is its best time (timeit's rule: the minimum is the run least disturbed by other work
    on a shared machine), and short blocks make undisturbed runs likely.
    """
    n_reps = len(inputs["horizon"])
    blocks = [range(b, min(b + block_size, n_reps)) for b in range(0, n_reps, block_size)]
    times = np.empty((repeat, len(blocks)))
    yardstick = np.inf
    for i in range(repeat):
        yardstick = min(yardstick, bare_timeout_us())
        for j, block in enumerate(blocks):
            t0 = time.perf_counter()
            if chunked:
                run_block(model, inputs, block)
            else:
                for r in block:
                    run_replicate(model, inputs, r)
            times[i, j] = time.perf_counter() - t0
    per_rep = 1e3 / n_reps
    best, median = times.min(axis=0).sum(), np.median(times, axis=0).sum()
    return per_rep * best, per_rep * median, yardstick


YARD_PROCESSES, YARD_TIMEOUTS = 104, 12  # bare_timeout_us's environment
YARD_BLOCKS = 200  # blocks of them counted: 249,600 timeouts (start-up noise under 1%)
COUNTED = 80  # replicates whose instructions are counted (they vary: not too few)


def instruction_work(kind: str, n: int, seed: int, scenario: str) -> None:
    """The work counted by `count_instructions`: `n` blocks of bare timeouts, or `n`
    replicates after 2 warm-up replicates, as a run does them ("run") or by
    `simulate_clinic` ("simulate")."""
    if kind == "yardstick":
        for _ in range(n):
            bare_timeout_us(YARD_PROCESSES, YARD_TIMEOUTS, repeat=1)
        return
    model = TrialModel.from_scenario(load_scenario(scenario))
    inputs = baseline_inputs(model, seed, COUNTED + 3)  # the same inputs whatever n
    if kind == "simulate":
        for r in range(n + 2):
            run_replicate(model, inputs, r)
        return
    run_block(model, inputs, range(2))
    if n:
        run_block(model, inputs, range(2, n + 2))


def day_loop_work(n: int, seed: int, scenario: str) -> None:
    """`n` replicates as a run does them (after 2 warm-up replicates), `run_days` called
    through `operator.call` (the span `report_day_loop` counts)."""
    import sim.clinic.model as clinic_model

    model = TrialModel.from_scenario(load_scenario(scenario))
    inputs = baseline_inputs(model, seed, COUNTED + 3)
    run_block(model, inputs, range(2))
    run_days = clinic_model.run_days
    clinic_model.run_days = lambda clinic, until=None: operator.call(run_days, clinic, until)
    run_block(model, inputs, range(2, n + 2))


def under_valgrind(
    tool: list[str], work: list[str], seed: int, scenario: str, keys: tuple[str, ...]
) -> int:
    """Run this script's `work` (its hidden arguments) under valgrind with `tool` (its
    options), one OpenBLAS thread and PYTHONHASHSEED=0, and return the count on the line
    of valgrind's summary that holds one of `keys` (its spellings)."""
    done = subprocess.run(
        [
            "valgrind",
            *tool,
            sys.executable,
            __file__,
            *work,
            "--seed",
            str(seed),
            "--scenario",
            scenario,
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1"},
    )
    line = next(x for x in done.stderr.splitlines() if any(key in x for key in keys))
    return int(line.split(":")[-1].strip().replace(",", ""))


def report_day_loop(n: int, seed: int, scenario: str) -> None:
    if shutil.which("valgrind") is None:
        sys.exit("--day-loop needs valgrind (apt-get install valgrind)")
    tool = [
        "--tool=callgrind",
        "--toggle-collect=*operator_call*",
        "--callgrind-out-file=/dev/null",
    ]
    total = under_valgrind(tool, ["--day-loop-work", str(n)], seed, scenario, ("Collected",))
    print(
        f"run_days (the day-by-day run, its callbacks included) {total / n / 1e6:6.2f} M "
        f"instructions/replicate (valgrind callgrind, {n} replicates as a run does them)"
    )


def count_instructions(kind: str, n: int, seed: int, scenario: str) -> int:
    """Instructions executed by `instruction_work` (valgrind cachegrind's I refs)."""
    tool = ["--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]
    work = ["--instruction-work", kind, str(n)]
    return under_valgrind(tool, work, seed, scenario, ("I   refs", "I refs"))


def report_instructions(seed: int, scenario: str) -> None:
    if shutil.which("valgrind") is None:
        sys.exit("--instructions needs valgrind (apt-get install valgrind)")
    kinds = {"run": f"run, tallied by {CHUNK_BLOCK}", "simulate": "simulate_clinic"}
    jobs = {
        (kind, n): None
        for kind in ("yardstick", *kinds)
        for n in ((1, YARD_BLOCKS + 1) if kind == "yardstick" else (1, COUNTED + 1))
    }
    with ThreadPoolExecutor(2) as pool:
        for key in jobs:
            jobs[key] = pool.submit(count_instructions, *key, seed, scenario)
    counts = {key: job.result() for key, job in jobs.items()}
    per_timeout = (counts["yardstick", YARD_BLOCKS + 1] - counts["yardstick", 1]) / (
        YARD_BLOCKS * YARD_PROCESSES * YARD_TIMEOUTS
    )
    for kind, label in kinds.items():
        per_replicate = (counts[kind, COUNTED + 1] - counts[kind, 1]) / COUNTED
        print(
            f"{label:24s} {per_replicate / 1e6:6.2f} M instructions/replicate "
            f"(valgrind cachegrind, {COUNTED} replicates)"
        )
        print(
            f"{'':24s} = {per_replicate / per_timeout:.0f} bare SimPy timeouts of "
            f"{per_timeout:,.0f} instructions"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions under valgrind instead of timing",
    )
    parser.add_argument(
        "--instruction-work", nargs=2, metavar=("KIND", "N"), help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--day-loop",
        type=int,
        metavar="N",
        help="count the instructions of the day loop (run_days) alone over N replicates",
    )
    parser.add_argument("--day-loop-work", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--reps", type=int, default=250)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scenario", default=str(ROOT / "scenarios" / "nct07271602.yaml"))
    args = parser.parse_args()
    if args.instruction_work:
        instruction_work(
            args.instruction_work[0], int(args.instruction_work[1]), args.seed, args.scenario
        )
        return
    if args.day_loop_work is not None:
        day_loop_work(args.day_loop_work, args.seed, args.scenario)
        return
    if args.day_loop is not None:
        report_day_loop(args.day_loop, args.seed, args.scenario)
        return
    if args.instructions:
        report_instructions(args.seed, args.scenario)
        return

    model = TrialModel.from_scenario(load_scenario(args.scenario))
    n = model.scenario.trial.sample_size
    t0 = time.perf_counter()
    inputs = baseline_inputs(model, args.seed, args.reps)
    t_inputs = 1e3 * (time.perf_counter() - t0) / args.reps
    counts = [run_replicate(model, inputs, r) for r in range(args.reps)]
    cycles = np.mean([c["cycles_given_control"] + c["cycles_given_experimental"] for c in counts])
    fractions = np.mean([c["rt_fractions_given_experimental"] for c in counts])
    deviations = np.mean(
        [
            c.get("protocol_deviations_control", 0) + c.get("protocol_deviations_experimental", 0)
            for c in counts
        ]
    )

    print(
        f"scenario {args.scenario}: {args.reps} replicates x {n} patients, "
        f"{cycles:.0f} cycles, {fractions:.0f} RT fractions and {deviations:.1f} protocol "
        "deviations per replicate"
    )
    print(f"inputs + draw_clinic     {t_inputs:6.3f} ms/replicate (vectorized over the chunk)")
    for label, chunked, size in (
        ("simulate_clinic", False, BLOCK),
        (f"run, tallied by {CHUNK_BLOCK}", True, CHUNK_BLOCK),
    ):
        best, median, unit = time_clinic(model, inputs, args.repeat, size, chunked)
        print(
            f"{label:24s} {best:6.3f} ms/replicate (best of {args.repeat} per block "
            f"of {size}; median {median:.3f})"
        )
        print(
            f"{'':24s} = {1e3 * best / unit:.0f} bare SimPy timeouts of {unit:.3f} us "
            "(the yardstick, measured alongside)"
        )


if __name__ == "__main__":
    main()
