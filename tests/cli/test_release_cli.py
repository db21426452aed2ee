"""`flowtts release` on a tiny random model, a tiny codec with a CTC head and a tiny corpus: the folder
loads and speaks with a preset, the codec ships float16 without its head, bad input and oversize are
refused with one line and leave the previous folder alone, the card's generated section is replaced."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import soundfile as sf
import torch
from safetensors import safe_open

from flowtts.cli import main
from flowtts.data.manifest import Utterance, write_manifest
from flowtts.release_build import BEGIN, END, voice_candidates
from tests.codec.helpers import speechlike
from tests.data.helpers import utterance
from tests.model.helpers import make_tiny_model_dir

HAND_WRITTEN = "# tiny — model card\n\nWritten by hand.\n"
AFTER = "## Figures\n\nAlso by hand, after the generated section.\n"


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module", autouse=True)
def _fixed_date():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOURCE_DATE_EPOCH", "1700000000")  # 2023-11-14
        yield


def _codec_like(src: Path, dst: Path, phonemes=("a", "b", "c"), seed: int | None = None) -> Path:
    """The tiny model's codec with a CTC head added (same frames), or, with ``seed``, another codec."""
    from codec.model import Codec
    from codec.release import load_codec, save_codec

    base = load_codec(src)
    if seed is not None:
        torch.manual_seed(seed)
    codec = Codec(replace(base.config, phonemes=phonemes))
    if seed is None:
        missing, unexpected = codec.load_state_dict(base.state_dict(), strict=False)
        assert not unexpected and missing and all(m.startswith("phoneme_head.") for m in missing)
    dst.parent.mkdir(parents=True, exist_ok=True)
    return save_codec(codec.eval(), dst, extra={"step": "7"})


def _row(uid, lang, voice, engine, gender, seconds, split="train", seen=True) -> Utterance:
    return utterance(
        uid,
        voice,
        split,
        seen,
        seconds,
        f"Words of {uid}.",
        lang,
        audio=f"audio/00000/{uid}.flac",
        gender=gender,
        engine=engine,
        license=f"{engine} licence",
    )


CORPUS_ROWS = [
    _row("en-train-0", "en", "espeak-en-v01", "espeak", "female", 6.0),
    _row("en-train-1", "en", "espeak-en-v01", "espeak", "female", 3.0),  # too short for a preset
    _row("en-train-2", "en", "espeak-en-v03", "espeak", "female", 5.5),
    _row("en-train-3", "en", "espeak-en-v03", "espeak", "female", 7.0),
    _row("en-train-6", "en", "espeak-en-v03", "espeak", "female", 4.0),  # counts as a train clip
    _row("en-train-4", "en", "flite-en-slt", "flite", "male", 6.5),
    _row("fr-train-0", "fr", "mbrola-fr1", "mbrola", "male", 5.2),
    _row("fr-test-0", "fr", "espeak-fr-v02", "espeak", "female", 6.0, split="test", seen=False),
    _row("de-train-0", "de", "espeak-de-v00", "espeak", None, 2.0),  # no clip of 5–12 s
]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("release")
    tts = make_tiny_model_dir(root / "run" / "model")
    config = json.loads((tts / "config.json").read_text())
    config["model"]["sampling"].update(min_max_frames=8, max_frames_per_char=0.5, steps=2)
    config["step"] = "123"
    (tts / "config.json").write_text(json.dumps(config))
    codec = _codec_like(tts / "codec.safetensors", root / "codec-run" / "codec.safetensors")
    other = _codec_like(tts / "codec.safetensors", root / "other" / "codec.safetensors", seed=5)
    corpus = root / "corpus"
    for k, row in enumerate(CORPUS_ROWS):
        (corpus / row.audio).parent.mkdir(parents=True, exist_ok=True)
        sf.write(corpus / row.audio, speechlike(row.duration, seed=k), 24000, subtype="PCM_16")
    (corpus / "manifests").mkdir()
    write_manifest(corpus / "manifests" / "00000.jsonl", CORPUS_ROWS)
    return {"tts": tts, "codec": codec, "other": other, "corpus": corpus}


