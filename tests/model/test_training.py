"""One optimiser step of the TTS training loss on a real collated batch lowers that loss; the optional
text-CTC loss (targets, positions it reads, training, off = unchanged)."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from flowtts.data.frames_store import UtteranceFrames
from flowtts.data.manifest import Utterance
from flowtts.errors import FlowTTSError
from flowtts.model.tts import IGNORE, TTSBatch, TTSModel, target_frame_positions
from flowtts.text.tokenizer import SpecialIds
from flowtts.training.tts_config import TTSTrainConfig
from flowtts.training.tts_data import DataConfig, TTSBatchSampler, TTSDataset
from flowtts.training.tts_trainer import _optimizer
from tests.model.helpers import tiny_tts_config

SPECIALS = SpecialIds(
    pad=0, unk=1, bos=2, eos=3, begin_audio=13, audio=14, next=15, repeat=16, langs={"en": 4}
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


class StubTokenizer:
    """What ``TTSDataset`` reads of a tokenizer: ``specials`` and ``encode`` (language tag first)."""

    specials = SPECIALS

    def encode(self, text: str, lang: str) -> list[int]:
        return [SPECIALS.langs[lang]] + [20 + ord(c) % 40 for c in text]


def dataset(config, n: int = 6, min_frames: int = 6) -> TTSDataset:
    rng = np.random.default_rng(0)
    rows, frames = [], {}
    for k in range(n):
        uid = f"u{k}"
        t = min_frames + 2 * k
        rows.append(
            Utterance(uid, f"{uid}.flac", "hi there", "hi there", "en", "v", "v", "train", True, 1.0, 24000)
        )
        frames[uid] = UtteranceFrames(
            uid,
            rng.integers(0, config.codebook_size, t),
            rng.integers(0, config.fsq_levels, (t, config.acoustic_dim)).astype(np.uint8),
        )
    data = DataConfig(batch_positions=10_000, prompt_frames=(3, 5), no_prompt=0.0)
    return TTSDataset(rows, frames, StubTokenizer(), config.fsq_levels, data)


def test_one_training_step_lowers_the_loss() -> None:
    config = tiny_tts_config()
    data = dataset(config)
    batch = data.collate(list(range(len(data))), random.Random(0), config.end_id)
    assert batch.tokens.shape[0] == len(data) and (batch.target_semantic == config.end_id).sum() == len(data)
    torch.manual_seed(0)
    model = TTSModel(config).train()
    train = TTSTrainConfig(model=config, lr=1e-3)
    optim = _optimizer(model, train)

    def loss() -> torch.Tensor:
        torch.manual_seed(1)  # the same flow times, noise and condition dropout before and after
        return model(batch, train.flow_weight)

    before = loss()
    optim.zero_grad()
    before.total.backward()
    assert all(p.grad is not None for p in model.parameters())  # every parameter is trained
    optim.step()
    with torch.no_grad():
        after = loss()
    assert after.total < before.total
    assert after.semantic < before.semantic and after.flow < before.flow


def test_batches_and_targets_follow_the_sequence_layout() -> None:
    config = tiny_tts_config()
    data = dataset(config)
    sampler = TTSBatchSampler(data, batch_positions=60, seed=0)
    batches = sampler.epoch_batches(0)
    assert sorted(i for b in batches for i in b) == list(range(len(data)))
    batch = next(iter(sampler.iterate(0, 0, config.end_id)))
    for k in range(batch.tokens.shape[0]):
        predicting = (batch.target_semantic[k] != IGNORE).nonzero().flatten()
        first, last = int(predicting[0]), int(predicting[-1])
        assert batch.tokens[k, first] == SPECIALS.begin_audio  # the last <begin_audio> predicts frame 1
        assert batch.target_semantic[k, last] == config.end_id  # the last frame predicts END
        # each target is the next position's frame
        assert torch.equal(batch.target_semantic[k, first:last], batch.semantic[k, first + 1 : last + 1])
        assert torch.equal(batch.target_acoustic[k, first:last], batch.acoustic[k, first + 1 : last + 1])
        assert batch.is_frame[k, first + 1 : last + 1].all()


# --- text CTC ------------------------------------------------------------------------------------------


def test_batches_hold_the_text_pieces_and_the_ctc_reads_exactly_the_target_frames() -> None:
    config = tiny_tts_config()
    data = dataset(config)  # every example has a voice prompt (no_prompt 0)
    batch = data.collate(list(range(len(data))), random.Random(0), config.end_id)
    pieces = StubTokenizer().encode("hi there", "en")[1:]  # without the language tag
    assert batch.text is not None and batch.text_lengths is not None
    assert batch.text_lengths.tolist() == [len(pieces)] * len(data)
    assert batch.text[:, : len(pieces)].tolist() == [pieces] * len(data)
    mask = target_frame_positions(batch)
    for k in range(len(data)):
        frames = batch.is_frame[k].nonzero().flatten().tolist()
        t = len(data.examples[k].frames.semantic)
        target = frames[-t:]  # the utterance's frames come last; before them the prompt's
        assert len(frames) > t  # there is a prompt, and its frames are not read
        assert mask[k].nonzero().flatten().tolist() == target
        assert torch.equal(batch.semantic[k, target], torch.from_numpy(data.examples[k].frames.semantic))


def batch_rows(batch: TTSBatch, rows: list[int]) -> TTSBatch:
    return TTSBatch(**{name: v[rows] for name, v in vars(batch).items()})


def test_the_text_ctc_gradient_reaches_only_the_target_frames() -> None:
    config = tiny_tts_config(text_ctc=True)
    data = dataset(config, min_frames=20)
    batch = data.collate(list(range(len(data))), random.Random(0), config.end_id)
    torch.manual_seed(0)
    model = TTSModel(config)
    h = torch.randn(*batch.tokens.shape, config.backbone.dim, requires_grad=True)  # [B, L, dim]
    loss = model.text_ctc_loss(h, batch)
    loss.backward()
    assert h.grad is not None
    touched = h.grad.abs().sum(-1) > 0  # [B, L]
    assert torch.equal(touched, target_frame_positions(batch))
    # the definition: F.ctc_loss of the head's float32 log-probabilities, blank last, mean per text piece
    k = 1
    frames = target_frame_positions(batch)[k]
    lp = model.text_ctc_head(h[k, frames]).float().log_softmax(-1)[:, None]  # [T, 1, V+1]
    n = int(batch.text_lengths[k])
    one = F.ctc_loss(lp, batch.text[k : k + 1, :n], [lp.shape[0]], [n], blank=config.text_vocab_size)
    single = batch_rows(batch, [k])
    assert torch.allclose(model.text_ctc_loss(h[k : k + 1], single), one, atol=1e-6)


def test_the_text_ctc_loss_is_finite_and_falls_over_a_few_steps() -> None:
    config = tiny_tts_config(text_ctc=True)
    data = dataset(config, min_frames=20)
    batch = data.collate(list(range(len(data))), random.Random(0), config.end_id)
    torch.manual_seed(0)
    model = TTSModel(config).train()
    train = TTSTrainConfig(model=config, lr=3e-3, ctc_weight=0.5)
    optim = _optimizer(model, train)
    losses = []
    for step in range(6):
        torch.manual_seed(step)
        loss = model(batch, train.flow_weight, train.ctc_weight)
        assert torch.isfinite(loss.text_ctc) and loss.text_ctc > 0
        # the total has the weighted CTC term
        assert torch.allclose(loss.total, loss.semantic + loss.flow + 0.5 * loss.text_ctc)
        optim.zero_grad()
        loss.total.backward()
        assert all(p.grad is not None for p in model.parameters())  # the head is trained too
        optim.step()
        losses.append(loss.text_ctc.item())
    assert losses[-1] < losses[0] and all(math.isfinite(x) for x in losses)


def test_an_utterance_too_short_for_its_text_gives_a_finite_ctc_loss() -> None:
    config = tiny_tts_config(text_ctc=True)
    data = dataset(config, n=2, min_frames=3)  # 3 and 5 frames for 8 text pieces: no CTC path
    batch = data.collate([0, 1], random.Random(0), config.end_id)
    torch.manual_seed(0)
    loss = TTSModel(config)(batch, 1.0, 0.5)
    assert loss.text_ctc == 0 and torch.isfinite(loss.total)  # zero_infinity


def test_with_ctc_weight_0_the_loss_is_the_one_without_the_head() -> None:
    data = dataset(tiny_tts_config())
    batch = data.collate(list(range(len(data))), random.Random(0), tiny_tts_config().end_id)
    results = []
    for text_ctc in (False, True):
        config = tiny_tts_config(text_ctc=text_ctc)
        torch.manual_seed(0)
        model = TTSModel(config).train()
        torch.manual_seed(1)
        loss = model(batch, 1.0)  # ctc_weight 0 (the default)
        assert loss.text_ctc == 0
        results.append((loss.total.item(), loss.semantic.item(), loss.flow.item()))
    assert results[0] == results[1]  # bit for bit


def test_the_ctc_loss_without_a_head_is_an_error() -> None:
    config = tiny_tts_config()
    data = dataset(config)
    batch = data.collate([0, 1], random.Random(0), config.end_id)
    with pytest.raises(FlowTTSError, match="no text-CTC head"):
        TTSModel(config)(batch, 1.0, 0.5)
    batch.text = None
    with pytest.raises(FlowTTSError, match="no text targets"):
        TTSModel(tiny_tts_config(text_ctc=True))(batch, 1.0, 0.5)
