"""sim.stats.analysis against independent implementations and R's published output.

Oracles: lifelines 0.30 (log-rank, Cox Efron, Kaplan-Meier, log-log CI), statsmodels
(survdiff, PHReg Breslow/Efron, SurvfuncRight Greenwood se and quantile_ci), and R's
survival package output for the `aml` data printed in its documentation. Numbers from
lifelines/statsmodels are compared at 1e-8 relative; R's at the digits R prints. lifelines
needs pandas < 3, so its numbers are committed (tests/references/lifelines.json, each with
its call, made by tests/references/make_lifelines_references.py), as R's are.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq
from scipy.stats import norm
from statsmodels.duration.hazard_regression import PHReg
from statsmodels.duration.survfunc import SurvfuncRight, survdiff

from sim.stats import analysis
from tests.helpers import lifelines_reference
from tests.references.datasets import HALF_PLATEAU_EVENT, HALF_PLATEAU_TIME, scan_data

RTOL = 1e-8
SEEDS = range(6)


def batch_data(seed: int, n_reps: int = 12, n: int = 40) -> dict[str, np.ndarray]:
    """(R, n) rows of scan data, with degenerate rows: no events, one arm only, all tied."""
    rows = [scan_data(seed * 100 + r, n) for r in range(n_reps)]
    d = {k: np.stack([row[k] for row in rows]) for k in rows[0]}
    d["event"][1] = False  # no events: log-rank var = 0, Cox nan
    d["arm"][2] = 0  # one arm only
    d["event"][3] &= d["arm"][3] == 0  # events in arm 0 only: beta = -inf
    d["time"][4] = 84.0  # every patient ties at one time
    return d


def check_no_warnings(call, *args, **kwargs):
    """Run `call` turning any warning (e.g. numpy divide by zero) into a failure."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return call(*args, **kwargs)


# --- R's survival output for aml (Maintained = arm 0, Nonmaintained = arm 1) ---------------

AML_TIME = np.array(
    [9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161, 5, 5, 8, 8, 12, 16, 23, 27, 30, 33, 43, 45],
    dtype=float,
)
AML_EVENT = np.array(
    [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1], dtype=bool
)
AML_ARM = np.array([0] * 11 + [1] * 12)


def test_aml_matches_r_printed_output():
    # Expected values: R's survival package, data(aml), as printed by
    # survdiff(Surv(time, status) ~ x): Expected 10.69 / 7.31, Chisq = 3.4, p = 0.07;
    # coxph(Surv(time, status) ~ x): coef 0.9155, se 0.5119, z 1.788, p 0.0737 (Efron);
    # print(survfit(Surv(time, status) ~ x)): median 31 (18, NA) and 23 (8, NA).
    lr = analysis.logrank_test(AML_TIME, AML_EVENT, AML_ARM)
    assert lr.o1[0] == 11
    assert lr.e1[0] == pytest.approx(7.31, abs=0.005)
    assert lr.chi2[0] == pytest.approx(3.4, abs=0.05)
    assert lr.p_two[0] == pytest.approx(0.0653, abs=5e-5)
    cox = analysis.cox_ph(AML_TIME, AML_EVENT, AML_ARM)
    assert cox.beta[0] == pytest.approx(0.9155, abs=5e-5)
    assert cox.se[0] == pytest.approx(0.5119, abs=5e-5)
    assert cox.z[0] == pytest.approx(1.788, abs=5e-4)
    assert cox.p_two[0] == pytest.approx(0.0737, abs=5e-5)
    np.testing.assert_array_equal(analysis.km_median(AML_TIME, AML_EVENT, AML_ARM), [[31, 23]])
    for arm, expected in ((0, (31, 18, np.nan)), (1, (23, 8, np.nan))):
        mine = analysis.km_median_ci(AML_TIME[AML_ARM == arm], AML_EVENT[AML_ARM == arm])
        np.testing.assert_array_equal([mine.median, mine.ci_low, mine.ci_high], expected)


