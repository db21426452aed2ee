"""The answers a listening test collects, as the analysis reads them.

The store (SQLite) holds more (timestamps, session state); these are the parts the statistics need.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: Condition names the MUSHRA builder gives to the hidden stimuli it adds itself.
HIDDEN_REFERENCE = "reference"
LOW_ANCHOR = "anchor35"  # reference low-passed at 3.5 kHz
MID_ANCHOR = "anchor70"  # reference low-passed at 7 kHz


@dataclass(frozen=True)
class MushraRating:
    """One slider value: listener ``listener`` gave ``score`` (0–100) to ``condition`` on ``item``."""

    listener: str
    item: str
    condition: str
    score: float
    language: str | None = None


Choice = Literal["a", "b", "tie"]


@dataclass(frozen=True)
class PairVote:
    """One blind A/B answer. ``system_a``/``system_b`` are the systems in the order they were *shown*
    (so order effects can be checked); ``choice`` is which one the listener preferred, or ``tie``."""

    listener: str
    item: str
    system_a: str
    system_b: str
    choice: Choice
    language: str | None = None

    @property
    def winner(self) -> str | None:
        """The preferred system's name, ``None`` for a tie."""
        return {"a": self.system_a, "b": self.system_b}.get(self.choice)
