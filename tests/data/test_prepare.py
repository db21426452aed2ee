"""``flowtts data prepare``: both input layouts, cleaning, rejection reasons, long files, CLI.

Audio is made here with numpy: "words" are harmonic tone bursts under a Hann envelope, separated by
short gaps, so the signal has speech-like loudness modulation and pauses.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from flowtts.cli import main
from flowtts.data.clips import Cut, Pause, clipped_share, find_pauses, plan_cuts
from flowtts.data.manifest import read_manifest
from flowtts.data.prepare import assign_split, prepare_recordings
from flowtts.errors import FlowTTSError

WORDS = ["hello", "world", "green", "house", "stone", "river", "light", "table"]  # 5 letters each
WORD_S, GAP_S = 0.25, 0.08


def speech(n_words: int, sr: int, seed: int = 0, lead: float = 0.0, pauses: dict | None = None) -> np.ndarray:
    """``n_words`` tone bursts (0.25 s + 0.08 s gap); ``pauses`` = {word index: extra silence s} after
    that word; ``lead`` seconds of silence before and after."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(WORD_S * sr)) / sr
    parts = [np.zeros(int(lead * sr))]
    for i in range(n_words):
        f0 = 110 + 40 * rng.random()
        tone = sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, 6))
        parts += [0.3 * tone / np.abs(tone).max() * np.hanning(len(t)), np.zeros(int(GAP_S * sr))]
        parts.append(np.zeros(int((pauses or {}).get(i, 0.0) * sr)))
    parts.append(np.zeros(int(lead * sr)))
    return np.concatenate(parts).astype(np.float32)


def words(n: int, offset: int = 0) -> str:
    return " ".join(WORDS[(offset + i) % len(WORDS)] for i in range(n))


def put(path: Path, x: np.ndarray, sr: int, text: str | None = None, **kw) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x, sr, **kw)
    if text is not None:
        path.with_suffix(".txt").write_text(text, encoding="utf-8")


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    """A folder-of-audio input with two good clips and one example of every rejection."""
    d = tmp_path / "My Voice"
    put(d / "good1.wav", speech(8, 16000, lead=0.6), 16000, words(8) + ".")
    stereo = np.stack([speech(9, 44100, seed=1), 0.5 * speech(9, 44100, seed=1)], axis=1)
    put(d / "sub" / "good2.flac", stereo, 44100, words(9, 3) + "!")
    d.joinpath("corrupt.wav").write_bytes(np.random.default_rng(0).bytes(4000))
    d.joinpath("corrupt.txt").write_text("hello world")
    put(d / "notext.wav", speech(6, 16000), 16000)
    d.joinpath("orphan.txt").write_text("hello world")
    put(d / "empty.wav", speech(6, 16000), 16000, "  \n")
    put(d / "short.wav", speech(2, 16000), 16000, "hello world")
    put(d / "silent.wav", np.zeros(32000, np.float32), 16000, "hello world")
    nan = speech(6, 16000)
    nan[1000] = np.nan
    put(d / "nan.wav", nan, 16000, words(6), subtype="FLOAT")
    noise = 0.1 * np.random.default_rng(2).standard_normal(48000).astype(np.float32)
    put(d / "noise.wav", noise, 16000, words(9))
    put(d / "clipped.wav", np.clip(5 * speech(6, 16000), -1, 1), 16000, words(6))
    put(d / "mismatch.wav", speech(6, 16000), 16000, words(60))
    return d


