"""Randomization: stratified permuted blocks, vectorized over replicates.

Each stratum of each replicate has its own allocation sequence: blocks whose size is drawn
uniformly from `block_sizes`, each holding control and experimental in the ratio exactly,
in random order. The k-th patient randomized in a stratum takes the k-th allocation.
"""

from __future__ import annotations

import numpy as np

from sim.scenario import Randomization

CONTROL, EXPERIMENTAL = 0, 1


def allocation_sequences(
    randomization: Randomization, n_reps: int, n_strata: int, length: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Allocation sequences of shape (R, S, length): 0 control, 1 experimental."""
    sizes = np.asarray(randomization.block_sizes)
    n_blocks = -(-length // int(sizes.min()))
    biggest = int(sizes.max())
    size = sizes[rng.integers(0, len(sizes), (n_reps, n_strata, n_blocks))]
    slot = np.arange(biggest)
    control_share = randomization.ratio[0] / sum(randomization.ratio)
    used = slot < size[..., None]
    arm = (slot >= size[..., None] * control_share).astype(np.int8)
    # Shuffle within each block: sort random keys, unused slots keyed last.
    keys = np.where(used, rng.random(used.shape), 2.0)
    order = np.argsort(keys, axis=-1)
    arm = np.take_along_axis(arm, order, axis=-1)
    used = np.take_along_axis(used, order, axis=-1)
    flat_arm = arm.reshape(n_reps, n_strata, -1)
    flat_used = used.reshape(n_reps, n_strata, -1)
    compact = np.argsort(~flat_used, axis=-1, kind="stable")[..., :length]
    return np.take_along_axis(flat_arm, compact, axis=-1)


def rank_within_stratum(stratum: np.ndarray, n_strata: int) -> np.ndarray:
    """0-based order of each patient among those of its stratum (rows in randomization order)."""
    onehot = stratum[..., None] == np.arange(n_strata)
    counts = np.cumsum(onehot, axis=1) - 1
    return np.take_along_axis(counts, stratum[..., None], axis=2)[..., 0]


def randomize_by_block(
    stratum: np.ndarray, randomization: Randomization, rng: np.random.Generator
) -> np.ndarray:
    """Arms (R, N) for patients already in randomization order with their strata (R, N)."""
    n_reps, n = stratum.shape
    n_strata = len(randomization.strata)
    seq = allocation_sequences(randomization, n_reps, n_strata, n, rng)
    rank = rank_within_stratum(stratum, n_strata)
    rows = np.arange(n_reps)[:, None]
    return seq[rows, stratum, rank].astype(np.int8)
