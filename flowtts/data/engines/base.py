"""What every offline synthesis engine of the corpus builder provides.

An engine renders one piece of (already normalized) text in one voice with one set of prosody knobs
and returns the audio at the engine's native rate, plus phone timings where the engine exposes them.
Engines run inside worker processes: construct them there, not in the parent.
"""

from __future__ import annotations

import abc
import shutil
from dataclasses import dataclass, field

import numpy as np

from flowtts.data.manifest import PhoneSpan
from flowtts.errors import MissingSystemVoiceError


@dataclass(frozen=True)
class Prosody:
    """Engine-independent prosody knobs of one render; each engine maps them onto its own controls.

    rate:        speaking-rate factor, 1.0 = the voice's default (≈ 175 wpm for espeak)
    pitch:       pitch shift in semitones relative to the voice's default
    pitch_range: intonation range factor, 1.0 = default (espeak -P style range)
    word_gap:    extra pause between words in units of 10 ms (espeak -g)
    """

    rate: float = 1.0
    pitch: float = 0.0
    pitch_range: float = 1.0
    word_gap: int = 0


@dataclass
class RenderResult:
    """One rendered utterance at the engine's native rate.

    samples: float32 ``[N]`` in [-1, 1]
    phones:  phone spans in seconds from the start of ``samples``, or None
    problems: reasons this render is broken (e.g. "missing diphones: a-b"); empty when clean
    """

    samples: np.ndarray
    sample_rate: int
    phones: list[PhoneSpan] | None = None
    phonemes: str | None = None
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class VoiceSpec:
    """A voice of the corpus: one speaker (real or pseudo) that one engine can render.

    ``params`` are engine-specific (e.g. {"voice": "en-us", "variant": "fs07"} for espeak).
    ``timbre`` are fixed timbre settings that turn a base voice into a pseudo-speaker.
    """

    id: str
    engine: str
    lang: str
    speaker_group: str
    gender: str | None
    license: str
    kind: str  # "recorded" (diphones / units of a real speaker) | "formant" | "pseudo"
    params: dict = field(default_factory=dict)


class Engine(abc.ABC):
    """One synthesis engine, e.g. espeak-ng in-process or MBROLA through a pipe."""

    name: str = ""
    #: executables that must be on PATH for this engine
    requires: tuple[str, ...] = ()

    @classmethod
    def check_installed(cls) -> None:
        """Raises MissingSystemVoiceError naming what to install."""
        for exe in cls.requires:
            if shutil.which(exe) is None:
                raise MissingSystemVoiceError(
                    f"engine {cls.name!r} needs '{exe}', which is not installed "
                    "(run scripts/install-system-deps.sh --full)"
                )

    @abc.abstractmethod
    def available(self, voice: VoiceSpec) -> bool:
        """Whether this machine has what ``voice`` needs (voice data, tables)."""

    @abc.abstractmethod
    def render(self, text: str, voice: VoiceSpec, prosody: Prosody) -> RenderResult:
        """Renders ``text`` (already normalized for ``voice.lang``)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Releases processes or handles held by the engine."""
