"""`flowtts train tts` end to end (in process) on a tiny corpus, codec, tokenizer and model, plus the
learning-rate schedules of the TTS trainer."""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from codec.release import save_codec
from flowtts.cli import main
from flowtts.constants import SAMPLE_RATE
from flowtts.data.frames_store import codec_id, load_frames
from flowtts.training.loop import cosine_lr, wsd_lr
from flowtts.training.tts_config import TTSTrainConfig
from flowtts.training.tts_trainer import lr_at
from tests.codec.helpers import make_corpus, tiny_codec
from tests.model.helpers import TINY_SENTENCES

STEPS = 6
VAL_EVERY = 4

# A tiny run: 10 train and 2 valid utterances of 0.5–3 s (7–38 frames), prompts of 4–8 frames, batches of a
# few utterances, one validation at step 4 and one at the end, a few frames per synthesised sample.
CONFIG = """\
[train]
steps = {steps}
lr = 3e-3
lr_min = 1e-4
warmup_steps = 2
log_every = 1
val_every = {val_every}
val_samples = 1
checkpoint_minutes = 60.0
threads = 1
{extra_train}
[train.data]
batch_positions = 160
prompt_frames = [4, 8]

[model.backbone]
dim = 32
layers = {layers}
heads = 4
kv_heads = 2
ffn_dim = 64
max_positions = 256

[model.flow]
dim = 32
layers = 1
heads = 2
ffn_dim = 64

[model.sampling]
steps = 2
min_max_frames = 6
max_frames_per_char = 0.5
"""


def write_config(path: Path, steps: int = STEPS, layers: int = 2, extra_train: str = "") -> Path:
    path.write_text(
        CONFIG.format(steps=steps, val_every=VAL_EVERY, layers=layers, extra_train=extra_train),
        encoding="utf-8",
    )
    return path


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """A tiny corpus with its frames (made by `flowtts data encode`), a tiny codec and a tiny tokenizer."""
    from flowtts.text.tokenizer import Tokenizer, TokenizerConfig

    root = tmp_path_factory.mktemp("tts-inputs")
    torch.set_num_threads(1)
    codec = save_codec(tiny_codec(), root / "codec.safetensors")
    tokenizer = root / "tokenizer.model"
    Tokenizer.train(TINY_SENTENCES, tokenizer, TokenizerConfig(vocab_size=400))
    corpus = make_corpus(root / "corpus")
    assert main(["data", "encode", str(corpus), "--codec", str(codec), "--no-progress"]) == 0
    return {"codec": codec, "tokenizer": tokenizer, "corpus": corpus, "root": root}


def train(inputs: dict[str, Path], config: Path, out: Path, *extra: str) -> int:
    return main(
        [
            "train",
            "tts",
            "--config",
            str(config),
            "--corpus",
            str(inputs["corpus"]),
            "--codec",
            str(inputs["codec"]),
            "--tokenizer",
            str(inputs["tokenizer"]),
            "--out",
            str(out),
            "--device",
            "cpu",
            "--no-progress",
            *extra,
        ]
    )


def log_rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def one_error_line(capsys: pytest.CaptureFixture[str], message: str) -> None:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("flowtts: error:") and message in err[0], err


@pytest.fixture(scope="module")
def first_run(inputs) -> Path:
    """One finished run of STEPS steps (shared; tests that change it work on a copy)."""
    frames = inputs["corpus"] / "frames" / codec_id(inputs["codec"])
    before = {p.name: p.stat().st_mtime_ns for p in frames.glob("*.safetensors")}
    out = inputs["root"] / "run"
    torch.set_num_threads(1)
    assert train(inputs, write_config(inputs["root"] / "tts.toml"), out) == 0
    # the trainer reads the frames `flowtts data encode` made: it does not encode them again
    assert {p.name: p.stat().st_mtime_ns for p in frames.glob("*.safetensors")} == before
    return out


def test_the_frames_are_the_codec_frames_of_every_utterance(inputs) -> None:
    frames = load_frames(inputs["corpus"] / "frames" / codec_id(inputs["codec"]))
    assert len(frames) == 12
    f = frames["en-train-000000"]  # 0.5 s: 12000 samples, 6.25 frames -> 7
    assert f.semantic.shape == (7,) and f.acoustic_codes.shape == (7, 4)
    assert f.semantic.max() < 16 and f.acoustic_codes.max() < 5  # the tiny codec: K 16, FSQ 5 levels


