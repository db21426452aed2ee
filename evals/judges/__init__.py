"""Automatic judges: independent models that score audio (no part of flowtts trains on them).

- ``evals.judges.asr``: intelligibility by an independent recognizer (pocketsphinx, closed vocabulary).
- ``evals.judges.speaker``: speaker similarity by a pretrained speaker encoder (resemblyzer, cosine).
"""
