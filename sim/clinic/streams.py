"""Bulk draws from a stream, the same numbers as numpy's `Generator` methods at less cost.

`draw_poisson` is `rng.poisson(lam, shape)` number for number, leaving the stream where
`rng.poisson` leaves it. numpy draws a Poisson variate with lam >= 10 by Hoermann's
transformed rejection (PTRS, numpy/random/src/distributions/distributions.c,
`random_poisson_ptrs`): pairs of uniforms (U, V), one pair after the other, until a pair is
accepted; the variate is a function of the accepted pair alone. With one lam for every
variate, whether a pair is accepted does not depend on which variate it serves, so the i-th
variate comes from the i-th accepted pair of the stream: the pairs can be drawn in bulk
(`rng.random`, the same uniforms as numpy's own `next_double`) and tested as arrays. The
arithmetic is numpy's, operation for operation in the same order (IEEE double, no fused
multiply-add in numpy's build: checked on its machine code). Only the logarithm is
approximated by numpy's array `log` (within a few ulp of the C library's): the few pairs
whose test is that close to its bound are tested again with `math.log`, the C library's
`log` numpy calls. tests/test_streams.py checks the numbers and the stream against
`rng.poisson` on many seeds and means.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np

PTRS_MIN_LAM = 10.0  # numpy's PTRS from here on; below, the multiplication method
# numpy's `random_loggam` series (Zhang & Jin), a[0] .. a[9]
LOGGAM_SERIES = (
    8.333333333333333e-02,
    -2.777777777777778e-03,
    7.936507936507937e-04,
    -5.952380952380952e-04,
    8.417508417508418e-04,
    -1.917526917526918e-03,
    6.410256410256410e-03,
    -2.955065359477124e-02,
    1.796443723688307e-01,
    -1.39243221690590e00,
)
HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)  # folded by numpy's compiler to this double
LOG_TOLERANCE = 1e-9  # |array log - C log| is a few ulp (1e-15): a margin far above it
BATCH_PAIRS = 1 << 15  # pairs tested at a time: the arrays stay in the cache


def loggam(x: float) -> float:
    """numpy's `random_loggam(x)` (log Gamma(x), x >= 1), operation for operation."""
    if x == 1.0 or x == 2.0:
        return 0.0
    n = int(7.0 - x) if x < 7.0 else 0
    x0 = n + x
    x2 = (1.0 / x0) * (1.0 / x0)
    gl0 = LOGGAM_SERIES[9]
    for a in reversed(LOGGAM_SERIES[:9]):
        gl0 *= x2
        gl0 += a
    gl = gl0 / x0 + HALF_LOG_2PI + (x0 - 0.5) * math.log(x0) - x0
    for _ in range(n):
        x0 -= 1.0
        gl -= math.log(x0)
    return gl


