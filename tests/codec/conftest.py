"""Codec test fixtures: one torch thread (tiny tensors on a shared 2-core machine) and a tiny codec."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from codec.model import Codec
from tests.codec.helpers import tiny_codec


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def codec() -> Codec:
    """A randomly initialised tiny codec (with a 3-phone CTC head) in eval mode."""
    return tiny_codec()
