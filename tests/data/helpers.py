"""Manifest rows for tests."""

from __future__ import annotations

from flowtts.data.manifest import Utterance


def utterance(
    uid: str,
    voice: str,
    split: str = "train",
    seen: bool = True,
    duration: float = 1.0,
    text: str = "t",
    lang: str = "en",
    **fields,
) -> Utterance:
    """A manifest row: audio ``audio/<uid>.flac`` at 24 kHz, ``text`` spoken as it is (``normalized_text``
    = ``text``), the voice its own speaker group; ``fields`` set any other field (``audio``, ``gender``,
    ``engine``, ``license``, ``normalized_text``, …)."""
    row = dict(
        id=uid,
        audio=f"audio/{uid}.flac",
        text=text,
        normalized_text=text,
        lang=lang,
        voice=voice,
        speaker_group=voice,
        split=split,
        seen_voice=seen,
        duration=duration,
        sample_rate=24000,
    )
    return Utterance(**{**row, **fields})
