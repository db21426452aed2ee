"""`flowtts codec encode|decode|resynth` and `flowtts train codec` from the command line (in process)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from codec.frames import Frames
from codec.release import load_codec, save_codec
from flowtts.cli import main
from flowtts.constants import FRAME_SAMPLES, SAMPLE_RATE
from tests.codec.helpers import speechlike, tiny_codec

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def codec_file(tmp_path: Path) -> Path:
    return save_codec(tiny_codec(), tmp_path / "tiny.safetensors")


def _one_error_line(capsys: pytest.CaptureFixture[str], message: str) -> None:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("flowtts: error:") and message in err[0], err


def test_encode_decode_round_trip(
    tmp_path: Path, codec_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wav = tmp_path / "in.wav"
    x = speechlike(0.5)  # 12000 samples: 6.25 frames -> 7
    sf.write(wav, x, SAMPLE_RATE, subtype="PCM_16")
    frames_path = tmp_path / "in.safetensors"
    assert main(["codec", "encode", str(wav), str(frames_path), "--codec", str(codec_file)]) == 0
    assert "7 frames" in capsys.readouterr().err
    frames = Frames.load(frames_path)
    assert frames.batch_size == 1 and frames.num_frames == 7 and frames.acoustic_dim == 4

    codec = load_codec(codec_file)
    pcm, _ = sf.read(wav, dtype="float32")
    expected = codec.encode(torch.from_numpy(pcm))
    assert torch.equal(frames.semantic, expected.semantic) and torch.equal(frames.acoustic, expected.acoustic)

    out = tmp_path / "out.wav"
    assert main(["codec", "decode", str(frames_path), str(out), "--codec", str(codec_file)]) == 0
    audio, sr = sf.read(out, dtype="float32")
    assert sr == SAMPLE_RATE and audio.shape == (7 * FRAME_SAMPLES,)
    reference = codec.decode(expected)[0].clamp(-1, 1).numpy()
    np.testing.assert_allclose(audio, reference, atol=2 / 32768)


def test_resynth_keeps_the_input_length(tmp_path: Path, codec_file: Path, capsys) -> None:
    wav = tmp_path / "in.flac"
    sf.write(wav, np.stack([speechlike(0.3), speechlike(0.3, seed=1)], axis=1), 16000)  # stereo, 16 kHz
    out = tmp_path / "out.flac"
    assert main(["codec", "resynth", str(wav), str(out), "--codec", str(codec_file)]) == 0
    err = capsys.readouterr().err
    assert "mixed down" in err and "resampled" in err
    audio, sr = sf.read(out)
    assert sr == SAMPLE_RATE and len(audio) == round(len(speechlike(0.3)) * 1.5)


def test_encode_refuses_bad_audio(tmp_path: Path, codec_file: Path, capsys) -> None:
    nan = tmp_path / "nan.wav"
    x = speechlike(0.2)
    x[100] = np.nan
    sf.write(nan, x, SAMPLE_RATE, subtype="FLOAT")
    assert (
        main(["codec", "encode", str(nan), str(tmp_path / "f.safetensors"), "--codec", str(codec_file)]) == 2
    )
    _one_error_line(capsys, "NaN")
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), SAMPLE_RATE)
    assert (
        main(["codec", "encode", str(empty), str(tmp_path / "f.safetensors"), "--codec", str(codec_file)])
        == 2
    )
    _one_error_line(capsys, "empty")
    assert not (tmp_path / "f.safetensors").exists()


def test_bad_codec_and_bad_frames_files(tmp_path: Path, codec_file: Path, capsys) -> None:
    wav = tmp_path / "in.wav"
    sf.write(wav, speechlike(0.2), SAMPLE_RATE)
    assert main(["codec", "encode", str(wav), str(tmp_path / "f.st"), "--codec", str(tmp_path / "none")]) == 2
    _one_error_line(capsys, "no codec at")
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    assert (
        main(
            [
                "codec",
                "decode",
                str(tmp_path / "junk.safetensors"),
                str(tmp_path / "o.wav"),
                "--codec",
                str(codec_file),
            ]
        )
        == 2
    )
    _one_error_line(capsys, "junk.safetensors")


def test_train_codec_with_a_missing_corpus(tmp_path: Path, capsys) -> None:
    argv = [
        "train",
        "codec",
        "--config",
        str(REPO / "configs" / "codec.toml"),
        "--corpus",
        str(tmp_path / "no-such-corpus"),
        "--out",
        str(tmp_path / "run"),
        "--no-progress",
    ]
    assert main(argv) == 2
    _one_error_line(capsys, "not a corpus folder")
    assert not (tmp_path / "run").exists()


def test_train_codec_with_a_bad_config(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[train]\nstepz = 3\n")
    argv = ["train", "codec", "--config", str(bad), "--corpus", str(tmp_path), "--out", str(tmp_path / "run")]
    assert main(argv) == 2
    _one_error_line(capsys, "stepz")
    argv = [
        "train",
        "codec",
        "--config",
        str(REPO / "configs" / "codec.toml"),
        "--corpus",
        str(tmp_path),
        "--out",
        str(tmp_path / "run"),
        "--steps",
        "0",
    ]
    assert main(argv) == 2
    _one_error_line(capsys, "--steps")
