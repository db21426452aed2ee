"""The non-MBROLA synthesis engines: real renders (rate, loudness, length, phones, prosody), espeak's
pseudo-speaker variants and ``phonemize``. espeak-ng, flite and pico2wave are in the CI install and
are never skipped; RHVoice and Festival are skipped where they are not installed."""

from __future__ import annotations

import shutil
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from flowtts.data.engines import get_engine_class
from flowtts.data.engines._cli import CommandLineEngine, arpabet_to_ipa, spans_from_ends
from flowtts.data.engines.base import Engine, Prosody, RenderResult, VoiceSpec
from flowtts.data.engines.espeak import (
    EspeakEngine,
    PhoneMark,
    ensure_data_dir,
    make_variants,
    phone_spans,
    phonemize,
)
from flowtts.data.engines.flite import parse_psdur
from flowtts.data.engines.pico import markup
from flowtts.errors import MissingSystemVoiceError

SENTENCE = "The quick brown fox jumps over the lazy dog near the river bank."
IPA_VOWELS = set("aeiouæɑɒɔəɛɜɪʊʌɐɚɝ")
needs_rhvoice = pytest.mark.skipif(shutil.which("RHVoice-test") is None, reason="RHVoice not installed")
needs_festival = pytest.mark.skipif(shutil.which("festival") is None, reason="Festival not installed")


def _voice(engine: str, voice_id: str) -> VoiceSpec:
    return next(v for v in get_engine_class(engine).voices() if v.id == voice_id)


def _f0(x: np.ndarray, sr: int) -> float:
    """Median F0 (Hz) of the loud 40 ms frames by normalized autocorrelation (60–400 Hz)."""
    n, lo, hi = int(0.04 * sr), int(sr / 400), int(sr / 60)
    out = []
    for i in range(0, len(x) - n - hi, n):
        fr = x[i : i + n + hi].astype(np.float64)
        if np.sqrt((fr[:n] ** 2).mean()) < 0.05 * np.abs(x).max():
            continue
        ac = np.array([np.dot(fr[:n], fr[k : k + n]) for k in range(lo, hi)])
        k = int(np.argmax(ac))
        if ac[k] > 0.5 * np.dot(fr[:n], fr[:n]):
            out.append(sr / (lo + k))
    return float(np.median(out))


def _check_render(res: RenderResult, text: str, rate: int) -> float:
    """Asserts a clean render at ``rate``; returns its duration."""
    assert res.problems == []
    assert res.sample_rate == rate
    assert res.samples.dtype == np.float32 and res.samples.ndim == 1
    assert 0.1 < float(np.abs(res.samples).max()) <= 1.0
    duration = len(res.samples) / res.sample_rate
    assert 0.03 < duration / len(text) < 0.12, f"{duration / len(text):.3f} s/char"
    return duration


def _check_phones(res: RenderResult) -> None:
    """Spans are contiguous, monotonic and end with the audio."""
    phones = res.phones
    assert phones and len(phones) > 10
    assert phones[0].start == pytest.approx(0.0, abs=1e-6)
    for a, b in zip(phones, phones[1:], strict=False):
        assert a.duration > 0 and b.start == pytest.approx(a.start + a.duration, abs=1e-4)
    end = phones[-1].start + phones[-1].duration
    assert end == pytest.approx(len(res.samples) / res.sample_rate, rel=0.02, abs=0.02)


def _rate_changes_duration(engine: Engine, voice: VoiceSpec) -> None:
    fast = engine.render(SENTENCE, voice, Prosody(rate=1.3))
    slow = engine.render(SENTENCE, voice, Prosody(rate=0.8))
    assert not fast.problems and not slow.problems
    assert len(fast.samples) < 0.8 * len(slow.samples)


def _render_checked(engine_name: str, voice_id: str, rate: int) -> tuple[Engine, VoiceSpec, RenderResult]:
    """Builds the engine, checks the voice is available, renders SENTENCE cleanly at ``rate`` and
    checks that the rate knob changes the duration."""
    engine = get_engine_class(engine_name)()
    voice = _voice(engine_name, voice_id)
    assert engine.available(voice)
    res = engine.render(SENTENCE, voice, Prosody())
    _check_render(res, SENTENCE, rate)
    _rate_changes_duration(engine, voice)
    return engine, voice, res


