"""Randomization: stratified permuted blocks are balanced, uniform and reproducible."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.conduct.randomization import block_patterns, randomize_by_block
from sim.scenario import Randomization


def prefix_imbalance(arm: np.ndarray, stratum: np.ndarray, s: int, ratio=(1, 1)) -> np.ndarray:
    a = arm[stratum == s]
    exp = np.cumsum(a)
    ctl = np.cumsum(1 - a)
    return exp * ratio[0] - ctl * ratio[1]


def test_blocks_balanced_within_strata(rng):
    rand = Randomization(ratio=(1, 1), block_sizes=(4, 6), strata={"sq": 0.45, "ad": 0.55})
    stratum = (rng.random((500, 104)) < 0.55).astype(np.int64)
    arm = randomize_by_block(stratum, rand, rng)
    for r in range(500):
        for s in (0, 1):
            imb = prefix_imbalance(arm[r], stratum[r], s)
            assert np.abs(imb).max() <= 3  # at most half the largest block (6 / 2)


def test_block_arrangements_uniform(rng):
    # Each of the C(4,2) = 6 arrangements of a block of 4 is equally likely, so the first
    # patient of every stratum is experimental with probability 1/2: se = sqrt(.25 / n).
    rand = Randomization(block_sizes=(4,), strata={"all": 1.0})
    stratum = np.zeros((20000, 8), dtype=np.int64)
    arm = randomize_by_block(stratum, rand, rng)
    first_two = arm[:, 0] * 2 + arm[:, 1]
    counts = np.bincount(first_two, minlength=4) / 20000
    # P(EE) = P(CC) = 1/6, P(EC) = P(CE) = 1/3 (two of six arrangements start EE).
    expected = np.array([1 / 6, 1 / 3, 1 / 3, 1 / 6])
    se = np.sqrt(expected * (1 - expected) / 20000)
    assert (np.abs(counts - expected) < 3 * se).all()


def test_block_patterns_enumerate_every_arrangement():
    table, counts = block_patterns(Randomization(ratio=(1, 2), block_sizes=(3, 6)))
    assert list(counts) == [3, 15]  # C(3,2), C(6,4)
    assert (table[0, :3, :3].sum(axis=1) == 2).all()
    assert (table[1, :15].sum(axis=1) == 4).all()


def test_same_seed_same_sequence():
    rand = Randomization(block_sizes=(4, 6), strata={"a": 0.5, "b": 0.5})
    stratum = np.random.default_rng(1).integers(0, 2, (10, 104))
    one = randomize_by_block(stratum, rand, np.random.default_rng(7))
    two = randomize_by_block(stratum, rand, np.random.default_rng(7))
    assert (one == two).all()


@settings(max_examples=60, deadline=None)
@given(
    ratio=st.sampled_from([(1, 1), (1, 2), (2, 1)]),
    multiples=st.lists(st.integers(1, 3), min_size=1, max_size=3),
    n_strata=st.integers(1, 4),
    n=st.integers(1, 120),
    seed=st.integers(0, 2**32 - 1),
)
def test_allocation_ratio_exact_after_every_complete_block(ratio, multiples, n_strata, n, seed):
    unit = sum(ratio)
    rand = Randomization(
        ratio=ratio,
        block_sizes=tuple(m * unit for m in multiples),
        strata={f"s{i}": 1 / n_strata for i in range(n_strata)},
    )
    g = np.random.default_rng(seed)
    stratum = g.integers(0, n_strata, (3, n))
    arm = randomize_by_block(stratum, rand, g)
    assert set(np.unique(arm)) <= {0, 1}
    for r in range(3):
        for s in range(n_strata):
            imb = prefix_imbalance(arm[r], stratum[r], s, ratio)
            # the imbalance returns to 0 at block ends and never exceeds a block's worth
            assert np.abs(imb).max(initial=0) <= max(rand.block_sizes) * max(ratio)