def test_aml_log_log_band_and_median_ci_match_r():
    # Expected: R 4.x survival, f <- survfit(Surv(time, status) ~ x, data = aml,
    # conf.type = "log-log"); print(f): Maintained 31 (13, NA), Nonmaintained 23 (5, 33);
    # summary(f)$lower / $upper of Maintained at its event times.
    for arm, expected in ((0, (31, 13, np.nan)), (1, (23, 5, 33))):
        mine = analysis.km_median_ci(
            AML_TIME[AML_ARM == arm], AML_EVENT[AML_ARM == arm], conf_type="log-log"
        )
        np.testing.assert_array_equal([mine.median, mine.ci_low, mine.ci_high], expected)
    table = analysis.kaplan_meier(
        AML_TIME[AML_ARM == 0], AML_EVENT[AML_ARM == 0], conf_type="log-log"
    )
    table = table[table["n_event"] > 0]
    np.testing.assert_allclose(
        table["ci_low"],
        [0.508080, 0.447429, 0.350190, 0.265752, 0.167331, 0.092830, 0.011738],
        atol=5e-6,
    )
    np.testing.assert_allclose(
        table["ci_high"],
        [0.986674, 0.951162, 0.899024, 0.835299, 0.753400, 0.657041, 0.525015],
        atol=5e-6,
    )
    with pytest.raises(ValueError, match="log-log"):
        analysis.kaplan_meier(AML_TIME, AML_EVENT, conf_type="plain")


def test_aml_log_band_matches_r_summary():
    # Expected: R's summary(survfit(Surv(time, status) ~ x, data = aml)), x = Maintained:
    # std.err (of S) and the default conf.type = "log" 95% band at the event times.
    table = analysis.kaplan_meier(AML_TIME[AML_ARM == 0], AML_EVENT[AML_ARM == 0])
    table = table[table["n_event"] > 0]
    lower, upper = analysis.log_band(table["survival"], table["std_err"], 0.95)
    np.testing.assert_allclose(
        table["std_err"], [0.0867, 0.1163, 0.1397, 0.1526, 0.1642, 0.1627, 0.1535], atol=5e-5
    )
    np.testing.assert_allclose(
        lower, [0.7541, 0.6192, 0.4884, 0.3769, 0.2549, 0.1549, 0.0359], atol=5e-5
    )
    np.testing.assert_allclose(upper, [1, 1, 1, 0.999, 0.946, 0.875, 0.944], atol=5e-4)


# --- log-rank ----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_logrank_matches_lifelines(seed):
    # Expected: lifelines.statistics.logrank_test on the two arms (hypergeometric variance).
    d = scan_data(seed)
    ours = analysis.logrank_test(d["time"], d["event"], d["arm"])
    ref = lifelines_reference(f"logrank scan_data({seed})", *d.values())
    np.testing.assert_allclose(ours.chi2, ref["test_statistic"], rtol=RTOL)
    np.testing.assert_allclose(ours.p_two, ref["p_value"], rtol=RTOL)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("stratified", [False, True])
def test_logrank_matches_statsmodels_survdiff(seed, stratified):
    # Expected: statsmodels survdiff(time, status, group, strata=...) chi-square and p.
    d = scan_data(seed)
    strata = d["stratum"] if stratified else None
    ours = analysis.logrank_test(d["time"], d["event"], d["arm"], strata)
    chi2, p = survdiff(d["time"], d["event"].astype(int), d["arm"], strata=strata)
    np.testing.assert_allclose(ours.chi2, chi2, rtol=RTOL)
    np.testing.assert_allclose(ours.p_two, p, rtol=RTOL)


