"""One optimiser step of the TTS training loss on a real collated batch lowers that loss."""

from __future__ import annotations

import random
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from flowtts.data.frames_store import UtteranceFrames
from flowtts.data.manifest import Utterance
from flowtts.model.tts import IGNORE, TTSModel
from flowtts.text.tokenizer import SpecialIds
from flowtts.training.tts_config import TTSTrainConfig
from flowtts.training.tts_data import DataConfig, TTSBatchSampler, TTSDataset
from flowtts.training.tts_trainer import _optimizer
from tests.model.helpers import tiny_tts_config

SPECIALS = SpecialIds(
    pad=0, unk=1, bos=2, eos=3, begin_audio=13, audio=14, next=15, repeat=16, langs={"en": 4}
)


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class StubTokenizer:
    """What ``TTSDataset`` reads of a tokenizer: ``specials`` and ``encode`` (language tag first)."""

    specials = SPECIALS

    def encode(self, text: str, lang: str) -> list[int]:
        return [SPECIALS.langs[lang]] + [20 + ord(c) % 40 for c in text]


def dataset(config, n: int = 6) -> TTSDataset:
    rng = np.random.default_rng(0)
    rows, frames = [], {}
    for k in range(n):
        uid = f"u{k}"
        t = 6 + 2 * k
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