# espeak-ng ------------------------------------------------------------------------------------


def test_variants_are_deterministic_and_varied():
    a, b = make_variants(), make_variants()
    assert a == b and len(a) == 24
    assert len({v.name for v in a}) == 24
    f0s = sorted(v.f0 for v in a)
    assert f0s[0] < 100 and f0s[-1] > 200  # low and high voices both present
    assert {v.gender for v in a} == {"female", "male", None}
    for v in a:
        assert all(90 <= f <= 122 for f, _, _ in v.formants[1:])


def test_variant_data_dir_is_identical_across_builds_and_safe_in_parallel(tmp_path, monkeypatch):
    roots = []
    for name in ("one", "two"):
        monkeypatch.setenv("FLOWTTS_CACHE", str(tmp_path / name))
        roots.append(ensure_data_dir())
    files = [sorted((r / "espeak-ng-data" / "voices" / "!v").iterdir()) for r in roots]
    assert [p.name for p in files[0]] == [p.name for p in files[1]] == [f"v{i:02d}" for i in range(24)]
    assert [p.read_bytes() for p in files[0]] == [p.read_bytes() for p in files[1]]

    monkeypatch.setenv("FLOWTTS_CACHE", str(tmp_path / "race"))
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(ensure_data_dir())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and (results[0] / "espeak-ng-data" / "phontab").exists()
    assert [p.name for p in (tmp_path / "race" / "espeak").iterdir()] == [results[0].name]


def test_espeak_renders_with_exact_ipa_phones():
    engine = EspeakEngine()
    voice = _voice("espeak", "espeak-en-v07")
    res = engine.render(SENTENCE, voice, Prosody())
    _check_render(res, SENTENCE, 22050)
    _check_phones(res)
    phones = [p.phone for p in res.phones]
    assert phones[0] == "_" and any(ch in IPA_VOWELS for p in phones for ch in p)
    assert "ˈ" in res.phonemes and "ð" in res.phonemes  # "the", with stress marks
    _rate_changes_duration(engine, voice)
    assert engine.render("...", voice, Prosody()).problems  # nothing to say: a problem, not a raise


def test_espeak_variants_sound_different():
    engine = EspeakEngine()
    low = engine.render(SENTENCE, _voice("espeak", "espeak-en-v12"), Prosody())
    high = engine.render(SENTENCE, _voice("espeak", "espeak-de-v19"), Prosody())
    assert _f0(high.samples, 22050) > 1.8 * _f0(low.samples, 22050)
    groups = {v.speaker_group for v in EspeakEngine.voices() if v.params["variant"] == "v07"}
    assert groups == {"espeak-v07"}  # one pseudo-speaker across all nine languages


def test_phonemize_gives_ipa_and_is_thread_safe():
    assert phonemize("hello world", "en") == "həlˈoʊ wˈɜːld"
    texts = [("Bonjour tout le monde.", "fr"), ("Guten Morgen, meine Freunde.", "de"), (SENTENCE, "en")]
    serial = [phonemize(t, lang) for t, lang in texts]
    assert all(serial) and serial[0] != serial[1]
    out: dict[int, list[str]] = {}

    def work(i: int) -> None:
        out[i] = [phonemize(t, lang) for t, lang in texts * 5]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(v == serial * 5 for v in out.values())


def test_phone_spans_merge_pauses_and_cover_the_audio():
    marks = [PhoneMark("h", 100), PhoneMark("a", 300), PhoneMark("", 500), PhoneMark("", 600)]
    spans = phone_spans(marks, 800, rate=1000)
    assert [(s.phone, s.start, s.duration) for s in spans] == [
        ("_", 0.0, 0.1),
        ("h", 0.1, 0.2),
        ("a", 0.3, 0.2),
        ("_", 0.5, 0.3),
    ]


# Pico, flite ----------------------------------------------------------------------------------


