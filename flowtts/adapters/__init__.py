"""Parameter-efficient adapters (LoRA) over a loaded TTS model, and voice packs that carry them.

``lora.py``: the LoRA layer, named ``Adapter`` sets of them and the ``AdapterSet`` that attaches adapters to
a model at runtime (forward hooks; the base weights are never modified) and routes them per batch row.
``pack.py``: the voice-pack folder format (adapter weights + reference prompt + pack.json + report).
"""