def test_logrank_hand_computed_ties_and_direction():
    # Expected by hand: times 1,1,2,3 (events), 3 (censored); arms 0,1,0,1,0.
    # t=1: n=5, n1=2, d=2 -> E1 = 2*2/5 = 0.8, V = 2*(2/5)(3/5)(3/4) = 0.36
    # t=2: n=3, n1=1, d=1 -> E1 = 1/3, V = (1/3)(2/3) = 2/9
    # t=3: n=2, n1=1, d=1 -> E1 = 1/2, V = (1/2)(1/2)(2-1)/(2-1) = 1/4
    # O1 = 2, E1 = 0.8 + 1/3 + 1/2, V = 0.36 + 2/9 + 1/4; Z > 0 (arm 1 worse).
    time = np.array([1, 1, 2, 3, 3.0])
    event = np.array([1, 1, 1, 1, 0], bool)
    arm = np.array([0, 1, 0, 1, 0])
    r = analysis.logrank_test(time, event, arm)
    e1, var = 0.8 + 1 / 3 + 1 / 2, 0.36 + 2 / 9 + 1 / 4
    np.testing.assert_allclose([r.o1[0], r.e1[0], r.var[0]], [2, e1, var], rtol=1e-14)
    z = (2 - e1) / np.sqrt(var)
    np.testing.assert_allclose([r.z[0], r.chi2[0]], [z, z * z], rtol=1e-14)
    np.testing.assert_allclose([r.p_one[0], r.p_two[0]], [norm.cdf(z), 2 * norm.sf(z)], rtol=1e-14)


def test_logrank_zero_variance_gives_nan_without_warnings():
    # Expected by definition: no events, or one arm only -> V = 0 -> Z and p are nan.
    time = np.array([[1.0, 2, 3, 4], [1, 2, 3, 4]])
    event = np.array([[0, 0, 0, 0], [1, 1, 1, 0]], bool)
    arm = np.array([[0, 1, 0, 1], [0, 0, 0, 0]])
    r = check_no_warnings(analysis.logrank_test, time, event, arm)
    np.testing.assert_array_equal(r.var, [0, 0])
    assert np.isnan(r.z).all() and np.isnan(r.p_one).all() and np.isnan(r.p_two).all()


# --- Cox ---------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("stratified", [False, True])
def test_cox_matches_statsmodels_phreg(seed, ties, stratified):
    # Expected: statsmodels PHReg, Newton to |step| < 1e-13 with no ridge on the Hessian.
    d = scan_data(seed)
    strata = d["stratum"] if stratified else None
    ours = analysis.cox_ph(d["time"], d["event"], d["arm"], strata, ties=ties)
    ref = PHReg(
        d["time"],
        d["arm"][:, None].astype(float),
        status=d["event"].astype(int),
        ties=ties,
        strata=strata,
    ).fit(method="newton", tol=1e-13, ridge_factor=0.0)
    np.testing.assert_allclose(ours.beta, ref.params, rtol=RTOL)
    np.testing.assert_allclose(ours.se, ref.bse, rtol=RTOL)
    np.testing.assert_allclose(ours.p_two, ref.pvalues, rtol=RTOL)
    assert ours.converged.all()


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("stratified", [False, True])
def test_cox_efron_matches_lifelines(seed, stratified):
    # Expected: lifelines CoxPHFitter (Efron). Its defaults stop early (0.95 damped first
    # steps, and r_precision=1e-9 on the relative log-likelihood change leaves ~1e-5 in
    # beta), so take full Newton steps and stop only on a Newton decrement < 1e-20.
    # (lifelines: CoxPHFitter().fit(..., fit_options={"precision": 1e-20, "r_precision": 0.0,
    # "step_size": 1.0}); params_, standard_errors_ and the summary's exp(coef) 95% bounds.)
    d = scan_data(seed)
    how = "stratified" if stratified else "unstratified"
    ref = lifelines_reference(f"cox efron {how} scan_data({seed})", *d.values())
    ours = analysis.cox_ph(d["time"], d["event"], d["arm"], d["stratum"] if stratified else None)
    np.testing.assert_allclose(ours.beta, ref["beta"], rtol=RTOL)
    np.testing.assert_allclose(ours.se, ref["se"], rtol=RTOL)
    np.testing.assert_allclose(ours.ci_low, ref["ci_low"], rtol=RTOL)
    np.testing.assert_allclose(ours.ci_high, ref["ci_high"], rtol=RTOL)


