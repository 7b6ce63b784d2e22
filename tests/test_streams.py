"""Bulk draws that stand for numpy's Generator methods: the same numbers, the same stream.

`draw_poisson` is checked against `rng.poisson` itself (the reference, double programming
of numpy's C code): the variates, the generator's whole state after the call (a buffered
32-bit half included) and the next draws, on many seeds, means and shapes, the baseline's
background means among them (chairs 0.8 x 5,760 / 60 = 76.8, linac 0.75 x 48 = 36).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.clinic.streams import draw_below, draw_poisson, loggam, ptrs

MEANS = (10.0, 10.5, 12.3, 36.0, 76.8, 100.0, 250.5, 1e4, 1e6)


def same_as_numpy(lam: float, shape: tuple[int, ...], seed: int) -> None:
    ours, numpys = np.random.default_rng(seed), np.random.default_rng(seed)
    for rng in (ours, numpys):
        rng.integers(0, 4, 3)  # leaves half of a 64-bit output buffered
    got, expected = draw_poisson(lam, shape, ours), numpys.poisson(lam, shape)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    assert ours.bit_generator.state == numpys.bit_generator.state
    np.testing.assert_array_equal(ours.integers(0, 100, 5), numpys.integers(0, 100, 5))


@pytest.mark.parametrize("lam", MEANS)
@pytest.mark.parametrize("shape", [(1,), (7,), (1000,), (37, 50, 2)])
def test_draw_poisson_is_numpys_poisson(lam, shape):
    for seed in range(4):
        same_as_numpy(lam, shape, seed)


def test_draw_poisson_is_numpys_poisson_at_the_baselines_size():
    # more variates than a batch of pairs: the batches follow one another on the stream
    same_as_numpy(76.8, (40, 1797), 1)
    same_as_numpy(36.0, (40, 1797, 2), 2)


@settings(max_examples=60, deadline=None)
@given(
    lam=st.floats(min_value=0.0, max_value=5e3, allow_nan=False),
    size=st.integers(min_value=0, max_value=3000),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_draw_poisson_any_mean(lam, size, seed):
    same_as_numpy(lam, (size,), seed)


@pytest.mark.parametrize("p", [0.0, -0.1, 1.0, 1.5, 0.3])
@pytest.mark.parametrize("buffered", [0, 1, 3])
@pytest.mark.parametrize("bits", [np.random.PCG64, np.random.PCG64DXSM, np.random.MT19937])
def test_draw_below_is_uniforms_below_p(p, buffered, bits):
    # the uniforms skipped when every answer is known, a buffered 32-bit half kept
    ours, reference = np.random.Generator(bits(7)), np.random.Generator(bits(7))
    for rng in (ours, reference):
        rng.integers(0, 4, buffered)
    got, expected = draw_below(p, (3, 5, 7), ours), reference.random((3, 5, 7)) < p
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)
    same_stream(ours, reference)


def same_stream(ours: np.random.Generator, reference: np.random.Generator) -> None:
    """The two generators give the same numbers from here on, 32-bit halves first."""
    for draw in (
        lambda rng: rng.integers(0, 2**32, 3, dtype=np.uint32),
        lambda rng: rng.random(5),
    ):
        np.testing.assert_array_equal(draw(ours), draw(reference))


def test_loggam_is_log_gamma():
    for x in (1.0, 2.0, 3.0, 6.5, 7.0, 8.0, 77.0, 1e4):
        assert loggam(x) == pytest.approx(math.lgamma(x), rel=1e-13, abs=1e-13)


def test_final_test_exact_near_its_bound():
    # a pair right at the bound is decided by numpy's own arithmetic, whichever side
    test = ptrs(36.0)
    k, us = 36, 0.05
    bound = test.scale[k - test.low] * (test.a / (us * us) + test.b)
    for v in np.nextafter(bound, [0.0, 1.0]).tolist() + [bound]:
        assert test.final_test(np.array([float(k)]), np.array([us]), np.array([v]))[
            0
        ] == test.exact_test(k, us, v)


@pytest.mark.parametrize(
    ("limit", "unit", "shape", "dtype"),
    [(48, 1, (600, 1800, 2), np.int8), (5760, 60, (3, 7), np.int16), (40_000, 60, (5,), np.int32)],
)
def test_background_is_numpys_poisson_capped_block_by_block(limit, unit, shape, dtype):
    # `draw_background` draws BACKGROUND_BLOCK days at a time, in the narrowest type of the
    # limit: the numbers of one `rng.poisson` call, capped, and the stream left where it is
    from sim.clinic.capacity import BACKGROUND_BLOCK, draw_background

    ours, numpys = np.random.default_rng(11), np.random.default_rng(11)
    got = draw_background(limit, 0.8, unit, shape, ours)
    expected = np.minimum(numpys.poisson(0.8 * limit / unit, shape) * unit, limit)
    assert got.shape == shape and got.dtype == dtype
    np.testing.assert_array_equal(got, expected)
    assert ours.random() == numpys.random()
    assert math.prod(shape) > 2 * BACKGROUND_BLOCK or limit > 127  # blocks, or a wider type
