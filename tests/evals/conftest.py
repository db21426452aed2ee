"""Eval test fixtures: one torch thread (tiny models on a shared 2-core machine)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread: None) -> None:
    """Every eval test runs with ``one_torch_thread`` (tests/conftest.py)."""
