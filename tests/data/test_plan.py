"""The corpus plan: deterministic, honest splits, held-out voices never in training."""

from collections import Counter

import pytest

from flowtts.data.catalog import Catalogue
from flowtts.data.engines.base import VoiceSpec
from flowtts.data.plan import build_plan, choose_heldout_groups
from flowtts.data.synth_config import SynthConfig
from flowtts.data.text_sources import Sentence
from flowtts.errors import FlowTTSError


def _voice(vid, lang, group, engine="mbrola"):
    kind = "formant" if engine == "espeak" else "recorded"
    return VoiceSpec(vid, engine, lang, group, None, "test", kind, {})


def _catalogue():
    voices = {"en": [], "fr": []}
    for lang in voices:
        for i in range(6):
            voices[lang].append(_voice(f"mbrola-{lang}{i}", lang, f"mbrola-{lang}{i}"))
            voices[lang].append(_voice(f"mbrola-{lang}{i}-l090", lang, f"mbrola-{lang}{i}"))
        for k in range(4):  # espeak variants speak every language in one group
            voices[lang].append(_voice(f"espeak-{lang}-v{k:02d}", lang, f"espeak-v{k:02d}", "espeak"))
    return Catalogue(voices, {})


def _texts(n=400):
    return {
        lang: [
            Sentence(f"{lang} sentence number {i} is long enough to be read.", lang, "t", "PD")
            for i in range(n)
        ]
        for lang in ("en", "fr")
    }


def test_plan_is_deterministic_and_seed_dependent():
    cfg = SynthConfig(langs=("en", "fr"), hours=0.2, seed=1)
    a = build_plan(cfg, _catalogue(), _texts())
    b = build_plan(cfg, _catalogue(), _texts())
    c = build_plan(SynthConfig(langs=("en", "fr"), hours=0.2, seed=2), _catalogue(), _texts())
    assert a.digest == b.digest and a.items == b.items
    assert a.digest != c.digest


def test_splits_hold_out_sentences_and_voices():
    cat = _catalogue()
    plan = build_plan(SynthConfig(langs=("en", "fr"), hours=0.3, seed=0), cat, _texts())
    held = set(plan.heldout_groups)
    assert held, "some speaker groups must be held out"
    texts_by_split = {s: {it.text for it in plan.items if it.split == s} for s in ("train", "valid", "test")}
    assert not texts_by_split["train"] & texts_by_split["test"]
    assert not texts_by_split["train"] & texts_by_split["valid"]
    assert not texts_by_split["valid"] & texts_by_split["test"]
    for it in plan.items:
        group = cat.voice(it.voice).speaker_group
        assert it.seen_voice == (group not in held)
        if it.split == "train":
            assert group not in held
    for lang in ("en", "fr"):
        for split in ("valid", "test"):
            its = [it for it in plan.items if it.lang == lang and it.split == split]
            assert len(its) >= 8
            assert {it.seen_voice for it in its} == {True, False}


def test_heldout_groups_are_consistent_across_languages():
    cat = _catalogue()
    cfg = SynthConfig(langs=("en", "fr"), hours=0.1, heldout_group_fraction=0.4)
    held = choose_heldout_groups(cat, cfg)
    for lang in cfg.langs:
        groups = {v.speaker_group for v in cat.voices[lang]}
        assert groups & held and groups - held
    # an espeak variant group is one speaker in every language: held out everywhere or nowhere
    plan = build_plan(cfg, cat, _texts())
    seen_by_group = {}
    for it in plan.items:
        g = cat.voice(it.voice).speaker_group
        seen_by_group.setdefault(g, set()).add(it.seen_voice)
    assert all(len(v) == 1 for v in seen_by_group.values())


def test_budget_and_shards():
    cfg = SynthConfig(langs=("en", "fr"), hours=0.2, shard_size=10)
    plan = build_plan(cfg, _catalogue(), _texts())
    est = sum(it.est_seconds for it in plan.items) / 3600
    assert 0.2 <= est < 0.22
    sizes = Counter(it.shard for it in plan.items)
    assert max(sizes.values()) == 10 and len(sizes) == -(-len(plan.items) // 10)
    assert len({it.id for it in plan.items}) == len(plan.items)


def test_too_little_text_is_a_clear_error():
    texts = {lang: v[:3] for lang, v in _texts().items()}
    with pytest.raises(FlowTTSError, match="not enough"):
        build_plan(SynthConfig(langs=("en", "fr"), hours=0.1), _catalogue(), texts)


def test_bad_config_is_a_clear_error():
    with pytest.raises(FlowTTSError, match="unknown language"):
        SynthConfig(langs=("en", "xx"), hours=1)
    with pytest.raises(FlowTTSError, match="positive"):
        SynthConfig(langs=("en",), hours=0)


def test_config_round_trip():
    cfg = SynthConfig(langs=("en", "fr"), hours=0.5, seed=3)
    assert SynthConfig.from_dict(cfg.to_dict()) == cfg
