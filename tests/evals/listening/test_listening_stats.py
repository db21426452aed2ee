"""The statistics of the listening tests against known answers (textbook values, hand-computable fits) and,
for the intervals, against their stated coverage over repeated simulations with fixed seeds."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from scipy.special import expit

from evals.listening.stats import (
    bootstrap_bradley_terry,
    fit_bradley_terry,
    holm,
    order_effect,
    signed_rank_test,
    t_interval,
    wilson_interval,
)


def coverage_region(n: int, level: float = 0.95, tail: float = 0.001) -> tuple[float, float]:
    """Coverage rates a correct ``level`` interval shows over ``n`` independent repetitions with probability
    1 − ``tail`` (the central binomial region): the tolerance of every coverage assertion here."""
    return sps.binom.ppf(tail / 2, n, level) / n, sps.binom.isf(tail / 2, n, level) / n


# --- Wilson -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    # Newcombe (1998), Statistics in Medicine 17:857, Table I, method 3 (Wilson score, no continuity corr.)
    [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)],
)
def test_wilson_matches_newcombe_1998(k, n, low, high):
    w = wilson_interval(k, n)
    assert (round(w.low, 4), round(w.high, 4)) == (low, high)
    assert w.estimate == pytest.approx(k / n)


def test_wilson_edges_and_errors():
    assert wilson_interval(20, 20).high == 1.0 and wilson_interval(20, 20).low < 1.0
    assert math.isnan(wilson_interval(0, 0).estimate)
    # fractional successes (ties counted half) are allowed and sit between the neighbouring integers
    half = wilson_interval(10.5, 20)
    assert wilson_interval(10, 20).low < half.low < wilson_interval(11, 20).low
    # wider at higher confidence
    assert wilson_interval(7, 20, 0.99).low < wilson_interval(7, 20, 0.95).low
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(21, 20)
    with pytest.raises(ValueError, match="confidence"):
        wilson_interval(1, 20, 1.5)


def test_wilson_coverage_over_repeated_samples():
    """400 binomial samples (n = 40, p = 0.3; seeded): the 95 % interval covers p at a rate consistent with
    95 % (its exact coverage here is 94.4 %); a Wald interval would not be asked to pass this."""
    rng = np.random.default_rng(20240601)
    p, n, reps = 0.3, 40, 400
    ks = rng.binomial(n, p, size=reps)
    covered = np.mean([wilson_interval(int(k), n).low <= p <= wilson_interval(int(k), n).high for k in ks])
    lo, hi = coverage_region(reps)
    assert lo <= covered <= hi, covered


# --- Holm -------------------------------------------------------------------------------------------------


def test_holm_known_values():
    # sorted p: 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 -> running max 0.06
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    # capped at 1, order kept, NaN ignored (m = 2)
    np.testing.assert_allclose(holm([0.6, float("nan"), 0.2]), [0.6, float("nan"), 0.4])
    assert holm([0.9, 0.8]).tolist() == [1.0, 1.0]  # 0.8·2 capped at 1, then the running max
    np.testing.assert_allclose(holm([0.04, 0.5]), [0.08, 0.5])
    assert holm([]).size == 0


def test_holm_controls_familywise_error_under_the_null():
    """Ten true nulls, 2000 families: the share of families with any rejection at 0.05 stays <= 5 %, while
    uncorrected testing rejects in about 40 % of them."""
    rng = np.random.default_rng(7)
    p = rng.uniform(size=(2000, 10))
    any_holm = np.mean([(holm(row) < 0.05).any() for row in p])
    any_raw = np.mean((p < 0.05).any(axis=1))
    assert any_holm <= sps.binom.isf(0.0005, 2000, 0.05) / 2000
    assert any_raw > 0.3


# --- t interval and signed-rank test ----------------------------------------------------------------------


def test_t_interval_known_value():
    ci = t_interval([1, 2, 3, 4, 5])
    half = 2.7764451051977934 * math.sqrt(2.5) / math.sqrt(5)  # t_{4, 0.975} · s / √n
    assert (ci.n, ci.mean) == (5, 3.0)
    assert ci.low == pytest.approx(3 - half) and ci.high == pytest.approx(3 + half)
    one = t_interval([42.0])
    assert one.mean == 42.0 and math.isnan(one.low) and math.isnan(one.high)


def test_signed_rank_known_values():
    # d = 1, 2, 3, 4, 5, −6: R+ = 15, R− = 6; exact two-sided p = 2·#{subsets of 1..6, sum <= 6}/64 = 28/64
    r = signed_rank_test([1, 2, 3, 4, 5, 0], [0, 0, 0, 0, 0, 6])
    assert r.statistic == 6.0
    assert r.p_value == pytest.approx(28 / 64)
    assert r.rank_biserial == pytest.approx(9 / 21)
    assert (r.n, r.n_nonzero) == (6, 6)
    # all six positive: p = 2/64, rank-biserial 1
    r = signed_rank_test([3, 4, 5, 6, 7, 8], [0] * 6)
    assert r.p_value == pytest.approx(2 / 64) and r.rank_biserial == 1.0
    # zero differences are dropped; all zero -> no evidence
    r = signed_rank_test([5, 5, 5], [5, 5, 5])
    assert (r.n, r.n_nonzero, r.p_value) == (3, 0, 1.0)
    with pytest.raises(ValueError, match="length"):
        signed_rank_test([1, 2], [1])


# --- order effect -----------------------------------------------------------------------------------------


def test_order_effect_known_value():
    o = order_effect(60, 100, n_ties=7)
    assert o.share == 0.6 and o.n_ties == 7
    assert o.low == pytest.approx(0.5020, abs=1e-4) and o.high == pytest.approx(0.6906, abs=1e-4)
    assert o.p_value == pytest.approx(sps.binomtest(60, 100).pvalue)


# --- Bradley–Terry ----------------------------------------------------------------------------------------


def test_bradley_terry_two_systems_is_the_logit():
    # 3 wins to 1: sigma(b0 - b1) = 3/4 -> b0 - b1 = ln 3, centred
    b = fit_bradley_terry([[0, 3], [1, 0]], ridge=0.0)
    np.testing.assert_allclose(b, [math.log(3) / 2, -math.log(3) / 2], atol=1e-9)
    # 2 wins, 2 ties, 0 losses: ties half a win each -> the same 3 : 1 points
    np.testing.assert_allclose(fit_bradley_terry([[0, 2 + 1], [0 + 1, 0]], ridge=0.0), b, atol=1e-12)


def test_bradley_terry_recovers_consistent_strengths():
    """Counts that match strengths pi = (4, 2, 1) exactly (A–B 2:1, A–C 4:1, B–C 2:1): the MLE is ln pi,
    centred."""
    pts = np.array([[0, 2, 4], [1, 0, 2], [1, 1, 0]], dtype=float)
    expected = np.log([4.0, 2.0, 1.0])
    np.testing.assert_allclose(fit_bradley_terry(pts, ridge=0.0), expected - expected.mean(), atol=1e-9)
    # a perfect cycle has no winner
    cycle = np.array([[0, 2, 1], [1, 0, 2], [2, 1, 0]], dtype=float)
    np.testing.assert_allclose(fit_bradley_terry(cycle, ridge=0.0), 0.0, atol=1e-9)


def test_bradley_terry_score_equations_and_separation():
    rng = np.random.default_rng(3)
    pts = rng.integers(0, 6, size=(5, 5)).astype(float)
    np.fill_diagonal(pts, 0)
    b = fit_bradley_terry(pts, ridge=0.0)
    n = pts + pts.T
    expected = (n * expit(b[:, None] - b[None, :])).sum(axis=1)
    np.testing.assert_allclose(expected, pts.sum(axis=1), atol=1e-8)  # observed score = expected score
    assert abs(b.sum()) < 1e-9
    # one system wins everything: the ridge keeps it finite and on top
    sep = fit_bradley_terry([[0, 5, 5], [0, 0, 3], [0, 2, 0]])
    assert np.isfinite(sep).all() and sep.argmax() == 0
    with pytest.raises(ValueError, match="square"):
        fit_bradley_terry(np.zeros((2, 3)))


def _simulated_votes(rng, beta, n_listeners, votes, taste_sd=0.0, tie_rate=0.2):
    """(n_listeners, votes, K, K): one points matrix per simulated vote. Each listener's strengths are
    ``beta`` plus their own N(0, taste_sd) deviations; a vote is a tie with probability ``tie_rate``, else
    i wins with probability sigma(beta_i - beta_j). With ties, P(i wins) + P(tie)/2 is sigma(...) shrunk
    towards 1/2, so ``beta`` is the tie-split model's truth only when tie_rate = 0."""
    k = len(beta)
    out = np.zeros((n_listeners, votes, k, k))
    for g in range(n_listeners):
        own = beta + rng.normal(0, taste_sd, size=k)
        for v in range(votes):
            i, j = rng.choice(k, size=2, replace=False)
            u = rng.random()
            if u < tie_rate:
                out[g, v, i, j] = out[g, v, j, i] = 0.5
            elif u < tie_rate + (1 - tie_rate) * expit(own[i] - own[j]):
                out[g, v, i, j] = 1.0
            else:
                out[g, v, j, i] = 1.0
    return out


