"""Adapter test fixtures: the fine-tuning tests' (one torch thread, a tiny model folder)."""

from tests.finetune.conftest import _one_thread, model_dir  # noqa: F401  (fixtures, re-used by name)