@dataclass(frozen=True)
class Ptrs:
    """numpy's PTRS constants for one lam, and its final test's bound as a bound on V:
    log(V) + log(1/alpha) - log(a / us^2 + b) <= R(k), R(k) = k log(lam) - lam -
    loggam(k + 1), is V <= (a / us^2 + b) alpha exp(R(k)); `scale` holds
    alpha exp(R(k)) for k = `low` .. `low` + len(scale) - 1, every k a pair with
    us >= 0.013 can give (the others are tested one by one)."""

    lam: float
    loglam: float
    a: float
    b: float
    vr: float
    log_invalpha: float
    low: int
    scale: np.ndarray

    @classmethod
    def of(cls, lam: float) -> Ptrs:
        slam, loglam = math.sqrt(lam), math.log(lam)
        b = slam * 2.53 + 0.931
        a = b * 0.02483 - 0.059
        log_invalpha = math.log(1.1328 / (b - 3.4) + 1.1239)
        vr = 0.9277 - 3.6224 / (b - 2.0)
        # |(2a / us + b) u| <= (2a / 0.013 + b) / 2 where us = 1/2 - |u| >= 0.013
        reach = (2 * a / 0.013 + b) * 0.5 + 1.0
        low, high = max(math.floor(lam - reach), 0), math.ceil(lam + reach)
        scale = np.asarray(
            [math.exp(cls.right_side(k, lam, loglam) - log_invalpha) for k in range(low, high + 1)]
        )
        return cls(lam, loglam, a, b, vr, log_invalpha, low, scale)

    @staticmethod
    def right_side(k: int, lam: float, loglam: float) -> float:
        """R(k), as numpy computes it."""
        return k * loglam - lam - loggam(k + 1.0)

    def variates(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """The variates of the accepted pairs among the pairs (u, v) of uniforms, in order:
        numpy's test of each pair (its quick acceptance, then `final_test`)."""
        a, b = self.a, self.b
        u = u - 0.5
        us = np.abs(u)
        np.subtract(0.5, us, out=us)
        with np.errstate(divide="ignore", invalid="ignore"):
            k = (a + a) / us
        k += b
        k *= u
        k += self.lam
        k += 0.43
        np.floor(k, out=k)  # as a float (-inf where us = 0)
        accept = us >= 0.07
        accept &= v <= self.vr
        rest = np.flatnonzero(~accept)
        accept[rest] = self.final_test(k.take(rest), us.take(rest), v.take(rest))
        return k[accept].astype(np.int64)

    def final_test(self, k: np.ndarray, us: np.ndarray, v: np.ndarray) -> np.ndarray:
        """numpy's rejections (k < 0: its C cast makes a k beyond int64, or -inf, negative;
        us < 0.013 with V > us), then its final test of the pairs (k, us, V) not rejected:
        as a bound on V where k is tabulated and V is not within LOG_TOLERANCE of it, else
        as numpy does it (`exact_test`)."""
        at = k - self.low
        tabulated = (at >= 0.0) & (at < len(self.scale))
        bound = self.scale.take(np.where(tabulated, at, 0.0).astype(np.intp))
        with np.errstate(divide="ignore"):  # us = 0 only where k = -inf: rejected
            bound *= self.a / (us * us) + self.b
        ok = v <= bound
        kept = (us >= 0.013) | (v <= us)
        ok &= kept
        ok &= tabulated
        exact = kept & ~tabulated & (k >= 0.0) & (k < 2.0**63)
        exact |= kept & tabulated & (np.abs(v - bound) <= LOG_TOLERANCE * bound)
        for i in np.flatnonzero(exact):
            ok[i] = self.exact_test(int(k[i]), float(us[i]), float(v[i]))
        return ok

    def exact_test(self, k: int, us: float, v: float) -> bool:
        """The final test of one pair with the C library's log, as numpy does it."""
        log_v = math.log(v) if v > 0.0 else -math.inf
        left = log_v + self.log_invalpha - math.log(self.a / (us * us) + self.b)
        return left <= self.right_side(k, self.lam, self.loglam)


@cache
def ptrs(lam: float) -> Ptrs:
    return Ptrs.of(lam)


def draw_poisson(lam: float, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """`rng.poisson(lam, shape)`: the same int64 numbers, and the stream left where that
    call leaves it (module docstring); lam < 10 is `rng.poisson` itself.

    With m variates still to draw, up to m more pairs are drawn: the call would use all of
    them (if fewer than m are accepted it goes on past them; if all are, it stops at the
    last), so the stream never runs ahead of numpy's; the variates still missing are drawn
    the same way from where it stopped."""
    if not lam >= PTRS_MIN_LAM:
        return rng.poisson(lam, shape)
    test = ptrs(float(lam))
    size = math.prod(shape)
    out = np.empty(size, dtype=np.int64)
    done = 0
    while done < size:
        pairs = rng.random(2 * min(size - done, BATCH_PAIRS))
        got = test.variates(pairs[0::2], pairs[1::2])
        out[done : done + len(got)] = got
        done += len(got)
    return out.reshape(shape)


def skip_uniforms(count: int, rng: np.random.Generator) -> None:
    """Move `rng` on as if `rng.random(count)` had been drawn. PCG64's `advance` jumps at
    once (one 64-bit output a uniform); it forgets a buffered 32-bit half (from a draw of
    32-bit integers), which is put back. Other bit generators draw the uniforms."""
    bits = rng.bit_generator
    if not isinstance(bits, np.random.PCG64 | np.random.PCG64DXSM):
        rng.random(count)
        return
    before = bits.state
    bits.advance(count)
    if before["has_uint32"]:
        after = bits.state
        after["has_uint32"], after["uinteger"] = before["has_uint32"], before["uinteger"]
        bits.state = after


def draw_below(p: float, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """`rng.random(shape) < p`: the same booleans, the stream moved on the same; when p <= 0
    (all False) or p >= 1 (all True: a uniform is below 1) the uniforms are skipped. All
    False is a read-only array that takes no memory (one False broadcast to `shape`): a
    caller writes into the result only when p > 0."""
    if 0.0 < p < 1.0:
        return rng.random(shape) < p
    skip_uniforms(math.prod(shape), rng)
    return np.full(shape, True) if p >= 1.0 else np.broadcast_to(False, shape)


def count_type(limit: int) -> type[np.signedinteger]:
    """The narrowest of int8 .. int64 that holds 0 .. `limit`: how the clinic keeps counts it
    draws or derives for a whole chunk (the background per day, the vials of a dose)."""
    for dtype in (np.int8, np.int16, np.int32):
        if limit <= np.iinfo(dtype).max:
            return dtype
    return np.int64
