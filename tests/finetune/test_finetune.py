"""End to end on a tiny model: a fine-tune lowers the held-out loss and writes a usable voice pack;
callbacks; resume after an interruption makes the same pack; full fine-tuning; reruns."""

from __future__ import annotations

import json
import os
import signal

import pytest
import torch
from safetensors.torch import load_file

import flowtts
from flowtts.adapters.pack import VoicePack
from flowtts.cli import main
from flowtts.errors import FlowTTSError
from flowtts.finetune import Callback, adapt
from tests.finetune.helpers import make_recordings, small_config
from tests.finetune.test_data import EXPECTED, make_messy


class Recorder(Callback):
    def __init__(self) -> None:
        self.steps, self.validations, self.data, self.grad_flags = [], [], [], set()

    def on_data(self, summary) -> None:
        self.data.append(summary)

    def on_step(self, step, logs) -> None:
        self.steps.append((step, logs))

    def on_validation(self, step, metrics) -> None:
        self.validations.append((step, metrics))

    def extra_loss(self, model, batch, loss):
        self.grad_flags.add(any(p.requires_grad for p in model.parameters()))
        return 0.001 * loss.flow  # a custom term: it shows in the logs as "extra"


@pytest.fixture(scope="module")
def trained(model_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ft")
    data = make_messy(tmp / "anna")
    rec = Recorder()
    result = adapt(
        data, base=model_dir, out=tmp / "anna-pack", config=small_config(samples=1), callbacks=[rec]
    )
    return result, rec


def test_finetune_lowers_the_held_out_loss_and_writes_a_pack(trained) -> None:
    result, _ = trained
    assert not result.stopped and result.kind == "lora" and result.stopped_by == "steps"
    assert result.after["valid_loss"] < 0.9 * result.before["valid_loss"]
    pack = result.pack
    assert sorted(p.name for p in pack.iterdir()) == [
        "REPORT.md",
        "adapter.safetensors",
        "pack.json",
        "samples",
        "voice.safetensors",
    ]  # work/ is gone
    assert sorted(p.name for p in (pack / "samples").iterdir()) == ["after-1.wav", "before-1.wav"]
    info = json.loads((pack / "pack.json").read_text())
    assert {r["path"]: r["reason"] for r in info["data"]["rejected"]} == EXPECTED
    assert info["metrics"]["valid_after"]["valid_loss"] == pytest.approx(result.after["valid_loss"])
    assert info["adapter"]["parameters"] == info["training"]["trainable_parameters"] > 0
    report = (pack / "REPORT.md").read_text()
    assert "clip-004b.wav`: unreadable" in report and "samples/after-1.wav" in report
    assert result.adapter_bytes == (pack / "adapter.safetensors").stat().st_size < 100_000


def test_callbacks_see_data_steps_validations_and_add_a_loss(trained) -> None:
    result, rec = trained
    assert len(rec.data) == 1 and {r.reason for r in rec.data[0].rejected} == set(EXPECTED.values())
    assert [s for s, _ in rec.steps] == list(range(1, 41))
    assert all(logs["extra"] > 0 for _, logs in rec.steps)
    assert [s for s, _ in rec.validations] == [0, 10, 20, 30, 40]
    assert rec.validations[0][1]["valid_loss"] == pytest.approx(result.before["valid_loss"])
    assert rec.grad_flags == {False}  # the base model's weights never train with LoRA


def test_the_pack_speaks(trained, model_dir, tmp_path, monkeypatch) -> None:
    result, _ = trained
    monkeypatch.setenv("FLOWTTS_HOME", str(tmp_path / "home"))
    tts = flowtts.load(model_dir)
    pack = tts.load_voice_pack(result.pack)
    assert pack.name == "anna-pack" and pack.voice.num_frames > 30
    a = tts.synthesize("Hello there.", voice_pack=pack, seed=0)
    b = tts.synthesize("Hello there.", voice=pack.voice, seed=0)
    assert a.duration > 0 and (len(a.samples) != len(b.samples) or (a.samples != b.samples).any())
    out = tmp_path / "x.wav"
    argv = [
        "say",
        "--model",
        str(model_dir),
        "--voice-pack",
        str(result.pack),
        "Hello there.",
        "-o",
        str(out),
    ]
    assert main(argv) == 0 and out.stat().st_size > 44


class Interrupt(Callback):
    """Sends this process SIGTERM after step ``at``, as a scheduler ending a job would."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_step(self, step, logs) -> None:
        if step == self.at:
            os.kill(os.getpid(), signal.SIGTERM)


def test_resume_after_an_interruption_makes_the_same_pack(model_dir, tmp_path) -> None:
    data = make_recordings(tmp_path / "bo", 8)
    config = small_config(steps=30)
    whole = adapt(data, base=model_dir, out=tmp_path / "whole", config=config)
    part = adapt(data, base=model_dir, out=tmp_path / "bo-pack", config=config, callbacks=[Interrupt(15)])
    assert part.stopped and part.step == 15 and not (tmp_path / "bo-pack" / "pack.json").exists()
    assert (tmp_path / "bo-pack" / "work" / "checkpoints").is_dir()
    with pytest.raises(FlowTTSError, match=r"other settings \(rank\)"):
        adapt(data, base=model_dir, out=tmp_path / "bo-pack", config=small_config(steps=30, rank=4))
    rest = adapt(data, base=model_dir, out=tmp_path / "bo-pack", config=config, resume=True)
    assert not rest.stopped and rest.step == 30 and rest.best_step == whole.best_step
    assert rest.after == whole.after and rest.before == whole.before
    a, b = (
        load_file(tmp_path / "whole" / "adapter.safetensors"),
        load_file(tmp_path / "bo-pack" / "adapter.safetensors"),
    )
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # a finished pack is not overwritten by accident, and there is nothing to resume
    with pytest.raises(FlowTTSError, match="already holds a voice pack; use --restart"):
        adapt(data, base=model_dir, out=tmp_path / "bo-pack", config=config)
    with pytest.raises(FlowTTSError, match="nothing to resume"):
        adapt(data, base=model_dir, out=tmp_path / "new", config=config, resume=True)


def test_full_finetune_writes_a_model(model_dir, tmp_path, monkeypatch) -> None:
    data = make_recordings(tmp_path / "cy", 8)
    result = adapt(
        data,
        base=model_dir,
        out=tmp_path / "cy-pack",
        config=small_config(full=True, steps=10, lr=1e-3, samples=1),
    )
    assert result.kind == "full" and result.adapter_bytes == 0
    assert result.after["valid_loss"] < result.before["valid_loss"]
    samples = result.pack / "samples"
    assert (samples / "after-1.wav").read_bytes() != (
        samples / "before-1.wav"
    ).read_bytes()  # the new weights
    pack = VoicePack.load(result.pack)
    assert pack.kind == "full" and pack.adapter is None and (pack.model_dir / "model.safetensors").is_file()
    tts = flowtts.load(model_dir)
    with pytest.raises(FlowTTSError, match="full fine-tune"):
        tts.load_voice_pack(result.pack)
    monkeypatch.setenv("FLOWTTS_HOME", str(tmp_path / "home"))
    out = tmp_path / "x.wav"
    assert main(["say", "--voice-pack", str(result.pack), "Hi there.", "-o", str(out)]) == 0
    assert out.stat().st_size > 44
