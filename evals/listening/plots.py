"""Figures of the listening-test analyses, written as PNG.

matplotlib is imported inside the functions (``evals`` must import fast) and drives a ``Figure`` on an Agg
canvas directly, without pyplot: no global backend switch and no figure registry, so a notebook's or a
server's own matplotlib set-up is left alone. The PNG is rendered to bytes and written atomically
(``flowtts.atomic``), so a reader never sees half a file.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

from evals.listening.mushra_analysis import MushraAnalysis
from evals.listening.winrate_analysis import WinrateAnalysis
from flowtts.atomic import write_bytes_atomic

#: BS.1534-3's five labelled bands of the 0–100 scale.
MUSHRA_BANDS = ("Bad", "Poor", "Fair", "Good", "Excellent")
WIN, TIE, LOSS = "#2b7bba", "#bdbdbd", "#e0793a"
DPI = 120


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: str | os.PathLike) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    path = Path(path)
    write_bytes_atomic(path, buf.getvalue())
    return path


def plot_mushra(analysis: MushraAnalysis, path: str | os.PathLike) -> Path:
    """Box plot of each condition's scores (kept listeners; box = quartiles, whiskers 1.5 IQR), best mean
    first, with the mean (diamond) and its confidence interval (bar) over listener means drawn beside each
    box; hidden reference and anchors in grey. Writes ``path`` (PNG) and returns it. ValueError when no
    listener passed post-screening."""
    if not analysis.conditions:
        raise ValueError("nothing to plot: no listener passed post-screening")
    conditions = analysis.conditions
    hidden = {analysis.reference, analysis.mid_anchor, analysis.low_anchor}
    fig = _figure(max(4.5, 1.1 * len(conditions) + 1.5), 4.2)
    ax = fig.add_subplot()
    positions = list(range(1, len(conditions) + 1))
    box = ax.boxplot(
        [list(c.scores) for c in conditions],
        positions=positions,
        widths=0.45,
        patch_artist=True,
        showfliers=True,
        medianprops={"color": "black"},
        flierprops={"markersize": 3, "alpha": 0.5},
    )
    for patch, c in zip(box["boxes"], conditions, strict=True):
        patch.set_facecolor("#d9d9d9" if c.condition in hidden else "#9ecae1")
    means = [c.mean for c in conditions]
    lows = [c.mean - c.ci_low if math.isfinite(c.ci_low) else 0.0 for c in conditions]
    highs = [c.ci_high - c.mean if math.isfinite(c.ci_high) else 0.0 for c in conditions]
    ax.errorbar(
        [p + 0.33 for p in positions],
        means,
        yerr=[lows, highs],
        fmt="D",
        color="#b2182b",
        markersize=5,
        capsize=4,
        label=f"mean, {analysis.confidence:.0%} CI (over listeners)",
    )
    ax.set_xticks(positions)
    ax.set_xticklabels([c.condition for c in conditions], rotation=20, ha="right")
    ax.set_xlim(0.4, len(conditions) + 0.8)
    ax.set_ylim(-3, 103)  # a margin, so boxes and means at 0 or 100 stay visible
    ax.set_yticks(range(0, 101, 20))
    ax.grid(axis="y", alpha=0.4)
    for i, band in enumerate(MUSHRA_BANDS):  # x in axes units, y in scores
        ax.text(
            1.01, 20 * i + 10, band, transform=ax.get_yaxis_transform(), fontsize=8, va="center", color="0.35"
        )
    ax.set_ylabel("MUSHRA score")
    ax.set_title(
        f"MUSHRA: {len(analysis.listeners_kept)} listeners kept "
        f"({len(analysis.listeners_dropped)} dropped), {analysis.n_items} items",
        fontsize=10,
    )
    ax.legend(loc="lower left", fontsize=8)
    return _save(fig, path)


def plot_winrate(analysis: WinrateAnalysis, path: str | os.PathLike) -> Path:
    """Left: per pair, stacked bars of x wins / ties / y wins (shares of the pair's votes) with x's tie-split
    win rate and its Wilson interval. Right (when there are at least two systems): Bradley–Terry
    log-strengths with their bootstrap intervals, strongest on top. Writes ``path`` (PNG), returns it."""
    pairs = analysis.pairs
    bt = analysis.bradley_terry
    with_bt = bt is not None and len(bt.systems) >= 2
    height = max(2.6, 0.55 * max(len(pairs), len(bt.systems) if with_bt else 0) + 1.4)
    fig = _figure(11.0 if with_bt else 6.5, height)
    axes = fig.subplots(1, 2, width_ratios=[1.5, 1]) if with_bt else [fig.add_subplot()]
    ax = axes[0]
    ys = list(range(len(pairs)))[::-1]  # first pair on top
    for y, p in zip(ys, pairs, strict=True):
        shares = [p.wins_x / p.n, p.ties / p.n, p.wins_y / p.n]
        left = 0.0
        for share, color in zip(shares, (WIN, TIE, LOSS), strict=True):
            ax.barh(y, share, left=left, color=color, height=0.6)
            left += share
    ax.errorbar(
        [p.win_rate for p in pairs],
        ys,
        xerr=[[p.win_rate - p.win_rate_low for p in pairs], [p.win_rate_high - p.win_rate for p in pairs]],
        fmt="o",
        color="black",
        markersize=4,
        capsize=3,
    )
    ax.axvline(0.5, color="black", lw=0.8, ls="--")
    ax.set_yticks(ys)
    ax.set_yticklabels([f"{p.system_x} vs {p.system_y}\n(n = {p.n})" for p in pairs], fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"share of votes; dot: x win rate, ties ½, {analysis.confidence:.0%} Wilson CI")
    from matplotlib.patches import Patch

    ax.legend(
        handles=[
            Patch(color=WIN, label="x wins"),
            Patch(color=TIE, label="tie"),
            Patch(color=LOSS, label="y wins"),
        ],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.18),
        ncol=3,
        fontsize=8,
        frameon=False,
    )
    ax.set_title(
        f"Pairwise preference: {analysis.n_votes} votes, {analysis.n_listeners} listeners", fontsize=10
    )
    if with_bt:
        ax2 = axes[1]
        rows = bt.systems  # strongest first
        yb = list(range(len(rows)))[::-1]
        est = [r.strength for r in rows]
        finite = all(math.isfinite(r.low) and math.isfinite(r.high) for r in rows)
        xerr = [[r.strength - r.low for r in rows], [r.high - r.strength for r in rows]] if finite else None
        ax2.errorbar(est, yb, xerr=xerr, fmt="s", color="#4d4d4d", capsize=4, markersize=5)
        ax2.axvline(0.0, color="black", lw=0.8, ls="--")
        ax2.set_yticks(yb)
        ax2.set_yticklabels([r.system for r in rows], fontsize=8)
        ax2.set_xlabel("Bradley–Terry log-strength (centred)")
        what = f"{bt.bootstrap} × {bt.bootstrap_unit} bootstrap" if finite else "no bootstrap"
        ax2.set_title(f"Bradley–Terry, {analysis.confidence:.0%} CI ({what})", fontsize=10)
        ax2.grid(axis="x", alpha=0.4)
    return _save(fig, path)
