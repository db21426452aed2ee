"""Fine-tuning data: bad clips skipped and reported, too little audio stops before training, the held-out
split, the reference prompt, reuse on resume."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from flowtts.data.manifest import Utterance
from flowtts.errors import FlowTTSError
from flowtts.finetune.config import FinetuneConfig
from flowtts.finetune.data import choose_reference, prepare_data, split_rows
from tests.finetune.helpers import make_recordings, small_config, speech, words


def make_messy(folder: Path, good: int = 10) -> Path:
    """``good`` usable clips plus one example of each bad input the issue lists, the corrupt file in the
    middle of the good ones."""
    make_recordings(folder, good)
    (folder / "clip-004b.wav").write_bytes(np.random.default_rng(0).bytes(5000))  # corrupt, between good ones
    (folder / "clip-004b.txt").write_text(words(10))
    sf.write(folder / "no-transcript.wav", speech(10, seed=50), 16000)
    (folder / "no-audio.txt").write_text(words(10))
    sf.write(folder / "silence.wav", np.zeros(16000 * 3, np.float32), 16000)
    (folder / "silence.txt").write_text(words(8))
    sf.write(folder / "mismatch.wav", speech(10, seed=51), 16000)
    (folder / "mismatch.txt").write_text("hello")  # 3.5 s for one word
    t = np.arange(16000 * 3) / 16000
    sf.write(folder / "hum.wav", (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000)  # no speech
    (folder / "hum.txt").write_text(words(9))
    stereo = np.stack([speech(10, 44100, seed=52)] * 2, axis=1)  # another sample rate and 2 channels: kept
    sf.write(folder / "clip-hifi.flac", stereo, 44100)
    (folder / "clip-hifi.txt").write_text(words(10, 3))
    return folder


EXPECTED = {
    "clip-004b.wav": "unreadable",
    "no-transcript.wav": "missing_transcript",
    "no-audio.txt": "missing_audio",
    "silence.wav": "silence",
    "mismatch.wav": "text_mismatch",
    "hum.wav": "no_speech_modulation",
}


def codec_of(model_dir: Path) -> Path:
    return model_dir / "codec.safetensors"


def test_bad_clips_are_skipped_with_reasons(model_dir, tmp_path) -> None:
    data = make_messy(tmp_path / "anna")
    seen = []
    out = prepare_data(
        data,
        tmp_path / "work",
        lang="en",
        voice="anna",
        codec_path=codec_of(model_dir),
        config=small_config(),
        on_summary=seen.append,
    )
    s = out.summary
    assert seen == [s]
    assert {r.path: r.reason for r in s.rejected} == EXPECTED
    assert s.clips_found == 11 + len(EXPECTED) and s.clips_kept == 11
    assert s.valid_clips == 2 and s.train_clips == 9 and len(out.train) == 9 and len(out.valid) == 2
    assert {r.split for r in out.train} == {"train"} and {r.split for r in out.valid} == {"valid"}
    assert 0.5 < s.minutes_usable < 0.8
    assert all(r.id in out.frames for r in out.train + out.valid)
    assert out.reference in out.train
    v = out.reference_voice("anna", 21)
    assert v.num_frames == len(out.frames[out.reference.id].semantic) and v.acoustic.shape[1] == 4


def test_too_little_audio_stops_before_training(model_dir, tmp_path) -> None:
    data = make_recordings(tmp_path / "short", 9)  # about 30 s
    seen = []
    with pytest.raises(FlowTTSError, match=r"only 3\d s of usable audio in 9 clips; .* at least 3 minutes"):
        prepare_data(
            data,
            tmp_path / "work",
            lang="en",
            voice="short",
            codec_path=codec_of(model_dir),
            config=FinetuneConfig(),
            on_summary=seen.append,
        )
    assert len(seen) == 1 and seen[0].clips_kept == 9  # reported before stopping
    assert not (tmp_path / "work" / "corpus" / "frames").exists()  # not even encoded
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "a.wav").write_bytes(b"RIFF....")
    (tmp_path / "bad" / "a.txt").write_text("hello")
    with pytest.raises(FlowTTSError, match=r"only 0 s .* 1 files rejected \(unreadable 1\)"):
        prepare_data(
            tmp_path / "bad",
            tmp_path / "w2",
            lang="en",
            voice="b",
            codec_path=codec_of(model_dir),
            config=small_config(),
        )


def test_a_rerun_reuses_the_prepared_data(model_dir, tmp_path, monkeypatch) -> None:
    data = make_recordings(tmp_path / "anna", 8)
    kw = dict(lang="en", voice="anna", codec_path=codec_of(model_dir), config=small_config())
    first = prepare_data(data, tmp_path / "work", **kw)
    import flowtts.data.prepare

    def boom(*a, **k):
        raise AssertionError("prepared again")

    monkeypatch.setattr(flowtts.data.prepare, "prepare_recordings", boom)
    again = prepare_data(data, tmp_path / "work", **kw)
    assert again.fingerprint == first.fingerprint and [r.id for r in again.train] == [
        r.id for r in first.train
    ]
    sf.write(data / "clip-000.wav", speech(9, seed=99), 16000)  # an input changed: prepared again
    with pytest.raises(AssertionError, match="prepared again"):
        prepare_data(data, tmp_path / "work", **kw)


def row(uid: str, source: str, seconds: float, approximate: bool = False) -> Utterance:
    return Utterance(
        id=uid,
        audio=f"audio/{uid}.flac",
        text="t",
        normalized_text="t",
        lang="en",
        voice="v",
        speaker_group="v",
        split="train",
        seen_voice=True,
        duration=seconds,
        sample_rate=24000,
        prosody={"split": "approximate"} if approximate else {},
        source=source,
    )


def test_split_holds_out_whole_files() -> None:
    rows = [row(f"s{k}_{i}", f"s{k}.wav", 4.0) for k in range(30) for i in range(2)]  # 2 pieces per file
    train, valid = split_rows(rows, FinetuneConfig())
    assert len(valid) == 6 and len(train) == 54  # a tenth of 30 files, both pieces of each
    assert not {r.source for r in train} & {r.source for r in valid}
    train2, valid2 = split_rows(rows, FinetuneConfig())
    assert [r.id for r in valid2] == [r.id for r in valid]  # deterministic
    _, few = split_rows(rows[:8], FinetuneConfig())
    assert len({r.source for r in few}) == 2  # at least min_valid_clips files
    with pytest.raises(FlowTTSError, match="nothing left to train on"):
        split_rows(rows[:4], FinetuneConfig())


def test_reference_prefers_a_whole_clip_near_8_s() -> None:
    rows = [row("a", "a", 2.0), row("b", "b", 7.0, approximate=True), row("c", "c", 5.0), row("d", "d", 12.0)]
    frames = {r.id: type("F", (), {"semantic": np.zeros(int(r.duration * 12.5))})() for r in rows}
    assert choose_reference(rows, frames)[0].id == "c"  # b is nearer 8 s but a piece of a split file
    assert choose_reference(rows[:1] + rows[3:], frames) == (
        rows[3],
        125,
    )  # none fits: the longest, cut to 10 s
