"""MUSHRA analysis: simulated panels with known condition means and planted bad listeners are recovered
(post-screening drops exactly the bad ones, the ordering comes back, the intervals cover the truth at their
stated rate), and unusable input is refused with a clear message."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats as sps

from evals.listening.mushra_analysis import analyze_mushra
from evals.listening.records import HIDDEN_REFERENCE, LOW_ANCHOR, MID_ANCHOR, MushraRating
from evals.listening.stats import t_interval

# true mean score of each condition; the hidden reference is found by good listeners whatever their bias
TRUE = {HIDDEN_REFERENCE: 97.0, "sysA": 78.0, "sysB": 62.0, "sysC": 48.0, MID_ANCHOR: 35.0, LOW_ANCHOR: 15.0}


def coverage_region(n: int, level: float = 0.95, tail: float = 0.001) -> tuple[float, float]:
    """Rates a correct ``level`` interval shows over ``n`` independent repetitions with probability 1 − tail
    (the central binomial region): the tolerance of every coverage assertion here."""
    return sps.binom.ppf(tail / 2, n, level) / n, sps.binom.isf(tail / 2, n, level) / n


def good_listener(rng, name, items, means=TRUE, bias_sd=5.0, noise_sd=7.0, language=None):
    """A listener with their own offset on the scale (N(0, bias_sd)) and per-trial noise (N(0, noise_sd));
    the hidden reference is rated N(97, 2.5) (it is recognized)."""
    bias = rng.normal(0.0, bias_sd)
    out = []
    for item in items:
        for condition, mean in means.items():
            if condition == HIDDEN_REFERENCE:
                score = rng.normal(97.0, 2.5)
            else:
                score = mean + bias + rng.normal(0.0, noise_sd)
            lang = language(item) if language else None
            out.append(MushraRating(name, item, condition, float(np.clip(score, 0, 100)), lang))
    return out


def random_listener(rng, name, items):
    """Cannot hear the differences: uniform scores in 20–100 for everything, reference included."""
    return [MushraRating(name, i, c, float(rng.uniform(20, 100))) for i in items for c in TRUE]


def generous_listener(rng, name, items):
    """Rates everything excellent, the 7 kHz anchor included."""
    return [MushraRating(name, i, c, float(np.clip(rng.normal(95, 3), 0, 100))) for i in items for c in TRUE]


def with_reference_misses(ratings, n_miss, score=80.0):
    """The same ratings with the hidden reference rated ``score`` on the first ``n_miss`` items."""
    items = sorted({r.item for r in ratings})[:n_miss]
    return [
        MushraRating(r.listener, r.item, r.condition, score, r.language)
        if r.condition == HIDDEN_REFERENCE and r.item in items
        else r
        for r in ratings
    ]


@pytest.fixture(scope="module")
def panel():
    rng = np.random.default_rng(1534)
    items = [f"item{i:02d}" for i in range(10)]
    ratings = []
    for n in range(12):
        ratings += good_listener(rng, f"good{n:02d}", items)
    ratings += random_listener(rng, "bad_random1", items) + random_listener(rng, "bad_random2", items)
    ratings += generous_listener(rng, "bad_generous1", items) + generous_listener(rng, "bad_generous2", items)
    # borderline: reference missed on 1 of 10 items (10 %, kept) and on 2 of 10 (20 %, dropped)
    ratings += with_reference_misses(good_listener(rng, "edge_kept", items), 1)
    ratings += with_reference_misses(good_listener(rng, "edge_dropped", items), 2)
    return ratings


def test_post_screening_drops_exactly_the_bad_listeners(panel):
    a = analyze_mushra(panel)
    dropped = {d.listener: d for d in a.listeners_dropped}
    assert set(dropped) == {"bad_random1", "bad_random2", "bad_generous1", "bad_generous2", "edge_dropped"}
    assert set(a.listeners_kept) == {f"good{n:02d}" for n in range(12)} | {"edge_kept"}
    for name in ("bad_random1", "bad_random2", "edge_dropped"):
        assert "hidden reference below 90" in dropped[name].reason
    for name in ("bad_generous1", "bad_generous2"):
        assert f"mid anchor '{MID_ANCHOR}' above 90" in dropped[name].reason
        assert "hidden reference" not in dropped[name].reason
    assert (dropped["edge_dropped"].reference_below, dropped["edge_dropped"].reference_items) == (2, 10)
    assert a.n_ratings == len(panel) and a.n_ratings_kept == 13 * 10 * len(TRUE)


def test_true_ordering_and_differences_are_recovered(panel):
    a = analyze_mushra(panel)
    assert [c.condition for c in a.conditions] == list(TRUE)  # TRUE is written best first
    for c in a.conditions:
        assert c.n_listeners == 13 and c.n_ratings == 130
        assert c.ci_low < c.mean < c.ci_high
        if c.condition != HIDDEN_REFERENCE:
            assert c.ci_low <= TRUE[c.condition] <= c.ci_high, c
    # the anchors are not tested; all 6 pairs of reference + 3 systems are, and every one differs by >= 14
    pairs = {(t.condition_a, t.condition_b): t for t in a.tests}
    assert set(pairs) == {
        ("reference", "sysA"),
        ("reference", "sysB"),
        ("reference", "sysC"),
        ("sysA", "sysB"),
        ("sysA", "sysC"),
        ("sysB", "sysC"),
    }
    for t in a.tests:
        assert t.significant and t.p_holm < 0.05 and t.p_holm >= t.p_value
        assert t.mean_difference > 0 and t.rank_biserial > 0.5
        assert t.n_pairs == 130
    ab = pairs[("sysA", "sysB")]
    assert ab.mean_difference == pytest.approx(TRUE["sysA"] - TRUE["sysB"], abs=4.0)


def test_screening_is_what_keeps_the_differences_honest(panel):
    """Without post-screening the bad listeners, who hear no difference, compress every difference between
    systems towards zero; with it the differences come back close to the truth."""
    screened = analyze_mushra(panel)
    unscreened = analyze_mushra(panel, max_fraction=1.0, threshold=-1.0)
    assert not unscreened.listeners_dropped
    for a, b in [("sysA", "sysB"), ("sysB", "sysC"), ("sysA", "sysC")]:
        truth = TRUE[a] - TRUE[b]
        kept = screened.condition(a).mean - screened.condition(b).mean
        everyone = unscreened.condition(a).mean - unscreened.condition(b).mean
        assert abs(kept - truth) < 3.0, (a, b, kept)
        assert everyone < 0.9 * truth, (a, b, everyone)  # 5 of 18 listeners hear nothing: about 13/18 of it


def test_screening_boundary_is_more_than_15_percent():
    rng = np.random.default_rng(5)
    items = [f"i{k}" for k in range(20)]
    ratings = with_reference_misses(good_listener(rng, "three", items), 3)  # 15 %: kept
    ratings += with_reference_misses(good_listener(rng, "four", items), 4)  # 20 %: dropped
    a = analyze_mushra(ratings)
    assert a.listeners_kept == ("three",)
    assert [d.listener for d in a.listeners_dropped] == ["four"]
    assert "4 of 20 items (20% > 15%)" in a.listeners_dropped[0].reason
    # a stricter rule drops both
    assert analyze_mushra(ratings, max_fraction=0.1).listeners_kept == ()


def test_listener_without_reference_is_dropped_and_missing_anchor_noted():
    rng = np.random.default_rng(6)
    items = ["i1", "i2"]
    means = {HIDDEN_REFERENCE: 97.0, "sysA": 70.0}
    ratings = good_listener(rng, "ok", items, means) + good_listener(rng, "ok2", items, means)
    ratings += [MushraRating("noref", i, "sysA", 50.0) for i in items]
    a = analyze_mushra(ratings)
    assert [d.listener for d in a.listeners_dropped] == ["noref"]
    assert "never rated the hidden reference" in a.listeners_dropped[0].reason
    assert any("mid anchor" in n for n in a.notes)


def test_mean_interval_coverage_over_repeated_panels():
    """200 simulated panels (8 listeners × 5 items; listener offsets sd 6, trial noise sd 8): the 95 %
    interval of each system's mean covers the true mean at a rate consistent with 95 %. The naive interval
    over all listener × item scores, fed the same panels, does not (the simulation can tell them apart), and
    the paired test between two systems with equal true means rejects at most at its nominal rate."""
    rng = np.random.default_rng(90210)
    means = {HIDDEN_REFERENCE: 97.0, "sysA": 65.0, "sysB": 50.0, "sysD": 50.0, "sysC": 30.0, MID_ANCHOR: 35.0}
    systems = ["sysA", "sysB", "sysC", "sysD"]
    items = [f"i{k}" for k in range(5)]
    reps = 200
    hits = dict.fromkeys(systems, 0)
    naive_hits = 0
    false_positives = 0
    for _ in range(reps):
        ratings = []
        for n in range(8):
            ratings += good_listener(rng, f"L{n}", items, means, bias_sd=6.0, noise_sd=8.0)
        # now and then a listener misses the reference once and is dropped; one test per panel keeps it fast
        a = analyze_mushra(ratings, compare=["sysB", "sysD"])
        for s in systems:
            c = a.condition(s)
            hits[s] += c.ci_low <= means[s] <= c.ci_high
        naive = t_interval([r.score for r in ratings if r.condition == "sysA"])
        naive_hits += naive.low <= means["sysA"] <= naive.high
        false_positives += a.tests[0].significant
    lo, hi = coverage_region(reps)
    rates = {s: h / reps for s, h in hits.items()}
    assert all(lo <= r <= hi for r in rates.values()), rates
    assert naive_hits / reps < lo, naive_hits / reps
    assert false_positives / reps <= sps.binom.isf(0.0005, reps, 0.05) / reps


def test_language_breakdown_and_listener_unit():
    rng = np.random.default_rng(8)
    items = [f"en{k}" for k in range(4)] + [f"fr{k}" for k in range(3)]

    def lang(item):
        return item[:2]

    ratings = []
    for n in range(6):
        ratings += good_listener(rng, f"L{n}", items, language=lang)
    a = analyze_mushra(ratings)
    assert [b.language for b in a.by_language] == ["en", "fr"]
    en, fr = a.by_language
    assert (en.n_items, fr.n_items, en.n_listeners) == (4, 3, 6)
    assert en.conditions[0].n_ratings == 6 * 4 and fr.conditions[0].n_ratings == 6 * 3
    by_listener = analyze_mushra(ratings, paired_unit="listener")
    assert {t.n_pairs for t in by_listener.tests} == {6}
    assert {t.n_pairs for t in a.tests} == {42}
    assert by_listener.paired_unit == "listener"
    only = analyze_mushra(ratings, compare=["sysB", "sysA"])
    assert [(t.condition_a, t.condition_b) for t in only.tests] == [("sysB", "sysA")]
    assert only.tests[0].mean_difference < 0


def test_to_dict_and_markdown(panel):
    a = analyze_mushra(panel)
    d = a.to_dict()
    text = json.dumps(d, allow_nan=False)
    assert "scores" not in d["conditions"][0]
    assert d["listeners_dropped"][0]["listener"] == "bad_generous1"
    assert d["confidence"] == 0.95 and d["tests"][0]["significant"] is True
    assert len(text) < 20_000
    md = a.to_markdown()
    assert md.startswith("## MUSHRA results")
    assert "| sysA | 13 | 130 |" in md
    assert "### Dropped by post-screening" in md and "bad_random1" in md
    assert "### Paired tests" in md and "| sysA | sysB | 130 |" in md


def test_interval_is_clipped_to_the_scale():
    """Three listeners rate the reference 100, 100 and 97: the t interval would pass 100, the mean cannot."""
    ratings = [
        MushraRating(name, "i", HIDDEN_REFERENCE, score)
        for name, score in (("a", 100), ("b", 100), ("c", 97))
    ]
    ratings += [MushraRating(name, "i", "sysA", 2.0 * k) for k, name in enumerate("abc")]
    a = analyze_mushra(ratings)
    ref, sys_a = a.condition(HIDDEN_REFERENCE), a.condition("sysA")
    assert ref.ci_high == 100.0 and ref.ci_low < ref.mean == 99.0
    assert sys_a.ci_low == 0.0 and sys_a.mean == 2.0 and sys_a.ci_high > 2.0


def test_single_listener_has_no_interval():
    rng = np.random.default_rng(9)
    a = analyze_mushra(good_listener(rng, "solo", ["i1", "i2", "i3"]))
    assert a.condition("sysA").n_listeners == 1
    assert a.to_dict()["conditions"][1]["ci_low"] is None
    assert any("fewer than two listeners" in n for n in a.notes)
    assert "— – —" in a.to_markdown()


def test_everyone_dropped_gives_an_empty_analysis():
    rng = np.random.default_rng(10)
    ratings = random_listener(rng, "r1", ["i1", "i2", "i3"]) + generous_listener(
        rng, "g1", ["i1", "i2", "i3"]
    )
    a = analyze_mushra(ratings)
    assert a.listeners_kept == () and a.conditions == () and a.tests == ()
    assert "No listener passed post-screening" in a.to_markdown()
    json.dumps(a.to_dict(), allow_nan=False)


@pytest.mark.parametrize(
    ("ratings", "message"),
    [
        ([], "no MUSHRA ratings"),
        ([MushraRating("l", "i", "sysA", 50.0)], "no rating of the hidden reference 'reference'"),
        ([MushraRating("l", "i", "reference", 100.5)], r"outside 0–100 \(listener 'l', item 'i'"),
        ([MushraRating("l", "i", "reference", -1)], "outside 0–100"),
        ([MushraRating("l", "i", "reference", float("nan"))], "outside 0–100"),
        ([MushraRating("l", "i", "reference", "high")], "not a number"),  # type: ignore[arg-type]
        (
            [MushraRating("l", "i", "reference", 99.0), MushraRating("l", "i", "reference", 98.0)],
            "listener 'l' rated condition 'reference' of item 'i' more than once",
        ),
        (
            [MushraRating("l", "i", "reference", 99.0, "en"), MushraRating("l", "i", "sysA", 9.0, "fr")],
            "item 'i' is given two languages",
        ),
        ([MushraRating("", "i", "reference", 99.0)], "empty or non-string listener"),
        ([("l", "i", "reference", 99.0)], "expected MushraRating"),
    ],
)
def test_unusable_input_is_refused(ratings, message):
    with pytest.raises(ValueError, match=message):
        analyze_mushra(ratings)


def test_bad_options_are_refused():
    ok = [MushraRating("l", "i", "reference", 99.0), MushraRating("l", "i", "sysA", 50.0)]
    with pytest.raises(ValueError, match="alpha"):
        analyze_mushra(ok, alpha=0)
    with pytest.raises(ValueError, match="paired_unit"):
        analyze_mushra(ok, paired_unit="item")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="compare names conditions no kept listener rated: 'sysZ'"):
        analyze_mushra(ok, compare=["sysA", "sysZ"])