def release(inputs, out, *extra) -> int:
    argv = ["release", "--tts", str(inputs["tts"]), "--codec", str(inputs["codec"])]
    return main([*argv, "--corpus", str(inputs["corpus"]), "--out", str(out), *extra])


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def content(folder: Path) -> dict[str, object]:
    """The folder's files: safetensors as (metadata, tensor bytes) since safetensors writes the metadata in
    no fixed order; other files as bytes."""
    result: dict[str, object] = {}
    for rel, data in snapshot(folder).items():
        if rel.endswith(".safetensors"):
            with safe_open(str(folder / rel), framework="pt") as f:
                tensors = {
                    k: f.get_tensor(k).reshape(-1).view(torch.uint8).numpy().tobytes() for k in f.keys()
                }
                result[rel] = (f.metadata(), tensors)
        else:
            result[rel] = data
    return result


def one_error_line(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("flowtts: error:"), lines
    return lines[0]


@pytest.fixture(scope="module")
def released(inputs, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("models") / "default"
    out.mkdir()
    (out / "MODEL_CARD.md").write_text(HAND_WRITTEN)
    assert release(inputs, out) == 0
    return out


def test_release_loads_and_speaks_with_a_preset(inputs, released, capsys):
    import flowtts
    from codec.release import frames_id

    names = sorted(p.name for p in released.rglob("*") if p.is_file())
    assert names == sorted(
        [
            "MODEL_CARD.md",
            "codec.safetensors",
            "config.json",
            "model.safetensors",
            "tokenizer.model",
            "en-1.safetensors",
            "en-2.safetensors",
            "fr-1.safetensors",
        ]
    )
    assert not [p for p in released.parent.iterdir() if p.name.startswith(".")]  # no temporary folder left
    config = json.loads((released / "config.json").read_text())
    assert config["codec_id"] == frames_id(released / "codec.safetensors")
    assert config["trained_codec_id"] == frames_id(inputs["codec"])
    assert config["step"] == "123" and config["name"] == "tiny-random"  # the TTS folder's

    tts = flowtts.load(released, voices_dir=str(released.parent / "no-library"))
    assert tts.presets.names() == ["en-1", "en-2", "fr-1"]
    en1, en2 = tts.get_voice("en-1"), tts.get_voice("en-2")
    # most train clips first (espeak-en-v03), then another engine and gender (flite, male)
    assert en1.metadata["corpus_voice"] == "espeak-en-v03" and en2.metadata["corpus_voice"] == "flite-en-slt"
    assert en1.metadata["corpus_utterance"] == "en-train-3"  # the clip closest to 8 s
    assert en1.lang == "en" and en1.transcript == "Words of en-train-3."
    assert en1.metadata["license"] == "espeak licence" and en1.metadata["engine"] == "espeak"
    assert en1.metadata["codec"] == config["codec_id"] and en1.metadata["created"] == "2023-11-14"
    assert 5.0 <= en1.duration_s <= 7.5
    audio = tts.synthesize("Hello there.", voice="en-1", lang="en", seed=1)
    assert audio.samples.size > 0 and audio.sample_rate == 24000


def test_codec_ships_float16_without_the_phoneme_head(released):
    from codec.release import load_codec

    with safe_open(str(released / "codec.safetensors"), framework="pt") as f:
        dtypes = {k: f.get_slice(k).get_dtype() for k in f.keys()}
    assert dtypes and not [k for k in dtypes if k.startswith("phoneme_head.")]
    assert all(d == "F16" for k, d in dtypes.items() if k.startswith(("encoder.", "decoder.")) and "F" in d)
    assert all(d == "F32" for k, d in dtypes.items() if k.startswith("vq.") and "F" in d)
    with safe_open(str(released / "model.safetensors"), framework="pt") as f:
        floats = {f.get_slice(k).get_dtype() for k in f.keys()} - {"I64", "I32", "BOOL"}
    assert floats == {"F16"}
    codec = load_codec(released)
    assert codec.phoneme_head is None and codec.config.phonemes == ()
    with pytest.raises(ValueError, match="no phoneme head"):
        codec.phonemes_from_ids(torch.zeros(1, 3, dtype=torch.long))


def test_model_card_section_is_generated_once_and_the_rest_kept(inputs, released, capsys):
    card = (released / "MODEL_CARD.md").read_text()
    assert card.startswith(HAND_WRITTEN) and card.count(BEGIN) == 1 and card.count(END) == 1
    section = card[card.index(BEGIN) : card.index(END)]
    for text in (
        "2023-11-14",
        "123 training steps",
        "7 training steps",
        "phoneme head",
        "`en-2`",
        "flite-en-slt",
    ):
        assert text in section, text
    assert "| `model.safetensors` |" in section and "frames_id" in section

    # a hand-written part after the section survives, and a rebuild gives the same files
    (released / "MODEL_CARD.md").write_text(card + "\n" + AFTER)
    before = content(released)
    assert release(inputs, released) == 0
    after = content(released)
    assert after == before
    card = after["MODEL_CARD.md"].decode()
    assert card.count(BEGIN) == 1 and card.endswith(AFTER) and card.startswith(HAND_WRITTEN)


def test_exact_frames_keeps_the_frames_id(inputs, tmp_path, capsys):
    from codec.release import frames_id

    out = tmp_path / "exact"
    assert release(inputs, out, "--exact-frames", "--voices-per-lang", "1", "--name", "tiny") == 0
    assert frames_id(out / "codec.safetensors") == frames_id(inputs["codec"])
    config = json.loads((out / "config.json").read_text())
    assert config["codec_id"] == config["trained_codec_id"] and config["name"] == "tiny"
    assert sorted(p.name for p in (out / "voices").iterdir()) == ["en-1.safetensors", "fr-1.safetensors"]
    assert "# tiny — model card" in (out / "MODEL_CARD.md").read_text()


def test_frames_id_mismatch_is_refused(inputs, released, capsys):
    before = snapshot(released)
    assert release({**inputs, "codec": inputs["other"]}, released) == 2
    assert "is not the frames_id" in one_error_line(capsys)
    assert snapshot(released) == before


def test_over_size_is_refused_and_the_previous_folder_kept(inputs, released, capsys):
    before = snapshot(released)
    assert release(inputs, released, "--max-mb", "0.01") == 2
    line = one_error_line(capsys)
    assert "over --max-mb 0.01" in line and "left as it was" in line
    assert snapshot(released) == before
    assert not [p for p in released.parent.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize(
    "key, message",
    [("tts", "not a TTS model folder"), ("codec", "no codec at"), ("corpus", "not a corpus folder")],
)
def test_missing_inputs_are_one_line(inputs, tmp_path, key, message, capsys):
    assert release({**inputs, key: tmp_path / "missing"}, tmp_path / "out") == 2
    assert message in one_error_line(capsys)
    assert not (tmp_path / "out").exists()


def test_voice_choice_is_deterministic_varied_and_seen_train_only():
    rows = [
        *CORPUS_ROWS,
        _row("en-train-5", "en", "rhvoice-en-x", "rhvoice", "male", 9.0),
        _row("en-valid-0", "en", "pico-en", "pico", "female", 6.0, split="valid"),
    ]
    cands = voice_candidates(rows)
    assert list(cands) == ["en", "fr"]
    order = [c.voice for c in cands["en"]]
    # espeak-en-v03 (3 train clips) first; then an engine not used yet and the other gender, by train clips
    # then id; the second espeak voice comes last
    assert order == ["espeak-en-v03", "flite-en-slt", "rhvoice-en-x", "espeak-en-v01"]
    assert voice_candidates(list(reversed(rows))) == cands
    assert [c.voice for c in voice_candidates(rows, engines=("flite", "mbrola"))["en"]] == ["flite-en-slt"]
