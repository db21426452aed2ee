"""MUSHRA analysis (ITU-R BS.1534-3): post-screening, per-condition means with intervals, paired tests.

    analysis = analyze_mushra(ratings)          # list[MushraRating] from the store
    write_report("reports", "mushra", {**header, "mushra": analysis.to_dict()}, analysis.to_markdown())
    plot_mushra(analysis, "reports/mushra.png")

**Post-screening** (BS.1534-3 §4.1.2): a listener is dropped who rated the hidden reference below
``threshold`` (90) on more than ``max_fraction`` (15 %) of the items they rated it on, or the mid anchor
(7 kHz low-pass) above ``threshold`` on more than ``max_fraction`` of the items they rated it on. A listener
who never rated the hidden reference cannot be checked and is dropped too. Everything below uses the kept
listeners only.

**Means and intervals.** A listener's scores on different items share that listener's use of the scale
(some never go above 80), so the scores of one listener are not independent, and an interval over all
listener × item scores (n = listeners × items) is too narrow whenever listeners differ. The unit of
replication is the listener: each condition's mean is the mean of the listeners' means over the items they
rated, and its interval is the Student-t interval over those listener means (``stats.t_interval``; why t
and not a bootstrap is in ``stats``). It describes the population of listeners for these items.

**Paired tests.** Every pair of compared conditions (by default all but the two anchors, which calibrate
rather than compete) gets a two-sided Wilcoxon signed-rank test (``stats.signed_rank_test``; why not a
t test is there) over the trials where a kept listener rated both on the same item (``paired_unit=
"trial"``, the usual choice, most power; it takes the trials as independent, which listener-specific
preferences would violate), or over the listeners' mean scores (``paired_unit="listener"``, the
conservative choice). P-values are Holm-corrected over the family of pairs (Holm 1979) and ``significant``
means corrected p < ``alpha``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from itertools import combinations
from typing import Literal

import numpy as np

from evals.listening.markdown import md as _md
from evals.listening.markdown import num as _num
from evals.listening.markdown import p_value as _p
from evals.listening.records import HIDDEN_REFERENCE, LOW_ANCHOR, MID_ANCHOR, MushraRating
from evals.listening.stats import holm, signed_rank_test, t_interval
from evals.report import to_jsonable

PairedUnit = Literal["trial", "listener"]


@dataclass(frozen=True)
class DroppedListener:
    """A listener removed by post-screening, with the rule(s) broken in words and as fractions of items."""

    listener: str
    reason: str
    reference_below: int  # items whose hidden reference this listener rated below the threshold
    reference_items: int  # items on which this listener rated the hidden reference
    anchor_above: int  # items whose mid anchor this listener rated above the threshold
    anchor_items: int  # items on which this listener rated the mid anchor


@dataclass(frozen=True)
class ConditionSummary:
    """One condition over the kept listeners. ``mean``/``ci_low``/``ci_high`` are over listener means (see
    the module docstring; the interval is clipped to 0–100, NaN with one listener); ``median``/``q1``/``q3``
    over all ``n_ratings`` scores, which are kept in ``scores`` (for the box plot; left out of
    ``to_dict``)."""

    condition: str
    n_listeners: int
    n_ratings: int
    mean: float
    ci_low: float
    ci_high: float
    std_listener_means: float
    median: float
    q1: float
    q3: float
    scores: tuple[float, ...] = field(repr=False)


@dataclass(frozen=True)
class LanguageBreakdown:
    """The per-condition summaries restricted to the items of one language."""

    language: str
    n_items: int
    n_listeners: int
    conditions: tuple[ConditionSummary, ...]


@dataclass(frozen=True)
class PairTest:
    """Wilcoxon signed-rank test of ``condition_a`` − ``condition_b`` over ``n_pairs`` paired units.
    ``mean_difference``/``median_difference`` are of a − b; ``rank_biserial`` > 0 when a is rated higher;
    ``p_holm`` is the Holm-corrected p, ``significant`` when it is below alpha."""

    condition_a: str
    condition_b: str
    n_pairs: int
    n_nonzero: int
    mean_difference: float
    median_difference: float
    statistic: float
    p_value: float
    p_holm: float
    rank_biserial: float
    significant: bool


@dataclass(frozen=True)
class MushraAnalysis:
    """Everything ``analyze_mushra`` found; ``conditions`` are sorted by mean, best first."""

    reference: str
    mid_anchor: str | None
    low_anchor: str | None
    threshold: float
    max_fraction: float
    alpha: float
    paired_unit: str
    n_ratings: int
    n_ratings_kept: int
    n_items: int
    listeners_kept: tuple[str, ...]
    listeners_dropped: tuple[DroppedListener, ...]
    conditions: tuple[ConditionSummary, ...]
    by_language: tuple[LanguageBreakdown, ...]
    tests: tuple[PairTest, ...]
    notes: tuple[str, ...] = ()

    @property
    def confidence(self) -> float:
        return 1.0 - self.alpha

    def condition(self, name: str) -> ConditionSummary:
        """The summary of condition ``name`` (KeyError if no kept listener rated it)."""
        for c in self.conditions:
            if c.condition == name:
                return c
        raise KeyError(name)

    def to_dict(self) -> dict:
        """JSON-able summary (raw scores left out; NaN becomes null)."""
        d = asdict(self)
        for c in d["conditions"]:
            c.pop("scores")
        for lang in d["by_language"]:
            for c in lang["conditions"]:
                c.pop("scores")
        d["confidence"] = self.confidence
        return to_jsonable(d)

    def to_markdown(self) -> str:
        """A readable report: screening, the condition table, per-language tables, the paired tests."""
        pct = f"{self.confidence:.0%}"
        lines = ["## MUSHRA results", ""]
        n_total = len(self.listeners_kept) + len(self.listeners_dropped)
        lines.append(
            f"{self.n_ratings_kept} of {self.n_ratings} ratings kept: {len(self.listeners_kept)} of "
            f"{n_total} listeners passed post-screening, {self.n_items} items. Means and {pct} intervals "
            "are over listener means (Student t); tests are Wilcoxon signed-rank over "
            f"{'trials (listener × item)' if self.paired_unit == 'trial' else 'listener means'}, "
            f"Holm-corrected, alpha = {self.alpha:g}."
        )
        lines.append("")
        if self.listeners_dropped:
            lines += ["### Dropped by post-screening", "", "| listener | reason |", "| --- | --- |"]
            lines += [f"| {_md(d.listener)} | {_md(d.reason)} |" for d in self.listeners_dropped]
            lines.append("")
        if not self.conditions:
            lines += ["No listener passed post-screening: there is nothing to report.", ""]
        else:
            lines += ["### Conditions", ""]
            lines += _condition_table(self.conditions, pct)
            lines.append("")
        for lang in self.by_language:
            lines += [
                f"### Language `{lang.language}` ({lang.n_items} items, {lang.n_listeners} listeners)",
                "",
            ]
            lines += _condition_table(lang.conditions, pct)
            lines.append("")
        if self.tests:
            lines += [
                "### Paired tests",
                "",
                "| A | B | pairs | mean A−B | median A−B | rank-biserial | p | p (Holm) | significant |",
                "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | :---: |",
            ]
            for t in self.tests:
                lines.append(
                    f"| {_md(t.condition_a)} | {_md(t.condition_b)} | {t.n_pairs} | "
                    f"{_num(t.mean_difference)} | "
                    f"{_num(t.median_difference)} | {_num(t.rank_biserial, 2)} | {_p(t.p_value)} | "
                    f"{_p(t.p_holm)} | {'yes' if t.significant else 'no'} |"
                )
            lines.append("")
        for note in self.notes:
            lines.append(f"- {note}")
        return "\n".join(lines).rstrip() + "\n"


def _condition_table(conditions: Sequence[ConditionSummary], pct: str) -> list[str]:
    lines = [
        f"| condition | listeners | ratings | mean | {pct} CI | median | IQR |",
        "| --- | ---: | ---: | ---: | --- | ---: | --- |",
    ]
    for c in conditions:
        lines.append(
            f"| {_md(c.condition)} | {c.n_listeners} | {c.n_ratings} | {_num(c.mean)} | "
            f"{_num(c.ci_low)} – {_num(c.ci_high)} | {_num(c.median)} | {_num(c.q1)} – {_num(c.q3)} |"
        )
    return lines


# --- analysis ---------------------------------------------------------------------------------------------


def _validate(ratings: Sequence[MushraRating], reference: str) -> None:
    if not ratings:
        raise ValueError("no MUSHRA ratings to analyze")
    seen: set[tuple[str, str, str]] = set()
    item_language: dict[str, str | None] = {}
    for r in ratings:
        if not isinstance(r, MushraRating):
            raise ValueError(f"expected MushraRating records, got {type(r).__name__}")
        for name in ("listener", "item", "condition"):
            value = getattr(r, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"rating with an empty or non-string {name}: {r!r}")
        try:
            score = float(r.score)
        except (TypeError, ValueError):
            raise ValueError(f"score is not a number: {r!r}") from None
        if not (math.isfinite(score) and 0.0 <= score <= 100.0):
            raise ValueError(
                f"score {r.score!r} outside 0–100 (listener {r.listener!r}, item {r.item!r}, "
                f"condition {r.condition!r})"
            )
        key = (r.listener, r.item, r.condition)
        if key in seen:
            raise ValueError(
                f"listener {r.listener!r} rated condition {r.condition!r} of item {r.item!r} more than once"
            )
        seen.add(key)
        if r.item in item_language and item_language[r.item] != r.language:
            raise ValueError(
                f"item {r.item!r} is given two languages: {item_language[r.item]!r} and {r.language!r}"
            )
        item_language[r.item] = r.language
    if not any(r.condition == reference for r in ratings):
        raise ValueError(
            f"no rating of the hidden reference {reference!r}: post-screening needs it (conditions rated: "
            f"{', '.join(sorted({r.condition for r in ratings}))})"
        )


def _screen(
    ratings: Sequence[MushraRating],
    reference: str,
    mid_anchor: str | None,
    threshold: float,
    max_fraction: float,
) -> tuple[list[str], list[DroppedListener]]:
    by_listener: dict[str, list[MushraRating]] = defaultdict(list)
    for r in ratings:
        by_listener[r.listener].append(r)
    kept, dropped = [], []
    for listener in sorted(by_listener):
        rs = by_listener[listener]
        ref = [r.score for r in rs if r.condition == reference]
        anc = [r.score for r in rs if mid_anchor is not None and r.condition == mid_anchor]
        ref_below = sum(s < threshold for s in ref)
        anc_above = sum(s > threshold for s in anc)
        reasons = []
        if not ref:
            reasons.append("never rated the hidden reference, so cannot be screened")
        elif ref_below / len(ref) > max_fraction:
            reasons.append(
                f"rated the hidden reference below {threshold:g} on {ref_below} of {len(ref)} items "
                f"({ref_below / len(ref):.0%} > {max_fraction:.0%})"
            )
        if anc and anc_above / len(anc) > max_fraction:
            reasons.append(
                f"rated the mid anchor {mid_anchor!r} above {threshold:g} on {anc_above} of {len(anc)} items "
                f"({anc_above / len(anc):.0%} > {max_fraction:.0%})"
            )
        if reasons:
            dropped.append(
                DroppedListener(listener, "; ".join(reasons), ref_below, len(ref), anc_above, len(anc))
            )
        else:
            kept.append(listener)
    return kept, dropped


def _summaries(ratings: Sequence[MushraRating], confidence: float) -> tuple[ConditionSummary, ...]:
    """Per-condition summaries of ``ratings`` (already screened), best mean first."""
    per: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in ratings:
        per[r.condition][r.listener].append(float(r.score))
    out = []
    for condition, by_listener in per.items():
        listener_means = np.array([np.mean(v) for _, v in sorted(by_listener.items())])  # (listeners,)
        scores = np.array([s for _, v in sorted(by_listener.items()) for s in v])  # (ratings,)
        ci = t_interval(listener_means, confidence)
        q1, median, q3 = np.quantile(scores, [0.25, 0.5, 0.75])
        # a mean of 0–100 scores cannot leave 0–100; the t interval can (near the ends), so it is clipped
        low, high = (ci.low, ci.high) if math.isnan(ci.low) else (max(ci.low, 0.0), min(ci.high, 100.0))
        out.append(
            ConditionSummary(
                condition=condition,
                n_listeners=int(listener_means.size),
                n_ratings=int(scores.size),
                mean=ci.mean,
                ci_low=low,
                ci_high=high,
                std_listener_means=ci.std,
                median=float(median),
                q1=float(q1),
                q3=float(q3),
                scores=tuple(float(s) for s in scores),
            )
        )
    out.sort(key=lambda c: (-c.mean, c.condition))
    return tuple(out)


def _paired(
    ratings: Sequence[MushraRating], a: str, b: str, unit: PairedUnit
) -> tuple[np.ndarray, np.ndarray]:
    """Paired scores (n,), (n,) of conditions ``a`` and ``b``: per trial (listener, item) rated on both, or
    per listener (mean over the items that listener rated on both)."""
    sa = {(r.listener, r.item): r.score for r in ratings if r.condition == a}
    sb = {(r.listener, r.item): r.score for r in ratings if r.condition == b}
    common = sorted(sa.keys() & sb.keys())
    if unit == "trial":
        return np.array([sa[k] for k in common], dtype=float), np.array([sb[k] for k in common], dtype=float)
    per: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for k in common:
        per[k[0]].append((sa[k], sb[k]))
    pairs = np.array([np.mean(v, axis=0) for _, v in sorted(per.items())]).reshape(-1, 2)
    return pairs[:, 0], pairs[:, 1]


def analyze_mushra(
    ratings: Sequence[MushraRating],
    *,
    reference: str = HIDDEN_REFERENCE,
    mid_anchor: str | None = MID_ANCHOR,
    low_anchor: str | None = LOW_ANCHOR,
    threshold: float = 90.0,
    max_fraction: float = 0.15,
    alpha: float = 0.05,
    compare: Sequence[str] | None = None,
    paired_unit: PairedUnit = "trial",
) -> MushraAnalysis:
    """Post-screens the listeners and summarizes and tests the conditions (see the module docstring).

    ``compare``: the conditions tested pairwise (default: every condition but ``mid_anchor`` and
    ``low_anchor``). Raises ValueError on unusable input: no ratings, no rating of the hidden reference, a
    score outside 0–100, a listener who rated one condition of one item twice, an item given two languages.
    When no listener passes post-screening the analysis is returned with no conditions (the dropped listeners
    and their reasons are what there is to report)."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if not 0.0 <= max_fraction <= 1.0:
        raise ValueError(f"max_fraction must be in [0, 1], got {max_fraction}")
    if paired_unit not in ("trial", "listener"):
        raise ValueError(f"paired_unit must be 'trial' or 'listener', got {paired_unit!r}")
    ratings = list(ratings)
    _validate(ratings, reference)
    confidence = 1.0 - alpha
    kept, dropped = _screen(ratings, reference, mid_anchor, threshold, max_fraction)
    kept_set = set(kept)
    used = [r for r in ratings if r.listener in kept_set]
    conditions = _summaries(used, confidence)
    notes: list[str] = []
    if mid_anchor is not None and not any(r.condition == mid_anchor for r in ratings):
        notes.append(f"no rating of the mid anchor {mid_anchor!r}: only the hidden-reference rule screened.")

    languages = sorted({r.language for r in used if r.language is not None})
    by_language = []
    if languages:
        if any(r.language is None for r in used):
            notes.append("some items have no language; they are left out of the per-language tables.")
        for lang in languages:
            rs = [r for r in used if r.language == lang]
            by_language.append(
                LanguageBreakdown(
                    language=lang,
                    n_items=len({r.item for r in rs}),
                    n_listeners=len({r.listener for r in rs}),
                    conditions=_summaries(rs, confidence),
                )
            )

    rated = {c.condition for c in conditions}
    if compare is None:
        compared = [c.condition for c in conditions if c.condition not in (mid_anchor, low_anchor)]
    else:
        missing = [c for c in compare if c not in rated]
        if missing:
            raise ValueError(
                f"compare names conditions no kept listener rated: {', '.join(map(repr, missing))}"
            )
        compared = list(dict.fromkeys(compare))
    results = []
    for a, b in combinations(compared, 2):  # conditions are best-first, so a − b is usually >= 0
        x, y = _paired(used, a, b, paired_unit)
        results.append((a, b, signed_rank_test(x, y)))
    adjusted = holm([r.p_value for _, _, r in results])
    tests = tuple(
        PairTest(
            condition_a=a,
            condition_b=b,
            n_pairs=r.n,
            n_nonzero=r.n_nonzero,
            mean_difference=r.mean_difference,
            median_difference=r.median_difference,
            statistic=r.statistic,
            p_value=r.p_value,
            p_holm=float(p_adj),
            rank_biserial=r.rank_biserial,
            significant=bool(math.isfinite(p_adj) and p_adj < alpha),
        )
        for (a, b, r), p_adj in zip(results, adjusted, strict=True)
    )
    if len(kept) < 2 and conditions:
        notes.append("fewer than two listeners kept: no interval can be given.")
    return MushraAnalysis(
        reference=reference,
        mid_anchor=mid_anchor,
        low_anchor=low_anchor,
        threshold=float(threshold),
        max_fraction=float(max_fraction),
        alpha=float(alpha),
        paired_unit=paired_unit,
        n_ratings=len(ratings),
        n_ratings_kept=len(used),
        n_items=len({r.item for r in ratings}),
        listeners_kept=tuple(kept),
        listeners_dropped=tuple(dropped),
        conditions=conditions,
        by_language=tuple(by_language),
        tests=tests,
        notes=tuple(notes),
    )
