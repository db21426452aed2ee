"""`flowtts say` on a tiny random model: files, streaming, stdout, stdin, cloning, speed, bad input."""

import io
import json
import re
import struct

import numpy as np
import pytest
import soundfile as sf

from flowtts.cli import main
from tests.model.helpers import make_tiny_model_dir

TEXT = "Hi there."


def short_model_dir(root):
    """The tiny model, capped at a few frames per sentence so that each `say` takes a moment."""
    root = make_tiny_model_dir(root)
    config = json.loads((root / "config.json").read_text())
    config["model"]["sampling"].update(min_max_frames=8, max_frames_per_char=0.5, steps=2)
    (root / "config.json").write_text(json.dumps(config))
    return root


def speechlike_clip(seconds=4.0, sr=16000, seed=0):
    """Harmonics of a gliding voice in 4 syllables per second, at 16 kHz (so it gets resampled)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    phase = 2 * np.pi * np.cumsum(120 + 30 * np.sin(2 * np.pi * 0.5 * t)) / sr
    x = sum(0.2 / h * np.sin(h * phase) for h in range(1, 8)) + 0.01 * rng.standard_normal(len(t))
    return (x * (0.55 + 0.45 * np.sin(2 * np.pi * 4 * t))).astype(np.float32), sr


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return str(short_model_dir(tmp_path_factory.mktemp("say") / "model"))


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWTTS_HOME", str(tmp_path / "home"))


def say(model, *argv):
    return main(["say", "--model", model, "--seed", "3", *argv])


def one_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.fixture(scope="module")
def whole(model, tmp_path_factory):
    """The int16 samples of `say TEXT -o x.wav` (not streamed), the reference of the other outputs."""
    tmp = tmp_path_factory.mktemp("whole")
    assert say(model, TEXT, "-o", str(tmp / "whole.wav"), "--voices-dir", str(tmp / "lib")) == 0
    samples, sr = sf.read(tmp / "whole.wav", dtype="int16")
    assert sr == 24000 and samples.ndim == 1
    assert len(samples) > 0 and len(samples) % 1920 == 0  # whole 80 ms frames
    return samples


def test_flac_holds_the_same_audio_and_one_summary_line(model, whole, tmp_path, capsys):
    assert say(model, TEXT, "-o", str(tmp_path / "a.flac")) == 0
    line = one_line(capsys.readouterr().err)
    assert re.search(r": \d+\.\d\d s of audio in .*real-time factor .*first audio after", line)
    flac, sr = sf.read(tmp_path / "a.flac", dtype="int16")
    assert sr == 24000 and np.array_equal(flac, whole)
    assert sf.info(tmp_path / "a.flac").subtype == "PCM_16"
    assert not list(tmp_path.glob(".*"))  # no temporary file left


def test_stream_to_files_and_stdout_equals_the_whole_file(model, whole, tmp_path, capsysbinary):
    for name in ("s.wav", "s.flac"):
        assert say(model, TEXT, "--stream", "-o", str(tmp_path / name)) == 0
        streamed, sr = sf.read(tmp_path / name, dtype="int16")
        assert sr == 24000 and np.array_equal(streamed, whole)
    header = (tmp_path / "s.wav").read_bytes()[:44]
    assert struct.unpack("<I", header[40:44])[0] == 2 * len(whole)  # patched at the end
    assert not list(tmp_path.glob(".*"))  # the temporary files were renamed
    capsysbinary.readouterr()

    assert say(model, TEXT, "-o", "-") == 0  # standard output is always streamed
    out = capsysbinary.readouterr().out
    assert out[:4] == b"RIFF" and out[8:16] == b"WAVEfmt " and out[36:40] == b"data"
    assert struct.unpack("<I", out[40:44])[0] == 0xFFFFFFFF  # length unknown when the header went out
    assert np.array_equal(np.frombuffer(out[44:], "<i2"), whole)
    assert np.array_equal(sf.read(io.BytesIO(out), dtype="int16")[0], whole)  # libsndfile reads it

    assert say(model, TEXT, "--stream", "-o", "-", "--format", "pcm") == 0
    assert np.array_equal(np.frombuffer(capsysbinary.readouterr().out, "<i2"), whole)


def test_text_from_stdin(model, whole, tmp_path, monkeypatch, capsys):
    for text_arg in ([], ["-"]):
        monkeypatch.setattr("sys.stdin", io.StringIO(TEXT + "\n"))
        assert say(model, *text_arg, "-o", str(tmp_path / "in.wav")) == 0
        assert np.array_equal(sf.read(tmp_path / "in.wav", dtype="int16")[0], whole)


def test_voice_clip_and_preset(model, whole, tmp_path, capsys):
    assert say(model, TEXT, "--voice", "tiny-voice", "-o", str(tmp_path / "p.wav")) == 0
    assert np.array_equal(sf.read(tmp_path / "p.wav", dtype="int16")[0], whole)  # the default preset
    clip, sr = speechlike_clip()
    sf.write(tmp_path / "clip.wav", clip, sr)
    assert say(model, TEXT, "--voice-clip", str(tmp_path / "clip.wav"), "-o", str(tmp_path / "c.wav")) == 0
    cloned = sf.read(tmp_path / "c.wav", dtype="int16")[0]
    assert len(cloned) > 0 and not np.array_equal(cloned, whole)  # another voice prefix


def test_speed_makes_it_shorter(model, whole, tmp_path, capsys):
    assert say(model, TEXT, "--speed", "1.5", "--stream", "-o", str(tmp_path / "f.wav")) == 0
    fast = sf.read(tmp_path / "f.wav", dtype="int16")[0]
    assert len(fast) == round(len(whole) / 1.5)


@pytest.mark.parametrize(
    "argv, message",
    [
        ([TEXT, "--voice", "nope", "-o", "{tmp}/x.wav"], "unknown voice"),
        ([TEXT, "--voice", "../x", "-o", "{tmp}/x.wav"], "unknown voice"),
        ([TEXT, "-o", "{tmp}/x.mp3"], "unsupported output suffix"),
        ([TEXT, "-o", "{tmp}/x"], "unsupported output suffix"),
        ([TEXT, "-o", "{tmp}/no/such/x.wav"], "does not exist"),
        ([TEXT, "-o", "-", "--format", "flac"], "standard output"),
        ([TEXT, "--speed", "3", "-o", "{tmp}/x.wav"], "speed"),
        ([TEXT, "--steps", "0", "-o", "{tmp}/x.wav"], "steps"),
        ([TEXT, "--voice-clip", "{tmp}/missing.wav", "-o", "{tmp}/x.wav"], "cannot read audio"),
        ([TEXT, "--voice-clip", "{tmp}/short.wav", "-o", "{tmp}/x.wav"], "at least 3 s"),
        ([TEXT, "--voice-clip", "{tmp}/text.wav", "-o", "{tmp}/x.wav"], "cannot read audio"),
        (["   ", "-o", "{tmp}/x.wav"], "empty text"),
        ([TEXT, "--device", "nonsense", "-o", "{tmp}/x.wav"], "--device nonsense"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(model, tmp_path, capsys, argv, message):
    clip, sr = speechlike_clip(seconds=1.0)
    sf.write(tmp_path / "short.wav", clip, sr)
    (tmp_path / "text.wav").write_text("not audio")
    before = set(tmp_path.iterdir())
    assert say(model, *[a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    captured = capsys.readouterr()
    line = one_line(captured.err)
    assert line.startswith("flowtts: error:") and message in line
    assert captured.out == ""
    assert set(tmp_path.iterdir()) == before  # nothing written, no temporary file left


def test_not_a_model_folder(tmp_path, capsys):
    assert main(["say", TEXT, "--model", str(tmp_path), "-o", str(tmp_path / "x.wav")]) == 2
    assert "not a flowtts model folder" in one_line(capsys.readouterr().err)
