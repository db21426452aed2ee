"""Adapter test fixtures: one torch thread (tiny tensors, a shared 2-core machine) and a tiny model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from tests.finetune.helpers import short_model_dir


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    return short_model_dir(tmp_path_factory.mktemp("adapters") / "model")
