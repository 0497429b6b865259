"""Lift vectors through the Python wheel, and the intervals checked against
statsmodels (an independent implementation): Wilson, Newcombe's hybrid
score interval for the difference, the adjusted log interval for the
ratio, and the z interval for a difference of per-user means."""

import math

import pytest
import referral_sdk as r

# Installed into the test venv by `cargo xtask test-bindings`: required,
# not skipped.
import numpy as np
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

TALLY_FIELDS = ["users", "asked", "shared", "referrers", "signups", "signups_squared", "paid", "paid_squared"]


def tally(group):
    return r.LiftGroupTally(**{k: group[k] for k in TALLY_FIELDS})


def tallies(t):
    return r.LiftTallies(treatment=tally(t["treatment"]), holdout=tally(t["holdout"]))


def close(a, b, tol=1e-9):
    return math.isclose(a, b, rel_tol=tol, abs_tol=tol)


def check_interval(got, expected):
    assert (got is None) == (expected is None)
    if got is not None:
        for name in ("estimate", "low", "high"):
            assert close(getattr(got, name), expected[name]), (name, got, expected)


def check_comparison(got, expected):
    assert (got is None) == (expected is None)
    if got is None:
        return
    check_interval(got.absolute, expected["absolute"])
    rel = expected.get("relative")
    assert (got.relative is None) == (rel is None)
    if rel is not None:
        assert (got.relative.estimate is None) == (rel["estimate"] is None)
        if rel["estimate"] is not None:
            assert close(got.relative.estimate, rel["estimate"])
        assert close(got.relative.low, rel["low"]) and close(got.relative.high, rel["high"])


def check_report(got, expected):
    for group in ("treatment", "holdout"):
        g, e = getattr(got, group), expected[group]
        assert g.tally == tally(e)
        check_interval(g.referrer_rate, e["referrer_rate"])
        check_interval(g.signups_per_user, e["signups_per_user"])
        check_interval(g.paid_per_user, e["paid_per_user"])
    check_comparison(got.referrer_rate, expected["referrer_rate"])
    check_comparison(got.signups_per_user, expected["signups_per_user"])
    check_comparison(got.paid_per_user, expected["paid_per_user"])
    assert r.lift_verdict_code(got.verdict) == expected["verdict"]["code"]
    if expected["verdict"]["code"] == "not_enough_data":
        assert got.verdict.more_holdout_users == expected["verdict"]["more_holdout_users"]
        assert got.verdict.more_treatment_users == expected["verdict"]["more_treatment_users"]
    assert got.summary == expected["summary"]


def test_lift_cases_match_the_vectors(vectors):
    cases = vectors["lift"]["cases"]
    assert len(cases) >= 8
    codes = set()
    for case in cases:
        options = r.LiftOptions(**case["options"])
        report = r.lift_report(tallies(case["tallies"]), options)
        check_report(report, case["report"])
        codes.add(case["report"]["verdict"]["code"])
    assert codes == {"not_enough_data", "lift", "harm", "no_detectable_lift", "no_holdout"}


def test_outcomes_sum_into_tallies(vectors):
    outcomes = vectors["lift"]["outcomes"]
    users = [r.UserOutcome(**u) for u in outcomes["users"]]
    got = r.lift_tallies(users)
    assert got == tallies(outcomes["tallies"])
    check_report(r.lift_report(got, r.LiftOptions(holdout_basis_points=1000, min_relative_lift=0.2)), outcomes["report"])