def test_cox_conf_level_and_wald():
    # Expected by definition: ci = exp(beta -/+ z_{0.95} se) for conf_level 0.9,
    # z = beta / se, p_one = Phi(z).
    d = scan_data(0)
    r = analysis.cox_ph(d["time"], d["event"], d["arm"], conf_level=0.9)
    q = norm.ppf(0.95)
    np.testing.assert_allclose(r.ci_low, np.exp(r.beta - q * r.se), rtol=1e-14)
    np.testing.assert_allclose(r.ci_high, np.exp(r.beta + q * r.se), rtol=1e-14)
    np.testing.assert_allclose(r.z, r.beta / r.se, rtol=1e-14)
    np.testing.assert_allclose(r.p_one, norm.cdf(r.z), rtol=1e-14)


def test_cox_without_finite_mle_is_documented_and_silent():
    # Expected by the score's limits (see CoxResult): row 0 has no arm-1 event -> -inf;
    # row 1 has no arm-0 event -> +inf; row 2 has no events -> nan; row 3 is ordinary.
    time = np.array([[1.0, 2, 3, 4, 5, 6]] * 4)
    arm = np.array([[0, 1, 0, 1, 0, 1]] * 4)
    event = np.array([[1, 0, 1, 0, 1, 0], [0, 1, 0, 1, 0, 1], [0] * 6, [1, 1, 0, 1, 1, 0]], bool)
    r = check_no_warnings(analysis.cox_ph, time, event, arm)
    np.testing.assert_array_equal(r.beta[:3], [-np.inf, np.inf, np.nan])
    np.testing.assert_array_equal(r.hr[:3], [0, np.inf, np.nan])
    np.testing.assert_array_equal(r.converged, [False, False, False, True])
    for field in ("se", "z", "p_one", "p_two", "ci_low", "ci_high"):
        assert np.isnan(getattr(r, field)[:3]).all(), field
        assert np.isfinite(getattr(r, field)[3]), field


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_cox_step_halving_reaches_the_mle(ties):
    # Expected: statsmodels PHReg's score and Hessian. One arm-0 patient among eleven,
    # dying first (tied with an arm-1 death): the information grows as beta moves from 0
    # towards the MLE (~ -2), so the first full Newton step overshoots and lowers the
    # log-likelihood (checked below) and must be halved.
    time = np.array([2, 5, 2, 1, 5, 3, 2, 5, 5, 1, 4], dtype=float)
    event = np.array([1, 1, 1, 1, 0, 1, 0, 1, 1, 1, 1], bool)
    arm = np.array([1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1])
    rs = analysis.tabulate_risk_sets(analysis.as_batch(time, event, arm))
    a, b = analysis.efron_terms(rs, ties)
    o1 = np.array([8.0])
    loglik0, score0, info0 = analysis.cox_terms(np.zeros(1), a, b, o1)
    assert analysis.cox_terms(score0 / info0, a, b, o1)[0] < loglik0
    ours = analysis.cox_ph(time, event, arm, ties=ties)
    # statsmodels' own Newton has no step control and diverges here, so find the root of
    # its score function by bisection instead; se from its Hessian there.
    model = PHReg(time, arm[:, None].astype(float), status=event.astype(int), ties=ties)
    beta = brentq(lambda x: model.score(np.array([x]))[0], -10.0, 10.0, xtol=1e-14, rtol=1e-15)
    se = 1.0 / np.sqrt(-model.hessian(np.array([beta]))[0, 0])
    np.testing.assert_allclose(ours.beta, beta, rtol=RTOL)
    np.testing.assert_allclose(ours.se, se, rtol=RTOL)
    assert ours.converged.all()


# --- Kaplan-Meier ------------------------------------------------------------------------


