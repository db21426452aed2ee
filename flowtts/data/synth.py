"""``flowtts data synth``: builds the offline speech corpus, in parallel, resumably.

Layout of a corpus folder::

    corpus.json              settings, plan digest, held-out speaker groups (written first)
    voices.json              the voices used: id, language, speaker group, gender, licence, seen
    audio/<shard>/<id>.flac  24 kHz mono 16-bit FLAC
    drops/<shard>.json       renders dropped in that shard, with reasons
    manifests/<shard>.jsonl  manifest rows (flowtts.data.manifest.Utterance), written LAST

A shard is complete exactly when its manifest exists. Workers render a shard into a temporary folder,
rename it into place, write the drops, and only then write the manifest atomically; a run killed at
any point leaves at worst a folder without a manifest, which the next run deletes and renders again.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path

from flowtts import __version__
from flowtts.atomic import ensure_writable_dirs, write_text_atomic
from flowtts.data.catalog import Catalogue, available_catalogue
from flowtts.data.manifest import write_manifest
from flowtts.data.plan import Plan, PlanItem, build_plan
from flowtts.data.synth_config import SynthConfig
from flowtts.data.text_sources import Sentence
from flowtts.errors import FlowTTSError

CORPUS_FORMAT = 1


@dataclass
class ShardResult:
    shard: str
    kept: int
    seconds: float
    drops: list[dict] = field(default_factory=list)  # {"id", "reason", "detail"}


@dataclass
class SynthReport:
    """The outcome of one ``synth`` run (this run's work, plus the corpus totals)."""

    out: str
    shards_total: int
    shards_rendered: int
    utterances_kept: int  # whole corpus
    hours: float  # whole corpus
    dropped: dict[str, int]  # whole corpus, by reason
    run_audio_hours: float  # rendered by this run
    run_wall_seconds: float
    disk_bytes: int
    short_of_text: list[str]

    @property
    def hours_per_wall_hour(self) -> float:
        return self.run_audio_hours / max(self.run_wall_seconds / 3600, 1e-9)


# ---- worker side ---------------------------------------------------------------------------------

_worker: dict = {}


def _init_worker(catalogue: Catalogue, root: str) -> None:
    from flowtts.data.render import Renderer

    _worker["renderer"] = Renderer(catalogue)
    _worker["root"] = Path(root)


def _render_shard(job: tuple[str, list[PlanItem]]) -> ShardResult:
    shard, items = job
    root: Path = _worker["root"]
    tmp = root / "audio" / f".tmp-{shard}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    outcomes = [_worker["renderer"].render(it, tmp, f"audio/{shard}") for it in items]
    final = root / "audio" / shard
    shutil.rmtree(final, ignore_errors=True)
    os.rename(tmp, final)
    drops = [
        {"id": o.item_id, "reason": o.drop_reason, "detail": o.drop_detail} for o in outcomes if o.row is None
    ]
    write_text_atomic(root / "drops" / f"{shard}.json", json.dumps(drops, ensure_ascii=False, indent=0))
    rows = [o.row for o in outcomes if o.row is not None]
    write_manifest(root / "manifests" / f"{shard}.jsonl", rows)  # the commit point
    return ShardResult(shard, len(rows), sum(r.duration for r in rows), drops)


# ---- parent side ---------------------------------------------------------------------------------


def prepare_out_dir(out: Path) -> None:
    """Creates the corpus folder layout; a clear error if it cannot be written."""
    ensure_writable_dirs([out / sub for sub in ("audio", "drops", "manifests")], f"output folder {out}")


def _write_or_check_header(out: Path, cfg: SynthConfig, plan: Plan, cat: Catalogue) -> None:
    """Writes corpus.json / voices.json, or checks that an existing corpus has the same plan."""
    header = out / "corpus.json"
    if header.exists():
        try:
            old = json.loads(header.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise FlowTTSError(f"{header} is unreadable ({e}); choose a new --out") from e
        if old.get("plan_digest") != plan.digest:
            raise FlowTTSError(
                f"{out} holds a corpus with a different plan (other settings, texts or installed "
                "voices); resume it with its original command or choose a new --out"
            )
        return
    used = {it.voice for it in plan.items}
    voices = [
        {**asdict(v), "seen": v.speaker_group not in plan.heldout_groups}
        for lang in cfg.langs
        for v in cat.voices[lang]
        if v.id in used
    ]
    write_text_atomic(out / "voices.json", json.dumps(voices, ensure_ascii=False, indent=1))
    meta = {
        "format": CORPUS_FORMAT,
        "flowtts_version": __version__,
        "config": cfg.to_dict(),
        "plan_digest": plan.digest,
        "utterances_planned": len(plan.items),
        "heldout_speaker_groups": plan.heldout_groups,
        "skipped_engines": cat.skipped_engines,
    }
    write_text_atomic(header, json.dumps(meta, ensure_ascii=False, indent=1))


def _pending_shards(out: Path, plan: Plan) -> dict[str, list[PlanItem]]:
    """Shards without a manifest; removes their stale audio folders and temporary folders."""
    for stale in (out / "audio").glob(".tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    pending = {}
    for shard, items in plan.shards().items():
        if not (out / "manifests" / f"{shard}.jsonl").exists():
            shutil.rmtree(out / "audio" / shard, ignore_errors=True)
            pending[shard] = items
    return pending


def synthesize(
    cfg: SynthConfig,
    out: Path,
    jobs: int,
    texts: dict[str, list[Sentence]],
    progress: bool = True,
    catalogue: Catalogue | None = None,
) -> SynthReport:
    """Plans and renders the corpus into ``out``; resumes an interrupted build of the same plan.

    ``texts`` holds the candidate sentences per language (see ``flowtts.data.text_sources``).
    """
    from tqdm import tqdm

    from flowtts.data.stats import corpus_stats

    prepare_out_dir(out)
    cat = catalogue or available_catalogue(cfg.langs, cfg.engines)
    plan = build_plan(cfg, cat, texts)
    _write_or_check_header(out, cfg, plan, cat)
    pending = _pending_shards(out, plan)

    t0 = time.monotonic()
    run_seconds = 0.0
    n_items = sum(len(v) for v in pending.values())
    if pending:
        ctx = get_context("fork")
        with (
            ctx.Pool(max(1, jobs), _init_worker, (cat, str(out))) as pool,
            tqdm(total=n_items, unit="utt", disable=not progress, desc="synth", smoothing=0.1) as bar,
        ):
            try:
                for res in pool.imap_unordered(_render_shard, sorted(pending.items())):
                    run_seconds += res.seconds
                    bar.update(res.kept + len(res.drops))
                    bar.set_postfix(audio_h=f"{run_seconds / 3600:.2f}")
            except OSError as e:  # disk full, folder removed under us: shards done so far are kept
                raise FlowTTSError(
                    f"writing the corpus failed ({e.strerror or e}); free the cause and re-run the same "
                    "command to resume"
                ) from e
    wall = time.monotonic() - t0

    stats = corpus_stats(out)
    report = SynthReport(
        out=str(out),
        shards_total=len(plan.shards()),
        shards_rendered=len(pending),
        utterances_kept=stats.utterances,
        hours=stats.hours,
        dropped=stats.dropped,
        run_audio_hours=run_seconds / 3600,
        run_wall_seconds=wall,
        disk_bytes=stats.disk_bytes,
        short_of_text=plan.short_of_text,
    )
    write_text_atomic(
        out / "report.json",
        json.dumps({**asdict(report), "hours_per_wall_hour": report.hours_per_wall_hour}, indent=1),
    )
    return report