def test_intervals_agree_with_statsmodels(vectors):
    checked = 0
    for case in vectors["lift"]["cases"]:
        t, h = case["tallies"]["treatment"], case["tallies"]["holdout"]
        report = case["report"]
        if not (t["users"] and h["users"]):
            continue
        for group, g in (("treatment", t), ("holdout", h)):
            low, high = proportion_confint(g["referrers"], g["users"], method="wilson")
            got = report[group]["referrer_rate"]
            assert close(got["low"], low, 1e-12) and close(got["high"], high, 1e-12), (case["name"], group)
        low, high = confint_proportions_2indep(
            t["referrers"], t["users"], h["referrers"], h["users"], method="newcomb", compare="diff")
        got = report["referrer_rate"]["absolute"]
        assert close(got["low"], low, 1e-12) and close(got["high"], high, 1e-12), case["name"]
        low, high = confint_proportions_2indep(
            t["referrers"], t["users"], h["referrers"], h["users"], method="log-adjusted", compare="ratio")
        got = report["referrer_rate"]["relative"]
        assert close(got["low"], low - 1, 1e-10) and close(got["high"], high - 1, 1e-10), case["name"]
        checked += 1
    assert checked >= 6
    # Per-user means from the raw outcomes, as statsmodels computes them.
    outcomes = vectors["lift"]["outcomes"]
    for measure, field in (("signups_per_user", "referred_signups"), ("paid_per_user", "referred_paid")):
        treated = np.array([u[field] for u in outcomes["users"] if not u["holdout"]], dtype=float)
        held = np.array([u[field] for u in outcomes["users"] if u["holdout"]], dtype=float)
        low, high = CompareMeans(DescrStatsW(treated), DescrStatsW(held)).zconfint_diff(usevar="unequal")
        got = outcomes["report"][measure]["absolute"]
        assert close(got["low"], low, 1e-12) and close(got["high"], high, 1e-12), measure


def test_relative_lift_of_means_is_the_delta_method_on_the_log_ratio(vectors):
    """Per-user means' relative lift: exp(log(m_t/m_h) ± z·sqrt(s_t²/(n_t m_t²)
    + s_h²/(n_h m_h²))) − 1, computed here from each case's sums."""
    from scipy.stats import norm

    z = norm.ppf(0.975)
    checked = 0
    for case in vectors["lift"]["cases"]:
        t, h = case["tallies"]["treatment"], case["tallies"]["holdout"]
        for measure, total, squares in (("signups_per_user", "signups", "signups_squared"), ("paid_per_user", "paid", "paid_squared")):
            got = (case["report"][measure] or {}).get("relative")
            if t["users"] < 2 or h["users"] < 2:
                continue
            mt, mh = t[total] / t["users"], h[total] / h["users"]
            if mt == 0 or mh == 0:
                assert got is None, (case["name"], measure)
                continue
            vt = (t[squares] - t[total] * mt) / (t["users"] - 1)
            vh = (h[squares] - h[total] * mh) / (h["users"] - 1)
            spread = z * math.sqrt(vt / (t["users"] * mt**2) + vh / (h["users"] * mh**2))
            ratio = math.log(mt / mh)
            assert close(got["estimate"], mt / mh - 1, 1e-12)
            assert close(got["low"], math.exp(ratio - spread) - 1, 1e-10), (case["name"], measure)
            assert close(got["high"], math.exp(ratio + spread) - 1, 1e-10), (case["name"], measure)
            checked += 1
    assert checked >= 4


def test_users_needed_follow_the_textbook_formula(vectors):
    """The verdict's sample size: Fleiss' normal approximation for two
    proportions with allocation k, 95 % two-sided and 80 % power."""
    from scipy.stats import norm

    za, zb = norm.ppf(0.975), norm.ppf(0.8)
    for case in vectors["lift"]["cases"]:
        verdict = case["report"]["verdict"]
        if verdict["code"] != "not_enough_data" or verdict["more_holdout_users"] is None:
            continue
        t, h = case["tallies"]["treatment"], case["tallies"]["holdout"]
        bp = case["options"]["holdout_basis_points"]
        k = (10_000 - bp) / bp
        p1 = h["referrers"] / h["users"] if h["referrers"] else (t["referrers"] + h["referrers"]) / (t["users"] + h["users"])
        delta = min(p1 * case["options"]["min_relative_lift"], (1 - p1) / 2)
        p2 = p1 + delta
        pbar = (p1 + k * p2) / (1 + k)
        n = ((za * math.sqrt(pbar * (1 - pbar) * (1 + 1 / k)) + zb * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2) / k)) / delta) ** 2
        assert verdict["more_holdout_users"] == max(0, math.ceil(n) - h["users"]), case["name"]
        assert verdict["more_treatment_users"] == max(0, math.ceil(n * k) - t["users"]), case["name"]