def test_pico_renders_escaped_text_at_16k():
    engine, voice, res = _render_checked("pico", "pico-en-US", 16000)
    assert 150 < _f0(res.samples, 16000) < 260  # a female voice read at its true rate
    text = "Fish & chips <cost> less than you think."
    assert "&amp;" in markup(text, Prosody()) and "<cost>" not in markup(text, Prosody())
    assert engine.render(text, voice, Prosody()).problems == []
    bad = replace(voice, params={"lang": "xx-XX"})
    assert engine.render(text, bad, Prosody()).problems  # engine error → problem, no raise
    scratch = engine._scratch.path()
    engine.close()
    assert not scratch.exists()


def test_flite_renders_with_phone_times():
    engine, _, res = _render_checked("flite", "flite-kal16", 16000)
    _check_phones(res)  # flite's own clock ends with the audio: the rate is right
    assert {"ð", "ə", "k"} <= {p.phone for p in res.phones}
    engine.close()


def test_psdur_parsing_runs_one_clock_across_utterances():
    ends = parse_psdur("pau:0.1 hh:0.2 ax:0.3 pau:0.4\npau:0.1 d:0.25\n")
    assert [(e.phone, e.end) for e in ends] == [
        ("_", 0.1),
        ("h", 0.2),
        ("ə", 0.3),
        ("_", 0.4),
        ("_", 0.5),
        ("d", 0.65),
    ]
    spans = spans_from_ends(ends, 0.6)
    assert [s.phone for s in spans] == ["_", "h", "ə", "_", "d"] and spans[-1].duration == 0.1
    assert arpabet_to_ipa("AY1") == "aɪ" and arpabet_to_ipa("h#") == "_"


class _ShellEngine(CommandLineEngine):
    name = "shelltest"
    requires = ("sh",)

    def available(self, voice: VoiceSpec) -> bool:
        return True

    def render(self, text: str, voice: VoiceSpec, prosody: Prosody) -> RenderResult:
        txt, out = self._scratch.file(".txt"), self._scratch.file(".wav")
        cmd = ["sh", "-c", voice.params["script"], "sh", str(txt), str(out)]  # $1: text file, $2: WAV
        return self.run_to_result(cmd, out, text, 8000, text_file=txt)


def test_command_line_engine_failures_are_problems_and_scratch_is_cleaned():
    engine = _ShellEngine()
    voice = _ShellEngine.recorded_voice("x", "en", "g", None, "none", {"script": 'grep -q hello "$1"'})
    assert voice.id == "shelltest-x" and voice.kind == "recorded"
    res = engine.render("hello", voice, Prosody())  # reads its text file, writes no WAV
    assert res.sample_rate == 8000 and len(res.samples) == 0
    assert "no readable audio" in res.problems[0]
    res = engine.render("hello", replace(voice, params={"script": "echo oops >&2; exit 3"}), Prosody())
    assert res.problems == ["sh exited 3: oops"]
    scratch = engine._scratch.path()
    assert list(scratch.iterdir()) == []  # text and WAV files removed after every render
    engine.close()
    assert not scratch.exists()


@pytest.mark.parametrize("engine", ["pico", "flite", "rhvoice", "festival"])
def test_missing_binary_raises_missing_system_voice(engine, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda exe: None)
    with pytest.raises(MissingSystemVoiceError):
        get_engine_class(engine)()
    assert get_engine_class(engine).voices()  # the catalogue is known without the binary


# RHVoice, Festival (the full voice set) ---------------------------------------------------------


@needs_rhvoice
@pytest.mark.voices
def test_rhvoice_renders_at_24k():
    engine, _, res = _render_checked("rhvoice", "rhvoice-slt", 24000)
    assert "rhvoice-evgeniy-eng" not in {v.id for v in engine.voices()}
    assert 140 < _f0(res.samples, 24000) < 220
    engine.close()


@needs_festival
@pytest.mark.voices
def test_festival_renders_with_segments_and_rejects_non_latin1():
    engine, _, res = _render_checked("festival", "festival-kal", 16000)
    _check_phones(res)
    italian = _voice("festival", "festival-lp")
    assert "latin-1" in engine.render("La città ☃ è bella.", italian, Prosody()).problems[0]
    engine.close()
    assert not engine._procs
