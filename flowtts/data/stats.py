"""``flowtts data stats``: hours per language, voice and split of a corpus folder."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from flowtts.data.manifest import SPLITS, iter_corpus
from flowtts.errors import FlowTTSError


@dataclass
class CorpusStats:
    utterances: int = 0
    hours: float = 0.0
    disk_bytes: int = 0
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> count
    by_lang: dict[str, float] = field(default_factory=dict)  # hours
    by_split: dict[str, float] = field(default_factory=dict)  # hours
    by_split_seen: dict[str, dict[str, float]] = field(default_factory=dict)  # split -> seen|held-out
    by_voice: dict[str, dict] = field(default_factory=dict)  # voice -> {lang, group, engine, seen, hours}
    voices_by_lang: dict[str, int] = field(default_factory=dict)
    groups_by_lang: dict[str, int] = field(default_factory=dict)
    heldout_voices_by_lang: dict[str, int] = field(default_factory=dict)


def _disk_usage(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def corpus_stats(root: str | Path) -> CorpusStats:
    """Reads every manifest (and drop list) of the corpus at ``root``."""
    root = Path(root)
    if not (root / "manifests").is_dir():
        raise FlowTTSError(f"{root} is not a corpus folder (no manifests/ inside)")
    s = CorpusStats()
    by_lang: Counter = Counter()
    by_split: Counter = Counter()
    split_seen: dict[str, Counter] = defaultdict(Counter)
    voices: dict[str, dict] = {}
    for row in iter_corpus(root):
        s.utterances += 1
        h = row.duration / 3600
        by_lang[row.lang] += h
        by_split[row.split] += h
        split_seen[row.split]["seen" if row.seen_voice else "held-out"] += h
        v = voices.setdefault(
            row.voice,
            {
                "lang": row.lang,
                "group": row.speaker_group,
                "engine": row.engine,
                "seen": row.seen_voice,
                "hours": 0.0,
            },
        )
        v["hours"] += h
        v["seen"] &= row.seen_voice
    drops: Counter = Counter()
    for path in sorted((root / "drops").glob("*.json")):
        drops.update(d["reason"] for d in json.loads(path.read_text(encoding="utf-8")))
    s.hours = sum(by_lang.values())
    s.dropped = dict(drops.most_common())
    s.by_lang = dict(sorted(by_lang.items()))
    s.by_split = {k: by_split[k] for k in SPLITS if k in by_split}
    s.by_split_seen = {k: dict(split_seen[k]) for k in SPLITS if k in split_seen}
    s.by_voice = dict(sorted(voices.items()))
    for lang in s.by_lang:
        vs = [v for v in voices.values() if v["lang"] == lang]
        s.voices_by_lang[lang] = len(vs)
        s.groups_by_lang[lang] = len({v["group"] for v in vs})
        s.heldout_voices_by_lang[lang] = sum(not v["seen"] for v in vs)
    s.disk_bytes = _disk_usage(root)
    return s


def format_stats(s: CorpusStats) -> str:
    """A human-readable report."""
    lines = [
        f"utterances {s.utterances}   hours {s.hours:.3f}   disk {s.disk_bytes / 1e6:.1f} MB"
        + (f" ({s.disk_bytes / 1e6 / s.hours:.0f} MB/h)" if s.hours else "")
    ]
    kept_and_dropped = s.utterances + sum(s.dropped.values())
    if s.dropped:
        share = sum(s.dropped.values()) / max(1, kept_and_dropped)
        lines.append(
            f"dropped {sum(s.dropped.values())} ({share:.1%}): "
            + ", ".join(f"{k} {v}" for k, v in s.dropped.items())
        )
    lines.append("\nlanguage  hours   voices  speaker-groups  held-out-voices")
    for lang, h in s.by_lang.items():
        lines.append(
            f"{lang:<8} {h:7.3f}  {s.voices_by_lang[lang]:6d}  {s.groups_by_lang[lang]:14d}"
            f"  {s.heldout_voices_by_lang[lang]:15d}"
        )
    lines.append("\nsplit     hours   seen-voices  held-out-voices")
    for split, h in s.by_split.items():
        ss = s.by_split_seen.get(split, {})
        lines.append(f"{split:<8} {h:7.3f}  {ss.get('seen', 0):11.3f}  {ss.get('held-out', 0):15.3f}")
    lines.append("\nvoice                          lang  engine    seen  minutes")
    for vid, v in s.by_voice.items():
        lines.append(
            f"{vid:<30} {v['lang']:<5} {v['engine']:<9} {'yes' if v['seen'] else 'no ':<5}"
            f" {v['hours'] * 60:7.2f}"
        )
    return "\n".join(lines)
