"""Where models live: the default model ships inside the package (``flowtts/models/default``)."""

from __future__ import annotations

from pathlib import Path

DEFAULT_MODEL = "default"


def models_root() -> Path:
    return Path(__file__).resolve().parent / "models"


def default_model_dir() -> Path:
    """The embedded default model's folder (codec.safetensors, model.safetensors, tokenizer.model, …)."""
    return models_root() / DEFAULT_MODEL