def test_a_run_writes_config_log_checkpoints_model_and_samples(inputs, first_run: Path) -> None:
    import flowtts

    out = first_run
    config = json.loads((out / "config.json").read_text())
    # the sizes that come from the codec and the tokenizer replace the config's
    assert config["model"]["codebook_size"] == 16 and config["model"]["acoustic_dim"] == 4
    assert config["model"]["fsq_levels"] == 5 and config["steps"] == STEPS

    rows = log_rows(out)
    train_rows = [r for r in rows if r["kind"] == "train"]
    valid_rows = [r for r in rows if r["kind"] == "valid"]
    assert [r["step"] for r in train_rows] == list(range(1, STEPS + 1))
    assert all(math.isfinite(r["loss"]) and r["lr"] > 0 for r in train_rows)
    assert [r["step"] for r in valid_rows] == [VAL_EVERY, STEPS]
    assert all(math.isfinite(r["valid_semantic"]) and math.isfinite(r["valid_flow"]) for r in valid_rows)

    ckpts = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert ckpts == [f"step-{STEPS:08d}"]
    assert (out / "checkpoints" / ckpts[0] / "model.safetensors").is_file()
    state = json.loads((out / "checkpoints" / ckpts[0] / "state.json").read_text())
    assert state["step"] == STEPS and state["codec_id"] == codec_id(inputs["codec"])

    for step in (VAL_EVERY, STEPS):
        wavs = list((out / "samples" / f"step-{step:08d}").glob("*.wav"))
        assert len(wavs) == 1
        audio, sr = sf.read(wavs[0])
        assert sr == SAMPLE_RATE and len(audio) > 0 and np.isfinite(audio).all()

    model_dir = out / "model"
    assert json.loads((model_dir / "config.json").read_text())["step"] == str(STEPS)
    tts = flowtts.load(model_dir, voices_dir=str(inputs["root"] / "no-voices"))
    audio = tts.synthesize("Hello there.", seed=0)
    assert audio.sample_rate == SAMPLE_RATE and audio.duration > 0
    assert np.isfinite(audio.samples).all()


