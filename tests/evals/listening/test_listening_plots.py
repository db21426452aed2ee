"""The listening-test figures: valid PNGs of the expected size, written atomically, drawn without pyplot or a
global backend switch, and matplotlib imported only when a figure is drawn."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from evals.listening.mushra_analysis import analyze_mushra
from evals.listening.plots import DPI, plot_mushra, plot_winrate
from evals.listening.records import HIDDEN_REFERENCE, LOW_ANCHOR, MID_ANCHOR, MushraRating, PairVote
from evals.listening.winrate_analysis import analyze_winrate

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ROOT = Path(__file__).resolve().parents[3]


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _mushra():
    rng = np.random.default_rng(0)
    means = {HIDDEN_REFERENCE: 97, "ours": 70, "theirs": 55, MID_ANCHOR: 40, LOW_ANCHOR: 15}
    ratings = [
        MushraRating(
            f"L{n}", f"i{k}", c, float(np.clip(rng.normal(m, 3 if c == HIDDEN_REFERENCE else 9), 0, 100))
        )
        for n in range(6)
        for k in range(4)
        for c, m in means.items()
    ]
    return analyze_mushra(ratings)


def _votes(systems=("a1", "b2", "c3"), n=60):
    rng = np.random.default_rng(1)
    out = []
    for v in range(n):
        x, y = rng.choice(systems, size=2, replace=False)
        out.append(PairVote(f"L{v % 6}", f"i{v}", str(x), str(y), str(rng.choice(["a", "b", "tie"]))))
    return out


def test_plot_mushra_writes_a_png(tmp_path):
    analysis = _mushra()
    out = plot_mushra(analysis, tmp_path / "mushra.png")
    assert out == tmp_path / "mushra.png"
    width, height = _png_size(out)
    assert (width, height) == (round(max(4.5, 1.1 * 5 + 1.5) * DPI), round(4.2 * DPI))
    assert [p.name for p in tmp_path.iterdir()] == ["mushra.png"]  # no temporary file left
    # overwrite in place
    plot_mushra(analysis, out)
    assert _png_size(out) == (width, height)


def test_plot_mushra_refuses_an_empty_analysis(tmp_path):
    rng = np.random.default_rng(2)
    ratings = [MushraRating("L", f"i{k}", HIDDEN_REFERENCE, float(rng.uniform(0, 50))) for k in range(4)]
    analysis = analyze_mushra(ratings)
    assert not analysis.conditions
    with pytest.raises(ValueError, match="no listener passed post-screening"):
        plot_mushra(analysis, tmp_path / "m.png")
    assert not (tmp_path / "m.png").exists()


@pytest.mark.parametrize("bootstrap", [200, 0])
def test_plot_winrate_writes_a_png(tmp_path, bootstrap):
    analysis = analyze_winrate(_votes(), bootstrap=bootstrap)
    out = plot_winrate(analysis, tmp_path / "winrate.png")
    width, height = _png_size(out)
    assert width == round(11.0 * DPI)  # the Bradley–Terry panel is there
    assert height >= round(2.6 * DPI)


def test_plot_winrate_two_systems(tmp_path):
    analysis = analyze_winrate(_votes(("ours", "theirs")), bootstrap=100)
    width, _ = _png_size(plot_winrate(analysis, tmp_path / "w.png"))
    assert width == round(11.0 * DPI)


def test_matplotlib_is_imported_lazily_and_pyplot_never(tmp_path):
    """``evals`` must import fast: matplotlib comes in only when a figure is drawn, and drawing never pulls
    in pyplot (which would pick a global backend)."""
    code = f"""
import json, sys
import evals.listening.plots as plots
from evals.listening.winrate_analysis import analyze_winrate
from evals.listening.records import PairVote
before = "matplotlib" in sys.modules
votes = [PairVote("L", "i", "x", "y", "a"), PairVote("L", "j", "y", "x", "tie")]
plots.plot_winrate(analyze_winrate(votes, bootstrap=0), {str(tmp_path / "w.png")!r})
print(json.dumps([before, "matplotlib" in sys.modules, "matplotlib.pyplot" in sys.modules]))
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout.strip().splitlines()[-1]) == [False, True, False]
