"""Codec training: the corpus cache, the batch sampler, the config file, the LR schedule, train + resume."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from safetensors import safe_open

from codec.phonemes import build_inventory
from codec.release import codec_metadata, frames_id, load_codec
from codec.training.config import CodecTrainConfig
from codec.training.dataset import BatchSampler, CorpusAudio
from codec.training.trainer import latest_checkpoint, lr_at, train
from flowtts.constants import FRAME_SAMPLES, SAMPLE_RATE
from flowtts.errors import FlowTTSError
from tests.codec.helpers import make_corpus, speechlike, tiny_config

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return make_corpus(tmp_path / "corpus")


@pytest.fixture
def train_audio(corpus: Path) -> CorpusAudio:
    return CorpusAudio(corpus, ("train",), jobs=1)


def _sampler(audio: CorpusAudio, **kw: object) -> BatchSampler:
    inventory = build_inventory((i.phonemes for i in audio.items), min_count=1)
    args = {"batch_seconds": 4.0, "max_item_seconds": 2.0, "seed": 0, **kw}
    return BatchSampler(audio, inventory, **args)  # type: ignore[arg-type]


# --- corpus cache -------------------------------------------------------------------------------------------


def test_corpus_cache_is_built_then_reused(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    audio = CorpusAudio(corpus, ("train",), jobs=1)
    assert audio.data_path == corpus / "cache" / "codec-train.i16" and audio.data_path.exists()
    assert audio.index_path.exists()
    assert len(audio.items) == 10 and [i.id for i in audio.items] == sorted(i.id for i in audio.items)
    assert audio.hours == pytest.approx(
        sum(s for s in (0.5, 0.8, 1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 0.7, 1.8)) / 3600
    )
    # the samples are the FLAC's (16-bit)
    item = next(i for i in audio.items if i.id == "en-train-000002")
    assert item.length == SAMPLE_RATE and item.phonemes == "tˈɛst t͡ʃiːz"
    flac, _ = sf.read(corpus / "audio/00000/en-train-000002.flac", dtype="float32")
    np.testing.assert_array_equal(audio.audio(item), flac)
    assert next(i for i in audio.items if i.id == "en-train-000009").phonemes == ""

    def no_build(*args, **kwargs):
        raise AssertionError("the cache should have been reused")

    monkeypatch.setattr(CorpusAudio, "_build", no_build)
    again = CorpusAudio(corpus, ("train",), jobs=1)
    assert again.items == audio.items
    # the valid split has its own cache
    monkeypatch.undo()
    valid = CorpusAudio(corpus, ("valid",), jobs=1)
    assert len(valid.items) == 2 and valid.data_path.name == "codec-valid.i16"


def test_corpus_cache_is_rebuilt_when_the_manifest_changes(tmp_path: Path) -> None:
    root = make_corpus(tmp_path / "c", train=[(0.5, "a"), (0.6, "b")])
    assert len(CorpusAudio(root, ("train",), jobs=1).items) == 2
    make_corpus(root, train=[(0.5, "a"), (0.6, "b"), (0.7, "c")])
    assert len(CorpusAudio(root, ("train",), jobs=1).items) == 3


def test_corpus_errors(corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(FlowTTSError, match="no utterances"):
        CorpusAudio(corpus, ("test",), jobs=1)
    with pytest.raises(FlowTTSError, match="no utterances"):
        CorpusAudio(tmp_path / "nothing", ("train",), jobs=1)
    # audio at another rate than 24 kHz
    path = corpus / "audio/00000/en-train-000000.flac"
    sf.write(path, speechlike(0.5)[:8000], 16000, subtype="PCM_16")
    with pytest.raises(FlowTTSError, match="16000 Hz"):
        CorpusAudio(corpus, ("train", "valid"), jobs=1)


# --- batches ------------------------------------------------------------------------------------------------


def test_batches_respect_batch_seconds_and_cover_the_epoch(train_audio: CorpusAudio) -> None:
    sampler = _sampler(train_audio)
    assert (sampler.max_frames, sampler.batch_frames) == (25, 50)
    batches = sampler.epoch_batches(0)
    assert sorted(i for b in batches for i in b) == list(range(10))  # world 1: every item once
    for b in batches:
        longest = max(min(25, math.ceil(train_audio.items[i].length / FRAME_SAMPLES)) for i in b)
        assert longest * len(b) <= sampler.batch_frames
    for batch in sampler.iterate(0):
        assert batch.audio.shape[-1] <= 4.0 * SAMPLE_RATE
        assert batch.audio.shape[-1] % FRAME_SAMPLES == 0
        assert batch.frame_mask.shape == (batch.audio.shape[0], batch.audio.shape[-1] // FRAME_SAMPLES)
        assert float(batch.audio.abs().max()) <= 0.99 + 1e-6
        assert not (batch.audio * (1 - batch.sample_mask)).any()  # padding is zero


def test_batches_are_deterministic_per_seed_and_epoch(train_audio: CorpusAudio) -> None:
    a, b = _sampler(train_audio), _sampler(train_audio)
    assert a.epoch_batches(0) == b.epoch_batches(0)
    assert a.epoch_batches(0) != a.epoch_batches(1)
    assert a.epoch_batches(0) != _sampler(train_audio, seed=1).epoch_batches(0)
    first, second = list(a.iterate(0)), list(b.iterate(0))
    for x, y in zip(first, second, strict=True):
        assert torch.equal(x.audio, y.audio) and torch.equal(x.targets, y.targets)
    # resuming at position k gives the same batches as the uninterrupted epoch
    resumed = list(a.iterate(0, start=2))
    assert len(resumed) == len(first) - 2
    for x, y in zip(resumed, first[2:], strict=True):
        assert torch.equal(x.audio, y.audio)


def test_ranks_get_disjoint_batches_of_equal_count(train_audio: CorpusAudio) -> None:
    everything = _sampler(train_audio).epoch_batches(3)
    for world in (2, 3):
        per_rank = [_sampler(train_audio, rank=r, world=world).epoch_batches(3) for r in range(world)]
        assert len({len(b) for b in per_rank}) == 1 and len(per_rank[0]) == len(everything) // world >= 1
        seen = [i for batches in per_rank for b in batches for i in b]
        assert len(seen) == len(set(seen))  # no item on two ranks
        assert all(b in everything for batches in per_rank for b in batches)


def test_cropped_items_have_no_ctc_target(train_audio: CorpusAudio) -> None:
    sampler = _sampler(train_audio)
    ids = [i.id for i in train_audio.items]
    long_ones = [ids.index("en-train-000006"), ids.index("en-train-000007")]  # 2.5 s, 3.0 s > 2.0 s
    short = ids.index("en-train-000002")  # 1.0 s, "tˈɛst t͡ʃiːz": 7 phones
    silent = ids.index("en-train-000009")  # no phonemes
    batch = sampler.collate(long_ones + [short, silent], np.full(4, 0.5), np.zeros(4))
    assert batch.audio.shape == (4, 25 * FRAME_SAMPLES)  # cropped to max_item_seconds
    assert batch.ctc_mask.tolist() == [False, False, True, False]
    assert batch.target_lengths.tolist() == [0, 0, 7, 0]
    assert batch.targets.shape == (7,) and int(batch.targets.min()) >= 1
    assert batch.frame_mask.sum(1).tolist() == [25, 25, 13, 23]
    # the crop is a real excerpt of the utterance (at gain 0 dB, below the 0.99 peak limit)
    x = train_audio.audio(train_audio.items[long_ones[0]])
    start = int(0.5 * (len(x) - 25 * FRAME_SAMPLES))
    np.testing.assert_array_equal(batch.audio[0].numpy(), x[start : start + 25 * FRAME_SAMPLES])


# --- config and schedule ------------------------------------------------------------------------------------


def test_example_config_loads() -> None:
    config = CodecTrainConfig.load(REPO / "configs" / "codec.toml")
    assert config.codec.vq.codebook_size == 8192 and config.codec.fsq.dim == 36
    assert config.adversarial.start_step == -1 and config.dropout.vq_bypass == 0.5
    assert CodecTrainConfig.from_dict(json.loads(config.dumps())) == config


@pytest.mark.parametrize(
    "toml, message",
    [
        ("[trian]\nsteps = 1\n", "unknown sections"),
        ("[train]\nstep = 1\n", "unknown key 'step'"),
        ("[train.dropout]\nvq_bypas = 0.1\n", "unknown keys"),
        ("[train.adversarial]\nstart = 3\n", "unknown keys"),
        ("[codec.vq]\ncodebooksize = 16\n", "unknown keys"),
        ("[codec]\nencoders = 1\n", "unknown key"),
        ("[codec.vq]\ncodebook_size = 1\n", "codebook_size"),
        ("[train\nsteps = 1\n", "cannot read"),
    ],
)
def test_config_load_refuses_bad_files(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(toml)
    with pytest.raises(FlowTTSError, match=message):
        CodecTrainConfig.load(path)


def test_config_load_reads_sections(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[train]\nsteps = 7\nbetas = [0.5, 0.9]\n[codec.encoder]\nconv_blocks = [1, 1]\n")
    config = CodecTrainConfig.load(path)
    assert config.steps == 7 and config.betas == (0.5, 0.9) and config.codec.encoder.conv_blocks == (1, 1)


def test_lr_schedule() -> None:
    c = CodecTrainConfig(steps=1000, warmup_steps=100, lr=1e-3, lr_min=1e-5)
    assert lr_at(c, 0) == pytest.approx(1e-5)
    assert lr_at(c, 49) == pytest.approx(5e-4)
    assert lr_at(c, 99) == pytest.approx(1e-3)
    assert lr_at(c, 100) == pytest.approx(1e-3)  # cosine starts at the peak
    assert lr_at(c, 550) == pytest.approx((1e-3 + 1e-5) / 2)  # half way down
    assert lr_at(c, 1000) == pytest.approx(1e-5) and lr_at(c, 5000) == pytest.approx(1e-5)
    values = [lr_at(c, s) for s in range(0, 1001, 10)]
    peak = values.index(max(values))
    assert all(a <= b for a, b in zip(values[:peak], values[1 : peak + 1], strict=True))
    assert all(a >= b for a, b in zip(values[peak:], values[peak + 1 :], strict=False))


# --- the training loop --------------------------------------------------------------------------------------


def _rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def test_train_runs_checkpoints_and_resumes(corpus: Path, tmp_path: Path) -> None:
    config = CodecTrainConfig.from_dict(
        {
            "codec": tiny_config(phonemes=()).to_dict(),  # the inventory is built from the corpus
            "steps": 2,
            "batch_seconds": 4.0,
            "max_item_seconds": 2.0,
            "warmup_steps": 1,
            "log_every": 1,
            "val_every": 2,
            "val_items": 2,
            "min_phone_count": 1,
            "threads": 1,
        }
    )
    out = tmp_path / "run"
    result = train(config, corpus, out, device="cpu", progress=False)
    assert (result.step, result.out, result.stopped_early) == (2, out, False)

    saved = json.loads((out / "config.json").read_text())
    inventory = tuple(saved["codec"]["phonemes"])
    assert "t͡ʃ" in inventory and "ɛ" in inventory
    ckpt = latest_checkpoint(out)
    assert ckpt is not None and ckpt.name == "step-00000002"
    assert {p.name for p in ckpt.iterdir()} == {"model.safetensors", "optimizer.pt", "state.json"}
    state = json.loads((ckpt / "state.json").read_text())
    assert (state["step"], state["epoch"], state["position"]) == (2, 0, 2)
    rows = _rows(out)
    assert [(r["kind"], r["step"]) for r in rows] == [("train", 1), ("train", 2), ("valid", 2)]
    assert all(math.isfinite(r["loss"]) for r in rows if r["kind"] == "train")
    assert any("ctc" in r for r in rows)  # some batch held an uncropped item with phonemes
    assert 0 < rows[-1]["mel_distance"] < 100 and 0 < rows[-1]["codebook_used"] <= 1
    assert len(list((out / "samples" / "step-00000002").glob("*.wav"))) == 4
    assert codec_metadata(out / "codec.safetensors")["step"] == "2"
    released = load_codec(out)
    assert released.config.phonemes == inventory and released.phoneme_head is not None

    # same run folder, more steps: continues from step 2 instead of starting again
    config_before = (out / "config.json").read_text()
    result = train(replace(config, steps=3), corpus, out, device="cpu", progress=False)
    assert result.step == 3
    rows = _rows(out)
    assert [(r["kind"], r["step"]) for r in rows] == [("train", 1), ("train", 2), ("valid", 2), ("train", 3)]
    ckpt = latest_checkpoint(out)
    assert ckpt is not None and ckpt.name == "step-00000003"
    state = json.loads((ckpt / "state.json").read_text())
    assert (state["step"], state["epoch"], state["position"]) == (3, 0, 3)
    assert tuple(state["config"]["codec"]["phonemes"]) == inventory
    assert (out / "config.json").read_text() == config_before
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-00000002", "step-00000003"]
    # the optimizer state was restored: AdamW has taken 3 steps, not 1 (the phoneme head skips steps
    # whose batch has no CTC item, so its parameters may have taken fewer)
    opt = torch.load(ckpt / "optimizer.pt", weights_only=True)
    assert max(float(s["step"]) for s in opt["state"].values()) == 3.0
    # the weights moved on from the step-2 checkpoint
    with (
        safe_open(str(out / "checkpoints/step-00000002/model.safetensors"), "pt") as a,
        safe_open(str(ckpt / "model.safetensors"), "pt") as b,
    ):
        assert not torch.equal(a.get_tensor("decoder.inp.weight"), b.get_tensor("decoder.inp.weight"))

    # a finished run called again does nothing more
    assert train(replace(config, steps=3), corpus, out, device="cpu", progress=False).step == 3
    assert len(_rows(out)) == 4


def test_decoder_only_run_keeps_the_frames(corpus: Path, tmp_path: Path) -> None:
    """`--init` + `freeze_frames`: the decoder trains on, the encoder and VQ (so every frame) do not move."""
    base = {
        "codec": tiny_config(phonemes=()).to_dict(),
        "steps": 2,
        "batch_seconds": 4.0,
        "max_item_seconds": 2.0,
        "warmup_steps": 1,
        "log_every": 1,
        "val_every": 100,
        "min_phone_count": 1,
        "threads": 1,
    }
    first = train(CodecTrainConfig.from_dict(base), corpus, tmp_path / "a", device="cpu", progress=False)
    start = first.out / "codec.safetensors"

    # the GAN stage joins at step 1 (Vocos multi-resolution discriminator + feature matching)
    frozen = CodecTrainConfig.from_dict({**base, "freeze_frames": True, "adversarial": {"start_step": 1}})
    with pytest.raises(FlowTTSError, match="needs --init"):
        train(frozen, corpus, tmp_path / "b0", device="cpu", progress=False)
    # the config's [codec] differs from the file's: the file's architecture wins
    frozen = replace(frozen, codec=tiny_config(phonemes=("a",)))
    second = train(frozen, corpus, tmp_path / "b", device="cpu", progress=False, init=start)
    end = second.out / "codec.safetensors"

    a, b = load_codec(start).state_dict(), load_codec(end).state_dict()
    assert a.keys() == b.keys()
    for name in a:
        if not name.startswith("decoder."):
            assert torch.equal(a[name], b[name]), name  # only decoder tensors may move
    assert any(not torch.equal(a[n], b[n]) for n in a if n.startswith("decoder."))
    assert codec_metadata(start)["frames_id"] == codec_metadata(end)["frames_id"] == frames_id(start)
    assert (start.read_bytes() != end.read_bytes()) and frames_id(end) == frames_id(start)

    # and the same audio gives the same frames from both files
    wav = torch.from_numpy(speechlike(1.0, seed=3)).float()[None]
    fa, fb = load_codec(start).encode(wav), load_codec(end).encode(wav)
    assert torch.equal(fa.semantic, fb.semantic) and torch.equal(fa.acoustic, fb.acoustic)
    rows = _rows(second.out)
    assert [r["step"] for r in rows if r["kind"] == "train"] == [1, 2]
    assert all("ctc" not in r for r in rows)
    assert "disc" not in rows[0] and all(math.isfinite(rows[1][k]) for k in ("disc", "gen", "fm"))
    ckpt = latest_checkpoint(second.out)
    assert ckpt is not None and {"disc.safetensors", "disc_optimizer.pt"} <= {p.name for p in ckpt.iterdir()}


def test_frames_id_changes_with_the_encoder(tmp_path: Path) -> None:
    from codec.model import Codec
    from codec.release import save_codec

    codec = Codec(tiny_config())
    one = save_codec(codec, tmp_path / "one.safetensors")
    with torch.no_grad():
        codec.decoder.inp.weight.add_(1.0)
    two = save_codec(codec, tmp_path / "two.safetensors")
    with torch.no_grad():
        next(codec.encoder.parameters()).add_(1.0)
    three = save_codec(codec, tmp_path / "three.safetensors")
    assert frames_id(one) == frames_id(two) != frames_id(three)
