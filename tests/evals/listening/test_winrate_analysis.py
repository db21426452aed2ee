"""Win-rate analysis: hand-counted tables, a simulated panel with known Bradley–Terry strengths is recovered,
the Wilson and bootstrap intervals cover the truth at their stated rate over repeated panels (fixed seeds),
the order-effect check sees a planted order bias, and unusable input is refused."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest
from scipy import stats as sps
from scipy.special import expit

from evals.listening.records import PairVote
from evals.listening.stats import wilson_interval
from evals.listening.winrate_analysis import analyze_winrate


def coverage_region(n: int, level: float = 0.95, tail: float = 0.001) -> tuple[float, float]:
    """Rates a correct ``level`` interval shows over ``n`` independent repetitions with probability 1 − tail
    (the central binomial region): the tolerance of every coverage assertion here."""
    return sps.binom.ppf(tail / 2, n, level) / n, sps.binom.isf(tail / 2, n, level) / n


def simulate_votes(rng, strengths, n_listeners, votes_each, tie_rate=0.2, order_bias=0.0, language=None):
    """Votes of a panel that follows the tie-split Bradley–Terry model exactly: for systems i (shown first)
    and j, P(i wins) = σ(β_i − β_j + order_bias) − τ/2, P(tie) = τ, so that P(i wins) + τ/2 = σ(...), which is
    what the fit estimates. Pairs and presentation order are drawn at random."""
    names = list(strengths)
    votes = []
    for listener in range(n_listeners):
        for v in range(votes_each):
            a, b = rng.choice(len(names), size=2, replace=False)
            p = expit(strengths[names[a]] - strengths[names[b]] + order_bias)
            u = rng.random()
            choice = "a" if u < p - tie_rate / 2 else ("tie" if u < p + tie_rate / 2 else "b")
            lang = language(listener, v) if language else None
            votes.append(PairVote(f"L{listener:02d}", f"item{v:03d}", names[a], names[b], choice, lang))
    return votes


def centred(strengths: dict[str, float]) -> dict[str, float]:
    mean = sum(strengths.values()) / len(strengths)
    return {k: v - mean for k, v in strengths.items()}


def test_hand_counted_pairs_and_order():
    votes = [
        PairVote("L1", "i1", "A", "B", "a"),  # A wins, first shown
        PairVote("L1", "i2", "B", "A", "a"),  # B wins, first shown
        PairVote("L2", "i1", "A", "B", "tie"),
        PairVote("L2", "i2", "B", "A", "b"),  # A wins, second shown
        PairVote("L3", "i1", "C", "A", "a"),  # C wins, first shown
    ]
    w = analyze_winrate(votes, bootstrap=0)
    assert w.systems == ("A", "B", "C")
    ab, ac = w.pairs
    assert (ab.system_x, ab.system_y, ab.wins_x, ab.ties, ab.wins_y, ab.n) == ("A", "B", 2, 1, 1, 4)
    ref = wilson_interval(2.5, 4)
    assert (ab.win_rate, ab.win_rate_low, ab.win_rate_high) == (0.625, ref.low, ref.high)
    dec = wilson_interval(2, 3)
    assert (ab.decisive_win_rate, ab.decisive_low, ab.decisive_high) == (2 / 3, dec.low, dec.high)
    assert ab.p_sign == pytest.approx(1.0) and not ab.significant
    assert (ac.system_x, ac.wins_x, ac.ties, ac.wins_y, ac.win_rate) == ("A", 0, 0, 1, 0.0)
    assert w.pair("C", "A") is ac
    o = w.order
    assert (o.first_chosen, o.n_decisive, o.n_ties, o.share) == (3, 4, 1, 0.75)
    bt = {s.system: s for s in w.bradley_terry.systems}
    assert (bt["A"].wins, bt["A"].ties, bt["A"].losses) == (2, 1, 2)
    assert bt["C"].strength > bt["A"].strength  # C beat A, its only comparison
    assert math.isnan(bt["A"].low)  # bootstrap = 0
    assert (w.n_votes, w.n_listeners, w.n_items) == (5, 3, 2)
    assert w.bradley_terry.bootstrap_unit == "vote"  # 3 listeners: too few to resample
    assert not any("only 3 listener(s)" in n for n in w.notes)  # no bootstrap, nothing to warn about


TRUE = {"alpha": 1.0, "bravo": 0.5, "charlie": 0.0, "delta": -0.5, "echo": -1.0}


@pytest.fixture(scope="module")
def panel():
    rng = np.random.default_rng(1952)
    return simulate_votes(
        rng, TRUE, n_listeners=40, votes_each=30, language=lambda listener, v: "en fr".split()[v % 2]
    )


def test_known_strengths_are_recovered(panel):
    w = analyze_winrate(panel, bootstrap=1000, seed=3)
    bt = w.bradley_terry
    assert [s.system for s in bt.systems] == list(TRUE)  # strongest first
    assert bt.bootstrap_unit == "listener" and bt.n_clusters == 40 and bt.connected
    truth = centred(TRUE)
    covered = [s.low <= truth[s.system] <= s.high for s in bt.systems]
    assert all(covered), [(s.system, s.low, s.high, truth[s.system]) for s in bt.systems]
    for s in bt.systems:
        assert abs(s.strength - truth[s.system]) < 0.25
        assert s.elo == pytest.approx(1000 + 400 * s.strength / math.log(10))
    # every pair's tie-split win rate interval covers σ(β_x − β_y); pairs 1.0 apart or more are significant
    for p in w.pairs:
        expected = expit(TRUE[p.system_x] - TRUE[p.system_y])
        assert p.win_rate_low <= expected <= p.win_rate_high, p
        if abs(TRUE[p.system_x] - TRUE[p.system_y]) >= 1.0:
            assert p.significant, p
    assert not w.order.p_value < 0.05  # no order bias planted


def test_per_language_breakdown(panel):
    w = analyze_winrate(panel, bootstrap=0)
    assert [b.language for b in w.by_language] == ["en", "fr"]
    en, fr = w.by_language
    assert en.n_votes == fr.n_votes == 600 and en.n_listeners == 40
    for pair in w.pairs:
        e = next(p for p in en.pairs if (p.system_x, p.system_y) == (pair.system_x, pair.system_y))
        f = next(p for p in fr.pairs if (p.system_x, p.system_y) == (pair.system_x, pair.system_y))
        assert (e.wins_x + f.wins_x, e.ties + f.ties, e.wins_y + f.wins_y) == (
            pair.wins_x,
            pair.ties,
            pair.wins_y,
        )


def test_result_does_not_depend_on_vote_order(panel):
    """Unlike online Elo: the same votes in another order give the same fit and the same intervals."""
    shuffled = list(panel)
    random.Random(4).shuffle(shuffled)
    a = analyze_winrate(panel, bootstrap=200, seed=9)
    b = analyze_winrate(shuffled, bootstrap=200, seed=9)
    assert a.to_dict() == b.to_dict()
    c = analyze_winrate(panel, bootstrap=200, seed=10)
    assert c.bradley_terry.systems[0].low != a.bradley_terry.systems[0].low  # the seed is used


def test_order_effect_is_detected():
    rng = np.random.default_rng(77)
    strengths = {"x": 0.3, "y": 0.0, "z": -0.3}
    biased = analyze_winrate(simulate_votes(rng, strengths, 20, 30, order_bias=0.8), bootstrap=0)
    fair = analyze_winrate(simulate_votes(rng, strengths, 20, 30), bootstrap=0)
    assert biased.order.p_value < 0.001 and biased.order.low > 0.6
    assert fair.order.low <= 0.5 <= fair.order.high


def test_wilson_coverage_of_win_rates_over_repeated_panels():
    """300 simulated two-system panels (10 listeners × 4 votes; true P(x) = 0.55, P(tie) = 0.2): the
    decisive win-rate interval covers 0.55/0.8 at a rate consistent with 95 %; the tie-split one covers 0.65
    at least that often (a {0, ½, 1} score has less variance than a binomial one, so it is conservative)."""
    rng = np.random.default_rng(1927)
    beta = math.log(0.65 / 0.35)  # σ(β) = 0.65 = P(x wins) + P(tie)/2
    reps = 300
    dec_hits = half_hits = 0
    for _ in range(reps):
        w = analyze_winrate(simulate_votes(rng, {"x": beta, "y": 0.0}, 10, 4), bootstrap=0)
        (p,) = w.pairs
        dec_hits += p.decisive_low <= 0.55 / 0.8 <= p.decisive_high
        half_hits += p.win_rate_low <= 0.65 <= p.win_rate_high
    lo, hi = coverage_region(reps)
    assert lo <= dec_hits / reps <= hi, dec_hits / reps
    assert lo <= half_hits / reps, half_hits / reps


def test_bradley_terry_coverage_with_ties_over_repeated_panels():
    """100 simulated panels (3 systems, 15 listeners × 20 votes, 20 % ties), 200 listener resamples each:
    every system's 95 % interval covers its true (tie-split, centred) strength at a rate consistent with
    95 %."""
    rng = np.random.default_rng(1970)
    strengths = {"p": 0.5, "q": 0.1, "r": -0.6}
    truth = centred(strengths)
    reps = 100
    hits = dict.fromkeys(strengths, 0)
    for rep in range(reps):
        w = analyze_winrate(simulate_votes(rng, strengths, 15, 20), bootstrap=200, seed=rep)
        for s in w.bradley_terry.systems:
            hits[s.system] += s.low <= truth[s.system] <= s.high
    lo, hi = coverage_region(reps)
    assert all(lo <= h / reps <= hi for h in hits.values()), hits


@pytest.mark.slow
def test_bradley_terry_coverage_larger():
    """The same with 500 panels of 20 listeners × 25 votes, 5 systems, 1000 resamples (about 30 s)."""
    rng = np.random.default_rng(1971)
    truth = centred(TRUE)
    reps = 500
    hits = dict.fromkeys(TRUE, 0)
    for rep in range(reps):
        w = analyze_winrate(simulate_votes(rng, TRUE, 20, 25), bootstrap=1000, seed=rep)
        for s in w.bradley_terry.systems:
            hits[s.system] += s.low <= truth[s.system] <= s.high
    lo, hi = coverage_region(reps)
    assert all(lo <= h / reps <= hi for h in hits.values()), hits


def test_bootstrap_unit_choice_and_notes():
    rng = np.random.default_rng(5)
    few = simulate_votes(rng, {"x": 0.0, "y": 0.0}, 3, 10)
    w = analyze_winrate(few, bootstrap=100)
    assert w.bradley_terry.bootstrap_unit == "vote" and w.bradley_terry.n_clusters == 30
    assert any("only 3 listener(s)" in n for n in w.notes)
    forced = analyze_winrate(few, bootstrap=100, bootstrap_unit="listener")
    assert forced.bradley_terry.bootstrap_unit == "listener" and forced.bradley_terry.n_clusters == 3
    many = analyze_winrate(simulate_votes(rng, {"x": 0.0, "y": 0.0}, 5, 4), bootstrap=100)
    assert many.bradley_terry.bootstrap_unit == "listener" and not many.notes


def test_disconnected_systems_are_noted():
    votes = [PairVote("L1", "i1", "A", "B", "a"), PairVote("L1", "i1", "C", "D", "b")]
    w = analyze_winrate(votes, bootstrap=0)
    assert not w.bradley_terry.connected
    assert any("connected" in n for n in w.notes)


def test_to_dict_and_markdown(panel):
    w = analyze_winrate(panel, bootstrap=100)
    d = w.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["systems"] == sorted(TRUE) and d["confidence"] == 0.95
    assert d["bradley_terry"]["systems"][0]["system"] == "alpha"
    assert d["order"]["n_decisive"] + d["order"]["n_ties"] == 1200
    md = w.to_markdown()
    assert md.startswith("## Pairwise preference (win rate)")
    assert "| alpha | bravo |" in md and "### Bradley–Terry strengths" in md and "### Order effect" in md
    assert "### Language `fr`" in md
    none = analyze_winrate(panel, bootstrap=0).to_dict()
    assert none["bradley_terry"]["systems"][0]["low"] is None


@pytest.mark.parametrize(
    ("votes", "message"),
    [
        ([], "no pairwise votes"),
        ([PairVote("l", "i", "A", "A", "a")], "compares system 'A' with itself"),
        ([PairVote("l", "i", "A", "B", "x")], "choice must be 'a', 'b' or 'tie'"),  # type: ignore[arg-type]
        ([PairVote("l", "", "A", "B", "a")], "empty or non-string item"),
        (
            [PairVote("l", "i", "A", "B", "a"), PairVote("l", "i", "B", "A", "tie")],
            "listener 'l' voted on 'B' vs 'A' for item 'i' more than once",
        ),
        ([("l", "i", "A", "B", "a")], "expected PairVote"),
    ],
)
def test_unusable_input_is_refused(votes, message):
    with pytest.raises(ValueError, match=message):
        analyze_winrate(votes)


def test_bad_options_are_refused():
    ok = [PairVote("l", "i", "A", "B", "a")]
    with pytest.raises(ValueError, match="alpha"):
        analyze_winrate(ok, alpha=1.0)
    with pytest.raises(ValueError, match="bootstrap must be"):
        analyze_winrate(ok, bootstrap=-1)
    with pytest.raises(ValueError, match="bootstrap_unit"):
        analyze_winrate(ok, bootstrap_unit="item")  # type: ignore[arg-type]
