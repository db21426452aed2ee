"""Renders one planned utterance into a checked, 24 kHz, loudness-normalized FLAC and its manifest row.

A render is dropped, with a reason, when it is broken: the engine reported a problem (an error,
MBROLA diphones still missing after repair), it is mostly silence, or its length does not fit its
text (seconds per character outside a plausible band, which catches truncated or runaway audio).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flowtts.audio import normalize_loudness, resample, silence_ratio, voiced_bounds, write_audio_atomic
from flowtts.constants import SAMPLE_RATE
from flowtts.data.catalog import Catalogue
from flowtts.data.engines import Engine, get_engine_class
from flowtts.data.engines.base import VoiceSpec
from flowtts.data.manifest import PhoneSpan, Utterance
from flowtts.data.plan import PlanItem

MAX_SILENCE_RATIO = 0.45  # share of 20 ms frames 45 dB below the loudest (research §9)
PLAUSIBLE_SECONDS_PER_CHAR = (0.025, 0.16)  # acceptance band; research measured 0.038–0.099 at rate 1.0
TRIM_DB = -40.0  # leading/trailing frames this far below the peak frame are cut
PAD_S = 0.10  # silence kept on each side after trimming


@dataclass(frozen=True)
class Outcome:
    """What happened to one item: a manifest row, or a drop reason (category + detail)."""

    item_id: str
    row: Utterance | None = None
    drop_reason: str | None = None
    drop_detail: str = ""


class Renderer:
    """Holds one instance per engine for the life of a worker process."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self._engines: dict[str, Engine] = {}

    def engine(self, name: str) -> Engine:
        if name not in self._engines:
            self._engines[name] = get_engine_class(name)()
        return self._engines[name]

    def close(self) -> None:
        for e in self._engines.values():
            e.close()
        self._engines.clear()

    def render(self, item: PlanItem, audio_dir: Path, rel_dir: str) -> Outcome:
        """Renders ``item`` into ``audio_dir/<id>.flac``; the row's path is ``rel_dir/<id>.flac``."""
        from flowtts.data.engines.espeak import phonemize
        from flowtts.text import normalize

        voice = self.catalogue.voice(item.voice)
        spoken = normalize(item.text, item.lang)
        try:
            res = self.engine(voice.engine).render(spoken, voice, item.prosody)
        except Exception as e:  # an engine crash drops this sentence, never the build
            return Outcome(item.id, drop_reason="engine_error", drop_detail=f"{type(e).__name__}: {e}")
        if res.problems:
            reason = "missing_diphones" if "diphone" in res.problems[0] else "engine_problem"
            return Outcome(item.id, drop_reason=reason, drop_detail="; ".join(res.problems))
        wav = resample(res.samples, res.sample_rate, SAMPLE_RATE)  # [N] at 24 kHz
        if len(wav) == 0 or not np.isfinite(wav).all() or np.abs(wav).max() < 1e-4:
            return Outcome(item.id, drop_reason="empty_audio")
        bounds = voiced_bounds(wav, SAMPLE_RATE, TRIM_DB, PAD_S * 1000)
        if bounds is None:  # every 20 ms frame below -80 dBFS
            return Outcome(item.id, drop_reason="empty_audio")
        start, end = bounds
        wav = wav[start:end]
        duration = len(wav) / SAMPLE_RATE
        sil = silence_ratio(wav, SAMPLE_RATE)
        if sil > MAX_SILENCE_RATIO:
            return Outcome(item.id, drop_reason="too_much_silence", drop_detail=f"{sil:.2f}")
        spc = duration * item.prosody.rate / max(1, len(spoken))
        if not PLAUSIBLE_SECONDS_PER_CHAR[0] <= spc <= PLAUSIBLE_SECONDS_PER_CHAR[1]:
            return Outcome(item.id, drop_reason="implausible_duration", drop_detail=f"{spc:.3f} s/char")
        wav = normalize_loudness(wav, SAMPLE_RATE, target_lufs=-23.0)
        write_audio_atomic(audio_dir / f"{item.id}.flac", wav, SAMPLE_RATE)
        row = Utterance(
            id=item.id,
            audio=f"{rel_dir}/{item.id}.flac",
            text=item.text,
            normalized_text=spoken,
            lang=item.lang,
            voice=voice.id,
            speaker_group=voice.speaker_group,
            split=item.split,
            seen_voice=item.seen_voice,
            duration=round(duration, 4),
            sample_rate=SAMPLE_RATE,
            gender=voice.gender,
            engine=voice.engine,
            prosody=_prosody_dict(item, voice),
            phonemes=res.phonemes or phonemize(spoken, item.lang),
            phones=_shift_phones(res.phones, start / SAMPLE_RATE, duration),
            source=item.source,
            license=voice.license,
        )
        return Outcome(item.id, row=row)


def _shift_phones(phones: list[PhoneSpan] | None, offset: float, duration: float):
    """Moves phone spans by the trimmed ``offset`` and clips them to ``[0, duration]``."""
    if not phones:
        return None
    out = []
    for p in phones:
        a = max(0.0, p.start - offset)
        b = min(duration, p.start + p.duration - offset)
        if b > a:
            out.append(PhoneSpan(p.phone, round(a, 4), round(b - a, 4)))
    return out


def _prosody_dict(item: PlanItem, voice: VoiceSpec) -> dict:
    """The knobs of this render: the drawn prosody plus the voice's fixed timbre settings."""
    p = item.prosody
    d = {"rate": p.rate, "pitch": p.pitch, "pitch_range": p.pitch_range, "word_gap": p.word_gap}
    d.update({f"voice_{k}": v for k, v in voice.params.items() if isinstance(v, int | float | str)})
    return d