def test_resume_continues_from_the_saved_step(inputs, first_run: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    shutil.copytree(first_run, out)
    config = write_config(tmp_path / "tts.toml")
    capsys.readouterr()
    assert train(inputs, config, out, "--steps", str(STEPS + 3)) == 0
    assert f"finished at step {STEPS + 3}" in capsys.readouterr().err

    rows = log_rows(out)
    steps = [r["step"] for r in rows if r["kind"] == "train"]
    assert steps == list(range(1, STEPS + 4))  # strictly increasing: no restart from 0
    resumed = [r for r in rows if r["kind"] == "train" and r["step"] > STEPS]
    # the schedule is the one of the new total: warm-up is over, the rate only decays
    assert [r["lr"] for r in resumed] == pytest.approx(
        [cosine_lr(s - 1, 3e-3, 1e-4, 2, STEPS + 3) for s in range(STEPS + 1, STEPS + 4)], abs=1e-5
    )  # (the log rounds to 5 decimals)
    assert [r["step"] for r in rows if r["kind"] == "valid"][-1] == STEPS + 3
    state = json.loads((out / "checkpoints" / f"step-{STEPS + 3:08d}" / "state.json").read_text())
    assert state["step"] == STEPS + 3
    assert json.loads((out / "model" / "config.json").read_text())["step"] == str(STEPS + 3)

    # the same command again: nothing left to do, no step is trained twice
    assert train(inputs, config, out, "--steps", str(STEPS + 3)) == 0
    assert [r["step"] for r in log_rows(out) if r["kind"] == "train"] == steps


def test_a_run_without_text_ctc_resumes_with_it_and_keeps_its_optimizer_state(
    inputs, first_run: Path, tmp_path: Path, capsys
) -> None:
    from safetensors import safe_open

    import flowtts

    out = tmp_path / "run"
    shutil.copytree(first_run, out)
    ckpt = out / "checkpoints" / f"step-{STEPS:08d}"
    # a checkpoint from before text CTC: no ctc_weight or text_ctc in its config, no head in its weights
    state = json.loads((ckpt / "state.json").read_text())
    assert "text_ctc" not in state["config"]["model"]
    del state["config"]["ctc_weight"]
    (ckpt / "state.json").write_text(json.dumps(state))
    with safe_open(str(ckpt / "model.safetensors"), framework="pt") as f:
        old_keys = set(f.keys())
    assert not any("ctc" in k for k in old_keys)
    assert all(r["text_ctc"] == 0 for r in log_rows(out) if r["kind"] == "train")

    config = write_config(tmp_path / "tts.toml", extra_train="ctc_weight = 0.5\n")
    capsys.readouterr()
    assert train(inputs, config, out, "--steps", str(STEPS + 3)) == 0
    err = capsys.readouterr().err
    assert "no text-CTC head; a new one is added" in err and f"finished at step {STEPS + 3}" in err

    rows = log_rows(out)
    resumed = [r for r in rows if r["kind"] == "train" and r["step"] > STEPS]
    assert [r["step"] for r in resumed] == [STEPS + 1, STEPS + 2, STEPS + 3]
    assert all(math.isfinite(r["text_ctc"]) and r["text_ctc"] > 0 for r in resumed)
    valid = [r for r in rows if r["kind"] == "valid"]
    assert [r["step"] for r in valid] == [VAL_EVERY, STEPS, 2 * VAL_EVERY, STEPS + 3]
    assert [r["valid_text_ctc"] > 0 for r in valid] == [False, False, True, True]

    new = out / "checkpoints" / f"step-{STEPS + 3:08d}"
    with safe_open(str(new / "model.safetensors"), framework="pt") as f:
        assert set(f.keys()) == old_keys | {"text_ctc_head.weight", "text_ctc_head.bias"}
    saved = json.loads((new / "state.json").read_text())["config"]
    assert saved["ctc_weight"] == 0.5 and saved["model"]["text_ctc"] is True

    def optimizer_steps(ckpt: Path) -> tuple[set[int], set[int]]:
        """AdamW's step counts of the parameters of the first two groups and of the head's groups."""
        o = torch.load(ckpt / "optimizer.pt", weights_only=True)
        assert len(o["param_groups"]) == 4  # [decay, rest] of the model, then [decay, rest] of the head
        ids = [g["params"] for g in o["param_groups"]]
        return (
            {int(o["state"][i]["step"]) for i in ids[0] + ids[1]},
            {int(o["state"][i]["step"]) for i in ids[2] + ids[3]},
        )

    # the model's optimizer state went on from the checkpoint's; the head's started at the resume
    assert optimizer_steps(new) == ({STEPS + 3}, {3})

    # the release leaves the head out and loads
    with safe_open(str(out / "model" / "model.safetensors"), framework="pt") as f:
        assert set(f.keys()) == old_keys
    assert "text_ctc" not in json.loads((out / "model" / "config.json").read_text())["model"]
    tts = flowtts.load(out / "model", voices_dir=str(inputs["root"] / "no-voices"))
    assert tts.synthesize("Hello there.", seed=0).duration > 0

    # the run now resumes as it is: head and optimizer state from its checkpoint
    assert train(inputs, config, out, "--steps", str(STEPS + 4)) == 0
    assert "a new one is added" not in capsys.readouterr().err
    assert optimizer_steps(out / "checkpoints" / f"step-{STEPS + 4:08d}") == ({STEPS + 4}, {4})

    # ctc_weight back to 0: the architecture stays (the head is kept, frozen), and the trainer says so
    assert train(inputs, write_config(tmp_path / "off.toml"), out, "--steps", str(STEPS + 5)) == 0
    assert "the head is kept, not trained" in capsys.readouterr().err
    last = log_rows(out)[-2]
    assert last["kind"] == "train" and last["step"] == STEPS + 5 and last["text_ctc"] == 0
    a, b = (out / "checkpoints" / f"step-{s:08d}" / "model.safetensors" for s in (STEPS + 4, STEPS + 5))
    with safe_open(str(a), framework="pt") as fa, safe_open(str(b), framework="pt") as fb:
        assert torch.equal(fa.get_tensor("text_ctc_head.weight"), fb.get_tensor("text_ctc_head.weight"))
        assert not torch.equal(fa.get_tensor("backbone.norm.weight"), fb.get_tensor("backbone.norm.weight"))


def test_an_architecture_change_on_resume_is_one_error_line(
    inputs, first_run: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "run"
    shutil.copytree(first_run, out)
    before = (out / "log.jsonl").read_text()
    capsys.readouterr()
    assert train(inputs, write_config(tmp_path / "tts.toml", layers=3), out) == 2
    one_error_line(capsys, "architecture differs")
    assert (out / "log.jsonl").read_text() == before


GUIDE = "\n[train.guided_attention]\nweight = 1.0\nlayers = [1]\nheads = 2\n"


def test_a_run_resumes_with_guided_attention_and_logs_it(inputs, first_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    shutil.copytree(first_run, out)
    assert all(r["guided"] == 0 for r in log_rows(out) if r["kind"] == "train")
    config = write_config(tmp_path / "tts.toml", extra_train=GUIDE)
    assert train(inputs, config, out, "--steps", str(STEPS + 2)) == 0
    rows = [r for r in log_rows(out) if r["step"] > STEPS]
    assert [(r["kind"], r["step"]) for r in rows] == [
        ("train", STEPS + 1),
        ("train", STEPS + 2),
        ("valid", STEPS + 2),
    ]
    assert all(0 < r["guided"] <= 1 for r in rows[:2]) and 0 < rows[2]["valid_guided"] <= 1
    saved = json.loads((out / "checkpoints" / f"step-{STEPS + 2:08d}" / "state.json").read_text())
    assert saved["config"]["guided_attention"] == {"weight": 1.0, "sigma": 0.2, "layers": [1], "heads": 2}


def test_a_guide_outside_the_backbone_is_one_error_line(inputs, tmp_path: Path, capsys) -> None:
    config = write_config(tmp_path / "tts.toml", extra_train=GUIDE.replace("[1]", "[2]"))  # 2 layers: 0, 1
    capsys.readouterr()
    assert train(inputs, config, tmp_path / "run") == 2
    one_error_line(capsys, "guided_attention layers")
    assert not (tmp_path / "run").exists()


def test_another_codec_on_resume_is_one_error_line(inputs, first_run: Path, tmp_path: Path, capsys) -> None:
    from codec.quantizers.vq import VQConfig

    out = tmp_path / "run"
    shutil.copytree(first_run, out)
    before = (out / "log.jsonl").read_text()
    config = write_config(tmp_path / "tts.toml")
    run = {**inputs}
    # same sizes, other weights: other frames
    run["codec"] = save_codec(tiny_codec(seed=1), tmp_path / "other.safetensors")
    capsys.readouterr()
    assert train(run, config, out) == 2
    one_error_line(capsys, "frames of another codec")
    # another codebook size: another model
    run["codec"] = save_codec(tiny_codec(vq=VQConfig(codebook_size=8, dim=8)), tmp_path / "k8.safetensors")
    assert train(run, config, out) == 2
    one_error_line(capsys, "architecture differs")
    assert (out / "log.jsonl").read_text() == before
    assert sorted(p.name for p in (inputs["corpus"] / "frames").iterdir()) == [codec_id(inputs["codec"])]


def test_validation_leaves_the_global_rng_alone(inputs) -> None:
    from flowtts.data.manifest import iter_corpus
    from flowtts.model.tts import TTSModel
    from flowtts.text.tokenizer import Tokenizer
    from flowtts.training.tts_data import DataConfig, TTSDataset
    from flowtts.training.tts_trainer import _validation_loss

    tokenizer = Tokenizer.load(inputs["tokenizer"])
    frames = load_frames(inputs["corpus"] / "frames" / codec_id(inputs["codec"]))
    rows = [r for r in iter_corpus(inputs["corpus"]) if r.split == "valid"]
    base = TTSTrainConfig.load(write_config(inputs["root"] / "rng.toml"))
    model_config = replace(
        base.model, text_vocab_size=tokenizer.vocab_size, codebook_size=16, acoustic_dim=4, fsq_levels=5
    )
    config = replace(base, model=model_config, data=DataConfig(batch_positions=160, prompt_frames=(4, 8)))
    data = TTSDataset(rows, frames, tokenizer, 5, config.data)
    torch.manual_seed(0)
    model = TTSModel(model_config)
    torch.manual_seed(123)
    expected = torch.rand(4)
    torch.manual_seed(123)
    first = _validation_loss(model, data, config, torch.device("cpu"))
    assert torch.equal(torch.rand(4), expected)  # training's RNG goes on as if nothing had happened
    assert _validation_loss(model, data, config, torch.device("cpu")) == first  # fixed noise: repeatable
    assert set(first) == {
        "valid_semantic",
        "valid_flow",
        "valid_semantic_accuracy",
        "valid_end_accuracy",
        "valid_text_ctc",
        "valid_guided",
    }
    assert first["valid_text_ctc"] == 0 and first["valid_guided"] == 0  # ctc_weight 0, no guide: off


@pytest.mark.parametrize(
    "text,message",
    [
        ("stepz = 3\n", "stepz"),
        ("[train.data]\nbatch_size = 3\n", "batch_size"),
    ],
)
def test_an_unknown_config_key_is_one_error_line(inputs, tmp_path: Path, capsys, text, message) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[train]\n" + text, encoding="utf-8")
    assert train(inputs, bad, tmp_path / "run") == 2
    one_error_line(capsys, message)
    assert not (tmp_path / "run").exists()


def test_unknown_model_key_and_section_are_one_error_line(inputs, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[model.backbone]\nlayerz = 2\n", encoding="utf-8")
    assert train(inputs, bad, tmp_path / "run") == 2
    one_error_line(capsys, "layerz")
    bad.write_text("[trian]\nsteps = 2\n", encoding="utf-8")
    assert train(inputs, bad, tmp_path / "run") == 2
    one_error_line(capsys, "trian")


# --- learning-rate schedules ---------------------------------------------------------------------------


def test_wsd_lr_warms_up_holds_then_decays_to_lr_min() -> None:
    lr, lr_min, warmup, total, decay = 1e-3, 1e-5, 10, 100, 20
    sched = [wsd_lr(s, lr, lr_min, warmup, total, decay) for s in range(total + 1)]
    # linear warm-up
    assert sched[:warmup] == pytest.approx([lr * (s + 1) / warmup for s in range(warmup)])
    assert sched[warmup - 1] == pytest.approx(lr)
    # stable until total - decay
    assert sched[warmup : total - decay + 1] == [lr] * (total - decay - warmup + 1)
    # cosine tail: decreasing, half-way at the middle of the tail, lr_min at total (and after)
    tail = sched[total - decay :]
    assert all(a > b for a, b in zip(tail[:-1], tail[1:], strict=True))
    assert sched[total - decay // 2] == pytest.approx((lr + lr_min) / 2)
    assert sched[total] == pytest.approx(lr_min)
    assert wsd_lr(total + 50, lr, lr_min, warmup, total, decay) == pytest.approx(lr_min)
    assert min(sched) >= lr_min - 1e-12 and max(sched) <= lr + 1e-12


def test_wsd_lr_with_decay_steps_over_the_run_is_the_cosine_schedule() -> None:
    # decay_steps >= steps - warmup: no stable phase, the tail starts right after warm-up
    for decay in (90, 100, 1000):
        for s in range(0, 101):
            assert wsd_lr(s, 1e-3, 1e-5, 10, 100, decay) == pytest.approx(cosine_lr(s, 1e-3, 1e-5, 10, 100))
    # no warm-up
    assert wsd_lr(0, 1e-3, 1e-5, 0, 100, 20) == 1e-3
    assert wsd_lr(100, 1e-3, 1e-5, 0, 100, 20) == pytest.approx(1e-5)


def test_lr_at_uses_wsd_when_decay_steps_is_set() -> None:
    base = TTSTrainConfig(steps=100, lr=1e-3, lr_min=1e-5, warmup_steps=10)
    for s in (0, 5, 10, 50, 79, 80, 90, 99, 100):
        assert lr_at(base, s) == cosine_lr(s, 1e-3, 1e-5, 10, 100)
    wsd = replace(base, decay_steps=20)
    for s in (0, 5, 10, 50, 79, 80, 90, 99, 100):
        assert lr_at(wsd, s) == wsd_lr(s, 1e-3, 1e-5, 10, 100, 20)
    assert lr_at(wsd, 50) == 1e-3 and lr_at(base, 50) < 1e-3


def test_decay_steps_is_read_from_the_config_file(tmp_path: Path) -> None:
    config = TTSTrainConfig.load(write_config(tmp_path / "tts.toml", extra_train="decay_steps = 3\n"))
    assert config.decay_steps == 3
    assert TTSTrainConfig.from_dict(json.loads(config.dumps())).decay_steps == 3


def test_ctc_weight_is_read_from_the_config_file_and_off_by_default(tmp_path: Path) -> None:
    assert TTSTrainConfig().ctc_weight == 0 and not TTSTrainConfig().model.text_ctc
    shipped = TTSTrainConfig.load(Path(__file__).parents[2] / "configs" / "tts.toml")
    assert shipped.ctc_weight == 0.5 and shipped.guided_attention.weight == 2.0  # what the default run uses
    config = TTSTrainConfig.load(write_config(tmp_path / "tts.toml", extra_train="ctc_weight = 0.5\n"))
    assert config.ctc_weight == 0.5
    assert TTSTrainConfig.from_dict(json.loads(config.dumps())).ctc_weight == 0.5


def test_a_phoneme_run_starts_from_a_pieces_run_and_its_model_speaks(
    inputs, first_run: Path, tmp_path: Path, capsys
) -> None:
    from safetensors import safe_open

    import flowtts

    config = tmp_path / "tts.toml"
    config.write_text(
        CONFIG.format(steps=2, val_every=VAL_EVERY, layers=2, extra_train="")
        + '\n[model]\ntext_frontend = "phonemes"\n',
        encoding="utf-8",
    )
    init = first_run / "checkpoints" / f"step-{STEPS:08d}" / "model.safetensors"
    out = tmp_path / "run"
    capsys.readouterr()
    assert train(inputs, config, out, "--init", str(init)) == 0
    assert f"weights initialised from {init}" in capsys.readouterr().err
    from flowtts.text.tokenizer import Tokenizer

    pieces = Tokenizer.load(inputs["tokenizer"]).vocab_size
    inventory = json.loads((out / "phonemes.json").read_text())
    assert inventory["offset"] == pieces and "ɛ" in inventory["units"]  # the corpus says "test" in en and fr
    model = out / "model"
    assert (model / "phonemes.json").read_text() == (out / "phonemes.json").read_text()
    saved = json.loads((model / "config.json").read_text())["model"]
    assert saved["text_frontend"] == "phonemes"
    assert saved["text_vocab_size"] == pieces + len(inventory["units"])
    # the backbone started from the pieces run: after 2 steps its weights are near the source's, not random
    with (
        safe_open(str(init), framework="pt") as a,
        safe_open(str(model / "model.safetensors"), framework="pt") as b,
    ):
        src, new = a.get_tensor("backbone.norm.weight"), b.get_tensor("backbone.norm.weight").float()
        assert torch.allclose(src, new, atol=0.05) and not torch.allclose(new, torch.ones_like(new))
    tts = flowtts.load(model, voices_dir=str(inputs["root"] / "no-voices"))
    assert tts.tokenizer.encode("test", "en")[1] >= pieces  # phones, after the pieces
    assert tts.synthesize("Test.", seed=0).duration > 0


def test_init_keeps_the_rows_both_text_vocabularies_share(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    from flowtts.model.tts import TTSModel
    from flowtts.training.tts_trainer import init_weights
    from tests.model.helpers import tiny_tts_config

    torch.manual_seed(0)
    small = TTSModel(tiny_tts_config(text_vocab_size=50, text_ctc=True))
    save_file({k: v.contiguous() for k, v in small.state_dict().items()}, tmp_path / "m.safetensors")
    torch.manual_seed(1)
    big = TTSModel(tiny_tts_config(text_vocab_size=70, text_ctc=True))
    init_weights(big, tmp_path / "m.safetensors")
    assert torch.equal(big.text_embedding.weight[:50], small.text_embedding.weight)
    assert torch.equal(big.text_ctc_head.weight[:50], small.text_ctc_head.weight[:50])
    assert torch.equal(big.text_ctc_head.weight[-1], small.text_ctc_head.weight[-1])  # the blank
    assert torch.equal(big.backbone.norm.weight, small.backbone.norm.weight)
    other = TTSModel(tiny_tts_config(codebook_size=16))
    from flowtts.errors import FlowTTSError

    with pytest.raises(FlowTTSError, match="semantic"):
        init_weights(other, tmp_path / "m.safetensors")
