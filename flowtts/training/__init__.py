"""Training: shared run plumbing (``loop.py``) and the TTS model's data and trainer."""
