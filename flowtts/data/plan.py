"""The corpus plan: which sentence is rendered by which voice with which prosody, in which split.

Everything random here comes from ``random.Random`` seeded by strings derived from the config's seed,
so the same config, voices and texts always give the same plan (and the plan's hash proves it on
resume). Splits are honest by construction:

* held-out sentences: each sentence belongs to exactly one of train / valid / test (a seeded hash
  of its text decides), so no eval sentence is ever spoken in training;
* held-out voices: a share of speaker groups (a real speaker and every pseudo-speaker derived from
  it; an espeak variant in every language) is chosen once, across all languages, and only ever
  speaks in valid/test. Eval utterances alternate between seen and held-out voices.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import defaultdict
from dataclasses import asdict, dataclass, replace

from flowtts.data.catalog import Catalogue
from flowtts.data.engines.base import Prosody, VoiceSpec
from flowtts.data.synth_config import SECONDS_PER_CHAR, SynthConfig
from flowtts.data.text_sources import Sentence
from flowtts.errors import FlowTTSError

SLOW_ENGINES = ("rhvoice", "festival")
MAX_PASSES = 50  # renders per sentence at most, when the text is short of the requested hours


@dataclass(frozen=True)
class PlanItem:
    """One utterance to render."""

    id: str
    shard: str
    lang: str
    split: str
    text: str
    source: str
    voice: str
    seen_voice: bool
    prosody: Prosody
    est_seconds: float


@dataclass(frozen=True)
class Plan:
    items: list[PlanItem]
    heldout_groups: list[str]
    digest: str  # sha256 over every item: equal digests mean equal corpora
    short_of_text: list[str]  # languages whose text ran out before their hours were reached

    def shards(self) -> dict[str, list[PlanItem]]:
        out: dict[str, list[PlanItem]] = defaultdict(list)
        for item in self.items:
            out[item.shard].append(item)
        return dict(out)


def _unit(*parts: object) -> float:
    """A deterministic number in [0, 1) from the parts (stable across processes and machines)."""
    h = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**64


def choose_heldout_groups(cat: Catalogue, cfg: SynthConfig) -> set[str]:
    """Picks held-out speaker groups so that every language with ≥ 2 groups holds out at least one
    and keeps at least one, and a group is held out in every language or in none."""
    held: set[str] = set()
    seen: set[str] = set()
    for lang in cfg.langs:
        groups = sorted({v.speaker_group for v in cat.voices[lang]}, key=lambda g: _unit(cfg.seed, g))
        if len(groups) < 2:
            seen.update(groups)
            continue
        target = max(1, round(cfg.heldout_group_fraction * len(groups)))
        for g in groups:
            n_held = sum(x in held for x in groups)
            if n_held >= target:
                break
            if g not in held and g not in seen and len(groups) - n_held > 1:
                held.add(g)
        seen.update(g for g in groups if g not in held)
    return held


def _pick_voice(rng: random.Random, voices: list[VoiceSpec], cfg: SynthConfig) -> VoiceSpec:
    """Two-level draw: a speaker group (espeak pseudo-speakers get ``espeak_share`` of the mass),
    then a voice inside it (slow engines down-weighted)."""
    groups: dict[str, list[VoiceSpec]] = defaultdict(list)
    for v in voices:
        groups[v.speaker_group].append(v)
    names = sorted(groups)
    espeak = [g for g in names if all(v.engine == "espeak" for v in groups[g])]
    other = [g for g in names if g not in espeak]
    if espeak and other:
        w = [
            cfg.espeak_share / len(espeak) if g in espeak else (1 - cfg.espeak_share) / len(other)
            for g in names
        ]
    else:
        w = [1.0] * len(names)
    members = groups[rng.choices(names, weights=w)[0]]
    vw = [cfg.slow_engine_weight if v.engine in SLOW_ENGINES else 1.0 for v in members]
    return rng.choices(members, weights=vw)[0]


def draw_prosody(rng: random.Random, cfg: SynthConfig) -> Prosody:
    """One utterance's prosody, drawn from the config's ranges (``cfg.prosody``) with ``rng``."""
    r = cfg.prosody
    return Prosody(
        rate=round(rng.uniform(*r.rate), 3),
        pitch=round(rng.uniform(*r.pitch), 2),
        pitch_range=round(rng.uniform(*r.pitch_range), 3),
        word_gap=rng.choice(r.word_gap),
    )


def _split_of(sentence: str, cfg: SynthConfig) -> str:
    u = _unit(cfg.seed, "split", sentence)
    if u < cfg.test_fraction * 2:  # sentence pools are over-provisioned; budgets decide the hours
        return "test"
    if u < (cfg.test_fraction + cfg.valid_fraction) * 2:
        return "valid"
    return "train"


def _lang_items(
    lang: str, sentences: list[Sentence], cat: Catalogue, held: set[str], cfg: SynthConfig
) -> tuple[list[PlanItem], bool]:
    """Items of one language; the bool says whether the text ran out before the budget did."""
    spc = SECONDS_PER_CHAR[lang]
    budget = cfg.hours * 3600 / len(cfg.langs)
    mean_s = sum(len(s.text) for s in sentences) / max(1, len(sentences)) * spc
    n_est = max(1.0, budget / max(mean_s, 1e-3))
    eval_frac = {
        split: min(0.25, max(frac, cfg.min_eval_utterances / n_est))
        for split, frac in (("valid", cfg.valid_fraction), ("test", cfg.test_fraction))
    }
    budgets = {k: v * budget for k, v in eval_frac.items()}
    budgets["train"] = budget - sum(budgets.values())
    pools: dict[str, list[Sentence]] = defaultdict(list)
    for s in sentences:
        pools[_split_of(s.text, cfg)].append(s)
    seen_voices = [v for v in cat.voices[lang] if v.speaker_group not in held]
    held_voices = [v for v in cat.voices[lang] if v.speaker_group in held]
    if not seen_voices:
        raise FlowTTSError(
            f"every {lang} voice belongs to a held-out speaker group, so none can speak training "
            "text; lower --heldout-fraction or enable more engines"
        )
    items: list[PlanItem] = []
    short = False
    for split in ("train", "valid", "test"):
        rng = random.Random(f"{cfg.seed}:{lang}:{split}")
        pool = sorted(pools[split], key=lambda s: s.text)
        rng.shuffle(pool)
        if not pool:
            raise FlowTTSError(f"not enough {lang} text for a {split} split ({len(sentences)} sentences)")
        used, n = 0.0, 0
        while used < budgets[split] and n < MAX_PASSES * len(pool):
            s = pool[n % len(pool)]
            use_held = split != "train" and held_voices and n % 2 == 1
            voice = _pick_voice(rng, held_voices if use_held else seen_voices, cfg)
            prosody = draw_prosody(rng, cfg)
            est = len(s.text) * spc / prosody.rate
            items.append(
                PlanItem(
                    id=f"{lang}-{split}-{n:06d}",
                    shard="",
                    lang=lang,
                    split=split,
                    text=s.text,
                    source=s.source,
                    voice=voice.id,
                    seen_voice=not use_held,
                    prosody=prosody,
                    est_seconds=round(est, 3),
                )
            )
            used += est
            n += 1
        short |= used < budgets[split]
    return items, short


def build_plan(cfg: SynthConfig, cat: Catalogue, texts: dict[str, list[Sentence]]) -> Plan:
    """Builds the whole plan and assigns shards (a seeded interleaving of all languages, so a
    partially built corpus is balanced)."""
    held = choose_heldout_groups(cat, cfg)
    items: list[PlanItem] = []
    short: list[str] = []
    for lang in cfg.langs:
        pool = [s for s in texts[lang] if cfg.min_chars <= len(s.text) <= cfg.max_chars]
        lang_items, was_short = _lang_items(lang, pool, cat, held, cfg)
        items += lang_items
        if was_short:
            short.append(lang)
    random.Random(f"{cfg.seed}:order").shuffle(items)
    items = [replace(it, shard=f"{i // cfg.shard_size:05d}") for i, it in enumerate(items)]
    digest = hashlib.sha256(
        json.dumps([asdict(it) for it in items], sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()
    return Plan(items, sorted(held), digest, short)
