"""Guided attention: the probe records the attention the backbone really computes, the penalty finds the text
of each row and its diagonal, and a few training steps move the guided heads onto it."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F

from flowtts.errors import FlowTTSError
from flowtts.model.backbone import AttentionProbe, Backbone, apply_rope
from flowtts.model.guided_attention import GuidedAttention, guide_weights, guided_attention_loss
from flowtts.model.tts import TTSModel, target_frame_positions
from flowtts.training.tts_config import TTSTrainConfig
from flowtts.training.tts_trainer import _optimizer
from tests.model.helpers import tiny_tts_config
from tests.model.test_training import dataset

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_the_probe_records_the_attention_the_layer_computes() -> None:
    config = tiny_tts_config().backbone  # 4 query heads over 2 key/value heads
    torch.manual_seed(0)
    backbone = Backbone(config).eval()
    x = torch.randn(2, 9, config.dim)
    probe = AttentionProbe(layers=(1,), heads=3)
    with torch.no_grad():
        out = backbone(x, probe=probe)
        assert torch.equal(out, backbone(x))  # probing changes nothing
    assert list(probe.probs) == [1] and probe.probs[1].shape == (2, 3, 9, 9)
    p = probe.probs[1]
    assert torch.allclose(p.sum(-1), torch.ones(2, 3, 9)) and (p.triu(1) == 0).all()  # causal rows
    # the same probabilities by hand: layer 1's input, its queries and keys, head i reading key head i // 2
    with torch.no_grad():
        pos = torch.arange(9)[None].expand(2, 9)
        cos, sin = backbone.rope_cos[pos][:, None], backbone.rope_sin[pos][:, None]
        h = backbone.blocks[0](x, cos, sin, None, None, 0, None)
        attn = backbone.blocks[1].attn
        a = backbone.blocks[1].attn_norm(h)
        q = apply_rope(attn.wq(a).view(2, 9, 4, -1).transpose(1, 2), cos, sin)
        k = apply_rope(attn.wk(a).view(2, 9, 2, -1).transpose(1, 2), cos, sin)
        v = attn.wv(a).view(2, 9, 2, -1).transpose(1, 2)
        for i in range(3):
            kv = slice(i // 2, i // 2 + 1)
            want = F.scaled_dot_product_attention(q[:, i : i + 1], k[:, kv], v[:, kv], is_causal=True)
            assert torch.allclose(p[:, i : i + 1] @ v[:, kv], want, atol=1e-5)


def test_a_probe_with_a_cache_is_refused() -> None:
    from flowtts.model.backbone import KVCache

    config = tiny_tts_config().backbone
    backbone = Backbone(config)
    cache = KVCache.empty(config, 1, 8, "cpu", torch.float32)
    with pytest.raises(ValueError, match="probe"):
        backbone(torch.randn(1, 2, config.dim), cache, AttentionProbe((0,), 1))


def test_the_penalty_finds_each_rows_text_and_diagonal() -> None:
    config = tiny_tts_config()
    data = dataset(config)
    batch = data.collate(list(range(len(data))), random.Random(0), config.end_id)
    frames = target_frame_positions(batch)
    w, queries = guide_weights(frames, batch.text_lengths, sigma=0.2)
    assert torch.equal(queries, frames)
    for k in range(batch.tokens.shape[0]):
        fpos = frames[k].nonzero().flatten()
        s = int(batch.text_lengths[k])
        text = torch.arange(int(fpos[0]) - 2 - s, int(fpos[0]) - 2)  # just before <repeat> <begin_audio>
        # the text keys hold the pieces (the collated targets of the text CTC), after the language tag
        assert torch.equal(batch.tokens[k, text], batch.text[k, :s])
        rows = w[k, fpos]  # [T, L]
        others = torch.ones(rows.shape[1], dtype=torch.bool)
        others[text] = False
        assert (rows[:, others] == 1).all()  # everything but the text is penalised in full
        assert (rows[:, text] < 1).all() and (rows[:, text] >= 0).all()
        # the least penalised piece moves from the first to the last as the frames go
        best = rows[:, text].argmin(1)
        assert best[0] == 0 and best[-1] == s - 1 and (best.diff() >= 0).all()


def test_the_loss_is_low_on_the_diagonal_and_high_off_it() -> None:
    config = tiny_tts_config()
    data = dataset(config, min_frames=12)
    batch = data.collate(list(range(len(data))), random.Random(0), config.end_id)
    frames = target_frame_positions(batch)
    b, length = frames.shape
    w, _ = guide_weights(frames, batch.text_lengths, 0.2)
    # attention that puts each frame on its least penalised key, and attention on the first position (<s>)
    on = F.one_hot(w.argmin(-1), length).float()[:, None]  # [B, 1, L, L]
    off = torch.zeros(b, 1, length, length)
    off[..., 0] = 1
    low = guided_attention_loss({0: on}, frames, batch.text_lengths, 0.2)
    high = guided_attention_loss({0: off, 3: off}, frames, batch.text_lengths, 0.2)
    assert low < 0.05 and torch.isclose(high, torch.tensor(1.0))
    with pytest.raises(FlowTTSError, match="no attention"):
        guided_attention_loss({}, frames, batch.text_lengths, 0.2)


def test_training_with_the_guide_moves_the_guided_heads_onto_the_diagonal() -> None:
    config = tiny_tts_config()
    data = dataset(config, min_frames=12)
    batch = data.collate(list(range(len(data))), random.Random(0), config.end_id)
    torch.manual_seed(0)
    model = TTSModel(config).train()
    guide = GuidedAttention(weight=1.0, layers=(1,), heads=2)
    train = TTSTrainConfig(model=config, lr=1e-2, guided_attention=guide)
    optim = _optimizer(model, train)
    guided = []
    for step in range(12):
        torch.manual_seed(step)
        loss = model(batch, train.flow_weight, 0.0, guide)
        assert torch.allclose(loss.total, loss.semantic + loss.flow + loss.guided)
        optim.zero_grad()
        loss.total.backward()
        optim.step()
        guided.append(loss.guided.item())
    assert guided[-1] < guided[0] - 0.2  # measured: 0.87 -> about 0.5
    # off (weight 0, or no guide): the loss is 0 and the total is the one without it
    torch.manual_seed(9)
    plain = model(batch, 1.0)
    torch.manual_seed(9)
    zero = model(batch, 1.0, 0.0, GuidedAttention(weight=0.0))
    assert plain.guided == 0 and zero.guided == 0 and plain.total.item() == zero.total.item()


@pytest.mark.parametrize(
    ("guide", "message"),
    [
        (GuidedAttention(weight=-1.0), "weight"),
        (GuidedAttention(weight=1.0, sigma=0.0), "sigma"),
        (GuidedAttention(weight=1.0, layers=(2,)), "layers"),
        (GuidedAttention(weight=1.0, layers=()), "layers"),
        (GuidedAttention(weight=1.0, layers=(0,), heads=5), "heads"),
    ],
)
def test_a_guide_that_does_not_fit_the_backbone_is_refused(guide: GuidedAttention, message: str) -> None:
    with pytest.raises(FlowTTSError, match=message):
        guide.validate(layers=2, heads=4)
    GuidedAttention(weight=0.0, layers=(9,)).validate(layers=2, heads=4)  # off: never read


def test_the_training_config_reads_the_guide_table(tmp_path) -> None:
    path = tmp_path / "tts.toml"
    path.write_text("[train]\nsteps = 5\n[train.guided_attention]\nweight = 2.0\nlayers = [1]\nheads = 3\n")
    config = TTSTrainConfig.load(path)
    assert config.guided_attention == GuidedAttention(weight=2.0, sigma=0.2, layers=(1,), heads=3)
    assert TTSTrainConfig.from_dict(config.to_dict()) == config  # what a checkpoint stores reads back
    path.write_text("[train.guided_attention]\nwieght = 2.0\n")
    with pytest.raises(FlowTTSError, match="wieght"):
        TTSTrainConfig.load(path)