def test_bootstrap_is_seeded_and_brackets_the_estimate():
    rng = np.random.default_rng(11)
    pts = _simulated_votes(rng, np.array([0.5, 0.0, -0.5]), 15, 20).sum(axis=1)
    a = bootstrap_bradley_terry(pts, n_boot=300, seed=5)
    b = bootstrap_bradley_terry(pts, n_boot=300, seed=5)
    c = bootstrap_bradley_terry(pts, n_boot=300, seed=6)
    np.testing.assert_array_equal(a.samples, b.samples)
    assert not np.array_equal(a.samples, c.samples)
    assert a.samples.shape == (300, 3)
    # Hesterberg's expanded percentile level for 15 clusters: wider than the plain 2.5 %
    t = sps.t.ppf(0.975, df=14)
    assert a.quantile_level == pytest.approx(sps.norm.sf(math.sqrt(15 / 14) * t)) and a.quantile_level < 0.02
    np.testing.assert_allclose(
        [a.low, a.high], np.quantile(a.samples, [a.quantile_level, 1 - a.quantile_level], 0)
    )
    assert (a.low < a.estimate).all() and (a.estimate < a.high).all()
    none = bootstrap_bradley_terry(pts, n_boot=0)
    assert np.isnan(none.low).all() and np.allclose(none.estimate, a.estimate)


