"""A root of a scalar function on a bracket by Brent's method, in plain Python.

`brentq(f, a, b, ...)` returns the same float as ``scipy.optimize.brentq`` with the same
arguments: it takes the same steps (Brent 1973, ch. 4: inverse quadratic extrapolation or
secant steps while they shrink the bracket fast enough, bisection otherwise) in the same
double-precision arithmetic, so the design figures do not move by a bit (tests/test_roots.py
compares the two on the design's own equations and on awkward functions). It exists because
importing ``scipy.optimize`` costs a command about 0.2-0.4 s (it pulls in scipy.sparse and
scipy.linalg), and the closed forms need nothing else from it. The functions solved here
are a few dozen evaluations of cheap closed forms, so the Python loop costs microseconds.

Reference: R. P. Brent, *Algorithms for Minimization Without Derivatives*, Prentice-Hall,
1973, ch. 3-4.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable

RTOL_MIN = 4 * sys.float_info.epsilon  # the smallest relative tolerance (as scipy's)


def brentq(
    f: Callable[[float], float],
    a: float,
    b: float,
    xtol: float = 2e-12,
    rtol: float = RTOL_MIN,
    maxiter: int = 100,
) -> float:
    """x in [a, b] with f(x) = 0 to within xtol + rtol |x|, given f(a) and f(b) of opposite
    signs (ValueError if not; RuntimeError after `maxiter` steps without convergence)."""
    if xtol <= 0:
        raise ValueError(f"xtol too small ({xtol:g} <= 0)")
    if rtol < RTOL_MIN:
        raise ValueError(f"rtol too small ({rtol:g} < {RTOL_MIN:g})")

    xtol, rtol = float(xtol), float(rtol)

    def value(x: float) -> float:
        y = float(f(x))
        if math.isnan(y):
            raise ValueError(f"The function value at x={x} is NaN; solver cannot continue.")
        return y

    # `now` is the latest estimate, `last` the one before; `far` the other end of the
    # bracket [now, far] (or [far, now]) that holds the root
    last, now = float(a), float(b)
    f_last, f_now = value(last), value(now)
    if f_last * f_now > 0:
        raise ValueError("f(a) and f(b) must have different signs")
    if f_last == 0:
        return last
    if f_now == 0:
        return now
    far = f_far = 0.0
    step_before = step = 0.0
    for _ in range(maxiter):
        if f_last * f_now < 0:  # the sign changed between last and now: new bracket
            far, f_far = last, f_last
            step_before = step = now - last
        if abs(f_far) < abs(f_now):  # keep `now` the end with the smaller |f|
            last, now, far = now, far, now
            f_last, f_now, f_far = f_now, f_far, f_now
        tol = (xtol + rtol * abs(now)) / 2
        half = (far - now) / 2  # the bisection step
        if f_now == 0 or abs(half) < tol:
            return now
        if abs(step_before) > tol and abs(f_now) < abs(f_last):
            if last == far:  # two points: secant
                trial = -f_now * (now - last) / (f_now - f_last)
            else:  # three points: inverse quadratic
                slope_last = (f_last - f_now) / (last - now)
                slope_far = (f_far - f_now) / (far - now)
                trial = (
                    -f_now
                    * (f_far * slope_far - f_last * slope_last)
                    / (slope_far * slope_last * (f_far - f_last))
                )
            bound = 3 * abs(half) - tol
            if 2 * abs(trial) < (abs(step_before) if abs(step_before) < bound else bound):
                step_before, step = step, trial  # accepted: it shrinks fast enough
            else:
                step_before = step = half
        else:
            step_before = step = half
        last, f_last = now, f_now
        now += step if abs(step) > tol else (tol if half > 0 else -tol)
        f_now = value(now)
    raise RuntimeError(f"Failed to converge after {maxiter} iterations, value is {now}.")