def test_km_median_matches_lifelines_where_conventions_agree():
    # Expected: lifelines median_survival_time_ (first t with S(t) <= 0.5, inf if never).
    # The conventions differ only when S(t) is exactly 0.5 over an interval, so those
    # curves are skipped; at least 40 of the 60 curves must be compared.
    compared = 0
    for seed in range(30):
        d = scan_data(seed, n=50)
        ours = analysis.km_median(d["time"], d["event"], d["arm"])[0]
        for arm in (0, 1):
            km = lifelines_reference(
                f"km median scan_data({seed}, n=50) arm {arm}", d["time"], d["event"], d["arm"]
            )
            if km["touches_half"]:  # |S(t) - 0.5| < 1e-8 somewhere on lifelines' curve
                continue
            expected = km["median"]
            assert ours[arm] == expected or (np.isnan(ours[arm]) and np.isinf(expected))
            compared += 1
    assert compared >= 40


def test_km_median_half_plateau_follows_r():
    # Arm 0, hand computed: events at 1, 2, 3 of 6 patients give S = 5/6, 4/6, 3/6 = 0.5;
    # the censoring at 3.5 leaves S = 0.5; the event at 5 (2 at risk) gives 0.25. R's
    # print.survfit: S == 0.5 from 3 to the next event time 5 -> median (3 + 5)/2 = 4 (not
    # the midpoint with the censoring time 3.5). lifelines reports 3 or 5 (round-off).
    # Arm 1: events at 1, 2 of 4 give S = 3/4, 1/2, then only censorings: flat at 0.5 to
    # the end -> print.survfit gives 2 (quantile.survfit would give (2 + 4)/2 = 3).
    time = np.concatenate([HALF_PLATEAU_TIME, [1, 2, 3, 4]])
    event = np.concatenate([HALF_PLATEAU_EVENT, np.array([1, 1, 0, 0], bool)])
    arm = np.array([0] * 6 + [1] * 4)
    np.testing.assert_array_equal(analysis.km_median(time, event, arm), [[4.0, 2.0]])
    assert analysis.km_median_ci(time[:6], event[:6]).median == 4.0
    assert analysis.km_median_ci(time[6:], event[6:]).median == 2.0
    lifelines = lifelines_reference("km median half plateau", time[:6], event[:6])
    assert lifelines["median"] in (3.0, 5.0)


def test_km_median_not_reached_and_tied_crossing():
    # Hand computed. Arm 0: one event of 4 -> S = 0.75, never <= 0.5 -> nan.
    # Arm 1: 3 of 4 die at t=2 (S jumps 1 -> 0.25) -> median 2.
    time = np.array([1, 2, 3, 4, 2, 2, 2, 5.0])
    event = np.array([1, 0, 0, 0, 1, 1, 1, 0], bool)
    arm = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    np.testing.assert_array_equal(analysis.km_median(time, event, arm), [[np.nan, 2.0]])


def test_km_median_from_risk_sets_is_km_median_to_the_last_bit():
    # The chunk's medians reuse the unstratified risk sets' sort: the same bits as km_median,
    # with ties (whole days), padding slots and medians on a 0.5 plateau or not reached.
    rng = np.random.default_rng(7)
    shape = (300, 40)
    time = np.ceil(rng.exponential(60.0, shape))
    event = rng.random(shape) < 0.6
    arm = rng.integers(0, 2, shape)
    valid = rng.random(shape) < 0.9
    rs = analysis.risk_sets(time, event, arm, None, valid=valid)
    np.testing.assert_array_equal(
        analysis.km_median_from_risk_sets(rs), analysis.km_median(time, event, arm, valid=valid)
    )
    with pytest.raises(ValueError, match="unstratified"):
        analysis.km_median_from_risk_sets(
            analysis.risk_sets(time, event, arm, rng.integers(0, 2, shape), valid=valid)
        )


