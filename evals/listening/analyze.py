"""Stored answers -> the analysis report: JSON + Markdown (with the provenance header) + a PNG plot.

    paths = analyze_test("listening/v1", "mushra", out="reports")

The statistics live in ``mushra_analysis.py`` / ``winrate_analysis.py`` and the plots in ``plots.py``;
this module only reads the store, hands the records over and writes the files (each atomically).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from evals.listening.manifest import DB_NAME, Manifest, load_manifest
from evals.listening.store import ListenerSummary, ListeningStore
from flowtts.errors import FlowTTSError

TITLES = {"mushra": "MUSHRA listening test", "winrate": "Blind A/B listening test (win rate)"}


@dataclass(frozen=True)
class AnalyzeResult:
    json_path: Path
    markdown_path: Path
    plot_path: Path | None  # None when there was nothing to plot
    listeners: int
    answers: int


def analyze_test(
    test_dir: str | os.PathLike,
    kind: str,
    db: str | os.PathLike | None = None,
    out: str | os.PathLike = "reports",
    name: str | None = None,
    complete_only: bool = False,
) -> AnalyzeResult:
    """Analyzes the answers to the test in ``test_dir`` and writes ``<out>/<name>.json``, ``.md``, ``.png``
    (``name`` default: ``<kind>-<test name>``).

    Raises:
        FlowTTSError: not a test of ``kind``, no results database or no answers in it, the statistics
            modules missing.
    """
    from evals.report import report_header, write_report

    test_dir = Path(test_dir)
    manifest = load_manifest(test_dir, kind, check_audio=False)
    db_path = Path(db) if db else test_dir / DB_NAME
    name = name or f"{kind}-{manifest.name}"
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise FlowTTSError(f"--name {name!r}: give a plain file name without folders")
    store = ListeningStore(db_path, manifest, create=False)
    listeners = store.listeners()

    if kind == "mushra":
        records = store.mushra_ratings(complete_only=complete_only)
        analyze, plot = _mushra_functions()
    else:
        records = store.pair_votes(complete_only=complete_only)
        analyze, plot = _winrate_functions()
    if not records:
        which = "finished listeners" if complete_only else "listeners"
        raise FlowTTSError(f"no answers from {which} yet in {db_path}")
    try:
        analysis = analyze(records)
    except ValueError as e:
        raise FlowTTSError(f"cannot analyze the answers in {db_path}: {e}") from None

    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FlowTTSError(f"cannot write to the report folder {out}: {e.strerror or e}") from None
    plot_path: Path | None = out / f"{name}.png"
    try:
        _plot_atomic(plot, analysis, plot_path)
        plot_note = None
    except ValueError as e:  # e.g. no listener passed post-screening: nothing to draw
        plot_path, plot_note = None, str(e)

    header = report_header(manifest.model_name, manifest.config)
    answered = {r.listener for r in records}
    report = {
        **header,
        "kind": kind,
        "test": _test_section(manifest, db_path),
        "listeners": {
            "joined": len(listeners),
            "finished": sum(x.finished for x in listeners),
            "analyzed": len(answered),
            "complete_only": complete_only,
            "per_listener": [_listener_dict(x) for x in listeners],
        },
        "answers": len(records),
        "plot": plot_path.name if plot_path else None,
        "plot_note": plot_note,
        "results": analysis.to_dict(),
    }
    markdown = _markdown(kind, report, analysis.to_markdown())
    json_path, md_path = write_report(out, name, report, markdown)
    return AnalyzeResult(json_path, md_path, plot_path, len(answered), len(records))


def _mushra_functions():
    try:
        from evals.listening.mushra_analysis import analyze_mushra
        from evals.listening.plots import plot_mushra
    except ImportError as e:
        raise FlowTTSError(f"the MUSHRA statistics are not available ({e})") from None
    return analyze_mushra, plot_mushra


def _winrate_functions():
    try:
        from evals.listening.plots import plot_winrate
        from evals.listening.winrate_analysis import analyze_winrate
    except ImportError as e:
        raise FlowTTSError(f"the win-rate statistics are not available ({e})") from None
    return analyze_winrate, plot_winrate


def _plot_atomic(plot, analysis, path: Path) -> None:
    """``plot(analysis, tmp.png)`` then rename, so a failed plot never leaves half a PNG."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        plot(analysis, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _test_section(manifest: Manifest, db_path: Path) -> dict:
    return {
        "name": manifest.name,
        "build_id": manifest.build_id,
        "built": {k: manifest.build.get(k) for k in ("date_utc", "git_commit", "config_hash")},
        "results_db": str(db_path),
        "sample_rate": manifest.sample_rate,
        "loudness_lufs": manifest.loudness_lufs,
        "items": len(manifest.items),
        "languages": sorted({it.language for it in manifest.items if it.language}),
        "conditions": list(manifest.conditions),
        "pairs": [list(p) for p in manifest.pairs],
        "tie_allowed": manifest.tie,
        "training_items": manifest.training_items,
        "systems": [{"name": s.name, "source": s.source, **s.details} for s in manifest.systems],
    }


def _listener_dict(x: ListenerSummary) -> dict:
    return {
        "listener": x.listener,
        "joined": x.created_at,
        "answered": x.answered,
        "screens": x.total,
        "sessions": x.sessions,
        "finished": x.finished,
    }


def _markdown(kind: str, report: dict, analysis_md: str) -> str:
    m, t, ls = report["machine"], report["test"], report["listeners"]
    systems = "; ".join(
        f"{s['name']}: "
        + (
            f"`{s['folder']}`"
            if s["source"] == "folder"
            else f"{s['model_name']} (`{s['model']}`, config {s['model_config_hash']})"
            if s["source"] == "synthesis"
            else s.get("what", s["source"])
        )
        for s in t["systems"]
    )
    lines = [
        f"# {TITLES[kind]}: {t['name']}",
        "",
        "| | |",
        "| --- | --- |",
        f"| model | {report['model']} |",
        f"| systems | {systems} |",
        f"| config hash | `{report['config_hash']}` |",
        f"| code | `{report['git_commit']}` (flowtts {report['flowtts_version']}); test built at "
        f"`{t['built']['git_commit']}` on {t['built']['date_utc']} |",
        f"| test | {t['items']} items ({', '.join(t['languages']) or 'no language given'}), "
        f"{t['sample_rate']} Hz, {t['loudness_lufs']:g} LUFS, {t['training_items']} training item(s)"
        + (f", tie {'allowed' if t['tie_allowed'] else 'not offered'}" if kind == "winrate" else "")
        + " |",
        f"| listeners | {ls['analyzed']} analyzed ({ls['joined']} joined, {ls['finished']} finished"
        + (", finished only" if ls["complete_only"] else "")
        + f"); {report['answers']} answers |",
        f"| machine | {m['cpu']}, {m['cores']} cores, {m['platform']} |",
        f"| date (UTC) | {report['date_utc']} |",
        "",
        analysis_md.strip(),
        "",
        f"![{kind} plot]({report['plot']})" if report["plot"] else f"(no plot: {report['plot_note']})",
    ]
    return "\n".join(lines) + "\n"