def test_listener_bootstrap_is_wider_than_vote_bootstrap_when_listeners_disagree():
    """Listeners with their own strong tastes: the votes of one listener are correlated, and only the
    listener bootstrap sees it (the reason it is the default)."""
    rng = np.random.default_rng(12)
    votes = _simulated_votes(rng, np.array([0.3, 0.0, -0.3]), 12, 60, taste_sd=1.0)  # (12, 60, 3, 3)
    by_listener = bootstrap_bradley_terry(votes.sum(axis=1), n_boot=400, seed=1)
    by_vote = bootstrap_bradley_terry(votes.reshape(-1, 3, 3), n_boot=400, seed=1)
    np.testing.assert_allclose(by_vote.estimate, by_listener.estimate, atol=1e-9)  # same data, same fit
    assert ((by_listener.high - by_listener.low) > 1.3 * (by_vote.high - by_vote.low)).all()


def test_bradley_terry_bootstrap_coverage():
    """100 simulated panels (20 listeners × 15 votes, 3 systems, no ties so that the truth is exactly the
    model's), 200 listener resamples each: each system's 95 % interval covers its true centred strength at
    a rate consistent with 95 %. (Ties are covered in test_winrate_analysis, with a tie-consistent truth.)"""
    rng = np.random.default_rng(2024)
    beta = np.array([0.6, 0.0, -0.6])
    reps = 100
    hits = np.zeros(3)
    for rep in range(reps):
        pts = _simulated_votes(rng, beta, 20, 15, tie_rate=0.0).sum(axis=1)
        fit = bootstrap_bradley_terry(pts, n_boot=200, seed=rep)
        hits += (fit.low <= beta) & (beta <= fit.high)
    lo, hi = coverage_region(reps)
    for rate in hits / reps:
        assert lo <= rate <= hi, hits / reps