def test_folder_input_cleans_and_rejects_with_reasons(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    rep = prepare_recordings(folder, out, "en", jobs=1)

    reasons = {r.path: r.reason for r in rep.rejected}
    assert reasons == {
        "corrupt.wav": "unreadable",
        "notext.wav": "missing_transcript",
        "orphan.txt": "missing_audio",
        "empty.wav": "empty_transcript",
        "short.wav": "too_short",
        "silent.wav": "silence",
        "nan.wav": "non_finite",
        "noise.wav": "no_speech_modulation",
        "clipped.wav": "clipping",
        "mismatch.wav": "text_mismatch",
    }
    assert rep.voice == "my-voice"
    assert [u.id for u in rep.kept] == ["my-voice_good1", "my-voice_sub__good2"]
    for u in rep.kept:
        info = sf.info(out / u.audio)
        assert (info.samplerate, info.channels, info.subtype, info.format) == (24000, 1, "PCM_16", "FLAC")
        assert abs(info.duration - u.duration) < 1e-3
        x, _ = sf.read(out / u.audio)
        assert np.abs(x).max() <= 10 ** (-1 / 20) + 1e-3  # peak <= -1 dBFS
        assert (u.engine, u.sample_rate, u.split, u.seen_voice) == ("recording", 24000, "train", True)
        assert (u.speaker_group, u.license, u.phones, u.phonemes) == ("my-voice", "user-provided", None, None)
    # 0.6 s of silence each side is trimmed to the 0.1 s pad: 8 words = 2.64 s of sound
    good1 = rep.kept[0]
    assert 2.6 < good1.duration < 2.64 + 0.25, good1.duration
    assert good1.text == words(8) + "."
    assert round(rep.minutes_usable * 60, 3) == round(sum(u.duration for u in rep.kept), 3)

    assert list(read_manifest(out / "manifests" / "prepared-my-voice.jsonl")) == rep.kept
    report = json.loads((out / "reports" / "prepare-my-voice.json").read_text())
    assert report["rejected_by_reason"]["unreadable"] == 1
    assert {r["path"] for r in report["rejected"]} == set(reasons)
    assert (report["clips_kept"], report["clips_found"], report["rows"]) == (2, 12, 2)


def test_rerun_is_idempotent_and_drops_stale_audio(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    prepare_recordings(folder, out, "en", voice="v", jobs=1)
    manifest = out / "manifests" / "prepared-v.jsonl"
    first = manifest.read_bytes()
    prepare_recordings(folder, out, "en", voice="v", jobs=1)
    assert manifest.read_bytes() == first
    (folder / "good1.wav").unlink()
    rep = prepare_recordings(folder, out, "en", voice="v", jobs=1)
    assert sorted(p.name for p in (out / "audio" / "v").iterdir()) == ["v_sub__good2.flac"]
    assert [u.id for u in read_manifest(manifest)] == [u.id for u in rep.kept] == ["v_sub__good2"]


def test_parallel_run_matches_serial(folder: Path, tmp_path: Path) -> None:
    one = prepare_recordings(folder, tmp_path / "one", "en", voice="v", jobs=1)
    two = prepare_recordings(folder, tmp_path / "two", "en", voice="v", jobs=2)
    assert one.kept == two.kept and one.rejected == two.rejected
    for u in one.kept:
        assert (tmp_path / "one" / u.audio).read_bytes() == (tmp_path / "two" / u.audio).read_bytes()


def test_ljspeech_layout(tmp_path: Path) -> None:
    d = tmp_path / "LJSpeech-1.1"
    put(d / "wavs" / "LJ001-0001.wav", speech(7, 22050), 22050)
    put(d / "wavs" / "LJ001-0002.wav", speech(6, 22050, seed=3), 22050)
    put(d / "wavs" / "LJ009-0009.wav", speech(6, 22050), 22050)  # not listed in metadata.csv
    (d / "metadata.csv").write_text(
        f"LJ001-0001|{words(6)} 1990.|{words(6)} nineteen ninety.\n"
        f"LJ001-0002|{words(6, 2)}\n"
        "LJ001-0003|no audio for this row\n"
        "just-an-id\n",
        encoding="utf-8",
    )
    rep = prepare_recordings(d, tmp_path / "out", "en", jobs=1)
    assert rep.voice == "ljspeech-1-1"
    assert [u.id for u in rep.kept] == ["ljspeech-1-1_LJ001-0001", "ljspeech-1-1_LJ001-0002"]
    assert rep.kept[0].text == f"{words(6)} 1990."  # as found in the source
    assert "nineteen" in rep.kept[0].normalized_text.lower()  # from the normalized column
    assert {(r.path, r.reason) for r in rep.rejected} == {
        ("wavs/LJ001-0003.wav", "missing_audio"),
        ("wavs/LJ009-0009.wav", "missing_transcript"),
        ("metadata.csv:4", "bad_metadata_line"),
    }


def test_long_file_is_split_at_sentence_pauses_or_rejected(tmp_path: Path) -> None:
    d = tmp_path / "long"
    # 12 s: sentences of 8, 10, 7, 6 words with 0.5 s pauses; a 0.25 s comma pause inside sentence 2,
    # which opens with "Dr." (an abbreviation, not a sentence end: the text frontend's splitter knows)
    x = speech(31, 16000, pauses={7: 0.5, 12: 0.25, 17: 0.5, 24: 0.5}, lead=0.3)
    sents = [
        words(8).capitalize() + ".",
        "Dr. " + words(5, 1).capitalize() + ", " + words(5, 2) + ".",
        words(7, 3).capitalize() + "?",
        words(6, 4).capitalize() + ".",
    ]
    put(d / "chapter.wav", x, 16000, " ".join(sents))
    put(d / "rambling.wav", x, 16000, " ".join(s.rstrip(".?") for s in sents))  # only "Dr." left
    put(d / "breathless.wav", speech(31, 16000), 16000, " ".join(sents))  # no pause >= 200 ms
    rep = prepare_recordings(d, tmp_path / "out", "en", voice="v", max_seconds=6.0, jobs=1)

    assert [(r.path, r.reason) for r in rep.rejected] == [
        ("breathless.wav", "too_long"),
        ("rambling.wav", "too_long"),
    ]
    assert "no pause" in rep.rejected[0].detail and "no sentence boundary" in rep.rejected[1].detail
    assert all("segment it" in r.detail for r in rep.rejected)
    assert [u.id for u in rep.kept] == ["v_chapter_001", "v_chapter_002", "v_chapter_003"]
    assert [u.text for u in rep.kept] == [sents[0], sents[1], sents[2] + " " + sents[3]]
    assert all(u.prosody == {"split": "approximate"} and u.duration <= 6.0 for u in rep.kept)
    assert len({u.split for u in rep.kept}) == 1  # pieces of one recording share a split
    assert [u.source for u in rep.kept] == ["chapter.wav"] * 3


def test_plan_cuts_prefers_the_longest_pause_near_the_predicted_boundary() -> None:
    comma, full_stop = Pause(3.5, 3.7), Pause(4.1, 4.7)  # the boundary is predicted at 4.0 s
    assert plan_cuts([10, 10], [comma, full_stop], 8.0, 1.0, 6.0) == [Cut(0, 4.4)]
    assert plan_cuts([10, 10], [Pause(1.0, 1.3)], 8.0, 1.0, 6.0) is None  # too far from 4.0 s
    assert plan_cuts([10, 10], [], 5.0, 1.0, 6.0) == []  # short enough: no cut
    # the 2nd sentence ends at 12.4 s, past max 12 s: its boundary must not snap to the comma at 11 s
    stops, comma = [Pause(5.75, 6.25), Pause(12.15, 12.65)], Pause(10.9, 11.1)
    cuts = plan_cuts([30, 30, 40], [stops[0], comma, stops[1]], 20.0, 1.0, 12.0)
    assert cuts == [Cut(0, 6.0), Cut(1, 12.4)]


def test_helpers_pauses_clipping_and_split_hash() -> None:
    x = speech(4, 24000, pauses={1: 0.4})
    pauses = find_pauses(x, 24000)
    assert len(pauses) == 1 and 0.4 <= pauses[0].end - pauses[0].start <= 0.5
    assert clipped_share(np.array([0.0, 1.0, 1.0, 1.0, 0.2, 1.0], np.float32)) == pytest.approx(0.5)
    assert clipped_share(speech(4, 24000)) == 0.0
    splits = [assign_split(f"c{i}", 0, 0.1, 0.1) for i in range(2000)]
    assert splits == [assign_split(f"c{i}", 0, 0.1, 0.1) for i in range(2000)]
    assert 150 < splits.count("test") < 250 and 150 < splits.count("valid") < 250
    assert splits != [assign_split(f"c{i}", 1, 0.1, 0.1) for i in range(2000)]


def test_single_clip_always_lands_in_train_and_text_is_normalized(tmp_path: Path) -> None:
    put(tmp_path / "in" / "a.wav", speech(6, 16000), 16000, words(5) + " 42")
    rep = prepare_recordings(
        tmp_path / "in", tmp_path / "out", "en", jobs=1, valid_fraction=0.5, test_fraction=0.49
    )
    assert [u.split for u in rep.kept] == ["train"]
    assert rep.kept[0].text.endswith(" 42") and "forty" in rep.kept[0].normalized_text.lower()


@pytest.mark.parametrize(
    "setup, kwargs, message",
    [
        (lambda p: None, {}, "does not exist"),
        (lambda p: p.write_text("x"), {}, "not a folder"),
        (lambda p: p.mkdir(), {}, "no audio found"),
        (lambda p: put(p / "a.wav", speech(6, 16000), 16000), {}, "no .txt transcripts"),
        (lambda p: p.mkdir(), {"lang": "xx"}, "unknown --lang"),
    ],
)
def test_input_errors_are_one_line(tmp_path: Path, setup, kwargs, message: str) -> None:
    inp = tmp_path / "in"
    setup(inp)
    with pytest.raises(FlowTTSError, match=message):
        prepare_recordings(inp, tmp_path / "out", kwargs.get("lang", "en"), jobs=1)


def test_unwritable_out_is_an_error(folder: Path, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(FlowTTSError, match="cannot write to --out"):
        prepare_recordings(folder, tmp_path / "file", "en", jobs=1)


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import flowtts.cli

    monkeypatch.setattr(flowtts.cli, "SUBCOMMANDS", ("data",))  # this test is about `data prepare` only
    missing = str(tmp_path / "missing")
    assert main(["data", "prepare", missing, "--out", str(tmp_path / "o"), "--lang", "en"]) != 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("flowtts: error:") and "does not exist" in err and "\n" not in err

    put(tmp_path / "in" / "a.wav", speech(6, 16000), 16000, words(6))
    put(tmp_path / "in" / "b.wav", np.zeros(16000, np.float32), 16000, "hello")
    args = ["data", "prepare", str(tmp_path / "in"), "--out", str(tmp_path / "o"), "--lang", "en"]
    assert main([*args, "--voice", "me", "--jobs", "1", "--gender", "female"]) == 0
    out = capsys.readouterr().out
    assert "minutes usable in 1 clips" in out and "silence 1" in out
    assert next(read_manifest(tmp_path / "o" / "manifests" / "prepared-me.jsonl")).gender == "female"
    assert main([*args, "--lang", "xx"]) != 0
    assert "unknown --lang" in capsys.readouterr().err
