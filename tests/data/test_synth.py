"""The corpus builder end to end on real engines (espeak-ng, MBROLA, Pico, flite: the CI install).

Builds a tiny two-language corpus, checks the files and manifests, resumes, and survives a kill.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import soundfile as sf

from flowtts.data.catalog import available_catalogue
from flowtts.data.manifest import iter_corpus
from flowtts.data.stats import corpus_stats, format_stats
from flowtts.data.synth import synthesize
from flowtts.data.synth_config import SynthConfig
from flowtts.data.text_sources import Sentence
from flowtts.errors import FlowTTSError

EN = [
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It is easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
    "Four hours of steady work faced us.",
    "A large size in stockings is hard to sell.",
    "The boy was there when the sun rose.",
    "A rod is used to catch pink salmon.",
    "The source of the huge river is the clear spring.",
    "Kick the ball straight and follow through.",
    "Help the woman get back to her feet.",
    "A pot of tea helps to pass the evening.",
    "Smoky fires lack flame and heat.",
]
FR = [
    "Le petit chat dort sur le canapé du salon.",
    "Il fait très beau aujourd'hui dans la ville.",
    "Nous partirons demain matin pour la montagne.",
    "La boulangerie ouvre ses portes à sept heures.",
    "Elle a lu ce livre pendant les vacances.",
    "Les enfants jouent dans le jardin avec le chien.",
    "Le train pour Paris est en retard ce soir.",
    "Mon frère travaille dans une grande entreprise.",
    "Cette rivière traverse tout le pays du nord au sud.",
    "Il faut fermer la fenêtre avant de partir.",
    "Le musée présente une nouvelle exposition de peinture.",
    "Nous avons mangé une soupe aux légumes.",
]
ENGINES = ("espeak", "mbrola", "pico", "flite")


def _texts():
    return {
        "en": [Sentence(t, "en", "harvard", "public domain") for t in EN],
        "fr": [Sentence(t, "fr", "test", "public domain") for t in FR],
    }


def _cfg(**kw):
    base = dict(
        langs=("en", "fr"),
        hours=0.02,
        seed=7,
        shard_size=3,
        engines=ENGINES,
        min_eval_utterances=2,
        valid_fraction=0.2,
        test_fraction=0.2,
    )
    base.update(kw)
    return SynthConfig(**base)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    report = synthesize(_cfg(), out, jobs=2, texts=_texts(), progress=False)
    return out, report


def test_files_and_manifest_rows(corpus):
    out, report = corpus
    rows = list(iter_corpus(out))
    assert rows and report.utterances_kept == len(rows)
    for r in rows:
        info = sf.info(out / r.audio)
        assert info.samplerate == 24000 and info.channels == 1 and info.format == "FLAC"
        assert abs(info.duration - r.duration) < 0.01
        assert r.normalized_text and r.phonemes and r.license
        if r.phones:
            assert all(0 <= p.start <= r.duration + 1e-3 for p in r.phones)
    data, _ = sf.read(out / rows[0].audio)
    assert 0.01 < abs(data).max() <= 1.0
    assert {r.lang for r in rows} == {"en", "fr"}
    assert {r.split for r in rows} == {"train", "valid", "test"}
    assert {r.seen_voice for r in rows if r.split == "test"} == {True, False}
    assert all(r.seen_voice for r in rows if r.split == "train")


def test_stats_and_report(corpus):
    out, report = corpus
    s = corpus_stats(out)
    assert s.hours == pytest.approx(report.hours)
    assert set(s.by_split) == {"train", "valid", "test"}
    text = format_stats(s)
    assert "language" in text and "held-out" in text
    meta = json.loads((out / "corpus.json").read_text())
    assert meta["heldout_speaker_groups"]
    assert report.hours_per_wall_hour > 0


def test_resume_renders_only_missing_shards_identically(corpus):
    out, _ = corpus
    victim = sorted((out / "manifests").glob("*.jsonl"))[0]
    before = victim.read_text()
    audio_before = {p.name: p.read_bytes() for p in (out / "audio" / victim.stem).iterdir()}
    victim.unlink()
    (out / "audio" / ".tmp-99999-1").mkdir()  # debris of a killed worker
    report = synthesize(_cfg(), out, jobs=1, texts=_texts(), progress=False)
    assert report.shards_rendered == 1
    # Deterministic from the seed: the same rows and the same audio bytes, although this shard is
    # now rendered by a fresh process in another order than the first time.
    assert victim.read_text() == before
    assert {p.name: p.read_bytes() for p in (out / "audio" / victim.stem).iterdir()} == audio_before
    assert not list((out / "audio").glob(".tmp-*"))


def test_other_settings_refuse_to_mix(corpus):
    out, _ = corpus
    with pytest.raises(FlowTTSError, match="different plan"):
        synthesize(_cfg(seed=8), out, jobs=1, texts=_texts(), progress=False)


def test_unwritable_output_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(FlowTTSError, match="cannot write"):
        synthesize(_cfg(), blocker / "corpus", jobs=1, texts=_texts(), progress=False)


def test_killed_run_leaves_nothing_a_resume_would_trust(tmp_path):
    """SIGKILL a build mid-way, then check every manifest row points to a complete file and a
    resume completes the plan."""
    out = tmp_path / "c"
    repo, target = str(Path(__file__).resolve().parents[2]), str(out)
    code = (
        f"import sys; sys.path.insert(0, {repo!r})\n"
        "from tests.data.test_synth import _cfg, _texts\n"
        "from flowtts.data.synth import synthesize\n"
        "from pathlib import Path\n"
        f"synthesize(_cfg(hours=0.03, shard_size=2), Path({target!r}), 2, _texts(), progress=False)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list((out / "manifests").glob("*.jsonl"))) < 2:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    for r in iter_corpus(out):
        sf.info(out / r.audio)  # readable, complete
    report = synthesize(_cfg(hours=0.03, shard_size=2), out, jobs=2, texts=_texts(), progress=False)
    assert report.shards_rendered >= 1
    rows = list(iter_corpus(out))
    assert len({r.id for r in rows}) == len(rows)
    for r in rows:
        assert sf.info(out / r.audio).frames > 0


def test_catalogue_has_voices_for_ci_languages():
    cat = available_catalogue(("en", "fr"), ENGINES)
    engines = {v.engine for v in cat.voices["en"]}
    assert {"espeak", "mbrola", "pico", "flite"} <= engines