@pytest.mark.parametrize("seed", SEEDS)
def test_kaplan_meier_matches_lifelines_and_statsmodels(seed):
    # Expected: lifelines survival_function_, confidence_interval_ (exponential Greenwood,
    # i.e. log-log) and event_table; statsmodels SurvfuncRight.surv_prob_se (Greenwood se
    # of S) at the event times.
    d = scan_data(seed)
    time, event = d["time"], d["event"]
    ours = analysis.kaplan_meier(time, event, conf_level=0.9, conf_type="log-log")
    ours = ours.set_index("time")
    km = lifelines_reference(f"kaplan-meier alpha 0.1 scan_data({seed})", time, event)
    table = pd.DataFrame(km["table"]).set_index("time").loc[ours.index]
    np.testing.assert_array_equal(ours["n_at_risk"], table["at_risk"])
    np.testing.assert_array_equal(ours["n_event"], table["observed"])
    np.testing.assert_array_equal(ours["n_censor"], table["censored"])
    np.testing.assert_allclose(ours["survival"], table["survival"], rtol=RTOL)
    np.testing.assert_allclose(ours["ci_low"], table["ci_low"], rtol=RTOL)
    np.testing.assert_allclose(ours["ci_high"], table["ci_high"], rtol=RTOL)
    sf = SurvfuncRight(time, event.astype(int))
    np.testing.assert_allclose(ours.loc[sf.surv_times, "std_err"], sf.surv_prob_se, rtol=RTOL)


@pytest.mark.parametrize("seed", range(20))
def test_km_median_ci_matches_statsmodels_log_quantile_ci(seed):
    # Expected: statsmodels SurvfuncRight.quantile_ci(0.5, method="log"), which inverts
    # |log S(t) - log 0.5| <= z se(log S): lb = first event time in that set, ub = the event
    # time after its last member -- R's LCL / UCL when no band value is exactly 0.5. Where
    # the upper band never reaches 0.5 while S > 0, R says NA (its log band is NA at S = 0)
    # and statsmodels says inf, or the time S drops to 0 if it does.
    d = scan_data(seed, n=60)
    time, event = d["time"], d["event"]
    ours = analysis.km_median_ci(time, event, conf_level=0.95)
    sf = SurvfuncRight(time, event.astype(int))
    with np.errstate(divide="ignore"):  # (statsmodels' log band at S = 0: -inf, as said above)
        lb, ub = sf.quantile_ci(0.5, alpha=0.05, method="log")
    assert ours.ci_low == lb
    if np.isnan(ours.ci_high):
        assert np.isinf(ub) or (ub == sf.surv_times[-1] and sf.surv_prob[-1] == 0)
    else:
        assert ours.ci_high == ub
    assert ours.median == analysis.km_median(time, event, np.zeros(len(time), int))[0, 0]


# --- batching, masks and invariances -----------------------------------------------------


def all_results(time, event, arm, stratum, valid=None) -> dict[str, np.ndarray]:
    """Every batched statistic, flattened into one dict of (R,) / (R, 2) arrays."""
    out = {}
    for name, strata in (("strat", stratum), ("unstrat", None)):
        lr = analysis.logrank_test(time, event, arm, strata, valid)
        out |= {f"lr_{name}_{k}": v for k, v in vars(lr).items()}
        for ties in ("efron", "breslow"):
            cox = analysis.cox_ph(time, event, arm, strata, valid, ties=ties)
            out |= {f"cox_{name}_{ties}_{k}": v for k, v in vars(cox).items()}
    out["km_median"] = analysis.km_median(time, event, arm, valid)
    return out


@pytest.mark.parametrize("seed", range(3))
def test_batch_equals_row_by_row(seed):
    # Expected: the same functions on each row alone. Rows share no state, so even the
    # rounding must agree: exact equality.
    d = batch_data(seed)
    batch = all_results(d["time"], d["event"], d["arm"], d["stratum"])
    for r in range(d["time"].shape[0]):
        alone = all_results(*(d[k][r : r + 1] for k in ("time", "event", "arm", "stratum")))
        for key, value in batch.items():
            np.testing.assert_array_equal(value[r : r + 1], alone[key], err_msg=key)


