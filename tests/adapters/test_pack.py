"""Voice packs: the folder round trip, refusing another base model, bad files, and the API: attach, switch
and unload packs on one loaded model, streams with different packs in one generation batch."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

import flowtts
from flowtts.adapters.lora import Adapter, LoRAConfig
from flowtts.adapters.pack import BaseIdentity, PackFiles, VoicePack, write_voice_pack
from flowtts.errors import FlowTTSError
from flowtts.generation.generator import SamplingParams
from flowtts.voices import Voice
from tests.model.helpers import make_tiny_model_dir


def random_adapter(model, seed: int) -> Adapter:
    torch.manual_seed(seed)
    adapter = Adapter.for_model(model, LoRAConfig(rank=4, alpha=8))
    with torch.no_grad():
        for p in adapter.parameters():
            p.normal_(0, 0.3)
    return adapter


def voice(seed: int) -> Voice:
    g = torch.Generator().manual_seed(seed)
    return Voice(
        f"v{seed}",
        torch.randint(0, 64, (50,), generator=g),
        torch.round(torch.rand(50, 4, generator=g) * 20) / 10 - 1,
    )


def make_pack(root, tts, name: str, seed: int):
    adapter = random_adapter(tts.model, seed)
    write_voice_pack(root, name, voice(seed), tts.base_identity, {"note": "test"}, "# report\n", adapter)
    return adapter


@pytest.fixture(scope="module")
def tts(model_dir, tmp_path_factory):
    return flowtts.load(model_dir, voices_dir=str(tmp_path_factory.mktemp("lib")))


@pytest.fixture(scope="module")
def packs(tts, tmp_path_factory):
    root = tmp_path_factory.mktemp("packs")
    make_pack(root / "anna", tts, "anna", 1)
    make_pack(root / "bo", tts, "bo", 2)
    return root


def test_round_trip(tts, packs) -> None:
    adapter = random_adapter(tts.model, 1)  # what make_pack wrote for anna
    pack = VoicePack.load(packs / "anna")
    assert (pack.name, pack.kind, pack.base) == ("anna", "lora", tts.base_identity)
    assert pack.info["note"] == "test" and pack.info["format_version"] == 1
    assert pack.adapter.config == LoRAConfig(rank=4, alpha=8.0)
    for path in adapter.paths:  # float16 on disk
        assert torch.equal(pack.adapter.lora(path).a, adapter.lora(path).a.half().float())
        assert torch.equal(pack.adapter.lora(path).b, adapter.lora(path).b.half().float())
    assert torch.equal(pack.voice.semantic, voice(1).semantic)
    files = PackFiles(packs / "anna")
    assert files.adapter.stat().st_size < 100_000 and files.report.read_text() == "# report\n"


def test_switching_packs_needs_no_reload(tts, packs) -> None:
    weights = {k: v.clone() for k, v in tts.model.state_dict().items()}
    model = tts.model
    base = tts.synthesize("Hello there.", voice=voice(5), seed=0).samples
    a = tts.load_voice_pack(packs / "anna")
    with_a = tts.synthesize("Hello there.", voice=voice(5), seed=0, voice_pack="anna").samples
    tts.load_voice_pack(packs / "bo")
    with_b = tts.synthesize("Hello there.", voice=voice(5), seed=0, voice_pack="bo").samples
    again_a = tts.synthesize("Hello there.", voice=voice(5), seed=0, voice_pack=a).samples
    assert not np.array_equal(with_a, base) and not np.array_equal(with_a, with_b)
    assert np.array_equal(again_a, with_a)
    assert tts.voice_packs() == ["anna", "bo"]
    tts.unload_voice_pack("anna")
    tts.unload_voice_pack("bo")
    assert np.array_equal(tts.synthesize("Hello there.", voice=voice(5), seed=0).samples, base)
    assert tts.model is model and all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())
    # the pack's own reference prompt is the voice when none is given; a folder loads on the fly
    own = tts.synthesize("Hello there.", seed=0, voice_pack=str(packs / "anna")).samples
    assert np.array_equal(
        own, tts.synthesize("Hello there.", voice=a.voice, seed=0, voice_pack="anna").samples
    )
    tts.unload_voice_pack("anna")
    with pytest.raises(FlowTTSError, match="unknown voice pack"):
        tts.synthesize("Hi.", voice_pack="nobody")


def test_streams_with_different_packs_share_a_batch(tts, packs) -> None:
    """What the server does: one generation batch, each row with its own pack (or none)."""
    tts.load_voice_pack(packs / "anna")
    tts.load_voice_pack(packs / "bo")
    params = SamplingParams.from_config(tts.config.sampling, seed=7, steps=3)
    v = voice(5)

    def run(requests):
        batch = tts.generator.start(requests)
        frames = {r.tag: [] for r in requests}
        while batch.active:
            step, batch = tts.generator.step(batch)
            for i, tag in enumerate(step.tags):
                frames[tag].append((int(step.semantic[i]), step.acoustic[i]))
        return frames

    def req(pack, tag):
        return tts.request("hello there", v, "en", params, tag=tag, voice_pack=pack)

    together = run([req("anna", 0), req(None, 1), req("bo", 2)])
    for tag, pack in ((0, "anna"), (1, None), (2, "bo")):
        alone = run([req(pack, tag)])[tag]
        assert [s for s, _ in alone] == [s for s, _ in together[tag]]
        torch.testing.assert_close(
            torch.stack([a for _, a in alone]), torch.stack([a for _, a in together[tag]])
        )
    assert [s for s, _ in together[0]] != [s for s, _ in together[1]] or not torch.equal(
        torch.stack([a for _, a in together[0]]), torch.stack([a for _, a in together[1]])
    )
    tts.unload_voice_pack("anna")
    tts.unload_voice_pack("bo")


def test_a_pack_refuses_another_base(tts, packs, tmp_path) -> None:
    other = make_tiny_model_dir(tmp_path / "other")  # same architecture, other weights
    config = json.loads((other / "config.json").read_text())
    torch.manual_seed(123)
    from flowtts.model.tts import TTSModel
    from flowtts.release import write_model_dir

    write_model_dir(
        other,
        TTSModel(tts.config),
        other.parent / "other-codec.safetensors",
        other / "tokenizer.model",
        extra={"name": config["name"]},
    )
    tts2 = flowtts.load(other)
    with pytest.raises(FlowTTSError, match=r"was made for base model .* fine-tune again on this model"):
        tts2.load_voice_pack(packs / "anna")
    assert tts2.voice_packs() == [] and len(tts2.adapters) == 0


def test_bad_pack_folders(packs, tmp_path) -> None:
    def broken(edit) -> str:
        root = tmp_path / f"p{len(list(tmp_path.iterdir()))}"
        shutil.copytree(packs / "anna", root)
        edit(PackFiles(root))
        with pytest.raises(FlowTTSError) as e:
            VoicePack.load(root)
        assert "\n" not in str(e.value)
        return str(e.value)

    def set_info(**kw):
        def edit(f):
            info = json.loads(f.info.read_text())
            info.update(kw)
            f.info.write_text(json.dumps(info))

        return edit

    assert "no pack.json" in broken(lambda f: f.info.unlink())
    assert "not readable" in broken(lambda f: f.info.write_text("{"))
    assert "newer than this flowtts" in broken(set_info(format_version=99))
    assert "unknown kind" in broken(set_info(kind="magic"))
    assert "bad voice name" in broken(set_info(name="../x"))
    assert "voice.safetensors is missing" in broken(lambda f: f.voice.unlink())
    assert "no such adapter file" in broken(lambda f: f.adapter.unlink())
    assert "not a readable adapter file" in broken(lambda f: f.adapter.write_bytes(b"garbage" * 10))
    assert "base model differs" in broken(set_info(base={**BaseIdentity("x", "0" * 16, "c", "h").to_dict()}))
    assert "without model/config.json" in broken(set_info(kind="full"))
    with pytest.raises(FlowTTSError, match="no such folder"):
        VoicePack.load(tmp_path / "nothing")
