"""Win-rate analysis of blind pairwise (A/B) preference votes.

    analysis = analyze_winrate(votes)           # list[PairVote] from the store
    write_report("reports", "winrate", {**header, "winrate": analysis.to_dict()}, analysis.to_markdown())
    plot_winrate(analysis, "reports/winrate.png")

**Per pair** (unordered, systems in name order: x is the first name, y the second): win / tie / loss
counts of x, x's win rate with ties counted half and x's win rate among decisive votes (ties left out),
each with its Wilson (1927) interval, and an exact sign test of the decisive votes (ties left out),
Holm-corrected over the pairs. Both rates are given because they answer different questions (how often x
is preferred or judged equal, versus who wins when a listener does choose), and reporting only one hides
the tie rate. The intervals take votes as independent; votes of one listener are not quite (shared taste),
so with few listeners read them as optimistic; the Bradley–Terry intervals below do not make that
assumption. The same table is given per language where votes carry one.

**Bradley–Terry** (1952) log-strengths over all systems, fitted by maximum likelihood on every vote at
once (ties half a win each; see ``stats.fit_bradley_terry``), with expanded-percentile intervals
(Hesterberg 2015) from a bootstrap over listeners (``stats.bootstrap_bradley_terry`` says why listeners
and why expanded). Unlike online Elo the fit does not depend on the order the votes came in. The
strengths are centred (sum zero); σ(β_x − β_y) is the fitted tie-split preference for x over y. They are
also shown on an Elo-like scale, 1000 + 400·β/ln 10, for readers used to arena leaderboards. Given for
two systems too (then the difference is the logit of the tie-split win rate).

**Order effect**: the share of decisive votes that went to the sample shown first, with its Wilson
interval and a binomial test of ½ (``stats.order_effect``): presentation order is randomized, so a share
away from ½ is a bias of the listeners (or of the page), not of the systems.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

from evals.listening.markdown import md as _md
from evals.listening.markdown import num as _num
from evals.listening.markdown import p_value as _p
from evals.listening.markdown import pct as _pct
from evals.listening.records import PairVote
from evals.listening.stats import (
    BT_RIDGE,
    OrderEffect,
    binomial_test,
    bootstrap_bradley_terry,
    holm,
    order_effect,
    wilson_interval,
)
from evals.report import to_jsonable

BootstrapUnit = Literal["listener", "vote"]
ELO_BASE, ELO_SCALE = 1000.0, 400.0 / math.log(10.0)
MIN_LISTENERS_FOR_LISTENER_BOOTSTRAP = 5


@dataclass(frozen=True)
class PairSummary:
    """Votes between ``system_x`` and ``system_y`` (x < y by name). ``win_rate`` counts ties half,
    ``decisive_win_rate`` leaves them out; each has Wilson bounds. ``p_sign`` is the exact two-sided sign
    test of the decisive votes, ``p_holm`` Holm-corrected over the pairs of the same table; ``significant``
    when that is below alpha."""

    system_x: str
    system_y: str
    wins_x: int
    ties: int
    wins_y: int
    n: int
    win_rate: float
    win_rate_low: float
    win_rate_high: float
    decisive_win_rate: float
    decisive_low: float
    decisive_high: float
    p_sign: float
    p_holm: float
    significant: bool


@dataclass(frozen=True)
class LanguageWinrate:
    """The pair table restricted to the votes of one language."""

    language: str
    n_votes: int
    n_listeners: int
    pairs: tuple[PairSummary, ...]


@dataclass(frozen=True)
class SystemStrength:
    """One system's Bradley–Terry log-strength (``strength``, centred) with bootstrap bounds, the same on
    the Elo-like scale, and its raw counts over all its votes."""

    system: str
    strength: float
    low: float
    high: float
    elo: float
    elo_low: float
    elo_high: float
    wins: int
    ties: int
    losses: int


@dataclass(frozen=True)
class BradleyTerrySummary:
    """The Bradley–Terry fit, strongest first. ``bootstrap_unit`` is what was resampled (``listener``, or
    ``vote`` when there were too few listeners), ``n_clusters`` how many of them there were."""

    systems: tuple[SystemStrength, ...]
    ties: str
    ridge: float
    bootstrap: int
    bootstrap_unit: str
    n_clusters: int
    seed: int
    connected: bool


@dataclass(frozen=True)
class WinrateAnalysis:
    """Everything ``analyze_winrate`` found."""

    systems: tuple[str, ...]
    n_votes: int
    n_listeners: int
    n_items: int
    alpha: float
    pairs: tuple[PairSummary, ...]
    by_language: tuple[LanguageWinrate, ...]
    bradley_terry: BradleyTerrySummary
    order: OrderEffect
    notes: tuple[str, ...] = ()

    @property
    def confidence(self) -> float:
        return 1.0 - self.alpha

    def pair(self, x: str, y: str) -> PairSummary:
        """The summary of the pair {x, y} (KeyError if never compared); its x is the first name in order."""
        lo, hi = sorted((x, y))
        for p in self.pairs:
            if (p.system_x, p.system_y) == (lo, hi):
                return p
        raise KeyError((x, y))

    def to_dict(self) -> dict:
        """JSON-able summary (NaN becomes null)."""
        d = asdict(self)
        d["confidence"] = self.confidence
        return to_jsonable(d)

    def to_markdown(self) -> str:
        """A readable report: the pair table, per-language tables, Bradley–Terry, the order effect."""
        pct = f"{self.confidence:.0%}"
        lines = [
            "## Pairwise preference (win rate)",
            "",
            f"{self.n_votes} votes by {self.n_listeners} listeners on {self.n_items} items, "
            f"{len(self.systems)} systems. Win rates of x (the first of the pair) with {pct} Wilson "
            f"intervals; sign test of decisive votes, Holm-corrected, alpha = {self.alpha:g}.",
            "",
        ]
        lines += _pair_table(self.pairs, pct)
        lines.append("")
        for lang in self.by_language:
            lines += [
                f"### Language `{lang.language}` ({lang.n_votes} votes, {lang.n_listeners} listeners)",
                "",
            ]
            lines += _pair_table(lang.pairs, pct)
            lines.append("")
        bt = self.bradley_terry
        if bt.systems:
            resampled = f"{bt.bootstrap} bootstrap resamples of {bt.n_clusters} {bt.bootstrap_unit}s"
            lines += [
                "### Bradley–Terry strengths",
                "",
                "Maximum likelihood, ties counted half a win each, centred log-strengths; "
                f"{pct} expanded-percentile intervals from "
                f"{resampled if bt.bootstrap else 'no bootstrap (bootstrap = 0)'} (seed {bt.seed}).",
                "",
                f"| system | strength | {pct} CI | Elo scale | {pct} CI | W / T / L |",
                "| --- | ---: | --- | ---: | --- | --- |",
            ]
            for s in bt.systems:
                lines.append(
                    f"| {_md(s.system)} | {_num(s.strength, 3)} | {_num(s.low, 3)} – {_num(s.high, 3)} | "
                    f"{_num(s.elo, 0)} | {_num(s.elo_low, 0)} – {_num(s.elo_high, 0)} | "
                    f"{s.wins} / {s.ties} / {s.losses} |"
                )
            lines.append("")
        o = self.order
        lines += [
            "### Order effect",
            "",
            f"The first-shown sample won {o.first_chosen} of {o.n_decisive} decisive votes "
            f"({_pct(o.share)}, {pct} CI {_pct(o.low)} – {_pct(o.high)}, binomial p = {_p(o.p_value)}); "
            f"{o.n_ties} ties left out. No order bias would give 50 %.",
            "",
        ]
        for note in self.notes:
            lines.append(f"- {note}")
        return "\n".join(lines).rstrip() + "\n"


def _pair_table(pairs: Sequence[PairSummary], pct: str) -> list[str]:
    lines = [
        f"| x | y | x wins / ties / y wins | x win rate (ties ½) | {pct} CI | x win rate (no ties) "
        f"| {pct} CI | p (Holm) | significant |",
        "| --- | --- | --- | ---: | --- | ---: | --- | ---: | :---: |",
    ]
    for p in pairs:
        lines.append(
            f"| {_md(p.system_x)} | {_md(p.system_y)} | {p.wins_x} / {p.ties} / {p.wins_y} | "
            f"{_pct(p.win_rate)} | "
            f"{_pct(p.win_rate_low)} – {_pct(p.win_rate_high)} | {_pct(p.decisive_win_rate)} | "
            f"{_pct(p.decisive_low)} – {_pct(p.decisive_high)} | {_p(p.p_holm)} | "
            f"{'yes' if p.significant else 'no'} |"
        )
    return lines


# --- analysis ---------------------------------------------------------------------------------------------


def _validate(votes: Sequence[PairVote]) -> None:
    if not votes:
        raise ValueError("no pairwise votes to analyze")
    seen: set[tuple[str, str, frozenset[str]]] = set()
    for v in votes:
        if not isinstance(v, PairVote):
            raise ValueError(f"expected PairVote records, got {type(v).__name__}")
        for name in ("listener", "item", "system_a", "system_b"):
            value = getattr(v, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"vote with an empty or non-string {name}: {v!r}")
        if v.system_a == v.system_b:
            raise ValueError(f"vote compares system {v.system_a!r} with itself: {v!r}")
        if v.choice not in ("a", "b", "tie"):
            raise ValueError(f"choice must be 'a', 'b' or 'tie', got {v.choice!r} in {v!r}")
        key = (v.listener, v.item, frozenset((v.system_a, v.system_b)))
        if key in seen:
            raise ValueError(
                f"listener {v.listener!r} voted on {v.system_a!r} vs {v.system_b!r} for item {v.item!r} "
                "more than once"
            )
        seen.add(key)


def _pairs(votes: Sequence[PairVote], alpha: float) -> tuple[PairSummary, ...]:
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])  # x wins, ties, y wins
    for v in votes:
        x, y = sorted((v.system_a, v.system_b))
        c = counts[(x, y)]
        if v.winner is None:
            c[1] += 1
        else:
            c[0 if v.winner == x else 2] += 1
    confidence = 1.0 - alpha
    keys = sorted(counts)
    p_sign = [binomial_test(counts[k][0], counts[k][0] + counts[k][2]) for k in keys]
    p_adj = holm(p_sign)
    out = []
    for (x, y), p, pa in zip(keys, p_sign, p_adj, strict=True):
        wx, t, wy = counts[(x, y)]
        n = wx + t + wy
        rate = wilson_interval(wx + t / 2.0, n, confidence)
        dec = wilson_interval(wx, wx + wy, confidence)
        out.append(
            PairSummary(
                system_x=x,
                system_y=y,
                wins_x=wx,
                ties=t,
                wins_y=wy,
                n=n,
                win_rate=rate.estimate,
                win_rate_low=rate.low,
                win_rate_high=rate.high,
                decisive_win_rate=dec.estimate,
                decisive_low=dec.low,
                decisive_high=dec.high,
                p_sign=p,
                p_holm=float(pa),
                significant=bool(math.isfinite(pa) and pa < alpha),
            )
        )
    return tuple(out)


def _connected(systems: Sequence[str], votes: Sequence[PairVote]) -> bool:
    parent = {s: s for s in systems}

    def find(s: str) -> str:
        while parent[s] != s:
            parent[s] = parent[parent[s]]
            s = parent[s]
        return s

    for v in votes:
        parent[find(v.system_a)] = find(v.system_b)
    return len({find(s) for s in systems}) == 1


def _bradley_terry(
    votes: Sequence[PairVote],
    systems: tuple[str, ...],
    bootstrap: int,
    seed: int,
    confidence: float,
    unit: BootstrapUnit,
) -> BradleyTerrySummary:
    index = {s: i for i, s in enumerate(systems)}
    k = len(systems)
    clusters = sorted({v.listener for v in votes}) if unit == "listener" else list(range(len(votes)))
    cluster_index = {c: g for g, c in enumerate(clusters)}
    points = np.zeros((len(clusters), k, k))  # (G, K, K): points[g, i, j] = wins of i over j + ties/2
    record = np.zeros((k, 3), dtype=int)  # wins, ties, losses per system
    for n, v in enumerate(votes):
        g = cluster_index[v.listener if unit == "listener" else n]
        a, b = index[v.system_a], index[v.system_b]
        if v.choice == "tie":
            points[g, a, b] += 0.5
            points[g, b, a] += 0.5
            record[[a, b], 1] += 1
        else:
            w, lose = (a, b) if v.choice == "a" else (b, a)
            points[g, w, lose] += 1.0
            record[w, 0] += 1
            record[lose, 2] += 1
    fit = bootstrap_bradley_terry(points, n_boot=bootstrap, seed=seed, confidence=confidence)
    rows = [
        SystemStrength(
            system=s,
            strength=float(fit.estimate[i]),
            low=float(fit.low[i]),
            high=float(fit.high[i]),
            elo=ELO_BASE + ELO_SCALE * float(fit.estimate[i]),
            elo_low=ELO_BASE + ELO_SCALE * float(fit.low[i]),
            elo_high=ELO_BASE + ELO_SCALE * float(fit.high[i]),
            wins=int(record[i, 0]),
            ties=int(record[i, 1]),
            losses=int(record[i, 2]),
        )
        for i, s in enumerate(systems)
    ]
    rows.sort(key=lambda r: (-r.strength, r.system))
    return BradleyTerrySummary(
        systems=tuple(rows),
        ties="half a win each",
        ridge=BT_RIDGE,
        bootstrap=int(bootstrap),
        bootstrap_unit=unit,
        n_clusters=len(clusters),
        seed=int(seed),
        connected=_connected(systems, votes),
    )


def analyze_winrate(
    votes: Sequence[PairVote],
    *,
    alpha: float = 0.05,
    bootstrap: int = 2000,
    seed: int = 0,
    bootstrap_unit: BootstrapUnit | None = None,
) -> WinrateAnalysis:
    """Pair tables, per-language tables, Bradley–Terry with bootstrap intervals and the order-effect check
    (see the module docstring).

    ``bootstrap``: resamples for the Bradley–Terry intervals (0: point estimates only). ``bootstrap_unit``:
    ``listener`` (the default when there are at least 5 listeners) or ``vote`` (the default below that,
    where resampling a handful of listeners says little; the analysis notes it). Raises ValueError on
    unusable input: no votes, a system compared with itself, a choice other than a/b/tie, a listener who voted
    twice on the same pair of the same item."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if bootstrap < 0:
        raise ValueError(f"bootstrap must be >= 0, got {bootstrap}")
    if bootstrap_unit not in (None, "listener", "vote"):
        raise ValueError(f"bootstrap_unit must be 'listener' or 'vote', got {bootstrap_unit!r}")
    votes = list(votes)
    _validate(votes)
    confidence = 1.0 - alpha
    systems = tuple(sorted({s for v in votes for s in (v.system_a, v.system_b)}))
    listeners = {v.listener for v in votes}
    notes: list[str] = []

    languages = sorted({v.language for v in votes if v.language is not None})
    by_language = []
    if languages and any(v.language is None for v in votes):
        notes.append("some votes have no language; they are left out of the per-language tables.")
    for lang in languages:
        vs = [v for v in votes if v.language == lang]
        by_language.append(LanguageWinrate(lang, len(vs), len({v.listener for v in vs}), _pairs(vs, alpha)))

    unit = bootstrap_unit
    if unit is None:
        unit = "listener" if len(listeners) >= MIN_LISTENERS_FOR_LISTENER_BOOTSTRAP else "vote"
        if unit == "vote" and bootstrap:
            notes.append(
                f"only {len(listeners)} listener(s): the Bradley–Terry bootstrap resamples votes, which "
                "ignores that one listener's votes are correlated; the intervals are optimistic."
            )
    bt = _bradley_terry(votes, systems, bootstrap, seed, confidence, unit)
    if not bt.connected:
        notes.append(
            "the systems do not form one connected comparison graph: Bradley–Terry strengths are only "
            "comparable within a connected group."
        )

    first = sum(v.choice == "a" for v in votes)
    ties = sum(v.choice == "tie" for v in votes)
    decisive = len(votes) - ties
    return WinrateAnalysis(
        systems=systems,
        n_votes=len(votes),
        n_listeners=len(listeners),
        n_items=len({v.item for v in votes}),
        alpha=float(alpha),
        pairs=_pairs(votes, alpha),
        by_language=tuple(by_language),
        bradley_terry=bt,
        order=order_effect(first, decisive, ties, confidence),
        notes=tuple(notes),
    )