@pytest.mark.parametrize("seed", range(3))
def test_valid_mask_equals_dropping(seed):
    # Expected: the same functions on each row with the masked slots removed. Masked slots
    # hold garbage (nan/inf/negative times, arm 7) that must be ignored. Tie order inside a
    # time can differ, so sums may differ in the last bits.
    d = batch_data(seed)
    rng = np.random.default_rng(seed)
    valid = rng.random(d["time"].shape) > 0.3
    garbage = {
        "time": rng.choice([np.nan, np.inf, -5.0, 42.0], d["time"].shape),
        "event": rng.random(d["time"].shape) < 0.5,
        "arm": np.full(d["time"].shape, 7),
        "stratum": np.full(d["time"].shape, -3),
    }
    masked = {k: np.where(valid, d[k], garbage[k]) for k in d}
    got = check_no_warnings(
        all_results, masked["time"], masked["event"], masked["arm"], masked["stratum"], valid
    )
    for r in range(d["time"].shape[0]):
        keep = valid[r]
        alone = all_results(*(d[k][r][keep][None] for k in ("time", "event", "arm", "stratum")))
        for key, value in got.items():
            if key.endswith("n_iter"):
                continue  # one more or fewer Newton step below 1e-12 is not a difference
            np.testing.assert_allclose(
                value[r : r + 1], alone[key], rtol=1e-12, atol=1e-12, err_msg=key
            )


@st.composite
def small_trials(draw):
    """One row of up to 30 patients with many ties, both arms usually present."""
    n = draw(st.integers(1, 30))
    time = draw(st.lists(st.sampled_from([0.0, 1.0, 2.0, 3.0, 5.0, 8.0]), min_size=n, max_size=n))
    event = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    arm = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    stratum = draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    perm = draw(st.permutations(range(n)))
    return (
        np.asarray(time)[None],
        np.asarray(event)[None],
        np.asarray(arm)[None],
        np.asarray(stratum)[None],
        np.asarray(perm),
    )


# Differences are rounding of sums taken in another order (~1e-15) and, for Cox, where
# Newton stops below its 1e-12 step: 1e-10 is far above both and far below any real change.
PROPERTY_TOL = {"rtol": 1e-10, "atol": 1e-10}


@settings(max_examples=300, deadline=None)
@given(small_trials())
def test_permuting_patients_changes_nothing(trial):
    # Expected: invariance (the analyses are functions of the set of patients).
    time, event, arm, stratum, perm = trial
    before = all_results(time, event, arm, stratum)
    after = all_results(time[:, perm], event[:, perm], arm[:, perm], stratum[:, perm])
    for key, value in before.items():
        if key.endswith("n_iter"):
            continue
        np.testing.assert_allclose(after[key], value, err_msg=key, **PROPERTY_TOL)


@settings(max_examples=300, deadline=None)
@given(small_trials())
def test_swapping_arm_labels_flips_signs(trial):
    # Expected by symmetry: Z -> -Z, beta -> -beta (+-inf swap), se and chi2 unchanged,
    # HR -> 1/HR, O1 -> total events - O1, KM median columns swap.
    time, event, arm, stratum, _ = trial
    before = all_results(time, event, arm, stratum)
    after = all_results(time, event, 1 - arm, stratum)
    for key, value in before.items():
        if key.endswith(("_z", "_beta")):
            expected = -value
        elif key.endswith(("_chi2", "_var", "_se", "_p_two", "_converged")):
            expected = value
        elif key.endswith("_o1"):
            expected = event.sum() - value
        elif key == "km_median":
            expected = value[:, ::-1]
        else:
            continue
        np.testing.assert_allclose(after[key], expected, err_msg=key, **PROPERTY_TOL)


# --- input checks ------------------------------------------------------------------------


def test_bad_inputs_raise():
    # Expected: the ValueErrors documented in as_batch, efron_terms and cox_ph.
    time, event, arm = np.ones((2, 3)), np.ones((2, 3), bool), np.zeros((2, 3), int)
    with pytest.raises(ValueError, match="arm must be 0"):
        analysis.logrank_test(time, event, arm + 2)
    with pytest.raises(ValueError, match="shape"):
        analysis.logrank_test(time, event[:, :2], arm)
    with pytest.raises(ValueError, match="ties"):
        analysis.cox_ph(time, event, arm, ties="exact")
    with pytest.raises(ValueError, match="conf_level"):
        analysis.cox_ph(time, event, arm, conf_level=95)
